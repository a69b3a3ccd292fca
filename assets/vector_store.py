"""vector_store_entries: one Qdrant point per chunk, carrying the document's metadata."""

import time

import dagster as dg

from assets.chunking import chunks
from assets.partitions import document_failure, document_retry_policy, documents_partitions
from docingest.errors import ConfigError, DocIngestError, ErrorCode
from docingest.ids import point_id_for
from docingest.models import Chunk
from docingest.state import record_stage
from docingest.vectorstore import PointData
from resources import EmbedderResource, QdrantResource, StorageResource

COUNT_CHECK = "point_count_matches_chunks"
QDRANT_POOL = "qdrant_writer"


def _payload(chunk: Chunk, registered: dict, model: str) -> dict:
    metadata = registered.get("vector_store_metadata") or {}
    return {
        **metadata,
        "document_id": chunk.document_id,
        "source": registered["path"],
        "sha256": registered["sha256"],
        "chunk_id": chunk.chunk_id,
        "chunk_index": chunk.chunk_index,
        "page_start": chunk.page_start,
        "page_end": chunk.page_end,
        "headings": chunk.headings,
        "fragment_types": chunk.fragment_types,
        "text": chunk.text,
        "strategy": chunk.strategy,
        "params_hash": chunk.params_hash,
        "embedding_model": model,
    }


@dg.asset(
    deps=[chunks],
    partitions_def=documents_partitions,
    group_name="indexing",
    kinds={"qdrant"},
    retry_policy=document_retry_policy,
    # Qdrant local mode admits one process per store: writers queue on a pool of one.
    pool=QDRANT_POOL,
    check_specs=[dg.AssetCheckSpec(COUNT_CHECK, asset="vector_store_entries")],
)
def vector_store_entries(
    context: dg.AssetExecutionContext,
    embedder: EmbedderResource,
    qdrant: QdrantResource,
    storage: StorageResource,
) -> dg.MaterializeResult:
    """The document's chunks as Qdrant points: the embedding of each chunk's text, and a payload
    with the document id, source, hash, chunk index, pages, headings, text and the document's
    vector_store_metadata. Point ids are uuid5(document, chunk index, chunking hash), so a re-run
    rewrites the same points and the document's stale points are deleted after the upsert."""
    store = storage.store
    document_id = context.partition_key
    registered = store.read_json("sources", document_id) or {}
    try:
        records = store.read_chunks(document_id)
    except FileNotFoundError as error:
        missing = DocIngestError(ErrorCode.INTERNAL_ERROR, "no chunks: materialize them first")
        raise document_failure(context, store, "index", missing) from error
    started = time.perf_counter()
    try:
        vectors = embedder.embed([c.text for c in records]) if records else []
    except DocIngestError as error:
        raise document_failure(context, store, "index", error) from error
    embed_seconds = time.perf_counter() - started
    points = [
        PointData(
            point_id=point_id_for(document_id, c.chunk_index, c.params_hash),
            vector=vector,
            payload=_payload(c, registered, embedder.model),
        )
        for c, vector in zip(records, vectors, strict=True)
    ]
    metadata_keys = sorted((registered.get("vector_store_metadata") or {}).keys())
    started = time.perf_counter()
    try:
        with qdrant.open() as vector_store:
            vector_store.ensure_collection(
                vector_size=embedder.dimension, model_name=embedder.model, index_keys=metadata_keys
            )
            written = vector_store.replace_document(document_id, points)
            count = vector_store.count(document_id)
    except ConfigError as error:
        raise dg.Failure(description=str(error), allow_retries=False) from error
    except DocIngestError as error:
        raise document_failure(context, store, "index", error) from error
    upsert_seconds = time.perf_counter() - started
    record_stage(
        store,
        document_id,
        "index",
        chunks=len(records),
        points=count,
        embedding_model=embedder.model,
    )
    return dg.MaterializeResult(
        metadata={
            "points_written": written["written"],
            "stale_points_deleted": written["deleted"],
            "points": count,
            "collection": qdrant.collection,
            "embedding_model": embedder.model,
            "vector_size": embedder.dimension,
            "embed_seconds": round(embed_seconds, 3),
            "upsert_seconds": round(upsert_seconds, 3),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=COUNT_CHECK,
                passed=count == len(records),
                metadata={"points": count, "chunks": len(records)},
            )
        ],
    )
