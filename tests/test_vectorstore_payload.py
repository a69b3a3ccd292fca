"""VectorStore.set_payload on both backends (Qdrant Edge and qdrant-client's local mode):
new payload keys on stored points, vectors and other keys untouched."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from docingest.vectorstore import VectorStore, close_local_clients
from tests.test_vectorstore import BACKENDS, MODEL, SIZE, _open, _points


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorStore]:
    vector_store = _open(request.param, tmp_path / "qdrant")
    vector_store.ensure_collection(
        vector_size=SIZE, model_name=MODEL, index_keys={"document_type": "keyword"}
    )
    yield vector_store
    vector_store.close()
    close_local_clients()


def _payloads(store: VectorStore) -> dict[str, dict]:
    return {point_id: payload for point_id, payload, _ in store.all_points()}


def test_set_payload_on_a_document_keeps_vectors_and_other_keys(store: VectorStore) -> None:
    store.replace_document("a.pdf", _points("a.pdf", 3, team="x", draft=True))
    store.replace_document("b.pdf", _points("b.pdf", 2, team="y"))
    before = {pid: vector for pid, _, vector in store.all_points(with_vectors=True)}

    store.set_payload({"document_type": "invoice", "reviewed": False}, document_id="a.pdf")

    payloads = _payloads(store)
    a = [p for p in payloads.values() if p["document_id"] == "a.pdf"]
    b = [p for p in payloads.values() if p["document_id"] == "b.pdf"]
    assert {p["document_type"] for p in a} == {"invoice"}
    assert all(p["team"] == "x" and p["draft"] is True and p["reviewed"] is False for p in a)
    assert all("document_type" not in p for p in b)
    after = {pid: vector for pid, _, vector in store.all_points(with_vectors=True)}
    assert after == before
    # The new keys filter searches (booleans too, set beside the earlier ones).
    assert store.count(filters={"document_type": "invoice"}) == 3
    assert store.count(filters={"reviewed": False}) == 3
    assert store.count(filters={"draft": True}) == 3


def test_set_payload_on_points_and_overwrite(store: VectorStore) -> None:
    points = _points("a.pdf", 3)
    store.replace_document("a.pdf", points)
    store.set_payload({"page_class": ["table_of_contents"]}, point_ids=[points[0].point_id])
    store.set_payload({"page_class": []}, point_ids=[p.point_id for p in points[1:]])
    assert store.count(filters={"page_class": "table_of_contents"}) == 1
    store.set_payload({"page_class": ["cover"]}, point_ids=[points[0].point_id])
    assert store.count(filters={"page_class": "table_of_contents"}) == 0
    assert store.count(filters={"page_class": "cover"}) == 1


def test_set_payload_refuses_the_keys_the_store_owns(store: VectorStore) -> None:
    store.replace_document("a.pdf", _points("a.pdf", 1))
    with pytest.raises(ValueError, match="document_id"):
        store.set_payload({"document_id": "b.pdf"}, document_id="a.pdf")
    with pytest.raises(ValueError, match="exactly one"):
        store.set_payload({"x": 1})
