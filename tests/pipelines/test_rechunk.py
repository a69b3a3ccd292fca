"""Re-chunking: staleness in the UI, no re-parse, points replaced, embeddings reused."""

from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._core.definitions.data_version import CachingStaleStatusResolver
from dagster._core.loader import LoadingContextForTest

from assets.pipeline import document_pipeline, with_code_versions
from docingest.models import ParseResult
from docingest.storage import DocumentStore
from docingest.vectorstore import VectorStore
from pipelines.ingest import ingest_folder, rechunk_all
from resources import ChunkerResource, ParserResource, build_resources
from tests.conftest import CORPUS_QUERIES

ASSETS = ("source_documents", "parsed_pages", "chunks", "vector_store_entries")


class NoParser(ParserResource):
    """Re-chunking must never parse."""

    def parse(
        self, path: Path, document_id: str, overrides: dict[str, Any] | None = None
    ) -> ParseResult:
        raise AssertionError(f"parsed {document_id} during a re-chunk")


def _staleness(instance: dg.DagsterInstance, chunker: ChunkerResource) -> dict[str, str]:
    resources = build_resources(chunker=chunker)
    pipeline = with_code_versions(
        document_pipeline, resources["parser"], resources["chunker"], resources["embedder"]
    )
    graph = dg.Definitions(assets=[pipeline], resources=resources).resolve_asset_graph()
    resolver = CachingStaleStatusResolver(instance, graph, LoadingContextForTest(instance))
    document_id = next(iter(CORPUS_QUERIES))
    return {key: resolver.get_status(dg.AssetKey(key), document_id).value for key in ASSETS}


def _points(home: Path) -> dict[str, set[str]]:
    store = VectorStore(collection="documents", path=str(home / "qdrant"))
    return {d: store.document_point_ids(d) for d in CORPUS_QUERIES}


def test_rechunk_marks_stale_replaces_points_and_never_parses(
    home: Path, instance: dg.DagsterInstance, docs: Path
) -> None:
    ingest_folder(instance, docs)
    assert set(_staleness(instance, ChunkerResource()).values()) == {"FRESH"}
    by_page = ChunkerResource(strategy="by_page")
    assert _staleness(instance, by_page) == {
        "source_documents": "FRESH",
        "parsed_pages": "FRESH",
        "chunks": "STALE",
        "vector_store_entries": "STALE",
    }
    store = DocumentStore(home)
    parsed_mtimes = {d: store.parsed_path(d).stat().st_mtime_ns for d in CORPUS_QUERIES}
    before = _points(home)

    outcome = rechunk_all(instance, None, {}, overrides={"parser": NoParser(), "chunker": by_page})
    assert outcome == dict.fromkeys(CORPUS_QUERIES, True)
    assert {d: store.parsed_path(d).stat().st_mtime_ns for d in CORPUS_QUERIES} == parsed_mtimes
    after = _points(home)
    for document_id in CORPUS_QUERIES:
        assert len(after[document_id]) == 1  # one page, one chunk
        assert not after[document_id] & before[document_id]  # old points gone, not beside
        assert [c.strategy for c in store.read_chunks(document_id)] == ["by_page"]
    assert set(_staleness(instance, by_page).values()) == {"FRESH"}


def test_rechunk_reuses_embeddings_of_unchanged_chunks(
    home: Path, instance: dg.DagsterInstance, docs: Path
) -> None:
    ingest_folder(instance, docs)
    # by_page twice with different hashes (encoding name) yields the same texts: no new vectors.
    rechunk_all(instance, "by_page", {})
    rechunk_all(instance, "by_page", {"encoding_name": "o200k_base"})
    (run, *_) = instance.get_runs(limit=1)
    events = instance.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    )
    indexed = [
        record.event_log_entry.asset_materialization.metadata
        for record in events.records
        if record.event_log_entry.asset_materialization
        and record.event_log_entry.asset_materialization.asset_key.to_user_string()
        == "vector_store_entries"
    ]
    assert len(indexed) == 2
    for metadata in indexed:
        assert metadata["embeddings_computed"].value == 0
        assert metadata["embeddings_reused"].value == 1


def test_invalid_rechunk_options_fail_before_any_run(
    home: Path, instance: dg.DagsterInstance, docs: Path
) -> None:
    from docingest.errors import ConfigError

    ingest_folder(instance, docs)
    runs = len(instance.get_runs())
    with pytest.raises(ConfigError):
        rechunk_all(instance, "token_size", {"chunk_size": "10", "chunk_overlap": "10"})
    assert len(instance.get_runs()) == runs


def test_contextual_prefix_embeds_breadcrumb_but_stores_exact_text(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    from docingest.chunking import embedding_text
    from docingest.embedding import get_embedder
    from tests.conftest import build_pdf

    folder = tmp_path / "uploads"
    folder.mkdir()
    build_pdf(folder / "guide.pdf", [
        "<h1>Turbines</h1><h2>Maintenance</h2><p>Inspect the blades every spring.</p>"
    ])  # fmt: skip
    ingest_folder(instance, folder, strategy="by_section", params={"contextual_prefix": "true"})
    store = DocumentStore(home)
    chunk = next(c for c in store.read_chunks("guide.pdf") if "Inspect" in c.text)
    assert chunk.headings and not chunk.text.startswith(" > ".join(chunk.headings))
    vectors = VectorStore(collection="documents", path=str(home / "qdrant"))
    stored = vectors.document_vectors("guide.pdf", "chunk_id")[chunk.chunk_id]
    embedder = get_embedder()
    expected = embedder.embed([embedding_text(chunk, True)])[0]
    plain = embedder.embed([chunk.text])[0]
    assert sum(a * b for a, b in zip(stored, expected, strict=True)) > 0.999
    assert sum(a * b for a, b in zip(stored, plain, strict=True)) < 0.999
