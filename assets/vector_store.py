"""vector_store_entries: one Qdrant point per chunk, carrying the document's metadata."""

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import dagster as dg

from assets.chunking import chunks
from assets.partitions import documents_partitions
from assets.results import CheckOutcome, StageResult, check_spec
from docingest.chunking import embedding_text
from docingest.classify import Classification, read_classification
from docingest.embedding import Embedder
from docingest.errors import DocIngestError, ErrorCode
from docingest.filters import PATH_PREFIXES_KEY, index_type
from docingest.ids import point_id_for
from docingest.models import Chunk
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


@dataclass
class PreparedIndex:
    """A document's index stage up to its embeddings: its chunks, its stored vectors, and the
    texts it still needs vectors for (`to_embed`; None for a document of more than
    INDEX_BATCH chunks, which embeds and writes itself part by part)."""

    document_id: str
    registered: dict[str, Any]
    records: list[Chunk]
    chunked: int  # chunks before exclude_page_classes
    classes: Classification | None
    contextual: bool
    cached: dict[str, list[float]]
    seconds: float  # spent preparing (counted in embed_seconds)
    to_embed: list[str] | None
    model: Embedder | None = None  # the collection's precision (None: the resource's, fp32)

    @property
    def size(self) -> int:
        """Chunks it holds in memory while it waits: its texts, or its stored vectors."""
        return max(len(self.records), len(self.to_embed or []))


@dataclass(frozen=True)
class Embedded:
    """The vectors of a document's `to_embed` texts, in order, and its share of the time of
    the call that computed them (a call can span several documents)."""

    vectors: list[list[float]]
    seconds: float


def _texts(records: list[Chunk], contextual: bool, model: str) -> tuple[list[str], list[str]]:
    """What the model embeds for each chunk, and the key of that embedding."""
    texts = [embedding_text(c, contextual) for c in records]
    return texts, [embedding_key(model, text) for text in texts]


def prepare_index(
    document_id: str, embedder: EmbedderResource, vectors: VectorStore, store: DocumentStore
) -> PreparedIndex:
    """Read what indexing the document needs, up to (not including) computing its vectors."""
    started = time.perf_counter()
    registered = store.read_json("sources", document_id) or {}
    try:
        records = store.read_chunks(document_id)
    except FileNotFoundError as error:
        raise DocIngestError(
            ErrorCode.INTERNAL_ERROR, "no chunks: materialize chunks first"
        ) from error
    # Chunks wholly on pages of an excluded class (exclude_page_classes) are not indexed.
    classes = read_classification(store, document_id)
    chunked = len(records)
    records = [c for c in records if not (classes and classes.excludes(c.page_start, c.page_end))]
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
    to_embed = None
    if len(records) <= INDEX_BATCH:
        texts, keys = _texts(records, contextual, embedder.model)
        to_embed = [text for text, key in zip(texts, keys, strict=True) if key not in cached]
    return PreparedIndex(
        document_id, registered, records, chunked, classes, contextual, cached,
        time.perf_counter() - started, to_embed, model,
    )  # fmt: skip


def _embedding(
    embedder: EmbedderResource, model: Embedder | None
) -> Callable[[Sequence[str]], list[list[float]]]:
    """What embeds a collection's texts: the resource's own `embed` (the fp32 model) unless the
    collection holds another precision's vectors (int8: `model`)."""
    if model is None or model.precision == "fp32":
        return embedder.embed
    return model.embed


def embed_together(
    embedder: EmbedderResource, documents: Sequence[list[str]], model: Embedder | None = None
) -> list[Embedded | Exception]:
    """The texts of several documents embedded in one call, split back per document (the model
    embeds each text on its own: the same vectors as one call per document). When the call
    fails, each document is embedded on its own, so one document's bad text fails only it."""
    texts = [text for document in documents for text in document]
    if not texts:
        return [Embedded([], 0.0) for _ in documents]
    embed = _embedding(embedder, model)
    clock = time.perf_counter()
    try:
        together = embed(texts)
    except Exception as error:  # raised where the document's index stage classifies it
        if len(documents) == 1:
            return [error]
        return [_embed_alone(embed, document) for document in documents]
    seconds = time.perf_counter() - clock
    out: list[Embedded | Exception] = []
    first = 0
    for document in documents:
        share = seconds * len(document) / len(texts)
        out.append(Embedded(together[first : first + len(document)], share))
        first += len(document)
    return out


def _embed_alone(
    embed: Callable[[Sequence[str]], list[list[float]]], texts: list[str]
) -> Embedded | Exception:
    clock = time.perf_counter()
    try:
        vectors = embed(texts) if texts else []
    except Exception as error:  # raised where the document's index stage classifies it
        return error
    return Embedded(vectors, time.perf_counter() - clock)


def write_index(
    prepared: PreparedIndex,
    embedded: Embedded | None,
    embedder: EmbedderResource,
    vectors: VectorStore,
    store: DocumentStore,
) -> StageResult:
    """Replace the document's points with its chunks: with the vectors `embedded` for its
    `to_embed` texts, or (None) embedding them here, INDEX_BATCH chunks at a time."""
    document_id, records = prepared.document_id, prepared.records
    if embedded is not None and (
        prepared.to_embed is None or len(embedded.vectors) != len(prepared.to_embed)
    ):
        raise DocIngestError(
            ErrorCode.INTERNAL_ERROR,
            f"{len(embedded.vectors)} vectors for {len(prepared.to_embed or [])} texts",
        )
    chunking = records[0].params_hash if records else "no-chunks"
    encoder = Bm25Encoder()
    written: list[str] = []
    computed = 0
    embed_seconds = prepared.seconds + (embedded.seconds if embedded else 0.0)
    upsert_seconds = 0.0
    given = iter(embedded.vectors) if embedded is not None else None
    # Embedded and written INDEX_BATCH chunks at a time: a long document's vectors, payloads
    # and sparse terms are never all in memory at once. Stale points go only after the last
    # part is written, so a failure part-way leaves extra points, never missing ones.
    for first in range(0, len(records), INDEX_BATCH):
        clock = time.perf_counter()
        part = records[first : first + INDEX_BATCH]
        texts, keys = _texts(part, prepared.contextual, embedder.model)
        missing = sorted({i for i, key in enumerate(keys) if key not in prepared.cached})
        if given is not None:
            fresh = [next(given) for _ in missing]
        else:
            embed = _embedding(embedder, prepared.model)
            fresh = embed([texts[i] for i in missing]) if missing else []
        found = {keys[i]: vector for i, vector in zip(missing, fresh, strict=True)}
        computed += len(missing)
        points = [
            PointData(
                point_id=point_id_for(document_id, c.chunk_index, c.params_hash),
                vector=found[key] if key in found else prepared.cached[key],
                payload={
                    **point_payload(c, prepared.registered, embedder.model, prepared.classes),
                    EMBED_KEY: key,
                },
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
    excluded = prepared.chunked - len(records)
    registered = prepared.registered
    return StageResult(
        code_version=f"{chunking}-{embedder.model}",
        data_version=f"{registered.get('sha256', '')[:16]}-{chunking}-{embedder.model}",
        metadata={
            "points_written": len(written),
            "excluded_chunks": excluded,
            "embeddings_computed": computed,
            "embeddings_reused": len(records) - computed,
            "stale_points_deleted": deleted,
            "points": count,
            "collection": vectors.collection,
            "embedding_model": embedder.model,
            "embedding_precision": prepared.model.precision if prepared.model else "fp32",
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
                | ({"excluded_chunks": excluded} if excluded else {}),
            )
        ],
    )


@dataclass
class DocumentIndexer:
    """The index stage in two halves, for the pipeline step (assets/embed_span.py): `prepare`
    reads what a document needs; `write` stores its points once its vectors are computed,
    perhaps in one call with other documents' (`embed`)."""

    embedder: EmbedderResource
    vectors: Callable[[], VectorStore]  # the run's store, opened on first use
    store: DocumentStore
    # The collection's model as the last `prepare` resolved it: every waiting document was
    # prepared before the shared call, so the call reuses it instead of asking the store again.
    model: Embedder | None = None

    def prepare(self, document_id: str) -> PreparedIndex:
        prepared = prepare_index(document_id, self.embedder, self.vectors(), self.store)
        self.model = prepared.model
        return prepared

    def embed(self, documents: Sequence[list[str]]) -> list[Embedded | Exception]:
        return embed_together(
            self.embedder, documents, self.embedder.for_collection(self.vectors())
        )

    def write(self, prepared: PreparedIndex, reply: Embedded | Exception | None) -> StageResult:
        """Write the document's points; the error its embedding raised is raised here."""
        if isinstance(reply, Exception):
            raise reply
        return write_index(prepared, reply, self.embedder, self.vectors(), self.store)


def index_document(
    document_id: str, embedder: EmbedderResource, vectors: VectorStore, store: DocumentStore
) -> StageResult:
    """Embed the stored chunks and replace the document's points with them."""
    prepared = prepare_index(document_id, embedder, vectors, store)
    return write_index(prepared, None, embedder, vectors, store)


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
