"""Per-document state: stage transitions, attempts, "already current" and the status summary."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from docingest.errors import DocIngestError, ErrorCode
from docingest.state import (
    Expected,
    Freshness,
    freshness,
    is_current,
    note_run,
    read_state,
    record_failure,
    record_stage,
    summarize,
)
from docingest.storage import DocumentStore

DOC = "folder/report.pdf"

# An event is ("ok", stage) or ("fail", ErrorCode).
Event = tuple[str, Any]


def _apply(store: DocumentStore, events: list[Event], document_id: str = DOC) -> dict[str, Any]:
    for kind, what in events:
        if kind == "ok":
            record_stage(store, document_id, what)
        else:
            record_failure(store, document_id, "parse", DocIngestError(what, "boom"))
    return read_state(store, document_id)


TRANSITIONS: list[tuple[str, list[Event], str, str, int, str | None]] = [
    # name, events, status, stage, attempts, error code
    ("parsed", [("ok", "parse")], "pending", "parse", 0, None),
    ("chunked", [("ok", "parse"), ("ok", "chunk")], "pending", "chunk", 0, None),
    ("indexed", [("ok", "parse"), ("ok", "chunk"), ("ok", "index")], "succeeded", "index", 0, None),
    ("one-failure", [("fail", ErrorCode.PARSE_TIMEOUT)], "failed", "parse", 1, "PARSE_TIMEOUT"),
    (
        "two-failures",
        [("fail", ErrorCode.PARSE_TIMEOUT), ("fail", ErrorCode.CORRUPT_FILE)],
        "failed",
        "parse",
        2,
        "CORRUPT_FILE",
    ),
    (
        "failure-then-stage-keeps-attempts",
        [("fail", ErrorCode.PARSE_TIMEOUT), ("ok", "parse")],
        "pending",
        "parse",
        1,
        None,
    ),
    (
        "failure-then-index-resets-attempts",
        [("fail", ErrorCode.PARSE_TIMEOUT), ("fail", ErrorCode.PARSE_TIMEOUT), ("ok", "index")],
        "succeeded",
        "index",
        0,
        None,
    ),
    (
        "indexed-then-failed",
        [("ok", "index"), ("fail", ErrorCode.EMBEDDING_ERROR)],
        "failed",
        "parse",
        1,
        "EMBEDDING_ERROR",
    ),
]


@pytest.mark.parametrize(
    ("events", "status", "stage", "attempts", "code"),
    [t[1:] for t in TRANSITIONS],
    ids=[t[0] for t in TRANSITIONS],
)
def test_transitions(
    tmp_path: Path,
    events: list[Event],
    status: str,
    stage: str,
    attempts: int,
    code: str | None,
) -> None:
    state = _apply(DocumentStore(tmp_path), events)
    assert state["document_id"] == DOC
    assert state["status"] == status
    assert state["stage"] == stage
    assert int(state.get("attempts") or 0) == attempts
    assert (state["error"] or {}).get("code") == code
    datetime.fromisoformat(state["updated_at"])


def test_failure_records_the_classified_error(tmp_path: Path) -> None:
    store = DocumentStore(tmp_path)
    record_failure(
        store, DOC, "embed", DocIngestError(ErrorCode.EMBEDDING_ERROR, "model down"), sha256="s1"
    )
    state = read_state(store, DOC)
    assert state["error"] == {"code": "EMBEDDING_ERROR", "message": "model down", "retryable": True}
    assert state["stage"] == "embed"
    assert state["sha256"] == "s1"


def test_fields_are_kept_across_stages(tmp_path: Path) -> None:
    store = DocumentStore(tmp_path)
    record_stage(store, DOC, "parse", sha256="s1", options_hash="o1", pages=3)
    record_stage(store, DOC, "chunk", params_hash="p1", chunks=7)
    record_stage(store, DOC, "index", points=7, embedding_model="m")
    state = read_state(store, DOC)
    assert {k: state[k] for k in ("sha256", "options_hash", "params_hash", "embedding_model")} == {
        "sha256": "s1",
        "options_hash": "o1",
        "params_hash": "p1",
        "embedding_model": "m",
    }
    assert (state["pages"], state["chunks"], state["points"]) == (3, 7, 7)


def test_fields_cannot_override_the_outcome(tmp_path: Path) -> None:
    store = DocumentStore(tmp_path)
    record_stage(store, DOC, "parse", status="succeeded", error={"code": "X"})
    state = read_state(store, DOC)
    assert (state["status"], state["error"]) == ("pending", None)


def test_a_document_is_current_only_once_its_run_recorded_it(tmp_path: Path) -> None:
    """Killed after indexing but before the run logged the materializations, a document must
    be done again: record_stage forgets the run, note_run (after the events) sets it."""
    store = DocumentStore(tmp_path)
    record_stage(store, DOC, "index", sha256="s1")
    note_run(store, DOC, "run-1")
    assert is_current(read_state(store, DOC), Expected(sha256="s1"))
    record_stage(store, DOC, "index", sha256="s1")  # a re-run, killed before note_run
    assert not is_current(read_state(store, DOC), Expected(sha256="s1"))
    note_run(store, DOC, "run-2")
    assert is_current(read_state(store, DOC), Expected(sha256="s1"))


def test_unknown_document_reads_as_bare_state(tmp_path: Path) -> None:
    assert read_state(DocumentStore(tmp_path), "nope.pdf") == {"document_id": "nope.pdf"}


CURRENT = {
    "status": "succeeded", "sha256": "s1", "parse_options_hash": "o1", "chunking_hash": "c1",
    "embedding_model": "m", "run_id": "r1",
}  # fmt: skip
NOW = Expected(sha256="s1", parse_options_hash="o1", chunking_hash="c1", embedding_model="m")


def _failed(code: ErrorCode, **recorded: Any) -> dict[str, Any]:
    error = {"code": code.value, "message": "x", "retryable": code.retryable}
    return {**CURRENT, **recorded, "status": "failed", "error": error}


# Every reason, as the CLI, the sensor's planning and the schedule all read it.
FRESHNESS = [
    ("current", CURRENT, NOW, Freshness.CURRENT),
    ("only-content-known", CURRENT, Expected(sha256="s1"), Freshness.CURRENT),
    ("nothing-known", CURRENT, Expected(), Freshness.CURRENT),
    ("never-seen", {}, NOW, Freshness.NEW),
    ("registered-only", {"document_id": "x"}, NOW, Freshness.NEW),
    ("content", CURRENT, Expected(sha256="s2"), Freshness.CONTENT_CHANGED),
    ("parse-options", CURRENT, Expected(parse_options_hash="o2"), Freshness.PARSE_OPTIONS_CHANGED),
    ("chunking", CURRENT, Expected(chunking_hash="c2"), Freshness.CHUNKING_CHANGED),
    ("model", CURRENT, Expected(embedding_model="other"), Freshness.MODEL_CHANGED),
    ("parse-before-chunking", CURRENT, Expected(parse_options_hash="o2", chunking_hash="c2"),
     Freshness.PARSE_OPTIONS_CHANGED),
    ("pending", {**CURRENT, "status": "pending"}, NOW, Freshness.HALF_WAY),
    ("run-never-recorded", {**CURRENT, "run_id": None}, NOW, Freshness.HALF_WAY),
    ("failed-retryable", _failed(ErrorCode.PARSE_TIMEOUT), NOW, Freshness.FAILED_RETRYABLE),
    ("failed-for-good", _failed(ErrorCode.CORRUPT_FILE), NOW, Freshness.FAILED_PERMANENTLY),
    ("failed-for-good-new-content", _failed(ErrorCode.CORRUPT_FILE), Expected(sha256="s2"),
     Freshness.CONTENT_CHANGED),
    ("failed-for-good-new-parse-options", _failed(ErrorCode.CORRUPT_FILE),
     Expected(parse_options_hash="o2"), Freshness.PARSE_OPTIONS_CHANGED),
]  # fmt: skip


@pytest.mark.parametrize(
    ("state", "expected", "reason"),
    [case[1:] for case in FRESHNESS],
    ids=[case[0] for case in FRESHNESS],
)
def test_freshness(state: dict[str, Any], expected: Expected, reason: Freshness) -> None:
    assert freshness(state, expected) is reason
    assert is_current(state, expected) is (reason is Freshness.CURRENT)


def test_only_a_permanent_failure_waits_for_retry_failed() -> None:
    for reason in Freshness:
        assert reason.needs_run(retry_failed=True) is (reason is not Freshness.CURRENT)
    assert not Freshness.FAILED_PERMANENTLY.needs_run()
    assert Freshness.FAILED_RETRYABLE.needs_run()


def test_summarize_counts_by_status_and_error(tmp_path: Path) -> None:
    store = DocumentStore(tmp_path)
    for name, pages, chunks in (("a", 2, 5), ("b", 3, 4)):
        flags = {"repaired": True, "empty_pages": [2]} if name == "a" else {}
        record_stage(store, name, "parse", pages=pages, **flags)
        record_stage(store, name, "index", chunks=chunks, points=chunks)
    record_stage(store, "c", "chunk", pages=10, chunks=10)  # pending: not counted in totals
    for name, code in (("d", ErrorCode.CORRUPT_FILE), ("e", ErrorCode.CORRUPT_FILE)):
        record_failure(store, name, "parse", DocIngestError(code, "bad"), pages=9)
    record_failure(store, "f", "index", DocIngestError(ErrorCode.VECTOR_STORE_UNAVAILABLE, "x"))
    record_stage(store, "not-listed", "index", pages=100)
    summary = summarize(store, ["a", "b", "c", "d", "e", "f", "never-seen"])
    assert summary == {
        "documents": {"total": 7, "succeeded": 2, "failed": 3, "pending": 2},
        "errors": {"CORRUPT_FILE": 2, "VECTOR_STORE_UNAVAILABLE": 1},
        "attempts": {"CORRUPT_FILE": 2, "VECTOR_STORE_UNAVAILABLE": 1},
        "flagged": {"repaired": 1, "empty_pages": 1, "ocr_unavailable_pages": 0},
        "pages": 5,
        "chunks": 9,
        "points": 9,
    }


def test_summarize_nothing(tmp_path: Path) -> None:
    assert summarize(DocumentStore(tmp_path), []) == {
        "documents": {"total": 0, "succeeded": 0, "failed": 0, "pending": 0},
        "errors": {},
        "attempts": {},
        "flagged": {"repaired": 0, "empty_pages": 0, "ocr_unavailable_pages": 0},
        "pages": 0,
        "chunks": 0,
        "points": 0,
    }
