"""parsed_pages: each document parsed into pages of typed fragments, as Parquet."""

import time
from collections import Counter
from pathlib import Path

import dagster as dg

from assets.documents import source_documents
from assets.partitions import document_failure, document_retry_policy, documents_partitions
from docingest.errors import DocIngestError, ErrorCode
from docingest.models import ParseResult
from docingest.state import record_stage
from resources import ParserResource, StorageResource

PAGES_CHECK = "every_page_parsed_or_explained"
_FIRST_PAGE_PREVIEW = 4000


def _page_check(result: ParseResult) -> dg.AssetCheckResult:
    unexplained = [
        p.page_number
        for p in result.pages
        if p.status != "ok" and not (p.error and p.error.get("code") and p.error.get("message"))
    ]
    failed = [p.page_number for p in result.pages if p.status != "ok"]
    return dg.AssetCheckResult(
        check_name=PAGES_CHECK,
        passed=not unexplained,
        metadata={"failed_pages": failed, "unexplained_pages": unexplained},
    )


@dg.asset(
    deps=[source_documents],
    partitions_def=documents_partitions,
    group_name="parsing",
    kinds={"pymupdf", "parquet"},
    retry_policy=document_retry_policy,
    check_specs=[dg.AssetCheckSpec(PAGES_CHECK, asset="parsed_pages")],
)
def parsed_pages(
    context: dg.AssetExecutionContext, parser: ParserResource, storage: StorageResource
) -> dg.MaterializeResult:
    """The pages of one document: per page its size, markdown, OCR flag, status, and the typed
    fragments (title, section_header, text, list_item, table, ...) with bounding boxes in PDF
    points. One Parquet file per document. A parse is reused when the content hash and the
    parse options are unchanged, so re-chunking never re-parses."""
    store = storage.store
    document_id = context.partition_key
    registered = store.read_json("sources", document_id)
    if registered is None:
        error = DocIngestError(
            ErrorCode.UNABLE_TO_DOWNLOAD_FILE, "not registered: materialize source_documents first"
        )
        raise document_failure(context, store, "parse", error)
    options_hash = parser.options().options_hash()
    cached = store.read_parse_header(document_id)
    started = time.perf_counter()
    if (
        cached
        and cached.get("sha256") == registered["sha256"]
        and cached.get("options_hash") == options_hash
    ):
        result = store.read_parse_result(document_id)
        reused = True
    else:
        try:
            result = parser.parse(Path(registered["path"]), document_id)
        except DocIngestError as error:
            raise document_failure(context, store, "parse", error) from error
        store.write_parse_result(result)
        reused = False
    elapsed = time.perf_counter() - started
    types = Counter(f.type for page in result.pages for f in page.fragments)
    ocr_pages = sum(1 for page in result.pages if page.ocr)
    record_stage(
        store,
        document_id,
        "parse",
        sha256=result.sha256,
        pages=result.page_count,
        parse_options_hash=result.options_hash,
    )
    first = result.pages[0].markdown if result.pages else ""
    return dg.MaterializeResult(
        metadata={
            "pages": result.page_count,
            "ocr_pages": ocr_pages,
            "failed_pages": sum(1 for page in result.pages if page.status != "ok"),
            "tables": types.get("table", 0),
            "fragments": dg.MetadataValue.json(dict(sorted(types.items()))),
            "engine": result.engine,
            "options_hash": result.options_hash,
            "reused_cached_parse": reused,
            "parse_seconds": round(elapsed, 3),
            "pages_per_second": round(result.page_count / elapsed, 2) if elapsed else 0.0,
            "path": dg.MetadataValue.path(str(store.parsed_path(document_id))),
            "first_page_markdown": dg.MetadataValue.md(first[:_FIRST_PAGE_PREVIEW]),
        },
        data_version=dg.DataVersion(f"{result.sha256[:16]}-{result.options_hash}"),
        check_results=[_page_check(result)],
    )
