"""VectorStore against both backends: Qdrant Edge (the embedded default) and qdrant-client
(its local mode standing in for a server: same client API), in temporary folders."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from docingest.errors import ConfigError, DocIngestError, ErrorCode
from docingest.filters import parse_filters
from docingest.ids import point_id_for
from docingest.sparse import Bm25Encoder
from docingest.vectorstore import (
    MODEL_KEY,
    PRECISION_KEY,
    CollectionMismatchError,
    PointData,
    Query,
    SearchHit,
    VectorStore,
    close_local_clients,
)

SIZE = 4
MODEL = "test-model"


def _vector(seed: int) -> list[float]:
    raw = [math.sin(seed * (i + 1)) + 1.1 for i in range(SIZE)]
    norm = math.sqrt(sum(x * x for x in raw))
    return [x / norm for x in raw]


def _points(document_id: str, n: int, **metadata: object) -> list[PointData]:
    return [
        PointData(
            point_id=point_id_for(document_id, i, "h1"),
            vector=_vector(i + len(document_id)),
            payload={"chunk_index": i, "text": f"{document_id} chunk {i}", **metadata},
        )
        for i in range(n)
    ]


BACKENDS = ("edge", "client")


def _open(kind: str, folder: Path, collection: str = "documents") -> VectorStore:
    if kind == "edge":
        return VectorStore(path=str(folder), collection=collection)
    return VectorStore(local_path=str(folder), collection=collection)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    vector_store = _open(request.param, tmp_path / "qdrant")
    vector_store.ensure_collection(vector_size=SIZE, model_name=MODEL, index_keys=["team"])
    yield vector_store
    vector_store.close()
    close_local_clients()


def test_exactly_one_location_is_required(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        VectorStore()
    with pytest.raises(ConfigError):
        VectorStore(path=str(tmp_path), url="http://localhost:6333")


def test_ensure_collection_is_idempotent(store: VectorStore) -> None:
    store.ensure_collection(vector_size=SIZE, model_name=MODEL, index_keys=["team", "lang"])
    assert store.count() == 0


def test_size_mismatch_names_both_sizes(store: VectorStore) -> None:
    with pytest.raises(CollectionMismatchError, match=r"4-dimensional.*8-dimensional.*recreate"):
        store.ensure_collection(vector_size=8, model_name="other")


def test_model_mismatch_names_both_models(store: VectorStore) -> None:
    store.replace_document("a.pdf", _points("a.pdf", 1))
    with pytest.raises(CollectionMismatchError, match=r"'test-model'.*'other-model'.*recreate"):
        store.ensure_collection(vector_size=SIZE, model_name="other-model")


def test_the_collection_keeps_one_precision(store: VectorStore) -> None:
    """Every point is stamped with the precision the collection was ensured for; another one
    is refused, with the way out; points of the previous version (no stamp) are fp32."""
    assert store.stored_embedding() is None  # no point yet: no precision to keep
    store.replace_document("a.pdf", _points("a.pdf", 2))
    assert store.stored_embedding() == (MODEL, "fp32")
    assert {p[1][PRECISION_KEY] for p in store.all_points()} == {"fp32"}
    with pytest.raises(CollectionMismatchError, match=r"holds fp32 vectors.*embeds int8.*recreate"):
        store.ensure_collection(vector_size=SIZE, model_name=MODEL, precision="int8")
    with pytest.raises(ValueError, match="owns"):
        store.set_payload({PRECISION_KEY: "int8"}, document_id="a.pdf")

    store.delete_document("a.pdf")  # empty again: a new precision may start
    store.ensure_collection(vector_size=SIZE, model_name=MODEL, precision="int8")
    store.replace_document("b.pdf", _points("b.pdf", 1))
    assert store.stored_embedding() == (MODEL, "int8")
    with pytest.raises(CollectionMismatchError, match=r"holds int8 vectors.*embeds fp32"):
        store.ensure_collection(vector_size=SIZE, model_name=MODEL)


def test_points_written_before_precisions_read_as_fp32(store: VectorStore) -> None:
    old = _points("old.pdf", 2)
    for point in old:  # what the previous version wrote: model, no precision
        point.payload |= {"document_id": "old.pdf", MODEL_KEY: MODEL}
    store._backend.upsert(old)
    assert store.stored_embedding() == (MODEL, "fp32")
    store.ensure_collection(vector_size=SIZE, model_name=MODEL, precision="fp32")
    with pytest.raises(CollectionMismatchError, match="holds fp32"):
        store.ensure_collection(vector_size=SIZE, model_name=MODEL, precision="int8")


def test_replace_document_is_idempotent(store: VectorStore) -> None:
    points = _points("a.pdf", 3)
    assert store.replace_document("a.pdf", points) == {"written": 3, "deleted": 0}
    ids = store.document_point_ids("a.pdf")
    assert store.replace_document("a.pdf", points) == {"written": 3, "deleted": 0}
    assert store.document_point_ids("a.pdf") == ids == {p.point_id for p in points}
    assert store.count("a.pdf") == 3


def test_replace_with_fewer_points_removes_stale_ones(store: VectorStore) -> None:
    store.replace_document("a.pdf", _points("a.pdf", 5))
    fewer = _points("a.pdf", 2)
    assert store.replace_document("a.pdf", fewer) == {"written": 2, "deleted": 3}
    assert store.document_point_ids("a.pdf") == {p.point_id for p in fewer}


def test_payload_carries_document_and_model(store: VectorStore) -> None:
    store.replace_document("a.pdf", _points("a.pdf", 1))
    (hit,) = store.search(_vector(0), top_k=1)
    assert hit.payload["document_id"] == "a.pdf"
    assert hit.payload["embedding_model"] == MODEL


def test_delete_document_leaves_other_documents(store: VectorStore) -> None:
    store.replace_document("a.pdf", _points("a.pdf", 3))
    store.replace_document("dir/b.pdf", _points("dir/b.pdf", 2))
    assert store.delete_document("a.pdf") == 3
    assert store.count("a.pdf") == 0
    assert store.count("dir/b.pdf") == 2
    assert store.count() == 2
    assert store.delete_document("a.pdf") == 0


def test_search_filters_are_exact_and_combined(store: VectorStore) -> None:
    store.replace_document("a.pdf", _points("a.pdf", 3, team="legal", year=2024, draft=False))
    store.replace_document("b.pdf", _points("b.pdf", 3, team="sales", year=2024, draft=True))
    assert {h.payload["document_id"] for h in store.search(_vector(1), top_k=10)} == {
        "a.pdf",
        "b.pdf",
    }
    legal = store.search(_vector(1), top_k=10, filters={"team": "legal"})
    assert len(legal) == 3 and {h.payload["document_id"] for h in legal} == {"a.pdf"}
    assert len(store.search(_vector(1), top_k=10, filters={"year": 2024, "draft": True})) == 3
    assert store.search(_vector(1), top_k=10, filters={"team": "legal", "draft": True}) == []
    hits = store.search(_vector(1), top_k=2)
    assert len(hits) == 2 and hits[0].score >= hits[1].score


@pytest.mark.parametrize("kind", BACKENDS)
def test_missing_collection_reads_as_empty(kind: str, tmp_path: Path) -> None:
    with _open(kind, tmp_path / "q", "nothing") as empty:
        assert empty.count() == 0
        assert empty.search(_vector(1)) == []
        assert empty.document_point_ids("a.pdf") == set()


@pytest.mark.parametrize("kind", BACKENDS)
def test_stores_on_one_folder_share_a_client(kind: str, tmp_path: Path) -> None:
    first = _open(kind, tmp_path / "q")
    second = _open(kind, tmp_path / "q" / ".." / "q")
    first.ensure_collection(vector_size=SIZE, model_name=MODEL)
    first.replace_document("a.pdf", _points("a.pdf", 2))
    first.close()
    assert second.count() == 2  # still open: the folder stays locked until the last close
    second.close()
    close_local_clients()


def test_local_mode_held_by_another_process_is_unavailable(tmp_path: Path) -> None:
    folder = tmp_path / "q"
    folder.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from qdrant_client import QdrantClient\n"
            f"client = QdrantClient(path={str(folder)!r})\n"
            "print('ready', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(DocIngestError) as caught:
            VectorStore(local_path=str(folder))
        assert caught.value.code is ErrorCode.VECTOR_STORE_UNAVAILABLE
        assert caught.value.retryable
        assert str(folder) in caught.value.message and "another process" in caught.value.message
    finally:
        holder.kill()
        holder.wait()
    with VectorStore(local_path=str(folder)) as store:  # free again once the holder is gone
        assert store.count() == 0


def test_unreachable_server_is_unavailable() -> None:
    store = VectorStore(url="http://127.0.0.1:1", timeout_s=1)
    started = time.monotonic()
    with pytest.raises(DocIngestError) as caught:
        store.ensure_collection(vector_size=SIZE, model_name=MODEL)
    assert caught.value.code is ErrorCode.VECTOR_STORE_UNAVAILABLE
    assert "127.0.0.1:1" in caught.value.message
    assert time.monotonic() - started < 5
    with pytest.raises(DocIngestError):
        store.count()
    store.close()


def _typed_points(document_id: str, n: int, **metadata: object) -> list[PointData]:
    """Points with pages, a BM25 vector of their text and typed metadata."""
    encoder = Bm25Encoder()
    words = ["revenue", "risk", "climate", "tariff", "dividend"]
    points = []
    for i in range(n):
        text = f"{document_id} chunk {i} about {words[i % len(words)]}"
        payload = {"chunk_index": i, "text": text, "page_start": i + 1, "page_end": i + 1}
        points.append(
            PointData(
                point_id_for(document_id, i, "h1"),
                _vector(i + len(document_id)),
                payload | metadata,
                encoder.document(text),
            )
        )
    return points


def _docs(hits: list[SearchHit]) -> set[str]:
    return {h.payload["document_id"] for h in hits}


def test_typed_filters_ranges_any_of_negation_and_pages(store: VectorStore) -> None:
    store.replace_document("a.pdf", _typed_points("a.pdf", 4, team="legal", year=2019, score=0.5))
    store.replace_document("b.pdf", _typed_points("b.pdf", 4, team="sales", year=2021, score=1.5))
    store.replace_document("c.pdf", _typed_points("c.pdf", 4, team="ops", year=2023, score=2.5))

    def docs(*expressions: str) -> set[str]:
        return _docs(store.search(_vector(1), top_k=20, filters=parse_filters(expressions)))

    assert docs("year>=2020") == {"b.pdf", "c.pdf"}
    assert docs("year<2023", "year>2019") == {"b.pdf"}
    assert docs("team=legal|ops") == {"a.pdf", "c.pdf"}
    assert docs("team!=legal|ops") == {"b.pdf"}
    assert docs("score=1.5") == {"b.pdf"}
    assert docs("score>=1.0", "team!=ops") == {"b.pdf"}
    assert docs("document=c.pdf") == {"c.pdf"}
    pages = store.search(_vector(1), top_k=20, filters=parse_filters(["page=2..3"]))
    assert sorted({h.payload["page_start"] for h in pages}) == [2, 3]
    assert store.count(filters=parse_filters(["year>=2021"])) == 8


@pytest.mark.parametrize(
    ("mode", "fusion"), [("dense", "rrf"), ("sparse", "rrf"), ("hybrid", "rrf"), ("hybrid", "dbsf")]
)
def test_search_modes(store: VectorStore, mode: str, fusion: str) -> None:
    store.replace_document("a.pdf", _typed_points("a.pdf", 5))
    store.replace_document("b.pdf", _typed_points("b.pdf", 5))
    sparse = Bm25Encoder().query("tariff")
    query = Query(dense=_vector(3), sparse=sparse, mode=mode, rrf_k=10, fusion=fusion)
    hits = store.search(query, top_k=4, filters=parse_filters(["document=b.pdf"]))
    assert hits and _docs(hits) == {"b.pdf"}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    if mode == "sparse":  # only the chunk that says "tariff" matches BM25
        assert [h.payload["chunk_index"] for h in hits] == [3]


def test_backends_agree_on_results(tmp_path: Path) -> None:
    """Same points, same query: the same hits in the same order from both backends."""
    answers = []
    for kind in BACKENDS:
        with _open(kind, tmp_path / kind) as one:
            one.ensure_collection(
                vector_size=SIZE, model_name=MODEL, index_keys={"year": "integer"}
            )
            for name, year in (("a.pdf", 2019), ("b.pdf", 2022)):
                one.replace_document(name, _typed_points(name, 5, year=year))
            answer = []
            for mode, fusion in (
                ("dense", "rrf"), ("sparse", "rrf"), ("hybrid", "rrf"), ("hybrid", "dbsf"),
            ):  # fmt: skip
                query = Query(
                    dense=_vector(2), sparse=Bm25Encoder().query("risk"), mode=mode, fusion=fusion
                )
                hits = one.search(query, top_k=5, filters=parse_filters(["year>=2020"]))
                ranked = [(-round(h.score, 4), h.point_id) for h in hits]
                assert ranked == sorted(ranked, key=lambda r: r[0])
                answer.append(sorted(ranked))  # ties may come in either order
            answers.append(answer)
    close_local_clients()
    assert answers[0] == answers[1]


def test_document_chunks_widen_a_hit(store: VectorStore) -> None:
    store.replace_document("a.pdf", _typed_points("a.pdf", 6))
    around = store.document_chunks("a.pdf", 1, 3)
    assert [p["chunk_index"] for p in around] == [1, 2, 3]


def test_local_mode_store_migrates_to_edge_without_reembedding(tmp_path: Path) -> None:
    folder = tmp_path / "qdrant"
    with VectorStore(local_path=str(folder)) as old:
        old.ensure_collection(vector_size=SIZE, model_name=MODEL)
        old.replace_document("a.pdf", _points("a.pdf", 3))  # no sparse vectors: an old store
        before = {h.point_id: h.score for h in old.search(_vector(1), top_k=3)}
    close_local_clients()
    with VectorStore(path=str(folder)) as new:
        new.ensure_collection(vector_size=SIZE, model_name=MODEL)
        assert new.backend == "edge" and new.count() == 3
        after = {h.point_id: h.score for h in new.search(_vector(1), top_k=3)}
        assert after.keys() == before.keys()
        assert all(abs(after[k] - before[k]) < 1e-5 for k in before)
        sparse = Query(sparse=Bm25Encoder().query("chunk 2"), mode="sparse")
        assert new.search(sparse, top_k=1)[0].payload["chunk_index"] == 2  # BM25 from text
    close_local_clients()


_HOLDER = """
import sys, time
from docingest.vectorstore import PointData, VectorStore
store = VectorStore(path=sys.argv[1])
store.ensure_collection(vector_size=4, model_name="test-model")
print("ready", flush=True)
for round in range(400):  # a writer that keeps the store open and keeps writing
    store.replace_document(f"w{round % 5}.pdf", [PointData(
        "00000000-0000-0000-0000-%012d" % (round % 5), [1.0, 0.0, 0.0, 0.0], {"chunk_index": 0}
    )])
    time.sleep(0.005)
print("done", flush=True)
time.sleep(60)
"""


def test_edge_readers_do_not_wait_for_a_writer_process(tmp_path: Path) -> None:
    folder = tmp_path / "qdrant"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(folder)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        waits = []
        for _ in range(10):
            started = time.monotonic()
            with VectorStore(path=str(folder)) as reader:
                assert reader.count() >= 0
            close_local_clients()
            waits.append(time.monotonic() - started)
        assert max(waits) < 2.0, waits
        assert holder.stdout.readline().strip() == "done"  # the writer went on, undisturbed
        started = time.monotonic()
        with VectorStore(path=str(folder)) as reader:  # the writer now idles, store open
            assert reader.count() == 5
        assert time.monotonic() - started < 2.0
    finally:
        holder.kill()
        holder.wait()
    close_local_clients()


def test_a_killed_waiters_marker_is_ignored(tmp_path: Path) -> None:
    from docingest.edge_store import _handle

    handle = _handle(tmp_path / "edge" / "documents")
    handle.waiting.mkdir(parents=True)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    (handle.waiting / f"{dead.stdout.strip()}-x").touch()
    assert not handle.others_waiting()
    assert not any(handle.waiting.iterdir())
    (handle.waiting / f"{os.getpid()}-y").touch()
    assert handle.others_waiting()
    close_local_clients()


def test_payload_strings_with_surrogate_escapes_are_stored(store: VectorStore) -> None:
    latin1 = b"/up/caf\xe9.pdf".decode("utf-8", "surrogateescape")  # a Latin-1 file name
    point = _points("a.pdf", 1)[0]
    point.payload["source"] = latin1
    store.replace_document("a.pdf", [point])
    (hit,) = store.search(_vector(0), top_k=1)
    assert hit.payload["source"] == "/up/caf\\xe9.pdf"
