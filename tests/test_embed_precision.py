"""Which precision embeds what: the setting, the collection's own, and no silent mixing.

The fake model (tests/fakes.py) makes different vectors at fp32 and int8, so a stored vector
tells which one embedded it. The real models are compared in tests/test_onnx_model.py and
tests/pipelines/test_precision_upgrade.py."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from assets.chunking import chunk_parsed_document
from assets.documents import register_document
from assets.parsing import parse_document
from assets.vector_store import index_document
from docingest import embedding
from docingest.chunking import embedding_text
from docingest.embedding import PRECISION_ENV, get_embedder, precision_of
from docingest.errors import ConfigError
from docingest.ids import point_id_for
from docingest.storage import DocumentStore
from docingest.vectorstore import PRECISION_KEY, CollectionMismatchError, VectorStore, canonical_id
from resources import ChunkerResource, QdrantResource, SourceResource, build_resources
from tests.conftest import CORPUS_QUERIES, corpus_pdf
from tests.fakes import FAST_PARSER, FakeEmbedderResource, HashingModel

FIRST, SECOND = sorted(CORPUS_QUERIES)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("auto", None), ("fp32", "fp32"), ("int8", "int8")],
)
def test_precision_settings(value: str | None, expected: str | None) -> None:
    assert precision_of(value) == expected


def test_an_unknown_precision_names_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"'int4'; expected auto, fp32, int8"):
        precision_of("int4")


def test_the_env_var_sets_the_resource_field(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert str(build_resources()["embedder"].precision) == "auto"
    monkeypatch.setenv(PRECISION_ENV, "int8")
    assert str(build_resources()["embedder"].precision) == "int8"
    assert build_resources()["embedder"].configured_precision() == "int8"
    monkeypatch.setenv(PRECISION_ENV, "fp16")
    with pytest.raises(ConfigError, match=r"unknown embedding precision 'fp16'"):
        build_resources()


def test_torch_runs_fp32_only() -> None:
    with pytest.raises(ConfigError, match="torch backend runs fp32 only"):
        get_embedder(backend="torch", precision="int8")


@pytest.fixture
def documents(home: Path, tmp_path: Path) -> DocumentStore:
    """Two real PDFs registered, parsed (fast engine) and chunked with the defaults."""
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    store = DocumentStore(home)
    chunker = ChunkerResource()
    for name in (FIRST, SECOND):
        shutil.copyfile(corpus_pdf(name), uploads / name)
        register_document(name, SourceResource(root=str(uploads)), store)
        parse_document(name, FAST_PARSER, store)
        chunk_parsed_document(name, chunker, chunker.resolve(), store)
    return store


def _embedded_texts(documents: DocumentStore, document_id: str) -> dict[str, str]:
    """Point id -> the text its vector was made from (as index_document builds it)."""
    contextual = bool(documents.read_chunk_params(document_id).get("contextual_prefix"))
    return {
        canonical_id(point_id_for(document_id, c.chunk_index, c.params_hash)): embedding_text(
            c, contextual
        )
        for c in documents.read_chunks(document_id)
    }


def _made_by(vectors: VectorStore, documents: DocumentStore, document_id: str) -> set[str]:
    """Which fake precision reproduces each of the document's stored vectors."""
    texts = _embedded_texts(documents, document_id)
    found = set()
    for point_id, payload, vector in vectors.all_points(with_vectors=True):
        if payload["document_id"] != document_id:
            continue
        for precision in ("fp32", "int8"):
            made = HashingModel(384, precision).encode([texts[point_id]])[0]
            if np.allclose(made, vector, atol=1e-5):
                found.add(precision)
    return found


def test_a_collection_keeps_the_precision_it_was_built_with(
    documents: DocumentStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    with QdrantResource().open() as vectors:
        built = index_document(FIRST, FakeEmbedderResource(precision="fp32"), vectors, documents)
        assert built.metadata["embedding_precision"] == "fp32"
        # An upgrade changes the default; the resource is left at auto.
        monkeypatch.setattr(embedding, "DEFAULT_PRECISION", "int8")
        added = index_document(SECOND, FakeEmbedderResource(), vectors, documents)
        assert added.metadata["embedding_precision"] == "fp32"
        assert added.metadata["points"] > 0
        assert {p[PRECISION_KEY] for _, p, _ in vectors.all_points()} == {"fp32"}
        assert _made_by(vectors, documents, SECOND) == {"fp32"}

        # Asked for int8 outright: refused, with the way out; nothing written.
        before = vectors.count()
        with pytest.raises(
            CollectionMismatchError, match=r"holds fp32 vectors.*embeds int8.*reindex --recreate"
        ):
            index_document(FIRST, FakeEmbedderResource(precision="int8"), vectors, documents)
        assert vectors.count() == before
        assert _made_by(vectors, documents, FIRST) == {"fp32"}

    # A new collection gets the default.
    with QdrantResource(collection="fresh").open() as vectors:
        fresh = index_document(FIRST, FakeEmbedderResource(), vectors, documents)
        assert fresh.metadata["embedding_precision"] == "int8"
        assert vectors.stored_embedding() == ("all-MiniLM-L6-v2", "int8")
        assert _made_by(vectors, documents, FIRST) == {"int8"}
