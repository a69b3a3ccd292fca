"""Cancelling a batch, and its priority: real runs in a real instance, a real receiver.

The slow document is the real parser held at its first document until the test lets it go,
so the run is cancelled mid-way at a known point.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._core.remote_origin import (
    InProcessCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import (
    QueuedRunCoordinatorDaemon,
)

from assets.partitions import DOCUMENTS
from assets.pipeline import CANCEL_CHECK_INTERVAL_S
from assets.run_tags import CORRELATION_TAG, PRIORITY_TAG, run_tags
from docingest.errors import ConfigError
from docingest.models import ParseResult
from docingest.state import Expected, Freshness, Status, freshness, read_state
from docingest.storage import DocumentStore
from docingest.webhooks import EVENTS
from pipelines.batching import RANGE_END, RANGE_START
from pipelines.cancel import cancel_runs, find_runs
from pipelines.definitions import build_definitions
from pipelines.ingest import IngestSummary, ingest_folder, run_documents
from resources import (
    ParserResource,
    SourceResource,
    WebhookEndpointConfig,
    WebhookResource,
    build_resources,
)
from tests.conftest import CORPUS, corpus_pdf
from tests.deployment import Deployment
from tests.webhook_server import Receiver, receiver

BATCH = "batch-7"
NAMES = ("a.pdf", "b.pdf", "c.pdf")
_GATE = threading.Event()  # the slow document goes on once the test sets it
_HELD = threading.Event()  # set when the slow document is being parsed
_STARTED: list[str] = []  # the documents whose parse began, in order


class HeldParser(ParserResource):
    """The real parser; the run's parses wait for the test (a slow document, and those parsed
    ahead of their turn)."""

    def parse(self, path: Path, document_id: str, *args: Any, **kwargs: Any) -> ParseResult:
        _STARTED.append(document_id)
        _HELD.set()
        if not _GATE.wait(timeout=120):
            raise TimeoutError("the test never let the held document go")
        return super().parse(path, document_id, *args, **kwargs)


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    _GATE.clear()
    _HELD.clear()
    _STARTED.clear()
    yield _GATE
    _GATE.set()


@pytest.fixture
def server() -> Iterator[Receiver]:
    with receiver() as state:
        yield state


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "uploads"
    folder.mkdir()
    sources = ("01030000000001.pdf", "01030000000002.pdf", "01030000000003.pdf")
    for name, source in zip(NAMES, sources, strict=True):
        shutil.copyfile(corpus_pdf(source), folder / name)
    return folder


def _let_go(gate: threading.Event) -> None:
    """Let the held document go once the run will look at its status again (it asks the
    instance at most once every CANCEL_CHECK_INTERVAL_S)."""
    time.sleep(CANCEL_CHECK_INTERVAL_S)
    gate.set()


def _queued(instance: dg.DagsterInstance, tags: dict[str, str]) -> dg.DagsterRun:
    """An ingest_job run waiting in the queue, as the sensor's or the UI's runs wait there:
    from the code location workspace.yaml names (a queued run must say where it comes from)."""
    location = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name="pipelines.definitions"), location_name="docingest"
    )
    origin = RemoteJobOrigin(
        repository_origin=RemoteRepositoryOrigin(
            code_location_origin=location, repository_name="__repository__"
        ),
        job_name="ingest_job",
    )
    return instance.create_run_for_job(
        build_definitions().resolve_job_def("ingest_job"),
        status=dg.DagsterRunStatus.QUEUED,
        tags=tags,
        remote_job_origin=origin,
    )


def _ingest_in_background(
    instance: dg.DagsterInstance, folder: Path, overrides: dict[str, Any]
) -> tuple[threading.Thread, list[IngestSummary]]:
    """`docingest ingest --correlation-id batch-7 --priority 5`, in a thread of this process."""
    summaries: list[IngestSummary] = []

    def ingest() -> None:
        summaries.append(
            ingest_folder(instance, folder, overrides=overrides, tags=run_tags(BATCH, priority=5))
        )

    thread = threading.Thread(target=ingest)
    thread.start()
    assert _HELD.wait(timeout=120), "the run never reached the slow document"
    return thread, summaries


def test_a_run_cancelled_mid_way_marks_its_documents_cancelled(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path, gate: threading.Event,
    server: Receiver,
) -> None:  # fmt: skip
    folder = _folder(tmp_path)
    hooks = WebhookResource(endpoints=[WebhookEndpointConfig(url=server.url, events=list(EVENTS))])
    # No parsing ahead: a.pdf is parsed in its parse stage, where the run holds it.
    overrides = {"parser": HeldParser(engine="fast", parse_ahead=0), "webhooks": hooks}
    thread, summaries = _ingest_in_background(instance, folder, overrides)

    # The batch's run is in flight, a.pdf held in its parse: cancel the batch by its id.
    (run,) = find_runs(instance, correlation_id=BATCH)
    assert run.status == dg.DagsterRunStatus.STARTED
    assert run.tags[PRIORITY_TAG] == "5" and run.tags[CORRELATION_TAG] == BATCH
    (report,) = cancel_runs(instance, [run], DocumentStore(home))
    # An in-process run cannot be interrupted from outside: it stops at its next stage.
    assert (report.outcome, report.status_before) == ("cancelling", "STARTED")
    _let_go(gate)
    thread.join(timeout=120)
    assert not thread.is_alive()

    finished = instance.get_run_by_id(run.run_id)
    assert finished is not None and finished.status == dg.DagsterRunStatus.CANCELED
    (summary,) = summaries
    assert (summary.cancelled, summary.failed, summary.succeeded) == (3, 0, 0)
    store = DocumentStore(home)
    for name in NAMES:
        state = read_state(store, name)
        assert state.status is Status.CANCELLED and state.error is None, name
        assert state.attempts == 0 and state.run_id == run.run_id
    # The held one was registered and parsed: cancelled; the others never started: new. Both
    # run again.
    held = read_state(store, "a.pdf")
    assert freshness(held, Expected(sha256=held.sha256)) is Freshness.CANCELLED
    assert freshness(read_state(store, "b.pdf"), Expected()) is Freshness.NEW
    assert held.correlation_id == BATCH
    # Its history: registered, parsed (it was let go), then the run stopped before chunking.
    assert [(s.step, s.status) for s in held.history] == [
        ("source", "succeeded"), ("parse", "succeeded"), ("run", "cancelled"),
    ]  # fmt: skip
    parse_step = held.history[1]
    assert parse_step.duration_s >= 0 and parse_step.started_at <= parse_step.ended_at
    assert all(s.run_id == run.run_id for s in held.history)

    bodies = [json.loads(r.body) for r in server.requests]
    events = [(b["event"], b["document_id"]) for b in bodies]
    assert events == [
        ("parse.pending", "a.pdf"), ("parse.pending", "b.pdf"), ("parse.pending", "c.pdf"),
        ("parse.running", "a.pdf"),
        ("parse.cancelled", "a.pdf"), ("parse.cancelled", "b.pdf"), ("parse.cancelled", "c.pdf"),
        ("batch.completed", None),
    ]  # fmt: skip
    assert {b["correlation_id"] for b in bodies} == {BATCH}
    assert bodies[-1]["status"] == "cancelled" and bodies[-1]["counts"]["cancelled"] == 3


def test_a_run_cancelled_while_parsing_ahead_starts_no_further_parse(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path, gate: threading.Event
) -> None:
    """Five documents, one worker, one document parsed ahead: cancelled while the step waits
    for a.pdf's parse (b.pdf's waiting ahead of its turn), the run parses nothing past that
    window and takes no further document: every document ends cancelled, none failed, and no
    parse made ahead left a trace in a record."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    names = [f"{letter}.pdf" for letter in "abcde"]
    for name, source in zip(names, sorted(CORPUS.glob("*.pdf")), strict=False):
        shutil.copyfile(source, folder / name)
    parser = HeldParser(engine="fast", parse_workers=1, parse_ahead=1)
    thread, summaries = _ingest_in_background(instance, folder, {"parser": parser})
    (run,) = find_runs(instance, correlation_id=BATCH)
    cancel_runs(instance, [run], DocumentStore(home))
    _let_go(gate)
    thread.join(timeout=120)
    assert not thread.is_alive()

    (summary,) = summaries
    assert (summary.cancelled, summary.failed, summary.succeeded) == (5, 0, 0)
    assert _STARTED[0] == "a.pdf" and set(_STARTED) <= {"a.pdf", "b.pdf"}, _STARTED
    store = DocumentStore(home)
    assert [read_state(store, name).status for name in names] == [Status.CANCELLED] * 5
    # The step waited for the parses before taking a document; once they were made, the run
    # was cancelling: none was registered, none reached its parse stage.
    for name in names:
        assert [s.step for s in read_state(store, name).history] == ["run"], name


def test_a_cancelled_batch_starts_no_further_runs(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path, gate: threading.Event
) -> None:
    """One run per document: cancelling the first, the CLI launches none of the others."""
    folder = _folder(tmp_path)
    instance.add_dynamic_partitions(DOCUMENTS, list(NAMES))
    resources = {
        **build_resources(parser=HeldParser(engine="fast")),
        "source": SourceResource(root=str(folder), settle_seconds=0),
    }
    outcomes: list[dict[str, bool]] = []

    def ingest() -> None:
        outcomes.append(
            run_documents(
                instance, "ingest_job", list(NAMES), resources, {}, batch_size=1,
                tags=run_tags(BATCH),
            )
        )  # fmt: skip

    thread = threading.Thread(target=ingest)
    thread.start()
    assert _HELD.wait(timeout=120)
    (run,) = find_runs(instance, correlation_id=BATCH)
    cancel_runs(instance, [run], DocumentStore(home))
    _let_go(gate)
    thread.join(timeout=120)
    assert outcomes == [dict.fromkeys(NAMES, False)]
    assert [r.run_id for r in find_runs(instance, correlation_id=BATCH)] == [run.run_id]
    store = DocumentStore(home)
    for name in NAMES:
        state = read_state(store, name)
        assert (state.status, state.run_id) == (Status.CANCELLED, run.run_id), name


def test_cancelling_a_queued_run_marks_its_documents(
    home: Path, instance: dg.DagsterInstance
) -> None:
    instance.add_dynamic_partitions(DOCUMENTS, list(NAMES))
    queued = _queued(instance, {**run_tags(BATCH), RANGE_START: "a.pdf", RANGE_END: "b.pdf"})
    store = DocumentStore(home)
    (report,) = cancel_runs(instance, find_runs(instance, run_ids=[queued.run_id]), store)
    assert (report.outcome, report.documents) == ("cancelled", ("a.pdf", "b.pdf"))
    after = instance.get_run_by_id(queued.run_id)
    assert after is not None and after.status == dg.DagsterRunStatus.CANCELED
    assert [read_state(store, n).status for n in NAMES] == [
        Status.CANCELLED,
        Status.CANCELLED,
        None,
    ]
    (again,) = cancel_runs(instance, [after], store)
    assert again.outcome == "already finished"


def test_cancel_names_runs_one_way(instance: dg.DagsterInstance) -> None:
    with pytest.raises(ConfigError, match="name the runs"):
        find_runs(instance)
    with pytest.raises(ConfigError, match="name the runs"):
        find_runs(instance, correlation_id=BATCH, run_ids=["x"])
    with pytest.raises(ConfigError, match="no run"):
        find_runs(instance, run_ids=["not-a-run"])
    assert find_runs(instance, correlation_id="nothing-tagged") == []
    with pytest.raises(ConfigError, match="correlation id"):
        run_tags("two\nlines")


def test_the_queue_dequeues_by_the_priority_tag(home: Path, instance: dg.DagsterInstance) -> None:
    """What `--priority` and `SourceResource.run_priority` tag is what Dagster's queue reads:
    its daemon takes the higher priority first, FIFO among equals."""
    assert isinstance(instance.run_coordinator, dg.QueuedRunCoordinator)
    order = {}
    for name, priority in (("low", None), ("urgent", 5), ("also-low", None), ("lower", -1)):
        order[_queued(instance, run_tags(name, priority=priority)).run_id] = name
    daemon = QueuedRunCoordinatorDaemon(interval_seconds=1)
    dequeued = daemon._get_runs_to_dequeue(instance, instance.get_concurrency_config(), None)
    assert [order[run.run_id] for run in dequeued] == ["urgent", "low", "also-low", "lower"]


@pytest.mark.slow
def test_cancel_and_status_from_the_command_line(
    tmp_path: Path, gate: threading.Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`docingest cancel --correlation-id` (a subprocess) stops a running batch;
    `docingest status DOC --json` shows it cancelled with its history; the next
    `docingest ingest` picks the cancelled documents up again."""
    deployment = Deployment(tmp_path / "deployment", DOCINGEST_PARSE_ENGINE="fast")
    folder = _folder(tmp_path)
    for key, value in deployment.env.items():
        monkeypatch.setenv(key, value)
    with deployment.instance() as instance:
        held = HeldParser(engine="fast", parse_ahead=0)  # a.pdf held in its parse stage
        thread, _ = _ingest_in_background(instance, folder, {"parser": held})
        cancelled = deployment.docingest("cancel", "--correlation-id", BATCH, "--json")
        _let_go(gate)
        thread.join(timeout=120)
    assert cancelled.returncode == 0, cancelled.stderr
    (entry,) = json.loads(cancelled.stdout)
    assert entry["outcome"] == "cancelling" and entry["status_before"] == "STARTED"

    status = deployment.docingest("status", "a.pdf", "--json")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert (report["status"], report["freshness"]) == ("cancelled", "cancelled")
    assert report["correlation_id"] == BATCH and report["run_id"] == entry["run_id"]
    assert [step["step"] for step in report["history"]] == ["source", "parse", "run"]
    assert deployment.docingest("status", "nope.pdf", "--json").returncode == 1

    again = deployment.docingest("ingest", str(folder), "--json", "--correlation-id", "retry-1")
    assert again.returncode == 0, again.stderr
    summary = json.loads(again.stdout)
    assert (summary["succeeded"], summary["cancelled"], summary["skipped"]) == (3, 0, 0)
    after = json.loads(deployment.docingest("status", "a.pdf", "--json").stdout)
    assert (after["status"], after["freshness"], after["correlation_id"]) == (
        "succeeded", "current", "retry-1",
    )  # fmt: skip
    steps = [(s["step"], s["status"]) for s in after["history"]]
    assert steps[-5:] == [
        ("source", "succeeded"), ("parse", "succeeded"), ("classify", "succeeded"),
        ("chunk", "succeeded"), ("index", "succeeded"),
    ]  # fmt: skip
