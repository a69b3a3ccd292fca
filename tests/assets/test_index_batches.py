"""index_document writes a long document in parts: the same points as written whole."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from assets import vector_store
from assets.chunking import chunk_parsed_document
from assets.documents import register_document
from assets.parsing import parse_document
from assets.vector_store import index_document
from docingest.storage import DocumentStore
from resources import ChunkerResource, EmbedderResource, QdrantResource, SourceResource
from tests.conftest import CORPUS
from tests.fakes import FAST_PARSER, FakeEmbedderResource

RETRIEVAL_PDFS = CORPUS.parents[1] / "retrieval" / "mmlongbench" / "pdfs"
DOC = "2303.05039v2.pdf"  # 9 pages of a real paper: text, tables, figures


@pytest.fixture
def store(home: Path, tmp_path: Path) -> DocumentStore:
    """The document registered, parsed and chunked (128-token chunks: several dozen)."""
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    if not (RETRIEVAL_PDFS / DOC).exists():
        pytest.fail(f"the shared corpus is missing {RETRIEVAL_PDFS / DOC}")
    shutil.copyfile(RETRIEVAL_PDFS / DOC, uploads / DOC)
    documents = DocumentStore(home)
    register_document(DOC, SourceResource(root=str(uploads)), documents)
    parse_document(DOC, FAST_PARSER, documents)
    chunker = ChunkerResource()
    chunk_parsed_document(
        DOC, chunker, chunker.resolve("token_size", {"chunk_size": "128"}), documents
    )
    return documents


def _points(path: Path) -> dict[str, tuple[dict, list[float]]]:
    with QdrantResource(path=str(path)).open() as vectors:
        return {point_id: (payload, vector) for point_id, payload, vector in
                vectors.all_points(with_vectors=True)}  # fmt: skip


def test_parts_write_the_points_of_a_whole_write(
    store: DocumentStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    embedder = EmbedderResource()  # the real model: its batches change with the parts
    chunks = len(store.read_chunks(DOC))
    assert chunks > 20
    with QdrantResource(path=str(tmp_path / "whole")).open() as vectors:
        whole = index_document(DOC, embedder, vectors, store).metadata
    monkeypatch.setattr(vector_store, "INDEX_BATCH", 7)
    with QdrantResource(path=str(tmp_path / "parts")).open() as vectors:
        parts = index_document(DOC, embedder, vectors, store).metadata
    assert whole["points"] == parts["points"] == parts["points_written"] == chunks
    assert parts["embeddings_computed"] == chunks

    in_whole, in_parts = _points(tmp_path / "whole"), _points(tmp_path / "parts")
    assert in_whole.keys() == in_parts.keys()
    for point_id, (payload, vector) in in_whole.items():
        assert in_parts[point_id][0] == payload
        assert np.allclose(in_parts[point_id][1], vector, atol=1e-5)


def test_reindexing_in_parts_leaves_no_stale_point(
    store: DocumentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-chunked into fewer, larger chunks and indexed in parts: the old points all go, the
    unchanged ones keep their vectors, only after every part is written."""
    monkeypatch.setattr(vector_store, "INDEX_BATCH", 5)
    embedder, chunker = FakeEmbedderResource(), ChunkerResource()
    with QdrantResource(keep_open=True).open() as vectors:
        first = index_document(DOC, embedder, vectors, store).metadata
        chunk_parsed_document(
            DOC, chunker, chunker.resolve("token_size", {"chunk_size": "256"}), store
        )
        again = index_document(DOC, embedder, vectors, store).metadata
        fewer = len(store.read_chunks(DOC))
        assert fewer < first["points"]
        assert again["points"] == again["points_written"] == fewer
        assert again["stale_points_deleted"] == first["points"]  # new ids: the hash changed
        assert vectors.count(DOC) == fewer
