"""VectorStore against a real qdrant-client local store in a temporary folder."""

from __future__ import annotations

import math
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from docingest.errors import ConfigError, DocIngestError, ErrorCode
from docingest.ids import point_id_for
from docingest.vectorstore import (
    CollectionMismatchError,
    PointData,
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


@pytest.fixture
def store(tmp_path: Path) -> Iterator[VectorStore]:
    vector_store = VectorStore(path=str(tmp_path / "qdrant"))
    vector_store.ensure_collection(vector_size=SIZE, model_name=MODEL, index_keys=["team"])
    yield vector_store
    vector_store.close()


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


def test_missing_collection_reads_as_empty(tmp_path: Path) -> None:
    with VectorStore(path=str(tmp_path / "q"), collection="nothing") as empty:
        assert empty.count() == 0
        assert empty.search(_vector(1)) == []
        assert empty.document_point_ids("a.pdf") == set()


def test_stores_on_one_folder_share_a_client(tmp_path: Path) -> None:
    first = VectorStore(path=str(tmp_path / "q"))
    second = VectorStore(path=str(tmp_path / "q" / ".." / "q"))
    first.ensure_collection(vector_size=SIZE, model_name=MODEL)
    first.replace_document("a.pdf", _points("a.pdf", 2))
    first.close()
    assert second.count() == 2  # still open: the folder stays locked until the last close
    second.close()
    close_local_clients()


def test_store_held_by_another_process_is_unavailable(tmp_path: Path) -> None:
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
            VectorStore(path=str(folder))
        assert caught.value.code is ErrorCode.VECTOR_STORE_UNAVAILABLE
        assert caught.value.retryable
        assert str(folder) in caught.value.message and "another process" in caught.value.message
    finally:
        holder.kill()
        holder.wait()
    with VectorStore(path=str(folder)) as store:  # free again once the holder is gone
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
