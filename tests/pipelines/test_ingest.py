"""The whole chain on real PDFs: ingest, search, status, idempotency, change, bad inputs."""

import shutil
from pathlib import Path

import dagster as dg
import pymupdf

from assets.partitions import documents_partitions
from docingest.search import search_points
from docingest.state import read_state
from docingest.storage import DocumentStore
from docingest.vectorstore import VectorStore
from pipelines.ingest import ingest_folder
from pipelines.queries import collect_status
from resources import ParserResource
from tests.conftest import CORPUS_QUERIES, build_pdf, corpus_pdf, write_bad_inputs


def _store(home: Path) -> VectorStore:
    return VectorStore(collection="documents", path=str(home / "qdrant"))


def _point_ids(home: Path, document_ids: list[str]) -> dict[str, set[str]]:
    store = _store(home)
    return {d: store.document_point_ids(d) for d in document_ids}


def test_ingest_search_and_idempotency(
    home: Path, instance: dg.DagsterInstance, docs: Path
) -> None:
    summary = ingest_folder(instance, docs)
    assert (summary.succeeded, summary.failed, summary.skipped) == (2, 0, 0)
    assert summary.points == summary.chunks > 0
    assert set(instance.get_dynamic_partitions(documents_partitions.name)) == set(CORPUS_QUERIES)

    for document_id, query in CORPUS_QUERIES.items():
        hits = search_points(query, top_k=3)
        assert hits[0]["document_id"] == document_id
        assert hits[0]["page_start"] == 1 and hits[0]["text"]

    # Parquet outputs readable without the project.
    import pandas as pd

    pages = pd.read_parquet(DocumentStore(home).parsed_path("01030000000001.pdf"))
    assert list(pages["page_number"]) == [1] and pages["fragments"].iloc[0].size > 0

    before = _point_ids(home, list(CORPUS_QUERIES))
    total_before = _store(home).count()
    again = ingest_folder(instance, docs)
    assert (again.succeeded, again.skipped) == (0, 2)  # already current: nothing re-run

    # Forcing a re-run (state says pending) writes exactly the same point ids.
    for document_id in CORPUS_QUERIES:
        state_file = home / "state" / f"{document_id}.json"
        state_file.unlink()
    rerun = ingest_folder(instance, docs)
    assert rerun.succeeded == 2
    assert _point_ids(home, list(CORPUS_QUERIES)) == before
    assert _store(home).count() == total_before

    report = collect_status(instance)
    assert report["documents"] == {
        "total": 2,
        "succeeded": 2,
        "failed": 0,
        "pending": 0,
        "cancelled": 0,
    }
    assert report["points"] == total_before


def test_changed_file_replaces_its_points(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    long_text = "".join(
        f"<h2>Section {i}</h2><p>{'Turbines convert wind into electricity. ' * 60}</p>"
        for i in range(6)
    )
    build_pdf(folder / "report.pdf", [long_text, long_text])
    shutil.copyfile(corpus_pdf("01030000000002.pdf"), folder / "other.pdf")
    ingest_folder(instance, folder)
    other_before = _point_ids(home, ["other.pdf"])["other.pdf"]
    first = _point_ids(home, ["report.pdf"])["report.pdf"]
    assert len(first) >= 2

    build_pdf(folder / "report.pdf", ["<h1>Short</h1><p>Solar panels on the roof.</p>"])
    summary = ingest_folder(instance, folder)
    assert (summary.succeeded, summary.skipped) == (1, 1)
    after = _point_ids(home, ["report.pdf"])["report.pdf"]
    assert len(after) == 1  # old points removed, not left beside the new one
    assert _point_ids(home, ["other.pdf"])["other.pdf"] == other_before
    hits = search_points("solar panels roof", top_k=1)
    assert hits[0]["document_id"] == "report.pdf" and "Solar" in hits[0]["text"]


def test_bad_inputs_are_classified_and_do_not_affect_good_ones(
    home: Path, instance: dg.DagsterInstance, docs: Path
) -> None:
    expected = write_bad_inputs(docs)
    summary = ingest_folder(instance, docs)
    assert summary.succeeded == 2
    assert summary.failed == len(expected)
    store = DocumentStore(home)
    for name, code in expected.items():
        state = read_state(store, name)
        assert state.status == "failed", name
        assert state.error.code == code, (name, state.error)
        assert state.error.retryable is False
        assert "s3cret" not in state.error.message
    report = collect_status(instance)
    assert report["documents"]["failed"] == len(expected)
    assert report["documents"]["succeeded"] == 2
    assert sum(report["errors"].values()) == len(expected)
    assert report["errors"]["CORRUPT_FILE"] == 3

    # One batch run: non-retryable failures do not burn retries (no STEP_UP_FOR_RETRY), and
    # Dagster shows exactly the bad partitions as failed and the good ones as materialized.
    (run,) = instance.get_runs()
    kinds = [e.dagster_event.event_type_value for e in instance.all_logs(run.run_id)
             if e.dagster_event]  # fmt: skip
    assert "STEP_FAILURE" in kinds and "STEP_UP_FOR_RETRY" not in kinds
    status = instance.get_status_by_partition(
        dg.AssetKey("vector_store_entries"),
        [*expected, *list(CORPUS_QUERIES)],
        documents_partitions,
    )
    assert status is not None
    assert {k for k, v in status.items() if v == dg.AssetPartitionStatus.FAILED} == set(expected)
    assert {k for k, v in status.items() if v == dg.AssetPartitionStatus.MATERIALIZED} == set(
        list(CORPUS_QUERIES)
    )

    # The good documents are searchable and untouched by their neighbours.
    for document_id, query in CORPUS_QUERIES.items():
        assert search_points(query, top_k=1)[0]["document_id"] == document_id


def test_password_from_configuration_opens_encrypted_pdf(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    build_pdf(folder / "locked.pdf", ["<h1>Quarterly figures</h1><p>Revenue grew.</p>"],
              password="s3cret")  # fmt: skip
    summary = ingest_folder(
        instance, folder, overrides={"parser": ParserResource(password="s3cret")}
    )
    assert summary.succeeded == 1
    assert pymupdf.open(folder / "locked.pdf").needs_pass


def test_checks_mean_data(home: Path, instance: dg.DagsterInstance, tmp_path: Path) -> None:
    """A document that failed before a stage gets no check result for it, a good one gets its
    results on its own partition, and no run says its step 'did not yield expected outputs'."""
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copyfile(corpus_pdf("01030000000001.pdf"), folder / "good.pdf")
    (folder / "bad.pdf").write_text("plain text pretending to be a PDF\n" * 20)
    summary = ingest_folder(instance, folder, overrides={"parser": ParserResource(engine="fast")})
    assert (summary.succeeded, summary.failed) == (1, 1)
    storage = instance.event_log_storage
    for asset, check in [
        ("parsed_pages", "every_page_parsed_or_explained"),
        ("chunks", "no_empty_chunk"),
        ("vector_store_entries", "point_count_matches_chunks"),
    ]:
        key = dg.AssetCheckKey(dg.AssetKey(asset), check)
        records = storage.get_asset_check_execution_history(key, limit=10)
        assert [(r.partition, r.status.value) for r in records] == [("good.pdf", "SUCCEEDED")]
    for run in instance.get_runs():
        messages = [e.user_message or "" for e in instance.all_logs(run.run_id)]
        assert not [m for m in messages if "did not yield" in m]
