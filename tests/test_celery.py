"""Distributed execution: `ingest_job` through the celery executor, on a real worker.

A `dagster-celery worker start` subprocess listens on a queue of its own (so it never takes
another run's tasks) on the RabbitMQ at 127.0.0.1:5672; the test process orchestrates the run
and the worker executes the step. Both share the embedded SQLite instance and the local Qdrant
store through temporary DAGSTER_HOME / DOCINGEST_HOME folders: on one machine that is enough,
and it keeps this test about the executor (tests/test_postgres.py covers the PostgreSQL
instance; across machines both go together, see the README, "Scaling out").

In CI (CI=true) a missing RabbitMQ or dagster-celery fails this test; elsewhere it is skipped.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest
import yaml

from assets.partitions import DOCUMENTS
from docingest.search import search_points
from docingest.vectorstore import VectorStore, close_local_clients
from pipelines.batching import RANGE_END, RANGE_START
from pipelines.executors import (
    BACKEND_ENV,
    BROKER_ENV,
    DEFAULT_BROKER,
    EXECUTOR_ENV,
    QUEUE_ENV,
    WORKER_INCLUDES,
    ExecutorConfigError,
    build_executor,
    celery_executor_config,
)
from tests.conftest import CORPUS_QUERIES

REPO = Path(__file__).resolve().parents[1]
WORKER_READY_S = 45.0
STOP_S = 10.0


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def _require_broker(url: str) -> None:
    try:
        import dagster_celery  # noqa: F401
        from kombu import Connection
    except ImportError as error:
        _unavailable(f"dagster-celery is not installed: {error}")
    try:
        with Connection(url, connect_timeout=5) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as error:  # kombu raises the transport's own errors
        _unavailable(f"RabbitMQ not reachable at {url}: {error}")


def celery_ingest_job() -> dg.JobDefinition:
    """`ingest_job` as pipelines.definitions binds it, with the executor DOCINGEST_EXECUTOR names
    (read when the definitions are built; the worker reconstructs the job by calling this)."""
    from pipelines.definitions import build_definitions

    return build_definitions().resolve_job_def("ingest_job")


def _stop(worker: subprocess.Popen[bytes]) -> None:
    """The CLI starts `celery worker` as its child: signal the whole group we created."""
    for sig, wait_s in ((signal.SIGTERM, STOP_S), (signal.SIGKILL, STOP_S)):
        try:
            os.killpg(worker.pid, sig)
        except ProcessLookupError:
            return
        try:
            worker.wait(timeout=wait_s)
            # The CLI may be gone while its `celery` child still shuts down: wait for the group.
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline:
                os.killpg(worker.pid, 0)
                time.sleep(0.2)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            pass


@contextmanager
def running_worker(
    queue: str, env: dict[str, str], folder: Path
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """A real `dagster-celery worker start` on `queue` with environment `env` (its config file
    and log under `folder`), ready when yielded; stopped with its process group afterwards."""
    config = folder / "celery.yaml"
    config.write_text(yaml.safe_dump({"execution": {"config": celery_executor_config()}}))
    log = folder / "worker.log"
    venv_bin = str(Path(sys.executable).parent)  # the CLI runs `celery` from PATH
    env = {
        **env,
        "PATH": f"{venv_bin}{os.pathsep}{env.get('PATH', '')}",
        "PYTHONPATH": str(REPO),  # the worker imports this module to reconstruct the job
    }
    command = [
        f"{venv_bin}/dagster-celery", "worker", "start", "-A", "dagster_celery.app",
        "-y", str(config), "-q", queue, "-n", queue, "-l", "INFO",
        *(arg for module in WORKER_INCLUDES for arg in ("-i", module)),
        # solo: the step runs in the worker's main process, which may start the parser's
        # isolated child processes (a prefork pool child is daemonic and may not).
        "--", "--pool=solo", "--concurrency=1",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so _stop reaches `celery` too
        )  # fmt: skip
    try:
        deadline = time.monotonic() + WORKER_READY_S
        while " ready." not in log.read_text(errors="replace"):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the celery worker did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.25)
        yield process, log
    finally:
        _stop(process)


@pytest.fixture
def worker(
    home: Path, docs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    """A real worker on a queue of its own; yields (process, worker name, log file)."""
    broker = os.environ.get(BROKER_ENV) or DEFAULT_BROKER
    _require_broker(broker)
    from pipelines.instance import ensure_dagster_home

    queue = f"docingest-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(EXECUTOR_ENV, "celery")
    monkeypatch.setenv(QUEUE_ENV, queue)
    monkeypatch.setenv("DOCINGEST_SOURCE_DIR", str(docs))
    ensure_dagster_home()  # the embedded instance's dagster.yaml, read by both processes
    with running_worker(queue, dict(os.environ), tmp_path) as (process, log):
        yield process, queue, log


@pytest.mark.parametrize(
    ("name", "expected"),
    [("", "in_process"), ("in_process", "in_process"), ("multiprocess", "multiprocess")],
)
def test_executor_follows_the_environment(
    name: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(EXECUTOR_ENV, name)
    assert build_executor().name == expected


def test_celery_executor_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    try:
        import dagster_celery  # noqa: F401
    except ImportError as error:
        _unavailable(f"dagster-celery is not installed: {error}")
    monkeypatch.setenv(EXECUTOR_ENV, "celery")
    monkeypatch.setenv(BROKER_ENV, "redis://127.0.0.1:6379/0")
    monkeypatch.setenv(BACKEND_ENV, "redis://127.0.0.1:6379/1")
    monkeypatch.setenv(QUEUE_ENV, "documents")
    assert build_executor().name == "celery"
    assert celery_executor_config() == {
        "broker": "redis://127.0.0.1:6379/0",
        "backend": "redis://127.0.0.1:6379/1",
        "include": WORKER_INCLUDES,
        "config_source": {"task_default_queue": "documents"},
    }


def test_unknown_or_missing_executor_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(EXECUTOR_ENV, "kubernetes")
    with pytest.raises(ExecutorConfigError, match="not one of in_process, multiprocess, celery"):
        build_executor()
    monkeypatch.setenv(EXECUTOR_ENV, "celery")
    monkeypatch.setitem(sys.modules, "dagster_celery", None)  # as if not installed
    with pytest.raises(ExecutorConfigError, match=r"docingest\[celery\]"):
        build_executor()


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_ingest_job_steps_run_on_a_celery_worker(
    worker: tuple[subprocess.Popen[bytes], str, Path],
    instance: dg.DagsterInstance,
    home: Path,
) -> None:
    process, name, log = worker
    documents = sorted(CORPUS_QUERIES)
    instance.add_dynamic_partitions(DOCUMENTS, documents)
    close_local_clients()  # Qdrant local mode admits one process: the worker writes the store

    result = dg.execute_job(
        dg.reconstructable(celery_ingest_job),
        instance=instance,
        tags={RANGE_START: documents[0], RANGE_END: documents[-1]},
    )
    assert result.success, f"worker log:\n{log.read_text()[-3000:]}"
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    assert run.tags[RANGE_START] == documents[0] and run.tags[RANGE_END] == documents[-1]

    events = instance.all_logs(result.run_id)
    # dagster-celery's task records the worker that picked the step up.
    on_worker = [
        event.dagster_event
        for event in events
        if event.dagster_event is not None
        and event.dagster_event.is_engine_event
        and "in celery worker" in (event.message or "")
    ]
    assert [e.step_key for e in on_worker] == ["document_pipeline"]
    assert on_worker[0].engine_event_data.metadata["Celery worker"].value.startswith(f"{name}@")
    # The step ran in the worker's process group (the CLI's `celery` child), not in this one.
    step_starts = [
        event.dagster_event
        for event in events
        if event.dagster_event is not None and event.dagster_event.is_step_start
    ]
    assert len(step_starts) == 1 and step_starts[0].pid is not None
    assert step_starts[0].pid != os.getpid()
    assert os.getpgid(step_starts[0].pid) == process.pid
    materialized = {
        (event.asset_key.to_user_string(), event.partition)
        for event in result.all_events
        if event.is_step_materialization and event.asset_key is not None
    }
    assets = (
        "source_documents",
        "parsed_pages",
        "document_classes",
        "chunks",
        "vector_store_entries",
    )
    assert materialized == {(a, d) for a in assets for d in documents}

    # The worker released the store after its step: this process reads what it wrote.
    store = VectorStore(collection="documents", path=str(home / "qdrant"))
    try:
        assert all(store.count(document_id) > 0 for document_id in documents)
    finally:
        store.close()
    for document_id, query in CORPUS_QUERIES.items():
        assert search_points(query, top_k=3)[0]["document_id"] == document_id
