"""Slots left claimed by dead or finished runs are given back before the CLI starts a run."""

import os
import socket
import subprocess
import sys

import dagster as dg

from assets.vector_store import QDRANT_POOL
from pipelines.definitions import build_definitions
from pipelines.recovery import (
    OPERATION_TAG,
    PROCESS_TAG,
    is_alive,
    process_tag,
    release_stale_runs,
)

STEP = "document_pipeline"


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_is_alive_tells_a_dead_process_from_a_live_one() -> None:
    host = socket.gethostname()
    assert is_alive(process_tag())
    assert not is_alive(f"{host}:{_dead_pid()}:1")
    start = process_tag().rsplit(":", 1)[1]
    assert not is_alive(f"{host}:{os.getpid()}:{int(start) + 1}")  # the pid was reused
    assert is_alive(f"elsewhere.example:{_dead_pid()}:1")  # another machine's: not judged


def _claiming_run(instance: dg.DagsterInstance, process: str) -> str:
    run = instance.create_run_for_job(
        job_def=build_definitions().resolve_job_def("ingest_job"),
        tags={OPERATION_TAG: "cli", PROCESS_TAG: process},
    )
    instance.event_log_storage.claim_concurrency_slot(QDRANT_POOL, run.run_id, STEP)
    return run.run_id


def _holders(instance: dg.DagsterInstance) -> set[str]:
    return instance.event_log_storage.get_concurrency_run_ids()


def test_slots_of_dead_and_finished_runs_are_freed(instance: dg.DagsterInstance) -> None:
    instance.event_log_storage.set_concurrency_slots(QDRANT_POOL, 3)
    killed = _claiming_run(instance, f"{socket.gethostname()}:{_dead_pid()}:1")
    finished = _claiming_run(instance, process_tag())
    instance.report_run_failed(instance.get_run_by_id(finished))  # type: ignore[arg-type]
    alive = _claiming_run(instance, process_tag())
    assert _holders(instance) == {killed, finished, alive}

    assert sorted(release_stale_runs(instance)) == sorted([killed, finished])
    assert _holders(instance) == {alive}
    run = instance.get_run_by_id(killed)
    assert run is not None and run.status == dg.DagsterRunStatus.FAILURE
    alive_run = instance.get_run_by_id(alive)
    assert alive_run is not None and alive_run.status == dg.DagsterRunStatus.NOT_STARTED
