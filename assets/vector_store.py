"""vector_store_entries: one Qdrant point per chunk, carrying the document's metadata."""

import time
from typing import Any

import dagster as dg

from assets.chunking import chunks
from assets.partitions import CheckOutcome, StageResult, check_spec, documents_partitions
from docingest.errors import DocIngestError, ErrorCode
from docingest.ids import point_id_for
from docingest.models import Chunk
from docingest.state import record_stage
from docingest.storage import DocumentStore
from docingest.vectorstore import PointData, VectorStore
from resources import EmbedderResource

COUNT_CHECK = "point_count_matches_chunks"
QDRANT_POOL = "qdrant_writer"

vector_store_entries = dg.AssetSpec(
    "vector_store_entries",
    deps=[chunks],
    partitions_def=documents_partitions,
    group_name="indexing",
    kinds={"qdrant"},
    skippable=True,
    description=(
        "The document's chunks as Qdrant points: the embedding of each chunk's text and a "
        "payload with the document id, source, hash, chunk index, pages, headings, text and the "
        "document's vector_store_metadata. Point ids are uuid5(document, chunk index, chunking "
        "hash): a re-run rewrites the same points, and stale points are deleted after the upsert."
    ),
)
vector_store_checks = [
    check_spec(COUNT_CHECK, "vector_store_entries", "Qdrant holds one point per chunk.")
]


def _payload(chunk: Chunk, registered: dict[str, Any], model: str) -> dict[str, Any]:
    metadata = registered.get("vector_store_metadata") or {}
    return {
        **metadata,
        "document_id": chunk.document_id,
        "source": registered.get("path"),
        "sha256": registered.get("sha256"),
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


def index_document(
    document_id: str, embedder: EmbedderResource, vectors: VectorStore, store: DocumentStore
) -> StageResult:
    """Embed the stored chunks and replace the document's points with them."""
    registered = store.read_json("sources", document_id) or {}
    try:
        records = store.read_chunks(document_id)
    except FileNotFoundError as error:
        raise DocIngestError(
            ErrorCode.INTERNAL_ERROR, "no chunks: materialize chunks first"
        ) from error
    started = time.perf_counter()
    embeddings = embedder.embed([c.text for c in records]) if records else []
    embed_seconds = time.perf_counter() - started
    points = [
        PointData(
            point_id=point_id_for(document_id, c.chunk_index, c.params_hash),
            vector=vector,
            payload=_payload(c, registered, embedder.model),
        )
        for c, vector in zip(records, embeddings, strict=True)
    ]
    started = time.perf_counter()
    vectors.ensure_collection(
        vector_size=embedder.dimension,
        model_name=embedder.model,
        index_keys=sorted((registered.get("vector_store_metadata") or {}).keys()),
    )
    written = vectors.replace_document(document_id, points)
    count = vectors.count(document_id)
    upsert_seconds = time.perf_counter() - started
    record_stage(
        store, document_id, "index", chunks=len(records), points=count,
        embedding_model=embedder.model,
    )  # fmt: skip
    return StageResult(
        metadata={
            "points_written": written["written"],
            "stale_points_deleted": written["deleted"],
            "points": count,
            "collection": vectors.collection,
            "embedding_model": embedder.model,
            "vector_size": embedder.dimension,
            "embed_seconds": round(embed_seconds, 3),
            "upsert_seconds": round(upsert_seconds, 3),
        },
        checks=[
            CheckOutcome(
                COUNT_CHECK, count == len(records), {"points": count, "chunks": len(records)}
            )
        ],
    )
