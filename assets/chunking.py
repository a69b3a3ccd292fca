"""chunks: each parsed document split by the configured strategy, as Parquet."""

from collections.abc import Mapping

import dagster as dg
import numpy as np

from assets.parsing import integrity, parsed_pages, stored_parse
from assets.partitions import documents_partitions
from assets.results import CheckOutcome, StageResult, check_spec
from assets.table_metadata import COLUMN_SCHEMA, column_schema, parquet_metadata
from docingest.chunking import ChunkingSettings, coverage_of, get_strategy
from docingest.errors import DocIngestError, ErrorCode
from docingest.models import Chunk, ParseResult
from docingest.parsing.integrity import page_has_text
from docingest.state import record_stage
from docingest.storage import CHUNKS_SCHEMA, DocumentStore
from resources import ChunkerResource

TOKEN_LIMIT_CHECK = "no_chunk_over_its_limit"
EMPTY_CHECK = "no_empty_chunk"
COVERAGE_CHECK = "chunks_cover_document"
MIN_COVERAGE = 0.99

CHUNKS_COLUMNS = column_schema(
    CHUNKS_SCHEMA,
    {
        "chunk_id": "stable id: document, chunking hash and chunk index",
        "text": "the exact text (overlaps included)",
        "token_count": "tokens in the strategy's encoding",
        "bboxes": "the boxes of the chunk's fragments, per page, in PDF points",
        "headings": "heading breadcrumb, outermost first",
        "params_hash": "hash of the strategy and its normalized parameters",
    },
)

chunks = dg.AssetSpec(
    "chunks",
    deps=[parsed_pages],
    partitions_def=documents_partitions,
    group_name="ingestion",
    kinds={"tiktoken", "parquet"},
    skippable=True,
    metadata={COLUMN_SCHEMA: CHUNKS_COLUMNS},
    description=(
        "The chunks of one document: exact text, token count, pages, the bounding boxes of its "
        "fragments per page and the heading breadcrumb, with the strategy and its parameter "
        "hash. One Parquet file per document; re-chunking reads the stored parse."
    ),
)
chunks_checks = [
    check_spec(
        TOKEN_LIMIT_CHECK, "chunks", "Size-bounded strategies stay within their token limit."
    ),
    check_spec(EMPTY_CHECK, "chunks", "No empty or whitespace-only chunk."),
    check_spec(
        COVERAGE_CHECK, "chunks", "The chunks, overlaps removed, hold >= 99% of the document text."
    ),
]


SAMPLE_CHUNKS = 3
SAMPLE_CHARS = 300
HISTOGRAM_BINS = 8
_SAMPLE_SCHEMA = dg.TableSchema(
    columns=[
        dg.TableColumn("chunk_index", "int"),
        dg.TableColumn("pages", "string"),
        dg.TableColumn("tokens", "int"),
        dg.TableColumn("headings", "string"),
        dg.TableColumn("text", "string", description=f"the first {SAMPLE_CHARS} characters"),
    ]
)


def _limit_check(chunks: list[Chunk], strategy: str, params: Mapping[str, object]) -> CheckOutcome:
    """A strategy with a token limit (its registry record names the parameter) promises it for
    every chunk; the others bound sections, pages or characters, so their largest chunk is
    reported, not judged."""
    largest = max((c.token_count for c in chunks), default=0)
    limit_param = get_strategy(strategy).token_limit
    if limit_param is None:
        return CheckOutcome(
            TOKEN_LIMIT_CHECK, True, {"limit": f"none for {strategy}", "largest_tokens": largest}
        )
    limit = int(str(params[limit_param]))
    over = sum(1 for c in chunks if c.token_count > limit)
    return CheckOutcome(
        TOKEN_LIMIT_CHECK,
        over == 0,
        {"limit": limit, "largest_tokens": largest, "over_limit": over},
    )


def _no_chunks(parsed: ParseResult, strategy: str) -> DocIngestError:
    """A document that chunks to nothing is not indexed as a success with nothing searchable:
    a parse without readable text (stored before parsing refused such files) is the file's
    fault; a parse with text that chunks to nothing is ours."""
    if any(page.status == "ok" and page_has_text(page) for page in parsed.pages):
        return DocIngestError(
            ErrorCode.INTERNAL_ERROR, f"strategy {strategy!r} made no chunk of a parse with text"
        )
    flags = integrity(parsed)
    why = "; the file was repaired by MuPDF (damaged)" if flags["repaired"] else ""
    return DocIngestError(
        ErrorCode.CORRUPT_FILE,
        f"no chunks: no readable text on any of the {parsed.page_count} pages{why}",
    )


def token_histogram(counts: list[int], bins: int = HISTOGRAM_BINS) -> str:
    """Chunks per token-count range, as a markdown table with bars."""
    if not counts:
        return "no chunks"
    edges = np.histogram_bin_edges(counts, bins=min(bins, len(set(counts))))
    hist, _ = np.histogram(counts, bins=edges)
    widest = int(hist.max())
    rows = ["| tokens | chunks | |", "|---|---:|---|"]
    for low, high, n in zip(edges[:-1], edges[1:], hist, strict=True):
        bar = "█" * round(20 * int(n) / widest)
        rows.append(f"| {low:.0f}-{high:.0f} | {int(n)} | {bar} |")
    return "\n".join(rows)


def sample_chunks(chunks: list[Chunk], n: int = SAMPLE_CHUNKS) -> dg.TableMetadataValue:
    """The first chunks, shortened, to see what the strategy made of the document."""
    return dg.MetadataValue.table(
        records=[
            dg.TableRecord(
                {
                    "chunk_index": c.chunk_index,
                    "pages": f"{c.page_start}-{c.page_end}",
                    "tokens": c.token_count,
                    "headings": " > ".join(c.headings),
                    "text": c.text[:SAMPLE_CHARS],
                }
            )
            for c in chunks[:n]
        ],
        schema=_SAMPLE_SCHEMA,
    )


def chunk_parsed_document(
    document_id: str, chunker: ChunkerResource, settings: ChunkingSettings, store: DocumentStore
) -> StageResult:
    """Chunk the stored parse (never the file) with the run's settings (validated once for the
    run) and write the chunk records."""
    strategy, params, params_hash = settings
    parsed = stored_parse(store, document_id)
    result = chunker.chunk(parsed, settings)
    if not result:
        raise _no_chunks(parsed, strategy)
    store.write_chunks(document_id, result, params={"strategy": strategy, **params})
    record_stage(store, document_id, "chunk", chunks=len(result), chunking_hash=params_hash)
    tokens = np.array([c.token_count for c in result] or [0])
    empty = sum(1 for c in result if not c.text.strip())
    covered = coverage_of(parsed, result) if result else 1.0
    return StageResult(
        code_version=params_hash,
        data_version=f"{parsed.sha256[:16]}-{parsed.options_hash}-{params_hash}",
        metadata={
            "chunks": len(result),
            "strategy": strategy,
            # The normalized values keep their types (sizes are numbers, flags booleans).
            "params": dg.MetadataValue.json(dict(params)),
            "params_hash": params_hash,
            "tokens_total": int(tokens.sum()),
            "tokens_p50": round(float(np.percentile(tokens, 50)), 1),
            "tokens_p95": round(float(np.percentile(tokens, 95)), 1),
            "tokens_max": int(tokens.max()),
            "path": dg.MetadataValue.path(str(store.chunks_path(document_id))),
            "token_histogram": dg.MetadataValue.md(
                token_histogram([c.token_count for c in result])
            ),
            "sample_chunks": sample_chunks(result),
            **parquet_metadata(store.chunks_path(document_id), CHUNKS_COLUMNS),
        },
        checks=[
            _limit_check(result, strategy, params),
            CheckOutcome(EMPTY_CHECK, empty == 0, {"empty": empty}),
            CheckOutcome(COVERAGE_CHECK, covered >= MIN_COVERAGE, {"coverage": round(covered, 4)}),
        ],
    )
