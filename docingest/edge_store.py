"""The embedded store: Qdrant Edge (`qdrant-edge-py`), Qdrant's engine in-process.

One shard per collection under `<path>/edge/<collection>`, its write-ahead log on (an
acknowledged write survives a crash). Edge lets one process load a shard at a time, and a
refused second `EdgeShard.load` breaks the first opener's later `flush()`: so nobody calls
`load` without holding `<shard>.lock` (an exclusive `flock`, released by the kernel when a
process dies).

Readers must not wait for a whole ingest: a process holds the shard only for one store
operation at a time (a document's replace, a search, a count) when someone else is waiting.
A process that wants the shard first drops a marker into `<shard>.waiting/`, then waits for the
lock; the holder looks for markers after every operation (and every 10 ms while idle) and,
finding one, flushes, closes and unlocks, then queues behind the waiter for its next
operation. Without waiters the holder keeps the shard open (reopening costs ~0.2-0.5 s at 100k
points).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from docingest.errors import DocIngestError, ErrorCode
from docingest.filters import Condition, Filter, FilterValue
from docingest.sparse import SPARSE_NAME, Bm25Encoder
from docingest.vectorstore import (
    BATCH,
    PointData,
    Query,
    Record,
    SearchHit,
    canonical_id,
    dense_of,
)

LOCK_TIMEOUT_S = 120.0  # longest wait for another process's operation before giving up
WATCH_INTERVAL_S = 0.01  # how often an idle holder looks for waiting processes
HNSW_EF = 256  # filtered HNSW queries need ~256 for recall >= 0.96 (measured with Edge)
MIGRATED_MARKER = "migrated-from-local-mode"
BOOLS_KEY = "_bools"
_SCHEMA = {
    "keyword": qe.PayloadSchemaType.Keyword,
    "integer": qe.PayloadSchemaType.Integer,
    "float": qe.PayloadSchemaType.Float,
    "bool": qe.PayloadSchemaType.Bool,
    "datetime": qe.PayloadSchemaType.Datetime,
}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _ShardHandle:
    """A shard folder as this process holds it: the lock, the loaded shard, its users."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.lock_path = folder.parent / f"{folder.name}.lock"
        self.waiting = folder.parent / f"{folder.name}.waiting"
        self.mutex = threading.RLock()  # one operation at a time within the process
        self.users = 0
        self.depth = 0
        self.shard: Any = None
        self._fd: int | None = None
        self.longest_wait_s = 0.0

    def _acquire(self) -> None:
        self.waiting.mkdir(parents=True, exist_ok=True)
        marker = self.waiting / f"{os.getpid()}-{uuid.uuid4().hex}"
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        started = time.monotonic()
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                marker.touch()
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() - started > LOCK_TIMEOUT_S:
                            raise DocIngestError(
                                ErrorCode.VECTOR_STORE_UNAVAILABLE,
                                f"the embedded store {self.folder} stayed locked by another "
                                f"process for {LOCK_TIMEOUT_S:.0f} s",
                            ) from None
                        time.sleep(0.002)
        except BaseException:
            os.close(fd)
            raise
        finally:
            marker.unlink(missing_ok=True)
        self.longest_wait_s = max(self.longest_wait_s, time.monotonic() - started)
        self._fd = fd
        threading.Thread(target=self._watch, args=(fd,), daemon=True).start()

    def _watch(self, fd: int) -> None:
        """While this process holds the lock, hand it over when it sits idle and another
        process waits (a process holding the store between operations must not block it)."""
        while self._fd == fd:
            time.sleep(WATCH_INTERVAL_S)
            if not self.others_waiting() or not self.mutex.acquire(blocking=False):
                continue
            try:
                if self.depth == 0 and self._fd == fd:
                    self._release()
            finally:
                self.mutex.release()

    def _release(self) -> None:
        if self.shard is not None:
            try:
                self.shard.flush()
            finally:
                self.shard.close()
                self.shard = None
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def others_waiting(self) -> bool:
        """Whether a live process waits for the shard (a killed waiter's marker is removed)."""
        try:
            markers = list(os.scandir(self.waiting))
        except FileNotFoundError:
            return False
        for marker in markers:
            pid = marker.name.partition("-")[0]
            if pid.isdigit() and _alive(int(pid)):
                return True
            Path(marker.path).unlink(missing_ok=True)
        return False

    @contextlib.contextmanager
    def operation(self) -> Iterator[None]:
        """Hold the lock (loading nothing yet) for one store operation; nested calls share it."""
        with self.mutex:
            if self._fd is None:
                self._acquire()
            self.depth += 1
            try:
                yield
            finally:
                self.depth -= 1
                if self.depth == 0 and (self.users == 0 or self.others_waiting()):
                    self._release()

    def close(self) -> None:
        with self.mutex:
            self._release()


_HANDLES: dict[Path, _ShardHandle] = {}
_HANDLES_LOCK = threading.Lock()


def _handle(folder: Path) -> _ShardHandle:
    with _HANDLES_LOCK:
        handle = _HANDLES.setdefault(folder, _ShardHandle(folder))
        handle.users += 1
        return handle


def close_edge_shards() -> None:
    """Flush, close and unlock every shard this process holds (tests, shutdown)."""
    with _HANDLES_LOCK:
        for handle in _HANDLES.values():
            handle.close()
        _HANDLES.clear()


def _with_bools(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload plus a keyword copy of each boolean under `_bools`: qdrant-edge-py 0.9 turns
    a Python bool in `MatchValue` into an integer, which never matches a stored boolean."""
    bools = {k: str(v).lower() for k, v in payload.items() if isinstance(v, bool)}
    return payload | {BOOLS_KEY: bools} if bools else payload


def _payload_updates(payload: Mapping[str, Any]) -> list[tuple[dict[str, Any], str | None]]:
    """Set-payload operations as (payload, key): the plain keys, and the booleans' keyword
    copies set inside `_bools` (the other booleans there stay)."""
    bools = {k: str(v).lower() for k, v in payload.items() if isinstance(v, bool)}
    updates: list[tuple[dict[str, Any], str | None]] = [(dict(payload), None)]
    return [*updates, (bools, BOOLS_KEY)] if bools else updates


def _without_bools(payload: dict[str, Any]) -> dict[str, Any]:
    payload.pop(BOOLS_KEY, None)
    return payload


def _one(key: str, value: FilterValue) -> Any:
    if isinstance(value, bool):
        return qe.FieldCondition(key=f"{BOOLS_KEY}.{key}", match=qe.MatchValue(str(value).lower()))
    if isinstance(value, float):
        return qe.FieldCondition(key=key, range=qe.RangeFloat(gte=value, lte=value))
    return qe.FieldCondition(key=key, match=qe.MatchValue(value))


def _fusion(query: Query) -> Any:
    """Edge's fusion of the hybrid prefetches (its stubs type these as a bare `Fusion`)."""
    return qe.Fusion.Dbsf() if query.fusion == "dbsf" else qe.Fusion.Rrf(k=query.rrf_k)


def edge_filter(where: Filter) -> Any:
    """The neutral conditions as an Edge filter (None when there are none)."""
    must: list[Any] = []
    must_not: list[Any] = []
    for c in where:
        if c.is_range:
            bounds: dict[str, Any] = {"gte": c.gte, "gt": c.gt, "lte": c.lte, "lt": c.lt}
            rng = qe.RangeDateTime(**bounds) if c.is_datetime else qe.RangeFloat(**bounds)
            must.append(qe.FieldCondition(key=c.key, range=rng))
            continue
        if len(c.values) > 1 and all(type(v) is str for v in c.values):
            cond: Any = qe.FieldCondition(key=c.key, match=qe.MatchAny([str(v) for v in c.values]))
        elif len(c.values) == 1:
            cond = _one(c.key, c.values[0])
        else:
            cond = qe.Filter(should=[_one(c.key, v) for v in c.values])
        (must_not if c.negate else must).append(cond)
    if not must and not must_not:
        return None
    return qe.Filter(must=must or None, must_not=must_not or None)


def _sparse(vector: tuple[list[int], list[float]]) -> Any:
    return qe.SparseVector(indices=list(vector[0]), values=list(vector[1]))


class EdgeBackend:
    """One collection as one Edge shard under `<root>/edge/<collection>`."""

    def __init__(self, root: Path, collection: str) -> None:
        self.root = root
        self.collection = collection
        self.folder = root / "edge" / collection
        self.location = str(self.folder)
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        self._handle = _handle(self.folder)
        self._closed = False

    # -- sessions and the shard ---------------------------------------------------------

    def session(self, action: str) -> contextlib.AbstractContextManager[None]:
        return self._handle.operation()

    def _shard(self) -> Any:
        """The loaded shard (inside a session); None when the collection does not exist."""
        handle = self._handle
        if handle.shard is None and self._present():
            handle.shard = qe.EdgeShard.load(str(self.folder))
        return handle.shard

    def _present(self) -> bool:
        return (self.folder / "edge_config.json").exists()

    @property
    def longest_wait_s(self) -> float:
        return self._handle.longest_wait_s

    # -- Backend -------------------------------------------------------------------------

    def exists(self) -> bool:
        if not self._present():
            self._migrate_local_mode()
        return self._present()

    def create(self, vector_size: int) -> None:
        config = qe.EdgeConfig(
            vectors=qe.EdgeVectorParams(size=vector_size, distance=qe.Distance.Cosine),
            sparse_vectors={SPARSE_NAME: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
        )
        if self.folder.exists():
            shutil.rmtree(self.folder)  # a folder without segments: a create that died
        self._handle.shard = qe.EdgeShard.create(str(self.folder), config)
        self._handle.shard.flush()

    def vector_size(self) -> int | None:
        """The dense vector size the shard was created with (from its own config file)."""
        path = self.folder / "edge_config.json"
        if path.exists():
            data = json.loads(path.read_text())
            vectors = data.get("vectors") or {}
            params = vectors.get("") if isinstance(vectors, dict) else None
            if isinstance(params, dict) and "size" in params:
                return int(params["size"])
        return None

    def ensure_indexes(self, schema: Mapping[str, str]) -> None:
        shard = self._shard()
        existing = shard.info().payload_schema
        for key, kind in schema.items():
            if kind == "bool":
                key, kind = f"{BOOLS_KEY}.{key}", "keyword"
            if key not in existing:
                shard.update(qe.UpdateOperation.create_field_index(key, _SCHEMA[kind]))

    def upsert(self, points: Sequence[PointData]) -> None:
        structs = []
        for p in points:
            vector: Any = {"": list(p.vector)}
            if p.sparse is not None:
                vector[SPARSE_NAME] = _sparse(p.sparse)
            structs.append(
                qe.Point(id=uuid.UUID(p.point_id), vector=vector, payload=_with_bools(p.payload))
            )
        self._shard().update(qe.UpdateOperation.upsert_points(structs))

    def delete_ids(self, ids: Sequence[str]) -> None:
        self._shard().update(qe.UpdateOperation.delete_points([uuid.UUID(i) for i in ids]))

    def delete_where(self, where: Filter) -> None:
        self._shard().update(qe.UpdateOperation.delete_points_by_filter(edge_filter(where)))

    def set_payload(self, ids: Sequence[str], payload: Mapping[str, Any]) -> None:
        points: list[int | uuid.UUID | str] = [uuid.UUID(i) for i in ids]
        for operation in _payload_updates(payload):
            self._shard().update(qe.UpdateOperation.set_payload(points, *operation))

    def set_payload_where(self, where: Filter, payload: Mapping[str, Any]) -> None:
        flt = edge_filter(where)
        for operation in _payload_updates(payload):
            self._shard().update(qe.UpdateOperation.set_payload_by_filter(flt, *operation))

    def scroll(
        self, where: Filter, with_payload: bool | list[str], with_vectors: bool
    ) -> Iterator[Record]:
        shard = self._shard()
        offset: Any = None
        while True:
            records, offset = shard.scroll(
                qe.ScrollRequest(
                    offset=offset,
                    limit=4 * BATCH,
                    filter=edge_filter(where),
                    with_payload=with_payload,
                    with_vector=[""] if with_vectors else False,
                )
            )
            for r in records:
                yield canonical_id(r.id), _without_bools(dict(r.payload or {})), dense_of(r.vector)
            if offset is None:
                return

    def count(self, where: Filter) -> int:
        return int(self._shard().count(qe.CountRequest(exact=True, filter=edge_filter(where))))

    def query(self, query: Query, where: Filter, limit: int) -> list[SearchHit]:
        flt = edge_filter(where)
        params = qe.SearchParams(hnsw_ef=HNSW_EF)
        dense = qe.Query.Nearest(list(query.dense or []))
        sparse = (
            qe.Query.Nearest(_sparse(query.sparse), using=SPARSE_NAME) if query.sparse else None
        )
        if query.mode == "dense":
            request = qe.QueryRequest(
                limit=limit, query=dense, filter=flt, params=params, with_payload=True
            )
        elif query.mode == "sparse":
            request = qe.QueryRequest(limit=limit, query=sparse, filter=flt, with_payload=True)
        else:
            n = max(query.candidates, limit)
            request = qe.QueryRequest(
                limit=limit,
                prefetches=[
                    qe.Prefetch(limit=n, query=dense, filter=flt, params=params),
                    qe.Prefetch(limit=n, query=sparse, filter=flt),
                ],
                query=_fusion(query),
                with_payload=True,
            )
        return [
            SearchHit(canonical_id(p.id), float(p.score), _without_bools(dict(p.payload or {})))
            for p in self._shard().query(request)
        ]

    def drop(self) -> None:
        handle = self._handle
        if handle.shard is not None:
            handle.shard.close()
            handle.shard = None
        shutil.rmtree(self.folder, ignore_errors=True)

    def optimize(self) -> None:
        self._shard().optimize()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        handle = self._handle
        with _HANDLES_LOCK, handle.mutex:
            handle.users -= 1
            if handle.users <= 0 and handle.depth == 0:
                handle.close()
                _HANDLES.pop(self.folder, None)

    # -- migration from qdrant-client's local mode ----------------------------------------

    def _migrate_local_mode(self) -> None:
        """Copy a collection an older version kept in qdrant-client's local mode under the
        same folder (vectors and payloads as stored; BM25 vectors from the stored text)."""
        old = self.root / "collection" / self.collection
        if (
            not old.exists()
            or (self.root / "edge" / f"{self.collection}.{MIGRATED_MARKER}").exists()
        ):
            return
        from docingest.client_store import ClientBackend  # only when an old store is there

        source = ClientBackend(self.collection, local_path=self.root)
        try:
            if not source.exists():
                return
            size = source.vector_size()
            if size is None:
                return
            self.create(size)
            encoder = Bm25Encoder()
            batch: list[PointData] = []
            for point_id, payload, vector in source.scroll((), True, True):
                if vector is None:
                    continue
                sparse = encoder.document(str(payload.get("text", "")))
                batch.append(PointData(point_id, vector, payload, sparse))
                if len(batch) >= BATCH:
                    self.upsert(batch)
                    batch = []
            if batch:
                self.upsert(batch)
            self._handle.shard.flush()
        finally:
            source.close()
        (self.root / "edge" / f"{self.collection}.{MIGRATED_MARKER}").touch()


__all__ = ["Condition", "EdgeBackend", "close_edge_shards", "edge_filter"]
