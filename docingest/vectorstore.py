"""Qdrant, local (a folder on disk) or server (URL + API key), behind one small class.

Every write is idempotent per document: callers give deterministic point ids
(`ids.point_id_for`), `replace_document` upserts them and only then removes the document's
points that are no longer wanted. Local mode allows one open client per store folder and one
process at a time, so open local clients are shared through a ref-counted registry.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from docingest.errors import ConfigError, DocIngestError, ErrorCode

DOCUMENT_ID_KEY = "document_id"
MODEL_KEY = "embedding_model"
BATCH = 256  # points per upsert/delete request
_TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_TRANSPORT_ERRORS = (ResponseHandlingException, httpx.TransportError, ConnectionError, TimeoutError)
_MISMATCH_FIX = (
    "choose another collection name, or recreate this one for the new model "
    "(`docingest reindex --recreate`)"
)
FilterValue = str | int | float | bool
Filters = Mapping[str, FilterValue]


@dataclass
class PointData:
    point_id: str
    vector: list[float]
    payload: dict[str, Any]


@dataclass
class SearchHit:
    point_id: str
    score: float
    payload: dict[str, Any]


class CollectionMismatchError(ConfigError):
    """The collection exists with another vector size or embedding model."""


_LOCAL: dict[Path, tuple[QdrantClient, int]] = {}  # resolved folder -> (client, open stores)
_LOCAL_LOCK = threading.Lock()


def _open_local(path: Path) -> QdrantClient:
    with _LOCAL_LOCK:
        client, refs = _LOCAL.get(path) or (None, 0)
        if client is None:
            path.mkdir(parents=True, exist_ok=True)
            try:
                client = QdrantClient(path=str(path))
            except RuntimeError as e:  # qdrant-client's "already accessed by another instance"
                raise DocIngestError(
                    ErrorCode.VECTOR_STORE_UNAVAILABLE,
                    f"the local Qdrant store {path} is held by another process (e.g. a running "
                    "`docingest ingest` or Dagster run); local mode allows one process at a "
                    f"time: wait for it to finish, or use a Qdrant server ({e})",
                ) from e
        _LOCAL[path] = (client, refs + 1)
        return client


def _release_local(path: Path) -> None:
    with _LOCAL_LOCK:
        if path not in _LOCAL:
            return
        client, refs = _LOCAL.pop(path)
        if refs > 1:
            _LOCAL[path] = (client, refs - 1)
        else:
            client.close()  # unlocks the folder for other processes


def close_local_clients() -> None:
    """Close every local client this process holds (tests, shutdown)."""
    with _LOCAL_LOCK:
        for client, _ in _LOCAL.values():
            client.close()
        _LOCAL.clear()


def _batches(items: list[Any]) -> Iterator[list[Any]]:
    return (items[start : start + BATCH] for start in range(0, len(items), BATCH))


def _canonical_id(point_id: str) -> str:
    return str(uuid.UUID(str(point_id)))  # Qdrant returns uuids in this form


def _match(key: str, value: FilterValue) -> models.FieldCondition:
    if isinstance(value, float):  # MatchValue takes str, int and bool only
        return models.FieldCondition(key=key, range=models.Range(gte=value, lte=value))
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


def _document_filter(document_id: str) -> models.Filter:
    return models.Filter(must=[_match(DOCUMENT_ID_KEY, document_id)])


class VectorStore:
    """One Qdrant collection: ensure it, replace or delete a document's points, search."""

    def __init__(
        self,
        *,
        collection: str = "documents",
        path: str | None = None,
        url: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        if (path is None) == (url is None):
            raise ConfigError("give exactly one of path (local Qdrant) or url (Qdrant server)")
        self.collection = collection
        self.location = path or url or ""
        self._model_name: str | None = None
        self._local_path = Path(path).expanduser().resolve() if path else None
        self._closed = False
        if self._local_path is not None:
            self._client = _open_local(self._local_path)
        else:
            self._client = QdrantClient(
                url=url, api_key=api_key, timeout=int(max(timeout_s, 1)), check_compatibility=False
            )

    def __enter__(self) -> VectorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _calling(self, action: str) -> Iterator[None]:
        """Map transport failures to VECTOR_STORE_UNAVAILABLE (retryable)."""
        try:
            yield
        except _TRANSPORT_ERRORS as e:
            cause = getattr(e, "source", e)
            raise DocIngestError(
                ErrorCode.VECTOR_STORE_UNAVAILABLE,
                f"Qdrant at {self.location} unreachable while trying to {action}: "
                f"{type(cause).__name__}: {cause}",
            ) from e
        except UnexpectedResponse as e:
            if e.status_code not in _TRANSIENT_STATUS:
                raise  # a bad request or API key: a bug or configuration, not an outage
            raise DocIngestError(
                ErrorCode.VECTOR_STORE_UNAVAILABLE,
                f"Qdrant at {self.location} answered {e.status_code} while trying to {action}",
            ) from e

    def _exists(self) -> bool:
        with self._calling("check the collection"):
            return self._client.collection_exists(self.collection)

    def ensure_collection(
        self, *, vector_size: int, model_name: str, index_keys: Sequence[str] = ()
    ) -> None:
        """Create the collection (cosine) if missing; refuse one built for another model."""
        with self._calling(f"prepare collection {self.collection!r}"):
            if not self._client.collection_exists(self.collection):
                vectors = models.VectorParams(size=vector_size, distance=models.Distance.COSINE)
                try:
                    self._client.create_collection(self.collection, vectors_config=vectors)
                except UnexpectedResponse as e:
                    if e.status_code != 409:  # 409: another worker created it just now
                        raise
            info = self._client.get_collection(self.collection)
            params = info.config.params.vectors
            size = params.size if isinstance(params, models.VectorParams) else None
            if size != vector_size:
                raise CollectionMismatchError(
                    f"collection {self.collection!r} holds {size}-dimensional vectors but model "
                    f"{model_name!r} makes {vector_size}-dimensional ones; {_MISMATCH_FIX}"
                )
            records, _ = self._client.scroll(self.collection, limit=1, with_payload=[MODEL_KEY])
            stored = (records[0].payload or {}).get(MODEL_KEY) if records else model_name
            if stored != model_name:
                raise CollectionMismatchError(
                    f"collection {self.collection!r} holds vectors of model {stored!r}, "
                    f"not {model_name!r}; {_MISMATCH_FIX}"
                )
            # Local mode ignores payload indexes (and warns on each); the server needs them.
            if self._local_path is None:
                for key in dict.fromkeys([DOCUMENT_ID_KEY, *index_keys]):
                    if key not in (info.payload_schema or {}):
                        self._client.create_payload_index(
                            self.collection, key, field_schema=models.PayloadSchemaType.KEYWORD
                        )
        self._model_name = model_name

    def replace_document(self, document_id: str, points: Sequence[PointData]) -> dict[str, int]:
        """Make `points` the document's only points: upsert first, then drop the stale ones.

        In this order a crash in between leaves extra stale points (the next run removes
        them), never a document without points.
        """
        if self._model_name is None:
            raise RuntimeError("call ensure_collection() before writing points")
        # The store owns these two keys: every point names its document and its model.
        owned = {DOCUMENT_ID_KEY: document_id, MODEL_KEY: self._model_name}
        structs = [
            models.PointStruct(
                id=_canonical_id(p.point_id), vector=p.vector, payload=p.payload | owned
            )
            for p in points
        ]
        with self._calling(f"write the points of {document_id!r}"):
            for batch in _batches(structs):
                self._client.upsert(self.collection, points=batch, wait=True)
        stale: list[Any] = sorted(self.document_point_ids(document_id) - {s.id for s in structs})
        with self._calling(f"remove stale points of {document_id!r}"):
            for batch in _batches(stale):
                selector = models.PointIdsList(points=batch)
                self._client.delete(self.collection, points_selector=selector, wait=True)
        return {"written": len(points), "deleted": len(stale)}

    def delete_document(self, document_id: str) -> int:
        """Remove every point of the document; returns how many there were."""
        existing = self.count(document_id)
        if existing:
            selector = models.FilterSelector(filter=_document_filter(document_id))
            with self._calling(f"delete the points of {document_id!r}"):
                self._client.delete(self.collection, points_selector=selector, wait=True)
        return existing

    def _document_records(
        self, document_id: str, action: str, with_payload: Any, with_vectors: bool
    ) -> Iterator[Any]:
        """Every point of the document, page by page."""
        if not self._exists():
            return
        offset: Any = None
        doc_filter = _document_filter(document_id)
        with self._calling(f"{action} {document_id!r}"):
            while True:
                records, offset = self._client.scroll(
                    self.collection,
                    scroll_filter=doc_filter,
                    limit=4 * BATCH,
                    offset=offset,
                    with_payload=with_payload,
                    with_vectors=with_vectors,
                )
                yield from records
                if offset is None:
                    return

    def document_point_ids(self, document_id: str) -> set[str]:
        """The ids of the document's points now in the collection."""
        records = self._document_records(document_id, "list the points of", False, False)
        return {str(record.id) for record in records}

    def document_vectors(self, document_id: str, key: str) -> dict[str, list[float]]:
        """The document's stored vectors by the payload value under `key` (an embedding cache:
        a chunk whose embedded text and model are unchanged needs no new forward pass)."""
        found: dict[str, list[float]] = {}
        for record in self._document_records(document_id, "read the vectors of", [key], True):
            value, vector = (record.payload or {}).get(key), record.vector
            if isinstance(value, str) and isinstance(vector, list):
                found[value] = [float(x) for x in vector if isinstance(x, (int, float))]
        return found

    def count(self, document_id: str | None = None) -> int:
        """Exact number of points, of one document or of the whole collection."""
        if not self._exists():
            return 0
        count_filter = _document_filter(document_id) if document_id is not None else None
        with self._calling("count points"):
            return self._client.count(self.collection, count_filter=count_filter, exact=True).count

    def search(
        self, vector: Sequence[float], *, top_k: int = 5, filters: Filters | None = None
    ) -> list[SearchHit]:
        """The `top_k` nearest points whose payload matches every filter exactly."""
        if not self._exists():
            return []
        conditions: list[Any] = [_match(key, value) for key, value in (filters or {}).items()]
        query_filter = models.Filter(must=conditions) if conditions else None
        with self._calling("search"):
            response = self._client.query_points(
                self.collection, list(vector), limit=top_k, query_filter=query_filter
            )
        points = response.points
        return [SearchHit(str(p.id), float(p.score), dict(p.payload or {})) for p in points]

    def drop_collection(self) -> None:
        """Delete the whole collection (`reindex --recreate`)."""
        with self._calling(f"drop collection {self.collection!r}"):
            self._client.delete_collection(self.collection)
        self._model_name = None

    def close(self) -> None:
        """Release the client; a local store folder is unlocked when its last user closes."""
        if self._closed:
            return
        self._closed = True
        if self._local_path is not None:
            _release_local(self._local_path)
        else:
            self._client.close()
