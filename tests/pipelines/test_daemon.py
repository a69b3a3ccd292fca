"""The upload sensor and the reconcile schedule through the real `dagster-daemon`.

A user's path, end to end: the sensor and the schedule are switched on with `dagster sensor
start` / `dagster schedule start`, files are dropped into, changed in and removed from the
upload folder, and the daemon's ticks launch the runs that its run workers execute. Dagster's
own handling of what the sensor returns runs here (a multi-job sensor whose requests lack a
job name fails every tick; only the daemon shows it). Run on the embedded SQLite instance and
on the local PostgreSQL (the production dagster.yaml).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.scheduler.instigation import TickStatus  # not exported by dagster

from docingest.errors import DocIngestError, ErrorCode
from docingest.ids import sha256_file
from docingest.state import read_state, record_failure
from docingest.storage import DocumentStore
from docingest.vectorstore import VectorStore, close_local_clients
from tests.conftest import corpus_pdf
from tests.deployment import Deployment, postgres_database
from tests.parsing.test_office_formats import corpus as office_corpus

pytestmark = pytest.mark.slow

SENSOR, SCHEDULE = "upload_folder_sensor", "reconcile_schedule"
ENV = {
    "DOCINGEST_PARSE_ENGINE": "fast",  # small documents, quick runs: the daemon path is tested
    "DOCINGEST_SENSOR_INTERVAL_S": "3",
    "DOCINGEST_RECONCILE_CRON": "* * * * *",
}


@pytest.fixture(params=["sqlite", "postgres"])
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    drop = None
    database = None
    if request.param == "postgres":
        database, drop = postgres_database()
    deployment = Deployment(tmp_path / request.param, postgres_db=database, **ENV)
    try:
        yield deployment
    finally:
        deployment.stop()
        close_local_clients()
        if drop:
            drop()


def _points(home: Path) -> VectorStore:
    return VectorStore(collection="documents", path=str(home / "qdrant"))


def _payload_hashes(vectors: VectorStore, document_id: str) -> set[str]:
    hits = vectors.search([1.0] * 384, top_k=1000, filters={"document_id": document_id})
    return {hit.payload["sha256"] for hit in hits}


def _failed_ticks(deployment: Deployment) -> list[str]:
    with deployment.instance() as instance:
        failures = []
        for state in instance.all_instigator_state():
            ticks = instance.get_ticks(
                state.instigator_origin_id, state.selector_id,
                statuses=[TickStatus.FAILURE],
            )  # fmt: skip
            failures += [f"{state.instigator_name}: {t.error}" for t in ticks]
        return failures


def test_sensor_and_schedule_through_the_daemon(deployment: Deployment) -> None:
    uploads = deployment.uploads
    shutil.copyfile(corpus_pdf("01030000000001.pdf"), uploads / "a.pdf")
    shutil.copyfile(corpus_pdf("01030000000002.pdf"), uploads / "b.pdf")
    (uploads / "bad.pdf").write_text("plain text pretending to be a PDF\n" * 20)
    shutil.copyfile(office_corpus("html/readability-mercurial.html"), uploads / "page.html")
    names = ("a.pdf", "b.pdf", "bad.pdf", "page.html")
    hashes = {name: sha256_file(uploads / name) for name in names}

    deployment.start_daemon()
    deployment.dagster("sensor", "start", SENSOR)
    deployment.wait_for("the first files", lambda: deployment.settled(hashes))
    store = DocumentStore(deployment.home)
    assert read_state(store, "a.pdf").status == "succeeded"
    assert read_state(store, "b.pdf").status == "succeeded"
    assert read_state(store, "page.html").status == "succeeded"  # web pages go the same way
    assert read_state(store, "bad.pdf").error.code == "FILE_TYPE_NOT_SUPPORTED"

    # The failure where people look: `docingest status --failed --json`.
    failed = json.loads(deployment.docingest("status", "--failed", "--json").stdout)
    assert [(f["document_id"], f["code"], f["stage"]) for f in failed] == [
        ("bad.pdf", "FILE_TYPE_NOT_SUPPORTED", "parse")
    ]
    # ... and on the partition, as an observation of the stage that failed.
    with deployment.instance() as instance:
        observed = instance.fetch_observations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("parsed_pages"),
                                  asset_partitions=["bad.pdf"]), limit=1,
        ).records  # fmt: skip
        assert observed, "no failure observation on bad.pdf's parsed_pages partition"
        metadata = observed[0].asset_observation.metadata  # type: ignore[union-attr]
        assert metadata["error_code"].value == "FILE_TYPE_NOT_SUPPORTED"
        assert metadata["retryable"].value is False

    # Exactly the point ids a `docingest ingest` of the same folder gives (SQLite only: ids
    # do not depend on the instance).
    with _points(deployment.home) as vectors:
        by_daemon = {d: vectors.document_point_ids(d) for d in ("a.pdf", "b.pdf")}
        assert all(by_daemon.values())
    close_local_clients()
    if "sqlite" in deployment.root.name:
        other = deployment.root / "cli-home"
        result = deployment.docingest(
            "ingest", str(uploads), "--json",
            DOCINGEST_HOME=str(other), DAGSTER_HOME=str(other / "dagster"),
        )  # fmt: skip
        assert result.returncode == 1, result.stderr  # bad.pdf failed there too
        assert json.loads(result.stdout)["errors"] == {"FILE_TYPE_NOT_SUPPORTED": 1}
        with _points(other) as vectors:
            assert {d: vectors.document_point_ids(d) for d in by_daemon} == by_daemon
        close_local_clients()

    # A changed file: its points are replaced, none of the old ones left.
    shutil.copyfile(corpus_pdf("01030000000003.pdf"), uploads / "a.pdf")
    hashes["a.pdf"] = sha256_file(uploads / "a.pdf")
    deployment.wait_for("the changed file", lambda: deployment.settled(hashes))
    with _points(deployment.home) as vectors:
        replaced = vectors.document_point_ids("a.pdf")
        assert len(replaced) == read_state(store, "a.pdf").chunks
        # Point ids are (document, chunk index, chunking): the payloads tell the content.
        assert _payload_hashes(vectors, "a.pdf") == {hashes["a.pdf"]}
    close_local_clients()

    # A deleted file: points, Parquet files and partition gone.
    (uploads / "b.pdf").unlink()

    def b_removed() -> bool:
        with deployment.instance() as instance:
            return "b.pdf" not in instance.get_dynamic_partitions("documents")

    deployment.wait_for("the deleted file's removal", b_removed)
    deployment.wait_for("the removal run", lambda: deployment.settled({}))
    with deployment.instance() as instance:
        removals = instance.get_runs(filters=dg.RunsFilter(job_name="delete_documents_job"))
        assert removals and all(r.status == dg.DagsterRunStatus.SUCCESS for r in removals)
    with _points(deployment.home) as vectors:
        assert vectors.document_point_ids("b.pdf") == set()
        assert vectors.document_point_ids("a.pdf") == replaced
    close_local_clients()
    assert not store.parsed_path("b.pdf").exists() and not store.chunks_path("b.pdf").exists()

    # The reconcile schedule re-runs a retryable failure (as a store outage leaves it) to
    # success, and leaves the permanent failure alone.
    record_failure(
        store, "a.pdf", "index",
        DocIngestError(ErrorCode.VECTOR_STORE_UNAVAILABLE, "store held by another process"),
    )  # fmt: skip
    bad_attempts = read_state(store, "bad.pdf").attempts
    deployment.dagster("schedule", "start", SCHEDULE)
    deployment.wait_for(
        "the reconcile run",
        lambda: (
            read_state(store, "a.pdf").status == "succeeded"
            and deployment.settled({"a.pdf": hashes["a.pdf"]})
        ),
        timeout=150,
    )
    with deployment.instance() as instance:
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"docingest/operation": "reconcile"}))
        assert runs and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    assert read_state(store, "bad.pdf").attempts == bad_attempts  # not run again
    with _points(deployment.home) as vectors:
        assert vectors.document_point_ids("a.pdf") == replaced
    close_local_clients()

    assert _failed_ticks(deployment) == []
