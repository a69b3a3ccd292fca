"""The vector store unavailable mid-run: classified, retried with backoff, exact once it is back.

Two outages: the embedded store held by another process (a real second process holding the
store's lock, as one stuck in a long operation would), and a Qdrant server URL where nothing
listens. No Qdrant server binary is installed here, so a refusing server cannot "come back" by
itself: that test switches the resource to a working (embedded) store and runs again, and
checks that only indexing is left to do (the parse is reused, not redone).
"""

import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from bench.fault_trials import point_problems, read_store
from docingest import edge_store
from docingest.errors import ErrorCode
from docingest.models import ParseResult
from docingest.reconcile import plan_reconciliation
from docingest.state import read_state
from docingest.storage import DocumentStore
from docingest.vectorstore import close_local_clients
from pipelines.ingest import ingest_folder
from resources import ParserResource, QdrantResource
from tests.conftest import build_pdf

pytestmark = pytest.mark.slow

DOCUMENTS = {
    "alpha.pdf": ["<h1>Alpha</h1><p>Copper lanterns light the northern harbor at dusk.</p>"],
    "beta.pdf": [
        "<h1>Beta</h1><p>Glaciers carve fjords over thousands of years.</p>",
        "<h2>Later</h2><p>Meltwater feeds the lagoon below the basalt cliffs.</p>",
    ],
    "gamma.pdf": ["<h1>Gamma</h1><p>Falcons nest on the citadel walls every spring.</p>"],
}
# Exponential backoff with +/- jitter (assets.partitions): delay 2 s, so retry k waits
# (2**k - 1) * 2 s +/- 2 s.
RETRY_WAITS = [(0.0, 4.0), (4.0, 8.0), (12.0, 16.0)]
# Another process in the middle of a long store operation: it holds the shard's lock.
_HOLD = (
    "import fcntl, os, sys\n"
    "os.makedirs(os.path.join(sys.argv[1], 'edge'), exist_ok=True)\n"
    "lock = open(os.path.join(sys.argv[1], 'edge', 'documents.lock'), 'a')\n"
    "fcntl.flock(lock, fcntl.LOCK_EX)\n"
    "print('held', flush=True)\n"
    "sys.stdin.read()\n"
)
PARSED: list[str] = []


class CountingParser(ParserResource):
    """The fast engine in this process, counting the documents it really parses."""

    def parse(
        self, path: Path, document_id: str, overrides: dict[str, Any] | None = None
    ) -> ParseResult:
        PARSED.append(document_id)
        return super().parse(path, document_id, overrides)


def _parser() -> CountingParser:
    return CountingParser(engine="fast", isolate=False)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    folder = tmp_path / "uploads"
    folder.mkdir()
    for name, pages in DOCUMENTS.items():
        build_pdf(folder / name, pages)
    PARSED.clear()
    return folder


class Holder:
    """Another process holding the embedded store's lock, until released."""

    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-c", _HOLD, str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self.process.stdout is not None
        assert self.process.stdout.readline() == b"held\n"

    def release(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            self.process.wait(timeout=30)


@pytest.fixture
def holder(home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Holder]:
    monkeypatch.setattr(edge_store, "LOCK_TIMEOUT_S", 1.0)  # give up on the lock after 1 s
    held = Holder(home / "qdrant")
    yield held
    held.release()


def _events(instance: dg.DagsterInstance, run_id: str) -> list[dg.EventLogEntry]:
    return [e for e in instance.all_logs(run_id) if e.dagster_event]


def _kinds(instance: dg.DagsterInstance, run_id: str) -> Counter[str]:
    return Counter(e.dagster_event.event_type_value for e in _events(instance, run_id))  # type: ignore[union-attr]


def _materialized_twice(instance: dg.DagsterInstance, run_id: str) -> list[tuple[str, str]]:
    seen = Counter(
        (e.dagster_event.asset_key.to_user_string(), e.dagster_event.partition)  # type: ignore[union-attr]
        for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION)
    )
    return [key for key, n in seen.items() if n > 1]  # type: ignore[misc]


def _exact(home: Path) -> None:
    """One point per stored chunk, of every document, each with its document's payload."""
    close_local_clients()  # our own process holds the store open (keep_open)
    state = read_store(home)
    assert point_problems(state, state.from_chunks) == []
    assert {document for document, _, _ in state.points.values()} == set(DOCUMENTS)


def _release_when_all_failed(store: DocumentStore, held: Holder) -> threading.Thread:
    """Release the store as soon as every document has failed once, i.e. mid-run, before the
    step's retry."""

    def watch() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            states = [read_state(store, d) for d in DOCUMENTS]
            if all(s.status == "failed" for s in states):
                held.release()
                return
            time.sleep(0.02)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_local_store_held_by_another_process_is_retried_until_it_is_released(
    home: Path, instance: dg.DagsterInstance, folder: Path, holder: Holder
) -> None:
    store = DocumentStore(home)
    watcher = _release_when_all_failed(store, holder)
    summary = ingest_folder(instance, folder, overrides={"parser": _parser()})
    watcher.join(timeout=5)

    assert (summary.succeeded, summary.failed) == (len(DOCUMENTS), 0)
    (run,) = instance.get_runs()
    assert run.status == dg.DagsterRunStatus.SUCCESS
    kinds = _kinds(instance, run.run_id)
    assert kinds["STEP_UP_FOR_RETRY"] >= 1 and kinds["STEP_SUCCESS"] == 1
    # The first attempt failed every document on the held store, each with a clear message.
    failures = [
        e
        for e in _events(instance, run.run_id)
        if e.dagster_event and e.dagster_event.event_type_value == "STEP_UP_FOR_RETRY"
    ]
    assert "VECTOR_STORE_UNAVAILABLE" in str(failures[0].dagster_event)
    # The retry only indexed: parsed once per document, nothing materialized twice in the run.
    assert sorted(PARSED) == sorted(DOCUMENTS)
    assert _materialized_twice(instance, run.run_id) == []
    for asset in ("source_documents", "parsed_pages", "chunks", "vector_store_entries"):
        assert instance.get_materialized_partitions(dg.AssetKey(asset)) == set(DOCUMENTS)
    _exact(home)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_refusing_server_is_classified_retried_with_backoff_then_indexed_once_back(
    home: Path, instance: dg.DagsterInstance, folder: Path
) -> None:
    url = f"http://127.0.0.1:{_free_port()}"  # nothing listens there: connection refused
    refusing = QdrantResource(url=url, timeout_s=5)
    summary = ingest_folder(instance, folder, overrides={"parser": _parser(), "qdrant": refusing})

    assert (summary.succeeded, summary.failed) == (0, len(DOCUMENTS))
    assert summary.errors == {"VECTOR_STORE_UNAVAILABLE": len(DOCUMENTS)}
    store = DocumentStore(home)
    for document_id in DOCUMENTS:
        state = read_state(store, document_id)
        assert (state.status, state.stage) == ("failed", "index")
        assert state.error.code == ErrorCode.VECTOR_STORE_UNAVAILABLE.value
        assert state.error.retryable is True
        message = state.error.message
        assert url in message and "unreachable" in message, message
        # Parse and chunks are kept: only indexing is left to do.
        assert store.parsed_path(document_id).exists() and store.chunks_path(document_id).exists()

    # The step ran four times: three retries on the backoff schedule, then the run failed.
    (run,) = instance.get_runs()
    assert run.status == dg.DagsterRunStatus.FAILURE
    retries = [
        e.dagster_event.step_retry_data.seconds_to_wait
        for e in _events(instance, run.run_id)
        if e.dagster_event and e.dagster_event.event_type_value == "STEP_UP_FOR_RETRY"
    ]
    assert len(retries) == len(RETRY_WAITS)
    for wait, (low, high) in zip(retries, RETRY_WAITS, strict=True):
        assert wait is not None and low <= wait <= high
    assert sorted(PARSED) == sorted(DOCUMENTS)  # the retries reused the parse
    assert _materialized_twice(instance, run.run_id) == []
    # The reconcile schedule would retry exactly these documents.
    states = {d: read_state(store, d) for d in DOCUMENTS}
    files = {d: str(state.sha256) for d, state in states.items()}
    plan = plan_reconciliation(files, set(DOCUMENTS), states, set(DOCUMENTS))
    assert plan.retry == sorted(DOCUMENTS)

    # "Back": the same documents against a working store. Nothing is parsed again.
    summary = ingest_folder(instance, folder, overrides={"parser": _parser()})
    assert (summary.succeeded, summary.failed) == (len(DOCUMENTS), 0)
    assert sorted(PARSED) == sorted(DOCUMENTS)
    _exact(home)
