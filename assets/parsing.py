"""parsed_pages: each document parsed into pages of typed fragments, as Parquet."""

import time
from collections import Counter
from typing import Any

import dagster as dg

from assets.documents import source_documents
from assets.partitions import documents_partitions
from assets.results import CheckOutcome, StageResult, check_spec
from assets.table_metadata import COLUMN_SCHEMA, column_schema, parquet_metadata
from docingest.errors import ConfigError, DocIngestError, ErrorCode
from docingest.locations import location
from docingest.models import PageResult, ParseResult
from docingest.parsing.options import ParseOptions
from docingest.parsing.tables import html_table_to_markdown
from docingest.state import record_stage
from docingest.storage import PAGES_SCHEMA, DocumentStore
from resources import ParserResource, SourceResource

PAGES_CHECK = "every_page_parsed_or_explained"
INTACT_CHECK = "file_intact_and_readable"
_FIRST_PAGE_PREVIEW = 4000

PAGES_COLUMNS = column_schema(
    PAGES_SCHEMA,
    {
        "page_number": "1-based",
        "width": "PDF points",
        "height": "PDF points",
        "markdown": "the page as markdown (tables as HTML or pipe tables: table_format)",
        "ocr": "the text came from OCR",
        "status": "ok or error",
        "fragments": "typed blocks in reading order, bbox in PDF points (top-left origin)",
    },
)

parsed_pages = dg.AssetSpec(
    "parsed_pages",
    deps=[source_documents],
    partitions_def=documents_partitions,
    group_name="ingestion",
    kinds={"pymupdf", "parquet"},
    skippable=True,
    metadata={COLUMN_SCHEMA: PAGES_COLUMNS},
    description=(
        "The pages of one document: per page its size, markdown, OCR flag, status, and typed "
        "fragments (title, section_header, text, list_item, table, ...) with bounding boxes in "
        "PDF points. One Parquet file per document. A parse is reused while the content hash "
        "and the parse options are unchanged, so re-chunking never re-parses."
    ),
)
parsed_pages_checks = [
    check_spec(PAGES_CHECK, "parsed_pages", "Every page parsed, or its error recorded."),
    check_spec(
        INTACT_CHECK,
        "parsed_pages",
        "MuPDF read the file without repairing it, and every parsed page has readable text "
        "(a warning: a damaged file's text may be incomplete; a blank page may be real).",
    ),
]


def _page_check(result: ParseResult) -> CheckOutcome:
    failed = [p.page_number for p in result.pages if p.status == "error"]
    unexplained = [
        p.page_number
        for p in result.pages
        if p.status == "error" and not (p.error and p.error.get("code") and p.error.get("message"))
    ]
    return CheckOutcome(
        PAGES_CHECK, not unexplained, {"failed_pages": failed, "unexplained_pages": unexplained}
    )


def integrity(result: ParseResult) -> dict[str, Any]:
    """The parse's damage flags (`usage` of parsers since PARSER_VERSION 4; else derived)."""
    usage = result.usage
    return {
        "repaired": bool(usage.get("repaired", result.metadata.get("repaired", False))),
        "empty_pages": list(usage.get("empty_pages") or []),
        "ocr_unavailable_pages": list(usage.get("ocr_unavailable_pages") or []),
        "warnings": list(usage.get("warnings") or []),
    }


def _intact_check(flags: dict[str, Any]) -> CheckOutcome:
    return CheckOutcome(
        INTACT_CHECK,
        not flags["repaired"] and not flags["empty_pages"],
        {
            "repaired": flags["repaired"],
            "empty_pages": dg.MetadataValue.json(flags["empty_pages"]),
            "warnings": dg.MetadataValue.json(flags["warnings"]),
        },
        severity="WARN",
    )


def page_preview(page: PageResult) -> str:
    """A page's markdown for the UI, tables as pipe tables even where the stored markdown holds
    them as HTML (`table_format='html'`), which the metadata viewer shows as raw tags."""
    preview = page.markdown
    for fragment in page.fragments:
        if fragment.type == "table" and fragment.html and fragment.html in preview:
            preview = preview.replace(fragment.html, html_table_to_markdown(fragment.html))
    return preview[:_FIRST_PAGE_PREVIEW]


def document_parse_options(
    registered: dict[str, Any], parser: ParserResource
) -> tuple[ParseOptions, dict[str, Any]]:
    """The options a registered document is parsed with: the configured ones, overridden by
    its folder's option files (recorded at registration), and those overrides."""
    overrides = registered.get("parse_options") or {}
    try:
        return parser.options(overrides), overrides
    except ConfigError as error:  # the option files are wrong, not the configuration
        if not overrides:
            raise
        raise DocIngestError(
            ErrorCode.CORRUPT_FILE, f"the parse options of its option files: {error}"
        ) from error


def stored_parse(store: DocumentStore, document_id: str) -> ParseResult:
    """The document's stored parse, which the stages after parsing read (never the file)."""
    try:
        return store.read_parse_result(document_id)
    except FileNotFoundError as error:
        raise DocIngestError(
            ErrorCode.INTERNAL_ERROR, "no parsed pages: materialize parsed_pages first"
        ) from error


def parse_document(
    document_id: str,
    parser: ParserResource,
    store: DocumentStore,
    source: SourceResource | None = None,
) -> StageResult:
    """Parse the registered file, or reuse the stored parse of the same content and options.
    `source` reads an object-store file with its credentials (else the AWS environment's)."""
    registered = store.read_json("sources", document_id)
    if registered is None:
        raise DocIngestError(
            ErrorCode.INTERNAL_ERROR, "not registered: materialize source_documents first"
        )
    options, overrides = document_parse_options(registered, parser)
    options_hash = options.options_hash()
    started = time.perf_counter()
    # Unchanged content and options: not parsed again. A renamed or copied file (same content
    # under another id) reuses that parse too.
    cached = store.find_parse(registered["sha256"], options_hash)
    if cached is None:
        reused_from = None
        locate = source.location if source else location
        result = parser.parse(locate(registered["path"]), document_id, overrides)
        if result.sha256 != registered["sha256"]:
            # Rewritten (or swapped for a link) since registration: never index content other
            # than what was registered. The next run (the sensor sees the change) registers it.
            raise DocIngestError(
                ErrorCode.UNABLE_TO_DOWNLOAD_FILE,
                "the file changed between registration and parsing; the next run takes it whole",
            )
    else:
        reused_from = cached.document_id
        result = cached
        result.document_id, result.source = document_id, registered["path"]
    if reused_from != document_id:
        store.write_parse_result(result)
    elapsed = time.perf_counter() - started
    types = Counter(f.type for page in result.pages for f in page.fragments)
    flags = integrity(result)
    record_stage(
        store,
        document_id,
        "parse",
        sha256=result.sha256,
        pages=result.page_count,
        parse_options_hash=result.options_hash,
        # For status and the summary; rewritten by every parse, so a fixed file clears them.
        repaired=flags["repaired"],
        empty_pages=flags["empty_pages"],
        ocr_unavailable_pages=flags["ocr_unavailable_pages"],
        parse_warnings=flags["warnings"],
    )
    first = page_preview(result.pages[0]) if result.pages else ""
    return StageResult(
        # The configured options' hash (the asset's code version); a document's own options
        # (option files) show in its data version.
        code_version=parser.options().options_hash(),
        data_version=f"{result.sha256[:16]}-{result.options_hash}",
        metadata={
            "pages": result.page_count,
            "ocr_pages": sum(1 for page in result.pages if page.ocr),
            "failed_pages": sum(1 for page in result.pages if page.status == "error"),
            "repaired": flags["repaired"],
            "empty_pages": dg.MetadataValue.json(flags["empty_pages"]),
            "ocr_unavailable_pages": dg.MetadataValue.json(flags["ocr_unavailable_pages"]),
            "parse_warnings": dg.MetadataValue.md(
                "\n".join(f"- {w}" for w in flags["warnings"]) or "none"
            ),
            "tables": types.get("table", 0),
            "fragments": dg.MetadataValue.json(dict(sorted(types.items()))),
            "engine": result.engine,
            # Hidden, diagonal and margin text taken out (text-layer hygiene), by reason.
            "removed_text": dg.MetadataValue.json(result.metadata.get("removed_text", {})),
            # Pages per engine; engine=auto: the pages sent to the layout model, by trigger.
            "engine_pages": dg.MetadataValue.json(result.usage.get("engine_pages") or {}),
            "layout_triggers": dg.MetadataValue.json(result.usage.get("layout_triggers") or {}),
            "options_hash": result.options_hash,
            "reused_cached_parse": reused_from is not None,
            "reused_parse_of": reused_from or "",
            "sha256": result.sha256,
            "parse_seconds": round(elapsed, 3),
            "pages_per_second": round(result.page_count / elapsed, 2) if elapsed else 0.0,
            "path": dg.MetadataValue.path(str(store.parsed_path(document_id))),
            "first_page_markdown": dg.MetadataValue.md(first),
            **parquet_metadata(store.parsed_path(document_id), PAGES_COLUMNS),
        },
        checks=[_page_check(result), _intact_check(flags)],
    )
