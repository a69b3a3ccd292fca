"""The vector store: one Qdrant collection behind one small class, on one of two backends.

- **embedded** (`path=`): Qdrant Edge, Qdrant's in-process engine (`docingest.edge_store`),
  one shard per collection under `<path>/edge/<collection>`;
- **server** (`url=`): a Qdrant server or cluster through qdrant-client. qdrant-client's local
  mode (`local_path=`) speaks the same client API and stands in for a server in tests; it is
  also what older versions stored under `<path>`: such a collection is copied into Edge on first
  open (vectors and payloads as they are, BM25 vectors from the stored text), without
  re-parsing or re-embedding.

Both hold the same points: a dense vector (unnamed, cosine), a BM25 sparse vector
(`docingest.sparse`, IDF applied by the store) and the same payload, under the same ids. Every
write is idempotent per document: callers give deterministic point ids (`ids.point_id_for`),
`replace_document` upserts them and only then removes the document's points that are no
longer wanted.
"""

from __future__ import annotations

import contextlib
import sys
import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from docingest.errors import ConfigError, DocIngestError, ErrorCode
from docingest.filters import Condition, Filter, FilterValue, equality_filter
from docingest.sparse import SparseVector

DOCUMENT_ID_KEY = "document_id"
MODEL_KEY = "embedding_model"
# fp32 or int8 (docingest.embedding); points written before the key existed are fp32.
PRECISION_KEY = "embedding_precision"
BATCH = 256  # points per upsert/delete request
MODES = ("dense", "sparse", "hybrid")
DEFAULT_MODE = "hybrid"  # the most even across sets in bench/retrieval_bench.py (bench/README.md)
DEFAULT_RRF_K = 60
FUSIONS = ("rrf", "dbsf")  # reciprocal rank; distribution-based score fusion
# DBSF keeps how decisive each ranking's scores are (a BM25 match far above the rest stays
# first; RRF turns it into one rank among the embedding's): better hit@1/@5/MRR on the
# retrieval bench (bench/README.md) and it finds exact-term matches RRF buries.
DEFAULT_FUSION = "dbsf"
_MISMATCH_FIX = (
    "choose another collection name, or recreate this one for the new model "
    "(`docingest reindex --recreate`)"
)
_PRECISION_FIX = (
    "leave DOCINGEST_EMBED_PRECISION (EmbedderResource.precision) unset or 'auto' to keep the "
    "collection's precision, or rebuild the collection at the new one (`docingest reindex "
    "--recreate`), or choose another collection name"
)
Filters = Mapping[str, FilterValue] | Filter


@dataclass
class PointData:
    point_id: str
    vector: list[float]
    payload: dict[str, Any]
    sparse: SparseVector | None = None


@dataclass
class SearchHit:
    point_id: str
    score: float
    payload: dict[str, Any]


@dataclass
class Query:
    """What to search with: the query's dense and sparse vectors, and how to combine them."""

    dense: Sequence[float] | None = None
    sparse: SparseVector | None = None
    mode: str = DEFAULT_MODE
    rrf_k: int = DEFAULT_RRF_K
    fusion: str = DEFAULT_FUSION
    candidates: int = 50  # per vector in hybrid mode, before fusion

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ConfigError(f"unknown search mode {self.mode!r}; expected one of {MODES}")
        if self.fusion not in FUSIONS:
            raise ConfigError(f"unknown fusion {self.fusion!r}; expected one of {FUSIONS}")
        if self.mode != "sparse" and self.dense is None:
            raise ConfigError(f"mode {self.mode!r} needs the query's dense vector")
        if self.mode != "dense" and self.sparse is None:
            raise ConfigError(f"mode {self.mode!r} needs the query's sparse vector")


class CollectionMismatchError(ConfigError):
    """The collection exists with another vector size or embedding model."""


Record = tuple[str, dict[str, Any], list[float] | None]  # id, payload, dense vector


class Backend(Protocol):
    """The raw operations a store engine offers; `VectorStore` adds the rules on top."""

    location: str

    def session(self, action: str) -> contextlib.AbstractContextManager[None]: ...
    def exists(self) -> bool: ...
    def create(self, vector_size: int) -> None: ...
    def vector_size(self) -> int | None: ...
    def ensure_indexes(self, schema: Mapping[str, str]) -> None: ...
    def upsert(self, points: Sequence[PointData]) -> None: ...
    def delete_ids(self, ids: Sequence[str]) -> None: ...
    def delete_where(self, where: Filter) -> None: ...
    def set_payload(self, ids: Sequence[str], payload: Mapping[str, Any]) -> None: ...
    def set_payload_where(self, where: Filter, payload: Mapping[str, Any]) -> None: ...
    def scroll(
        self, where: Filter, with_payload: bool | list[str], with_vectors: bool
    ) -> Iterator[Record]: ...
    def count(self, where: Filter) -> int: ...
    def query(self, query: Query, where: Filter, limit: int) -> list[SearchHit]: ...
    def drop(self) -> None: ...
    def optimize(self) -> None: ...
    def close(self) -> None: ...


def canonical_id(point_id: Any) -> str:
    return str(uuid.UUID(str(point_id)))  # Qdrant returns uuids in this form


def dense_of(vector: Any) -> list[float] | None:
    """The dense vector of a stored point (a bare list, or the unnamed one of named vectors)."""
    if isinstance(vector, dict):
        vector = vector.get("")
    if isinstance(vector, list):
        return [float(x) for x in vector if isinstance(x, int | float)]
    return None


def valid_utf8(value: Any) -> Any:
    """`value` with every string made valid UTF-8: a file name read with surrogate escapes
    (bytes that are not UTF-8, e.g. Latin-1 names) keeps its bytes as `\\xNN` escapes. Qdrant
    payloads are JSON: a server and Edge refuse lone surrogates."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raw = value.encode("utf-8", "surrogateescape")
            return raw.decode("utf-8", "backslashreplace")
        return value
    if isinstance(value, list):
        return [valid_utf8(v) for v in value]
    if isinstance(value, dict):
        return {valid_utf8(k): valid_utf8(v) for k, v in value.items()}
    return value


def _document_filter(document_id: str) -> Filter:
    return (Condition(DOCUMENT_ID_KEY, (document_id,)),)


def close_local_clients() -> None:
    """Close every embedded store this process holds (tests, shutdown)."""
    from docingest.edge_store import close_edge_shards

    if "docingest.client_store" in sys.modules:  # local mode was used in this process
        from docingest.client_store import close_local_mode_clients

        close_local_mode_clients()
    close_edge_shards()


# --- the store --------------------------------------------------------------------------


class VectorStore:
    """One collection: ensure it, replace or delete a document's points, search, count.

    `path=`: the embedded store (Qdrant Edge) under that folder; `url=`: a Qdrant server;
    `local_path=`: qdrant-client's local mode (tests standing in for a server; migration).
    """

    def __init__(
        self,
        *,
        collection: str = "documents",
        path: str | None = None,
        url: str | None = None,
        api_key: str | None = None,
        local_path: str | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        if sum(x is not None for x in (path, url, local_path)) != 1:
            raise ConfigError("give exactly one of path (local Qdrant) or url (Qdrant server)")
        self.collection = collection
        self._model_name: str | None = None
        self._precision = "fp32"
        self._closed = False
        self._backend: Backend
        if path is not None:
            from docingest.edge_store import EdgeBackend

            self._backend = EdgeBackend(Path(path).expanduser().resolve(), collection)
        else:
            # qdrant-client (and its HTTP models) load only here: the embedded path never
            # needs them, and they are a large part of a CLI search's start-up.
            from docingest.client_store import ClientBackend

            local = Path(local_path).expanduser().resolve() if local_path else None
            self._backend = ClientBackend(
                collection, url=url, api_key=api_key, local_path=local, timeout_s=timeout_s
            )
        self.location = self._backend.location

    @property
    def backend(self) -> str:
        return "edge" if type(self._backend).__name__ == "EdgeBackend" else "qdrant-client"

    def __enter__(self) -> VectorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _calling(self, action: str) -> Iterator[None]:
        """One session with the engine; transport failures become VECTOR_STORE_UNAVAILABLE
        (the backend's session classifies its own client's errors)."""
        try:
            with self._backend.session(action):
                yield
        except (ConnectionError, TimeoutError) as e:
            raise DocIngestError(
                ErrorCode.VECTOR_STORE_UNAVAILABLE,
                f"Qdrant at {self.location} unreachable while trying to {action}: "
                f"{type(e).__name__}: {e}",
            ) from e

    def stored_embedding(self) -> tuple[str, str] | None:
        """(model, precision) the collection's points were embedded with; None while it holds
        no point. A collection holds one of each (`ensure_collection` sees to it), so the first
        point speaks for all."""
        with self._calling(f"read the embedding of collection {self.collection!r}"):
            if not self._backend.exists():
                return None
            first = next(self._backend.scroll((), [MODEL_KEY, PRECISION_KEY], False), None)
        if first is None:
            return None
        return str(first[1].get(MODEL_KEY)), str(first[1].get(PRECISION_KEY) or "fp32")

    def ensure_collection(
        self,
        *,
        vector_size: int,
        model_name: str,
        index_keys: Sequence[str] | Mapping[str, str] = (),
        precision: str = "fp32",
    ) -> None:
        """Create the collection (cosine + BM25) if missing; refuse one built for another model
        or another precision of it (the vectors would mix silently: a query scores differently
        against each kind).

        `index_keys`: payload keys to index, as {key: keyword|integer|float|bool|datetime}
        (a plain list means keyword indexes).
        """
        schema = (
            dict(index_keys)
            if isinstance(index_keys, Mapping)
            else dict.fromkeys(index_keys, "keyword")
        )
        with self._calling(f"prepare collection {self.collection!r}"):
            if not self._backend.exists():
                self._backend.create(vector_size)
            size = self._backend.vector_size()
            if size != vector_size:
                raise CollectionMismatchError(
                    f"collection {self.collection!r} holds {size}-dimensional vectors but model "
                    f"{model_name!r} makes {vector_size}-dimensional ones; {_MISMATCH_FIX}"
                )
            first = next(self._backend.scroll((), [MODEL_KEY, PRECISION_KEY], False), None)
            stored = first[1].get(MODEL_KEY) if first else model_name
            if stored != model_name:
                raise CollectionMismatchError(
                    f"collection {self.collection!r} holds vectors of model {stored!r}, "
                    f"not {model_name!r}; {_MISMATCH_FIX}"
                )
            held = (first[1].get(PRECISION_KEY) or "fp32") if first else precision
            if held != precision:
                raise CollectionMismatchError(
                    f"collection {self.collection!r} holds {held} vectors of {model_name!r}; "
                    f"this run embeds {precision}: {_PRECISION_FIX}"
                )
            base = {DOCUMENT_ID_KEY: "keyword", "page_start": "integer", "page_end": "integer"}
            self._backend.ensure_indexes(base | schema)
        self._model_name = model_name
        self._precision = precision

    def replace_document(self, document_id: str, points: Sequence[PointData]) -> dict[str, int]:
        """Make `points` the document's only points: upsert first, then drop the stale ones.

        In this order a crash in between leaves extra stale points (the next run removes
        them), never a document without points.
        """
        written = self.upsert_points(document_id, points)
        return {"written": len(written), "deleted": self.delete_stale(document_id, written)}

    def upsert_points(self, document_id: str, points: Sequence[PointData]) -> list[str]:
        """Write some of the document's points; their ids. A long document is written in parts
        (bounded memory) and then `delete_stale` keeps only the ids written."""
        if self._model_name is None:
            raise RuntimeError("call ensure_collection() before writing points")
        # The store owns these keys: every point names its document, its model and precision.
        owned = {
            DOCUMENT_ID_KEY: document_id,
            MODEL_KEY: self._model_name,
            PRECISION_KEY: self._precision,
        }
        ready = [
            PointData(canonical_id(p.point_id), p.vector, valid_utf8(p.payload | owned), p.sparse)
            for p in points
        ]
        with self._calling(f"write the points of {document_id!r}"):
            for start in range(0, len(ready), BATCH):
                self._backend.upsert(ready[start : start + BATCH])
        return [p.point_id for p in ready]

    def delete_stale(self, document_id: str, written: Collection[str]) -> int:
        """Remove the document's points whose ids are not in `written`; how many there were."""
        wanted = set(written)
        with self._calling(f"remove the stale points of {document_id!r}"):
            stale = sorted(self.document_point_ids(document_id) - wanted)
            for start in range(0, len(stale), BATCH):
                self._backend.delete_ids(stale[start : start + BATCH])
        return len(stale)

    def delete_document(self, document_id: str) -> int:
        """Remove every point of the document; returns how many there were."""
        with self._calling(f"delete the points of {document_id!r}"):
            existing = self.count(document_id)
            if existing:
                self._backend.delete_where(_document_filter(document_id))
        return existing

    def set_payload(
        self,
        payload: Mapping[str, Any],
        *,
        document_id: str | None = None,
        point_ids: Sequence[str] | None = None,
    ) -> None:
        """Set these payload keys (others kept) on the given points, or on every point of the
        document: new metadata without re-embedding or re-writing the points."""
        if (document_id is None) == (point_ids is None):
            raise ValueError("give exactly one of document_id or point_ids")
        owned = {DOCUMENT_ID_KEY, MODEL_KEY, PRECISION_KEY} & set(payload)
        if owned:
            raise ValueError(f"the store owns {sorted(owned)}: not set by set_payload")
        clean = valid_utf8(dict(payload))
        with self._calling("set payload"):
            if not self._backend.exists():
                return
            if point_ids is None:
                self._backend.set_payload_where(_document_filter(str(document_id)), clean)
                return
            ids = [canonical_id(i) for i in point_ids]
            for start in range(0, len(ids), BATCH):
                self._backend.set_payload(ids[start : start + BATCH], clean)

    def _records(
        self, where: Filter, action: str, with_payload: bool | list[str], with_vectors: bool
    ) -> list[Record]:
        with self._calling(action):
            if not self._backend.exists():
                return []
            return list(self._backend.scroll(where, with_payload, with_vectors))

    def all_points(self, with_vectors: bool = False) -> list[Record]:
        """Every point of the collection as (id, payload, dense vector) (checks, migration)."""
        return self._records((), "read every point", True, with_vectors)

    def document_point_ids(self, document_id: str) -> set[str]:
        """The ids of the document's points now in the collection."""
        records = self._records(
            _document_filter(document_id), f"list the points of {document_id!r}", False, False
        )
        return {canonical_id(r[0]) for r in records}

    def document_vectors(self, document_id: str, key: str) -> dict[str, list[float]]:
        """The document's stored vectors by the payload value under `key` (an embedding cache:
        a chunk whose embedded text and model are unchanged needs no new forward pass)."""
        records = self._records(
            _document_filter(document_id), f"read the vectors of {document_id!r}", [key], True
        )
        return {
            value: vector
            for _, payload, vector in records
            if isinstance(value := payload.get(key), str) and vector is not None
        }

    def document_chunks(self, document_id: str, first: int, last: int) -> list[dict[str, Any]]:
        """Payloads of the document's chunks with index in [first, last], in order."""
        where = (
            *_document_filter(document_id),
            Condition("chunk_index", gte=float(first), lte=float(last)),
        )
        records = self._records(where, f"read the chunks of {document_id!r}", True, False)
        return sorted((r[1] for r in records), key=lambda p: p.get("chunk_index", 0))

    def count(self, document_id: str | None = None, filters: Filters | None = None) -> int:
        """Exact number of points, of one document, matching filters, or of the collection."""
        where = equality_filter(filters) + (
            _document_filter(document_id) if document_id is not None else ()
        )
        with self._calling("count points"):
            if not self._backend.exists():
                return 0
            return self._backend.count(where)

    def search(
        self,
        vector: Sequence[float] | Query,
        *,
        top_k: int = 5,
        filters: Filters | None = None,
    ) -> list[SearchHit]:
        """The `top_k` best points whose payload matches every filter condition.

        `vector`: a dense vector (dense search), or a `Query` with a mode.
        """
        query = vector if isinstance(vector, Query) else Query(dense=vector, mode="dense")
        with self._calling("search"):
            if not self._backend.exists():
                return []
            return self._backend.query(query, equality_filter(filters), top_k)

    def optimize(self) -> None:
        """Build the vector indexes now (Edge: HNSW over sealed segments; blocking)."""
        with self._calling("optimize"):
            if self._backend.exists():
                self._backend.optimize()

    def drop_collection(self) -> None:
        """Delete the whole collection (`reindex --recreate`)."""
        with self._calling(f"drop collection {self.collection!r}"):
            if self._backend.exists():
                self._backend.drop()
        self._model_name = None

    def close(self) -> None:
        """Release the store; an embedded store is unlocked when its last user closes."""
        if self._closed:
            return
        self._closed = True
        self._backend.close()
