"""chunks: each parsed document split by the configured strategy, as Parquet."""

import dagster as dg
import numpy as np
from pydantic import Field

from assets.parsing import parsed_pages
from assets.partitions import document_failure, document_retry_policy, documents_partitions
from docingest.errors import ConfigError, DocIngestError, ErrorCode
from docingest.models import Chunk
from docingest.state import record_stage
from resources import ChunkerResource, StorageResource

TOKEN_LIMIT_CHECK = "no_chunk_over_its_limit"
EMPTY_CHECK = "no_empty_chunk"


class ChunkingConfig(dg.Config):
    """Per-run chunking override: leave empty to use the chunker resource's settings."""

    strategy: str | None = Field(
        default=None,
        description="token_size, recursive, by_page or by_section; empty = resource default.",
    )
    params: dict[str, str] = Field(
        default_factory=dict,
        description="Strategy parameters, e.g. chunk_size=512, chunk_overlap=50.",
    )


def _limit_check(
    chunks: list[Chunk], strategy: str, params: dict[str, object]
) -> dg.AssetCheckResult:
    """token_size promises a hard token limit; the other strategies bound sections, pages or
    characters (widened to whole table rows), so their largest chunk is reported, not judged."""
    largest = max((c.token_count for c in chunks), default=0)
    if strategy != "token_size":
        return dg.AssetCheckResult(
            check_name=TOKEN_LIMIT_CHECK,
            passed=True,
            metadata={"limit": f"none for {strategy}", "largest_tokens": largest},
        )
    limit = int(str(params["chunk_size"]))
    over = sum(1 for c in chunks if c.token_count > limit)
    return dg.AssetCheckResult(
        check_name=TOKEN_LIMIT_CHECK,
        passed=over == 0,
        metadata={"limit": limit, "largest_tokens": largest, "over_limit": over},
    )


@dg.asset(
    deps=[parsed_pages],
    partitions_def=documents_partitions,
    group_name="chunking",
    kinds={"tiktoken", "parquet"},
    retry_policy=document_retry_policy,
    check_specs=[
        dg.AssetCheckSpec(TOKEN_LIMIT_CHECK, asset="chunks"),
        dg.AssetCheckSpec(EMPTY_CHECK, asset="chunks"),
    ],
)
def chunks(
    context: dg.AssetExecutionContext,
    config: ChunkingConfig,
    chunker: ChunkerResource,
    storage: StorageResource,
) -> dg.MaterializeResult:
    """The chunks of one document: exact text, token count, pages, bounding boxes per page and
    heading breadcrumb, with the strategy and its parameter hash. One Parquet file per
    document; re-chunking reads the stored parse and never re-parses."""
    store = storage.store
    document_id = context.partition_key
    try:
        strategy, params, params_hash = chunker.resolve(config.strategy, config.params)
    except ConfigError as error:
        raise dg.Failure(
            description=f"invalid chunking options: {error}", allow_retries=False
        ) from error
    try:
        parsed = store.read_parse_result(document_id)
    except FileNotFoundError as error:
        missing = DocIngestError(
            ErrorCode.INTERNAL_ERROR, "no parsed pages: materialize them first"
        )
        raise document_failure(context, store, "chunk", missing) from error
    result = chunker.chunk(parsed, strategy, params)
    store.write_chunks(document_id, result)
    record_stage(store, document_id, "chunk", chunks=len(result), chunking_hash=params_hash)
    tokens = np.array([c.token_count for c in result] or [0])
    empty = sum(1 for c in result if not c.text.strip())
    return dg.MaterializeResult(
        metadata={
            "chunks": len(result),
            "strategy": strategy,
            "params": dg.MetadataValue.json({k: str(v) for k, v in params.items()}),
            "params_hash": params_hash,
            "tokens_total": int(tokens.sum()),
            "tokens_p50": float(np.percentile(tokens, 50)),
            "tokens_p95": float(np.percentile(tokens, 95)),
            "tokens_max": int(tokens.max()),
            "path": dg.MetadataValue.path(str(store.chunks_path(document_id))),
        },
        data_version=dg.DataVersion(f"{parsed.sha256[:16]}-{parsed.options_hash}-{params_hash}"),
        check_results=[
            _limit_check(result, strategy, params),
            dg.AssetCheckResult(
                check_name=EMPTY_CHECK, passed=empty == 0, metadata={"empty": empty}
            ),
        ],
    )
