"""Damage flags where people look (issue 10, point 7): the parsed_pages materialization, a
WARN check on the partition, the per-document state; and no stage goes green on 0 chunks."""

from pathlib import Path

import dagster as dg
import pytest

from assets.chunking import chunk_parsed_document
from assets.parsing import INTACT_CHECK
from assets.pipeline import document_pipeline
from assets.vector_store import COUNT_CHECK, index_document
from docingest.errors import DocIngestError, ErrorCode
from docingest.models import PageResult, ParseResult
from docingest.state import read_state
from docingest.storage import DocumentStore
from resources import (
    ChunkerResource,
    ClassifierResource,
    ParserResource,
    QdrantResource,
    SourceResource,
    StorageResource,
    WebhookResource,
)
from tests.conftest import corpus_pdf
from tests.fakes import FakeEmbedderResource

PARTLY = "partly.pdf"


def test_a_repaired_file_is_indexed_with_its_flags_and_a_warning(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    data = corpus_pdf("01030000000074.pdf").read_bytes()
    (uploads / PARTLY).write_bytes(data[: len(data) // 3])  # keeps ~13% of its text
    instance.add_dynamic_partitions("documents", [PARTLY])
    resources = {
        "source": SourceResource(root=str(uploads)),
        "parser": ParserResource(engine="fast"),
        "chunker": ChunkerResource(),
        "classifier": ClassifierResource(),
        "embedder": FakeEmbedderResource(),
        "qdrant": QdrantResource(keep_open=True),
        "storage": StorageResource(),
        "webhooks": WebhookResource(),
    }
    result = dg.materialize(
        [document_pipeline], partition_key=PARTLY, instance=instance, resources=resources
    )
    assert result.success
    (parsed,) = [
        e.materialization
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("parsed_pages")
    ]
    assert parsed.metadata["repaired"].value is True
    assert parsed.metadata["empty_pages"].value == []
    assert "MuPDF repaired it" in str(parsed.metadata["parse_warnings"].value)
    checks = {
        e.event_specific_data.check_name: e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    intact = checks[INTACT_CHECK]
    assert intact.passed is False and intact.severity == dg.AssetCheckSeverity.WARN
    assert intact.partition == PARTLY and intact.metadata["repaired"].value is True
    assert all(c.passed for name, c in checks.items() if name != INTACT_CHECK)

    store = DocumentStore(home)
    state = read_state(store, PARTLY)
    assert state.status == "succeeded" and state.chunks >= 1
    assert state.repaired is True and state.empty_pages == ()
    assert state.ocr_unavailable_pages == ()
    assert state.parse_warnings[0].startswith("the file is damaged and MuPDF repaired it")

    # Chunks of nothing (written by an older version, say) are not green at indexing either.
    store.write_chunks(PARTLY, [], params={"strategy": "token_size"})
    with QdrantResource(keep_open=True).open() as vectors:
        indexed = index_document(PARTLY, FakeEmbedderResource(), vectors, store)
    (count,) = indexed.checks
    assert count.name == COUNT_CHECK and count.passed is False
    assert dict(count.metadata) == {"points": 0, "chunks": 0}


def test_chunks_refuse_a_stored_parse_without_text(home: Path) -> None:
    """A parse stored before parsing refused text-less files: re-chunking it fails the
    document (CORRUPT_FILE) instead of recording a success with 0 chunks."""
    store = DocumentStore(home)
    blank = ParseResult(
        document_id="blank.pdf",
        source="/uploads/blank.pdf",
        sha256="0" * 64,
        mime_type="application/pdf",
        page_count=3,
        engine="pymupdf-fast",
        options_hash="old",
        markdown="",
        pages=[PageResult(n, 612.0, 792.0, "") for n in (1, 2, 3)],
        usage={"pages": 3, "ocr_pages": 0, "failed_pages": 0},
        metadata={"repaired": True},
    )
    store.write_parse_result(blank)
    chunker = ChunkerResource()
    settings = chunker.resolve("token_size", {})
    with pytest.raises(DocIngestError) as raised:
        chunk_parsed_document("blank.pdf", chunker, settings, store)
    assert raised.value.code is ErrorCode.CORRUPT_FILE and not raised.value.retryable
    assert raised.value.message == (
        "no chunks: no readable text on any of the 3 pages; the file was repaired by MuPDF "
        "(damaged)"
    )
    assert not store.chunks_path("blank.pdf").exists()
