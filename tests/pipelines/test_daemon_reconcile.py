"""Through the real `dagster-daemon`: the sensor's code server keeps its listing from tick to
tick, yet a changed option file is seen on the next tick; the reconcile schedule remembers
what it hashed, and finds a same-size rewrite whose mtime was set back (by its ctime), which
the sensor's stamp cannot see."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.scheduler.instigation import TickStatus  # not exported by dagster

from docingest.ids import sha256_file
from docingest.state import read_state
from docingest.storage import DocumentStore
from tests.conftest import corpus_pdf
from tests.deployment import Deployment
from tests.pipelines.test_daemon import SCHEDULE, SENSOR, _failed_ticks

pytestmark = pytest.mark.slow


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    deployment = Deployment(
        tmp_path / "sqlite",
        DOCINGEST_PARSE_ENGINE="fast",
        DOCINGEST_SENSOR_INTERVAL_S="3",
        DOCINGEST_RECONCILE_CRON="* * * * *",
    )
    try:
        yield deployment
    finally:
        deployment.stop()


def _write(path: Path, mark: str) -> str:
    path.write_bytes(corpus_pdf("01030000000001.pdf").read_bytes() + f"%{mark}\n".encode())
    return sha256_file(path)


def _schedule_ticks(deployment: Deployment) -> list[TickStatus]:
    """The schedule's ticks once none is still being evaluated (STARTED), else none."""
    with deployment.instance() as instance:
        for state in instance.all_instigator_state():
            if state.instigator_name == SCHEDULE:
                ticks = instance.get_ticks(state.instigator_origin_id, state.selector_id)
                statuses = [tick.status for tick in ticks]
                return [] if TickStatus.STARTED in statuses else statuses
    return []


def test_the_daemon_sees_option_changes_and_restored_mtimes(deployment: Deployment) -> None:
    uploads = deployment.uploads
    hashes = {"a.pdf": _write(uploads / "a.pdf", "1"), "b.pdf": _write(uploads / "b.pdf", "2")}
    store = DocumentStore(deployment.home)
    deployment.start_daemon()
    deployment.dagster("sensor", "start", SENSOR)
    deployment.wait_for("the first files", lambda: deployment.settled(hashes))
    options_before = {d: read_state(store, d).parse_options_hash for d in hashes}

    # An option file appears: the next tick re-runs the documents under it.
    (uploads / ".docingest.yaml").write_text("parse_options:\n  bbox_top: 0.05\n")

    def rerun_with_new_options() -> bool:
        states = {d: read_state(store, d) for d in hashes}
        return all(
            s.parse_options_hash != options_before[d] for d, s in states.items()
        ) and deployment.settled(hashes)

    deployment.wait_for("the re-run with the folder's options", rerun_with_new_options)

    # The schedule's first evaluation hashes every file, finds them current, and remembers.
    deployment.dagster("schedule", "start", SCHEDULE)
    deployment.wait_for(
        "a finished reconcile evaluation", lambda: _schedule_ticks(deployment), timeout=150, every=2
    )
    assert set(_schedule_ticks(deployment)) == {TickStatus.SKIPPED}  # agrees with the sensor

    # A same-size rewrite with its mtime set back: not the sensor's, the reconcile's.
    before = (uploads / "a.pdf").stat()
    hashes["a.pdf"] = _write(uploads / "a.pdf", "3")
    os.utime(uploads / "a.pdf", ns=(before.st_atime_ns, before.st_mtime_ns))
    deployment.wait_for(
        "the reconcile run of the rewritten file",
        lambda: deployment.settled(hashes),
        timeout=200,
        every=2,
    )
    with deployment.instance() as instance:
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"docingest/operation": "reconcile"}))
    # One run, or two when the next minute's evaluation came while the first was running.
    assert runs and all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs)
    assert read_state(store, "a.pdf").run_id in {run.run_id for run in runs}
    assert _failed_ticks(deployment) == []
