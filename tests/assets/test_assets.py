"""The stages alone, and the document_pipeline asset on one partition with build_asset_context."""

import json
import shutil
from pathlib import Path

import dagster as dg
import pytest

from assets.chunking import chunk_parsed_document
from assets.documents import register_document
from assets.parsing import parse_document
from assets.pipeline import ChunkingConfig, document_pipeline
from assets.vector_store import index_document
from docingest.errors import DocIngestError
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
from tests.fakes import FAKE_MODELS, FAST_PARSER, FakeEmbedderResource

DOC = "01030000000001.pdf"


@pytest.fixture
def uploads(tmp_path: Path) -> Path:
    folder = tmp_path / "uploads"
    folder.mkdir()
    shutil.copyfile(corpus_pdf(DOC), folder / DOC)
    (folder / f"{DOC}.metadata.json").write_text(json.dumps({"team": "research", "year": 2024}))
    return folder


def test_each_stage_alone(home: Path, uploads: Path) -> None:
    store = DocumentStore(home)
    source = SourceResource(root=str(uploads), metadata={"origin": "tests"})
    registered = register_document(DOC, source, store)
    assert registered.metadata["sha256"]
    record = store.read_json("sources", DOC)
    assert record is not None
    assert record["vector_store_metadata"] == {"origin": "tests", "team": "research", "year": 2024}

    # The fast engine: the stages and the parse cache are tested here, the layout model in
    # tests/parsing.
    parsed = parse_document(DOC, FAST_PARSER, store)
    assert parsed.metadata["pages"] == 1 and parsed.metadata["reused_cached_parse"] is False
    assert parsed.metadata["engine_pages"].data == {"fast": 1}  # which engine read how many pages
    assert all(check.passed for check in parsed.checks)
    assert parse_document(DOC, FAST_PARSER, store).metadata["reused_cached_parse"] is True
    # Other parse options invalidate the cached parse.
    auto = parse_document(DOC, ParserResource(engine="auto"), store).metadata
    assert auto["reused_cached_parse"] is False and auto["engine"] == "pymupdf-auto"
    assert sum(auto["engine_pages"].data.values()) == 1

    chunker = ChunkerResource()
    settings = chunker.resolve("token_size", {"chunk_size": "128"})
    chunked = chunk_parsed_document(DOC, chunker, settings, store)
    assert chunked.metadata["chunks"] >= 2 and chunked.metadata["tokens_max"] <= 128
    assert all(check.passed for check in chunked.checks)

    embedder = FakeEmbedderResource()  # the search below filters; the model is not measured
    with QdrantResource(keep_open=True).open() as vectors:
        indexed = index_document(DOC, embedder, vectors, store)
        assert indexed.metadata["points"] == chunked.metadata["chunks"]
        assert all(check.passed for check in indexed.checks)
        hits = vectors.search(embedder.embed_query("confidence intervals"),
                              filters={"team": "research"})  # fmt: skip
        assert hits and hits[0].payload["year"] == 2024
        assert not vectors.search(embedder.embed_query("x"), filters={"team": "other"})


def test_missing_file_is_a_classified_error(home: Path, tmp_path: Path) -> None:
    with pytest.raises(DocIngestError) as raised:
        register_document("absent.pdf", SourceResource(root=str(tmp_path)), DocumentStore(home))
    assert raised.value.code.value == "UNABLE_TO_DOWNLOAD_FILE" and raised.value.retryable


def _resources(uploads: Path) -> dict[str, object]:
    return {
        "source": SourceResource(root=str(uploads)),
        "chunker": ChunkerResource(),
        "classifier": ClassifierResource(),
        **FAKE_MODELS,  # the wiring is tested here, not the models
        "qdrant": QdrantResource(keep_open=True),
        "storage": StorageResource(),
        "webhooks": WebhookResource(),
    }


def test_pipeline_asset_on_one_partition(
    home: Path, instance: dg.DagsterInstance, uploads: Path
) -> None:
    instance.add_dynamic_partitions("documents", [DOC])
    result = dg.materialize(
        [document_pipeline], partition_key=DOC, instance=instance, resources=_resources(uploads)
    )
    assert result.success
    materialized = [e.asset_key.to_user_string() for e in result.get_asset_materialization_events()
                    ]  # fmt: skip
    assert materialized == [
        "source_documents",
        "parsed_pages",
        "document_classes",
        "chunks",
        "vector_store_entries",
    ]
    checks = [
        e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    assert {c.check_name for c in checks} == {
        "every_page_parsed_or_explained",
        "file_intact_and_readable",
        "no_chunk_over_its_limit",
        "no_empty_chunk",
        "chunks_cover_document",
        "point_count_matches_chunks",
    }
    assert all(c.passed and c.partition == DOC for c in checks)
    assert read_state(DocumentStore(home), DOC).status == "succeeded"
    status = instance.get_status_by_partition(
        dg.AssetKey("vector_store_entries"), [DOC], document_pipeline.partitions_def
    )
    assert status == {DOC: dg.AssetPartitionStatus.MATERIALIZED}


def test_invalid_chunking_options_fail_without_retries(
    home: Path, instance: dg.DagsterInstance, uploads: Path
) -> None:
    context = dg.build_asset_context(partition_key=DOC, instance=instance)
    config = ChunkingConfig(params={"chunk_size": "10", "chunk_overlap": "20"})
    with pytest.raises(dg.Failure) as raised:
        list(document_pipeline(context, config=config, **_resources(uploads)))
    assert raised.value.allow_retries is False


def test_renamed_or_copied_file_reuses_the_parse(home: Path, uploads: Path) -> None:
    store = DocumentStore(home)
    source = SourceResource(root=str(uploads))
    register_document(DOC, source, store)
    first = parse_document(DOC, FAST_PARSER, store)
    assert first.metadata["reused_cached_parse"] is False
    shutil.copyfile(uploads / DOC, uploads / "copy of it.pdf")
    register_document("copy of it.pdf", source, store)
    copy = parse_document("copy of it.pdf", FAST_PARSER, store)
    assert copy.metadata["reused_parse_of"] == DOC
    assert copy.metadata["sha256"] == first.metadata["sha256"]
    assert store.read_parse_result("copy of it.pdf").document_id == "copy of it.pdf"
    assert store.read_parse_result(DOC).document_id == DOC
