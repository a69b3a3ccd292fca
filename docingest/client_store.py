"""qdrant-client behind the store interface: a Qdrant server by URL, or qdrant-client's local
mode in a folder (tests standing in for a server; stores written by older versions).

Kept apart from `docingest.vectorstore` so the embedded path (Qdrant Edge) never imports
qdrant-client and its HTTP models: `VectorStore` loads this module only for `url=` or
`local_path=`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from docingest.errors import DocIngestError, ErrorCode
from docingest.filters import Filter, FilterValue
from docingest.sparse import SPARSE_NAME
from docingest.vectorstore import (
    BATCH,
    PointData,
    Query,
    Record,
    SearchHit,
    dense_of,
)

_TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_TRANSPORT_ERRORS = (ResponseHandlingException, httpx.TransportError, ConnectionError, TimeoutError)
_LOCAL: dict[Path, tuple[QdrantClient, int]] = {}  # resolved folder -> (client, open stores)
_LOCAL_LOCK = threading.Lock()
_SCHEMA = {
    "keyword": models.PayloadSchemaType.KEYWORD,
    "integer": models.PayloadSchemaType.INTEGER,
    "float": models.PayloadSchemaType.FLOAT,
    "bool": models.PayloadSchemaType.BOOL,
    "datetime": models.PayloadSchemaType.DATETIME,
}


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
                    f"the local-mode Qdrant store {path} is held by another process; local mode "
                    f"allows one process at a time ({e})",
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


def close_local_mode_clients() -> None:
    """Close every local-mode client this process holds (tests, shutdown)."""
    with _LOCAL_LOCK:
        for client, _ in _LOCAL.values():
            client.close()
        _LOCAL.clear()


def _client_match(key: str, values: tuple[FilterValue, ...]) -> Any:
    """A match on any of `values`; floats match as point ranges (MatchValue takes none)."""
    if len(values) > 1 and all(isinstance(v, str) for v in values):
        return models.FieldCondition(key=key, match=models.MatchAny(any=list(values)))  # type: ignore[arg-type]
    conditions: list[Any] = [
        models.FieldCondition(key=key, range=models.Range(gte=v, lte=v))
        if isinstance(v, float)
        else models.FieldCondition(key=key, match=models.MatchValue(value=v))
        for v in values
    ]
    return conditions[0] if len(conditions) == 1 else models.Filter(should=conditions)


def client_filter(where: Filter) -> models.Filter | None:
    """The neutral conditions as a qdrant-client filter."""
    must: list[Any] = []
    must_not: list[Any] = []
    for c in where:
        if c.is_range:
            bounds: dict[str, Any] = {"gte": c.gte, "gt": c.gt, "lte": c.lte, "lt": c.lt}
            rng: Any = models.DatetimeRange(**bounds) if c.is_datetime else models.Range(**bounds)
            must.append(models.FieldCondition(key=c.key, range=rng))
        else:
            (must_not if c.negate else must).append(_client_match(c.key, c.values))
    if not must and not must_not:
        return None
    return models.Filter(must=must or None, must_not=must_not or None)


class ClientBackend:
    """qdrant-client against a server (URL) or its local mode (a folder)."""

    def __init__(
        self,
        collection: str,
        *,
        url: str | None = None,
        api_key: str | None = None,
        local_path: Path | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self.collection = collection
        self.location = url or str(local_path)
        self._local_path = local_path
        if local_path is not None:
            self._client = _open_local(local_path)
        else:
            self._client = QdrantClient(
                url=url, api_key=api_key, timeout=int(max(timeout_s, 1)), check_compatibility=False
            )

    @contextlib.contextmanager
    def session(self, action: str) -> Iterator[None]:
        """Transport failures and transient answers become VECTOR_STORE_UNAVAILABLE."""
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

    def exists(self) -> bool:
        return self._client.collection_exists(self.collection)

    def create(self, vector_size: int) -> None:
        vectors = models.VectorParams(size=vector_size, distance=models.Distance.COSINE)
        sparse = {SPARSE_NAME: models.SparseVectorParams(modifier=models.Modifier.IDF)}
        try:
            self._client.create_collection(
                self.collection, vectors_config=vectors, sparse_vectors_config=sparse
            )
        except UnexpectedResponse as e:
            if e.status_code != 409:  # 409: another worker created it just now
                raise

    def vector_size(self) -> int | None:
        params = self._client.get_collection(self.collection).config.params.vectors
        return params.size if isinstance(params, models.VectorParams) else None

    def has_sparse(self) -> bool:
        sparse = self._client.get_collection(self.collection).config.params.sparse_vectors
        return SPARSE_NAME in (sparse or {})

    def ensure_indexes(self, schema: Mapping[str, str]) -> None:
        if self._local_path is not None:
            return  # local mode ignores payload indexes (and warns on each)
        existing = self._client.get_collection(self.collection).payload_schema or {}
        for key, kind in schema.items():
            if key not in existing:
                self._client.create_payload_index(self.collection, key, field_schema=_SCHEMA[kind])

    def upsert(self, points: Sequence[PointData]) -> None:
        structs = []
        for p in points:
            vector: Any = p.vector
            if p.sparse is not None:
                sparse = models.SparseVector(indices=p.sparse[0], values=p.sparse[1])
                vector = {"": p.vector, SPARSE_NAME: sparse}
            structs.append(models.PointStruct(id=p.point_id, vector=vector, payload=p.payload))
        self._client.upsert(self.collection, points=structs, wait=True)

    def delete_ids(self, ids: Sequence[str]) -> None:
        selector = models.PointIdsList(points=list(ids))
        self._client.delete(self.collection, points_selector=selector, wait=True)

    def delete_where(self, where: Filter) -> None:
        selector = models.FilterSelector(filter=client_filter(where) or models.Filter())
        self._client.delete(self.collection, points_selector=selector, wait=True)

    def set_payload(self, ids: Sequence[str], payload: Mapping[str, Any]) -> None:
        self._client.set_payload(
            self.collection, dict(payload), points=models.PointIdsList(points=list(ids)),
            wait=True,
        )  # fmt: skip

    def set_payload_where(self, where: Filter, payload: Mapping[str, Any]) -> None:
        selector = models.FilterSelector(filter=client_filter(where) or models.Filter())
        self._client.set_payload(self.collection, dict(payload), points=selector, wait=True)

    def scroll(
        self, where: Filter, with_payload: bool | list[str], with_vectors: bool
    ) -> Iterator[Record]:
        offset: Any = None
        while True:
            records, offset = self._client.scroll(
                self.collection,
                scroll_filter=client_filter(where),
                limit=4 * BATCH,
                offset=offset,
                with_payload=with_payload,
                with_vectors=[""] if with_vectors else False,
            )
            for r in records:
                yield str(r.id), dict(r.payload or {}), dense_of(r.vector)
            if offset is None:
                return

    def count(self, where: Filter) -> int:
        flt = client_filter(where)
        return self._client.count(self.collection, count_filter=flt, exact=True).count

    def query(self, query: Query, where: Filter, limit: int) -> list[SearchHit]:
        flt = client_filter(where)
        sparse = (
            models.SparseVector(indices=query.sparse[0], values=query.sparse[1])
            if query.sparse is not None
            else None
        )
        if query.mode == "dense":
            response = self._client.query_points(
                self.collection, list(query.dense or []), limit=limit, query_filter=flt,
                with_payload=True,
            )  # fmt: skip
        elif query.mode == "sparse":
            response = self._client.query_points(
                self.collection, sparse, using=SPARSE_NAME, limit=limit, query_filter=flt,
                with_payload=True,
            )  # fmt: skip
        else:
            n = max(query.candidates, limit)
            response = self._client.query_points(
                self.collection,
                prefetch=[
                    models.Prefetch(query=list(query.dense or []), limit=n, filter=flt),
                    models.Prefetch(query=sparse, using=SPARSE_NAME, limit=n, filter=flt),
                ],
                query=(
                    models.FusionQuery(fusion=models.Fusion.DBSF)
                    if query.fusion == "dbsf"
                    else models.RrfQuery(rrf=models.Rrf(k=query.rrf_k))
                ),
                limit=limit,
                with_payload=True,
            )
        return [
            SearchHit(str(p.id), float(p.score), dict(p.payload or {})) for p in response.points
        ]

    def drop(self) -> None:
        self._client.delete_collection(self.collection)

    def optimize(self) -> None:
        """A server builds its HNSW indexes by itself."""

    def close(self) -> None:
        if self._local_path is not None:
            _release_local(self._local_path)
        else:
            self._client.close()
