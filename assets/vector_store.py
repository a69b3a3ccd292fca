"""vector_store_entries: one Qdrant point per chunk, carrying the document's metadata."""

import hashlib
import time
from typing import Any

import dagster as dg

from assets.chunking import chunks
from assets.partitions import documents_partitions
from assets.results import CheckOutcome, StageResult, check_spec
from docingest.chunking import embedding_text
from docingest.classify import Classification, read_classification
from docingest.errors import DocIngestError, ErrorCode
from docingest.filters import PATH_PREFIXES_KEY, index_type
from docingest.ids import point_id_for
from docingest.payload import EMBED_KEY, point_payload
from docingest.sparse import Bm25Encoder
from docingest.state import read_state, record_stage
from docingest.storage import DocumentStore
from docingest.vectorstore import PointData, VectorStore
from resources import EmbedderResource

COUNT_CHECK = "point_count_matches_chunks"
# Keys the pipeline writes that `--filter` reaches (document id and page range are indexed by
# the store itself).
FILTER_INDEXES = {
    PATH_PREFIXES_KEY: "keyword",
    "fragment_types": "keyword",
    "headings": "keyword",
    "chunk_index": "integer",
    "document_type": "keyword",
    "page_class": "keyword",
}
QDRANT_POOL = "qdrant_writer"
INDEX_BATCH = 256  # chunks embedded and written together (bounded memory on long documents)

vector_store_entries = dg.AssetSpec(
    "vector_store_entries",
    # Not a dependency on document_classes: re-classifying updates the points in place
    # (classify_job), so new classes never make the index stale.
    deps=[chunks],
    partitions_def=documents_partitions,
    group_name="ingestion",
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
    check_spec(
        COUNT_CHECK, "vector_store_entries", "Qdrant holds one point per chunk, and at least one."
    )
]


def index_schema(registered: dict[str, Any]) -> dict[str, str]:
    """Typed payload indexes: the pipeline's own filter keys, and each metadata key by the type
    of its value (keyword, integer, float, bool, datetime)."""
    metadata = registered.get("vector_store_metadata") or {}
    typed = {key: index_type(value) for key, value in metadata.items()}
    return FILTER_INDEXES | {key: kind for key, kind in typed.items() if kind is not None}


def embedding_key(model: str, text: str) -> str:
    """Identifies one embedding: the model and the exact text it embedded."""
    return hashlib.sha256(f"{model}\x00{text}".encode()).hexdigest()[:32]


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
    chunking = records[0].params_hash if records else "no-chunks"
    # Chunks wholly on pages of an excluded class (exclude_page_classes) are not indexed.
    classes = read_classification(store, document_id)
    chunked = len(records)
    records = [c for c in records if not (classes and classes.excludes(c.page_start, c.page_end))]
    started = time.perf_counter()
    # The precision of the collection's points (or the configured one, which must match).
    model = embedder.for_collection(vectors)
    vectors.ensure_collection(
        vector_size=model.dimension,
        model_name=model.name,
        index_keys=index_schema(registered),
        precision=model.precision,
    )
    # With `contextual_prefix` the title and heading breadcrumb are embedded with the text (and
    # go into its BM25 terms); the stored text stays exact.
    contextual = (
        bool(store.read_chunk_params(document_id).get("contextual_prefix")) if records else False
    )
    # Re-chunking often reproduces chunks it had before: their vectors are reused, not recomputed.
    # A document never indexed has nothing to reuse: skip the scroll (a full scan in local mode).
    indexed_before = bool(read_state(store, document_id).points)
    cached = vectors.document_vectors(document_id, EMBED_KEY) if records and indexed_before else {}
    encoder = Bm25Encoder()
    written: list[str] = []
    computed = 0
    embed_seconds = time.perf_counter() - started
    upsert_seconds = 0.0
    # Embedded and written INDEX_BATCH chunks at a time: a long document's vectors, payloads
    # and sparse terms are never all in memory at once. Stale points go only after the last
    # part is written, so a failure part-way leaves extra points, never missing ones.
    for first in range(0, len(records), INDEX_BATCH):
        clock = time.perf_counter()
        part = records[first : first + INDEX_BATCH]
        texts = [embedding_text(c, contextual) for c in part]
        keys = [embedding_key(embedder.model, text) for text in texts]
        missing = sorted({i for i, key in enumerate(keys) if key not in cached})
        fresh = model.embed([texts[i] for i in missing]) if missing else []
        found = {keys[i]: vector for i, vector in zip(missing, fresh, strict=True)}
        computed += len(missing)
        points = [
            PointData(
                point_id=point_id_for(document_id, c.chunk_index, c.params_hash),
                vector=found[key] if key in found else cached[key],
                payload={**point_payload(c, registered, embedder.model, classes), EMBED_KEY: key},
                sparse=encoder.document(text),
            )
            for c, key, text in zip(part, keys, texts, strict=True)
        ]
        embed_seconds += time.perf_counter() - clock
        clock = time.perf_counter()
        written.extend(vectors.upsert_points(document_id, points))
        upsert_seconds += time.perf_counter() - clock
    clock = time.perf_counter()
    deleted = vectors.delete_stale(document_id, written)
    count = vectors.count(document_id)
    upsert_seconds += time.perf_counter() - clock
    record_stage(
        store, document_id, "index", chunks=len(records), points=count,
        embedding_model=embedder.model,
    )  # fmt: skip
    return StageResult(
        code_version=f"{chunking}-{embedder.model}",
        data_version=f"{registered.get('sha256', '')[:16]}-{chunking}-{embedder.model}",
        metadata={
            "points_written": len(written),
            "excluded_chunks": chunked - len(records),
            "embeddings_computed": computed,
            "embeddings_reused": len(records) - computed,
            "stale_points_deleted": deleted,
            "points": count,
            "collection": vectors.collection,
            "embedding_model": embedder.model,
            "embedding_precision": model.precision,
            "vector_size": embedder.dimension,
            "embed_seconds": round(embed_seconds, 3),
            "upsert_seconds": round(upsert_seconds, 3),
        },
        checks=[
            # No chunks is no green either: a document indexed with nothing to find.
            CheckOutcome(
                COUNT_CHECK,
                count == len(records) > 0,
                # Chunks kept out by exclude_page_classes are named when there are any.
                {"points": count, "chunks": len(records)}
                | ({"excluded_chunks": chunked - len(records)} if chunked > len(records) else {}),
            )
        ],
    )


def restamp_classes(
    document_id: str,
    previous: Classification | None,
    embedder: EmbedderResource,
    vectors: VectorStore,
    store: DocumentStore,
) -> dict[str, int]:
    """Bring an indexed document's points in line with its new classification, without
    re-embedding: the classes are set on the stored points (set_payload). Only when the
    classes kept out of the index changed is the document re-indexed, and then its stored
    vectors are reused (a chunk newly let in is the only one embedded)."""
    if not read_state(store, document_id).points:
        return {}  # not indexed yet: the index stage writes the classes with the points
    classes = read_classification(store, document_id)
    records = store.read_chunks(document_id)

    def kept(c: Classification | None) -> set[int]:
        return {r.chunk_index for r in records if not (c and c.excludes(r.page_start, r.page_end))}

    wanted = kept(classes)
    if wanted != kept(previous):
        outcome = index_document(document_id, embedder, vectors, store)
        return {
            "points_rewritten": int(outcome.metadata["points_written"]),
            "embeddings_computed": int(outcome.metadata["embeddings_computed"]),
        }
    groups: dict[tuple[str, ...], list[str]] = {}
    for r in records:
        if r.chunk_index not in wanted:
            continue
        page_class = tuple(classes.chunk_classes(r.page_start, r.page_end)) if classes else ()
        groups.setdefault(page_class, []).append(
            point_id_for(document_id, r.chunk_index, r.params_hash)
        )
    if classes is not None:
        vectors.set_payload(classes.payload(), document_id=document_id)
    for page_class, ids in groups.items():
        vectors.set_payload({"page_class": list(page_class)}, point_ids=ids)
    return {"points_restamped": sum(len(ids) for ids in groups.values())}
