"""Which webhook events a document's outcome raises, and what they carry, on a real receiver."""

import json
from collections.abc import Iterator

import pytest

from docingest.errors import DocIngestError, ErrorCode
from docingest.webhook_payload import EVENTS
from docingest.webhooks import Endpoint, WebhookDispatcher
from resources.notify import (
    document_events,
    notify_batch,
    notify_document,
    notify_progress,
    stage_counts,
)
from tests.webhook_server import Receiver, closed_port_url, receiver

ALL = ("source", "parse", "chunk", "index")
CLASSIFIED = ("source", "parse", "classify", "chunk", "index")


@pytest.fixture
def server() -> Iterator[Receiver]:
    with receiver() as state:
        yield state


@pytest.mark.parametrize(
    ("stage_failed", "stages", "events"),
    [
        (None, ALL, ["parse.success", "ingest.success"]),
        ("source", ALL, ["parse.error", "ingest.error"]),
        ("parse", ALL, ["parse.error", "ingest.error"]),
        ("chunk", ALL, ["parse.success", "ingest.error"]),
        ("index", ALL, ["parse.success", "ingest.error"]),
        # A re-chunk run parses nothing: no parse.* events; indexed = ingested.
        (None, ("chunk", "index"), ["ingest.success"]),
        ("chunk", ("chunk", "index"), ["ingest.error"]),
        # A parse-only run does not index: the document is parsed, not ingested.
        (None, ("source", "parse"), ["parse.success"]),
        ("parse", ("source", "parse"), ["parse.error", "ingest.error"]),
        # With the classify stage: classify.* between parse.* and ingest.*.
        (None, CLASSIFIED, ["parse.success", "classify.success", "ingest.success"]),
        ("parse", CLASSIFIED, ["parse.error", "ingest.error"]),
        ("classify", CLASSIFIED, ["parse.success", "classify.error", "ingest.error"]),
        ("index", CLASSIFIED, ["parse.success", "classify.success", "ingest.error"]),
        # A re-classification (classify_job) ingests nothing.
        (None, ("classify",), ["classify.success"]),
        ("classify", ("classify",), ["classify.error"]),
    ],
)
def test_document_events(
    stage_failed: str | None, stages: tuple[str, ...], events: list[str]
) -> None:
    assert document_events(stage_failed, stages) == events


@pytest.mark.parametrize(
    ("stage_failed", "events"),
    [
        (None, ["parse.partial_success", "ingest.success"]),
        ("chunk", ["parse.partial_success", "ingest.error"]),
        ("parse", ["parse.error", "ingest.error"]),
    ],
)
def test_a_parse_with_failed_pages_is_a_partial_success(
    stage_failed: str | None, events: list[str]
) -> None:
    assert document_events(stage_failed, ALL, failed_pages=2) == events


def test_unknown_stage_is_a_bug() -> None:
    with pytest.raises(ValueError, match="parsed_pages"):
        document_events("parsed_pages", ALL)


def test_failed_document_notifies_parse_and_ingest_errors(server: Receiver) -> None:
    dispatcher = WebhookDispatcher([Endpoint(server.url, secret="s")])
    error = DocIngestError(ErrorCode.PASSWORD_PROTECTED_FILE, "needs a password")
    results = notify_document(
        dispatcher,
        stage_failed="parse",
        document_id="a/b.pdf",
        error=error,
        run_id="run-9",
        counts={"pages": 0},
    )
    assert [r.ok for r in results] == [True, True]
    bodies = [json.loads(r.body) for r in server.requests]
    assert [b["event"] for b in bodies] == ["parse.error", "ingest.error"]
    for body in bodies:
        assert body["document_id"] == "a/b.pdf" and body["status"] == "failed"
        assert body["error_code"] == "PASSWORD_PROTECTED_FILE"
        assert body["error_message"] == "needs a password"
        assert body["run_id"] == "run-9" and body["counts"] == {"pages": 0}
        assert body["stage"] == "parse" and body["retryable"] is False


def test_succeeded_document_and_batch(server: Receiver) -> None:
    dispatcher = WebhookDispatcher([Endpoint(server.url)])
    notify_document(
        dispatcher,
        stage_failed=None,
        document_id="c.pdf",
        error=None,
        run_id="r",
        counts={"chunks": 3, "points": 3},
    )
    notify_batch(
        dispatcher,
        run_id="r",
        counts={"documents": 2, "succeeded": 1, "failed": 1},
        error_codes={"CORRUPT_FILE": 1},
    )
    bodies = [json.loads(r.body) for r in server.requests]
    assert [(b["event"], b["status"]) for b in bodies] == [
        ("parse.success", "succeeded"),
        ("classify.success", "succeeded"),
        ("ingest.success", "succeeded"),
        ("batch.completed", "partial"),
    ]
    assert bodies[2]["error_code"] is None and bodies[2]["counts"] == {"chunks": 3, "points": 3}
    assert bodies[3]["counts"] == {"documents": 2, "succeeded": 1, "failed": 1}
    assert bodies[3]["error_codes"] == {"CORRUPT_FILE": 1} and bodies[3]["document_id"] is None


def test_classify_success_carries_the_classification(server: Receiver) -> None:
    dispatcher = WebhookDispatcher([Endpoint(server.url)])
    classification = {"document_type": "invoice", "score": 0.61, "page_classes": {"blank": [2]}}
    notify_document(
        dispatcher, stage_failed=None, document_id="c.pdf", error=None, run_id="r",
        counts={}, stages=("classify",), classification=classification,
    )  # fmt: skip
    (body,) = [json.loads(r.body) for r in server.requests]
    assert body["event"] == "classify.success" and body["document_type"] == "invoice"
    assert body["score"] == 0.61 and body["page_classes"] == {"blank": [2]}


def test_an_unreachable_receiver_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    dispatcher = WebhookDispatcher(
        [Endpoint(closed_port_url(), secret="never-logged", max_attempts=1)]
    )
    [result] = notify_batch(
        dispatcher, run_id="r", counts={"documents": 1, "succeeded": 0, "failed": 1}, error_codes={}
    )
    assert not result.ok
    assert "batch.completed" in caplog.text and "not delivered" in caplog.text
    assert "never-logged" not in caplog.text


def test_stage_counts_keep_integer_counts_only() -> None:
    metadata = {"pages": 3, "chunks": 7, "points": 7, "engine": "fast", "reused_cached_parse": True}
    assert stage_counts(metadata) == {"pages": 3, "chunks": 7, "points": 7}


def test_partial_success_progress_and_cancelled_batch(server: Receiver) -> None:
    dispatcher = WebhookDispatcher([Endpoint(server.url, events=EVENTS)])
    ids = {"run_id": "r", "correlation_id": "batch-1"}
    notify_progress(dispatcher, "parse.pending", ["a.pdf", "b.pdf"], **ids)
    notify_progress(dispatcher, "parse.running", ["a.pdf"], **ids)
    notify_document(
        dispatcher, stage_failed=None, document_id="a.pdf", error=None,
        counts={"pages": 4, "failed_pages": 1}, **ids,
    )  # fmt: skip
    notify_progress(dispatcher, "parse.cancelled", ["b.pdf"], **ids)
    notify_batch(
        dispatcher,
        counts={"documents": 2, "succeeded": 1, "failed": 0, "cancelled": 1},
        error_codes={},
        **ids,
    )
    bodies = [json.loads(r.body) for r in server.requests]
    assert [(b["event"], b["document_id"], b["status"]) for b in bodies] == [
        ("parse.pending", "a.pdf", "pending"),
        ("parse.pending", "b.pdf", "pending"),
        ("parse.running", "a.pdf", "running"),
        ("parse.partial_success", "a.pdf", "partial"),
        ("classify.success", "a.pdf", "succeeded"),
        ("ingest.success", "a.pdf", "succeeded"),
        ("parse.cancelled", "b.pdf", "cancelled"),
        ("batch.completed", None, "cancelled"),
    ]
    assert {(b["run_id"], b["correlation_id"]) for b in bodies} == {("r", "batch-1")}
