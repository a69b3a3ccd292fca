"""Per-document state: stage transitions, attempts, "already current" and the status summary."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from docingest.errors import DocIngestError, ErrorCode
from docingest.state import (
    DocumentState,
    Expected,
    Freshness,
    StateError,
    Status,
    Step,
    freshness,
    is_current,
    note_run,
    read_state,
    record_cancelled,
    record_failure,
    record_stage,
    record_steps,
    summarize,
)
from docingest.storage import DocumentStore

DOC = "folder/report.pdf"
# State files written by the code before the record was typed (commit 97d9ee9): its
# record_stage source/parse/chunk/index + note_run for the report, and two record_failure calls
# (INTERNAL_ERROR with a trace, then CORRUPT_FILE) for broken.pdf.
OLD_STATE_FILES = Path(__file__).parent / "data" / "state"

# An event is ("ok", stage) or ("fail", ErrorCode).
Event = tuple[str, Any]


def _apply(store: DocumentStore, events: list[Event], document_id: str = DOC) -> DocumentState:
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
    assert state.document_id == DOC
    assert state.status == status
    assert state.stage == stage
    assert state.attempts == attempts
    assert (state.error.code if state.error else None) == code
    assert state.updated_at is not None
    datetime.fromisoformat(state.updated_at)


def test_failure_records_the_classified_error(tmp_path: Path) -> None:
    store = DocumentStore(tmp_path)
    record_failure(
        store, DOC, "embed", DocIngestError(ErrorCode.EMBEDDING_ERROR, "model down"), sha256="s1"
    )
    state = read_state(store, DOC)
    assert state.error == StateError("EMBEDDING_ERROR", "model down", True)
    assert state.stage == "embed"
    assert state.sha256 == "s1"


def test_fields_are_kept_across_stages(tmp_path: Path) -> None:
    store = DocumentStore(tmp_path)
    record_stage(store, DOC, "parse", sha256="s1", parse_options_hash="o1", pages=3)
    record_stage(store, DOC, "chunk", chunking_hash="c1", chunks=7)
    record_stage(store, DOC, "index", points=7, embedding_model="m")
    state = read_state(store, DOC)
    assert (state.sha256, state.parse_options_hash, state.chunking_hash) == ("s1", "o1", "c1")
    assert state.embedding_model == "m"
    assert (state.pages, state.chunks, state.points) == (3, 7, 7)


@pytest.mark.parametrize(
    "made",
    [
        {"status": "succeeded"},  # the outcome is the state functions' to set
        {"error": {"code": "X"}},
        {"run_id": "r"},
        {"history": []},
    ],
)
def test_a_stage_cannot_set_its_outcome(tmp_path: Path, made: dict[str, Any]) -> None:
    with pytest.raises(TypeError, match="cannot set"):
        record_stage(DocumentStore(tmp_path), DOC, "parse", **made)


def test_a_field_the_record_lacks_is_refused(tmp_path: Path) -> None:
    """The untyped dict took any key (a test once wrote `params_hash`, which nothing read)."""
    with pytest.raises(TypeError, match="params_hash"):
        record_stage(DocumentStore(tmp_path), DOC, "chunk", params_hash="p1")


def test_state_files_of_the_previous_version_load(tmp_path: Path) -> None:
    """Files written by the untyped code load into the record, with the same meaning, and a
    stage recorded now keeps what they held."""
    shutil.copytree(OLD_STATE_FILES, tmp_path / "state")
    store = DocumentStore(tmp_path)
    done = read_state(store, "reports/q3 summary.pdf")
    assert done.status is Status.SUCCEEDED and done.stage == "index"
    assert (done.pages, done.chunks, done.points, done.attempts) == (12, 40, 40, 0)
    assert done.repaired and done.empty_pages == (3,) and done.flags == ["repaired", "empty_pages"]
    assert done.parse_warnings == ("page 3: no readable text",)
    assert done.run_id == "0f4c3a2e-1111-2222-3333-444455556666"
    assert done.history == () and done.correlation_id is None
    current = Expected(
        sha256="a" * 64,
        parse_options_hash="opt1",
        chunking_hash="chk1",
        embedding_model="sentence-transformers/all-MiniLM-L6-v2",
    )
    assert freshness(done, current) is Freshness.CURRENT
    broken = read_state(store, "broken.pdf")
    assert broken.error == StateError("CORRUPT_FILE", "no pages", False)
    assert (broken.status, broken.attempts, broken.run_id) == (Status.FAILED, 2, "run-3")
    assert freshness(broken, Expected(sha256="b" * 64)) is Freshness.FAILED_PERMANENTLY
    # Every key of the old files is a field of the record, and is written back unchanged.
    for path in OLD_STATE_FILES.glob("*.json"):
        old = json.loads(path.read_text())
        rewritten = json.loads(json.dumps(DocumentState.from_dict(old).to_dict()))
        assert {key: rewritten[key] for key in old} == old
    record_stage(store, "reports/q3 summary.pdf", "chunk", chunks=41, chunking_hash="chk2")
    again = read_state(store, "reports/q3 summary.pdf")
    assert (again.status, again.chunks, again.pages, again.sha256) == (
        Status.PENDING, 41, 12, "a" * 64,
    )  # fmt: skip


def test_the_record_round_trips_through_json(tmp_path: Path) -> None:
    store = DocumentStore(tmp_path)
    record_stage(store, DOC, "parse", sha256="s1", pages=2, empty_pages=[2])
    step = Step("parse", "succeeded", "2026-01-01T00:00:00.000+00:00",
                "2026-01-01T00:00:01.500+00:00", 1.5, "r1")  # fmt: skip
    record_steps(store, DOC, [step], correlation_id="batch-7")
    record_failure(store, DOC, "chunk", DocIngestError(ErrorCode.EMBEDDING_ERROR, "x"), run_id="r1")
    state = read_state(store, DOC)
    assert DocumentState.from_dict(json.loads(json.dumps(state.to_dict()))) == state
    assert state.history == (step,) and state.correlation_id == "batch-7"


def test_history_keeps_the_latest_steps(tmp_path: Path) -> None:
    store = DocumentStore(tmp_path)
    for n in range(45):
        step = Step("parse", "succeeded", f"t{n}", f"t{n}", 0.1, f"r{n}")
        record_steps(store, DOC, [step], correlation_id=None)
    history = read_state(store, DOC).history
    assert len(history) == 40 and history[0].run_id == "r5" and history[-1].run_id == "r44"


def test_a_cancelled_document_is_not_failed_and_runs_again(tmp_path: Path) -> None:
    store = DocumentStore(tmp_path)
    record_stage(store, DOC, "parse", sha256="s1")
    state = record_cancelled(store, DOC, "run-1")
    assert state == read_state(store, DOC)
    assert (state.status, state.error, state.attempts, state.run_id) == (
        Status.CANCELLED, None, 0, "run-1",
    )  # fmt: skip
    assert state.history[-1].status == "cancelled" and state.history[-1].run_id == "run-1"
    assert freshness(state, Expected(sha256="s1")) is Freshness.CANCELLED
    assert Freshness.CANCELLED.needs_run()


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
    assert read_state(DocumentStore(tmp_path), "nope.pdf") == DocumentState("nope.pdf")


CURRENT = {
    "status": "succeeded", "sha256": "s1", "parse_options_hash": "o1", "chunking_hash": "c1",
    "embedding_model": "m", "run_id": "r1",
}  # fmt: skip
NOW = Expected(sha256="s1", parse_options_hash="o1", chunking_hash="c1", embedding_model="m")


def _failed(code: ErrorCode, **recorded: Any) -> dict[str, Any]:
    error = {"code": code.value, "message": "x", "retryable": code.retryable}
    return {**CURRENT, **recorded, "status": "failed", "error": error}


CANCELLED = {**CURRENT, "status": "cancelled"}


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
    ("cancelled", CANCELLED, NOW, Freshness.CANCELLED),
    ("cancelled-new-content", CANCELLED, Expected(sha256="s2"), Freshness.CONTENT_CHANGED),
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
    record = DocumentState.from_dict({"document_id": DOC, **state})
    assert freshness(record, expected) is reason
    assert is_current(record, expected) is (reason is Freshness.CURRENT)


def test_the_table_covers_every_reason() -> None:
    assert {case[3] for case in FRESHNESS} == set(Freshness)


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
    record_stage(store, "g", "parse", pages=4)
    record_cancelled(store, "g", "run-1")
    summary = summarize(store, ["a", "b", "c", "d", "e", "f", "g", "never-seen"])
    assert summary == {
        "documents": {"total": 8, "succeeded": 2, "failed": 3, "pending": 2, "cancelled": 1},
        "errors": {"CORRUPT_FILE": 2, "VECTOR_STORE_UNAVAILABLE": 1},
        "attempts": {"CORRUPT_FILE": 2, "VECTOR_STORE_UNAVAILABLE": 1},
        "flagged": {"repaired": 1, "empty_pages": 1, "ocr_unavailable_pages": 0},
        "pages": 5,
        "chunks": 9,
        "points": 9,
    }


def test_summarize_nothing(tmp_path: Path) -> None:
    assert summarize(DocumentStore(tmp_path), []) == {
        "documents": {"total": 0, "succeeded": 0, "failed": 0, "pending": 0, "cancelled": 0},
        "errors": {},
        "attempts": {},
        "flagged": {"repaired": 0, "empty_pages": 0, "ocr_unavailable_pages": 0},
        "pages": 0,
        "chunks": 0,
        "points": 0,
    }
