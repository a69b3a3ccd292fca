"""Single assets invoked with build_asset_context, one partition, real files."""

import json
import shutil
from pathlib import Path

import dagster as dg
import pytest

from assets.chunking import ChunkingConfig, chunks
from assets.documents import source_documents
from assets.parsing import parsed_pages
from assets.vector_store import vector_store_entries
from docingest.storage import DocumentStore
from resources import (
    ChunkerResource,
    EmbedderResource,
    ParserResource,
    QdrantResource,
    SourceResource,
    StorageResource,
)
from tests.conftest import corpus_pdf

DOC = "01030000000001.pdf"


def _context(document_id: str = DOC) -> dg.AssetExecutionContext:
    return dg.build_asset_context(partition_key=document_id)


@pytest.fixture
def uploads(tmp_path: Path) -> Path:
    folder = tmp_path / "uploads"
    folder.mkdir()
    shutil.copyfile(corpus_pdf(DOC), folder / DOC)
    (folder / f"{DOC}.metadata.json").write_text(json.dumps({"team": "research", "year": 2024}))
    return folder


def test_each_asset_alone(home: Path, uploads: Path) -> None:
    source = SourceResource(root=str(uploads), metadata={"origin": "tests"})
    storage = StorageResource()
    result = source_documents(_context(), source=source, storage=storage)
    assert result.data_version is not None
    registered = DocumentStore(home).read_json("sources", DOC)
    assert registered is not None
    assert registered["vector_store_metadata"] == {
        "origin": "tests",
        "team": "research",
        "year": 2024,
    }

    parsed = parsed_pages(_context(), parser=ParserResource(), storage=storage)
    assert parsed.metadata is not None and parsed.metadata["pages"] == 1
    assert parsed.metadata["reused_cached_parse"] is False
    assert parsed.check_results and parsed.check_results[0].passed
    again = parsed_pages(_context(), parser=ParserResource(), storage=storage)
    assert again.metadata is not None and again.metadata["reused_cached_parse"] is True

    chunked = chunks(
        _context(),
        config=ChunkingConfig(strategy="token_size", params={"chunk_size": "128"}),
        chunker=ChunkerResource(),
        storage=storage,
    )
    assert chunked.metadata is not None and chunked.metadata["chunks"] >= 2
    assert chunked.metadata["tokens_max"] <= 128
    assert all(check.passed for check in chunked.check_results or [])

    qdrant = QdrantResource(keep_open=True)
    indexed = vector_store_entries(
        _context(), embedder=EmbedderResource(), qdrant=qdrant, storage=storage
    )
    assert indexed.metadata is not None
    assert indexed.metadata["points"] == chunked.metadata["chunks"]
    assert indexed.check_results and indexed.check_results[0].passed
    with qdrant.open() as store:
        hits = store.search(EmbedderResource().embed_query("confidence intervals"),
                            filters={"team": "research"})  # fmt: skip
        assert hits and hits[0].payload["year"] == 2024
        assert not store.search(EmbedderResource().embed_query("x"), filters={"team": "other"})


def test_missing_file_is_a_classified_failure(home: Path, tmp_path: Path) -> None:
    with pytest.raises(dg.Failure) as raised:
        source_documents(
            _context("absent.pdf"),
            source=SourceResource(root=str(tmp_path)),
            storage=StorageResource(),
        )
    assert raised.value.metadata["error_code"].value == "UNABLE_TO_DOWNLOAD_FILE"
    assert raised.value.metadata["retryable"].value is True


def test_invalid_chunking_options_fail_without_retries(home: Path, uploads: Path) -> None:
    storage = StorageResource()
    source_documents(_context(), source=SourceResource(root=str(uploads)), storage=storage)
    parsed_pages(_context(), parser=ParserResource(), storage=storage)
    with pytest.raises(dg.Failure) as raised:
        chunks(
            _context(),
            config=ChunkingConfig(params={"chunk_size": "10", "chunk_overlap": "20"}),
            chunker=ChunkerResource(),
            storage=storage,
        )
    assert raised.value.allow_retries is False
