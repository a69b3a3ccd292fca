"""plan_reconciliation: what the upload folder needs done, scenario by scenario."""

from __future__ import annotations

from typing import Any

import pytest

from docingest.errors import ErrorCode
from docingest.reconcile import Plan, plan_reconciliation
from docingest.state import DocumentState, Expected

DOC = "docs/a.pdf"


def _typed(states: dict[str, Any]) -> dict[str, DocumentState]:
    return {d: DocumentState.from_dict({"document_id": d, **state}) for d, state in states.items()}


def _failed(code: ErrorCode, attempts: int, sha256: str = "s1") -> dict[str, Any]:
    return {
        "sha256": sha256,
        "status": "failed",
        "stage": "parse",
        "attempts": attempts,
        "error": {"code": code.value, "message": "x", "retryable": code.retryable},
    }


SUCCEEDED = {
    "sha256": "s1", "status": "succeeded", "stage": "index", "attempts": 0, "run_id": "r1",
}  # fmt: skip

# name, files, partitions, states, owned, expected plan (max_attempts = 3)
SCENARIOS: list[tuple[str, dict[str, str], set[str], dict[str, Any], set[str], Plan]] = [
    ("nothing", {}, set(), {}, set(), Plan()),
    ("new-file", {DOC: "s1"}, set(), {}, set(), Plan(add=[DOC], run=[DOC])),
    (
        "new-file-with-stale-state",
        {DOC: "s1"},
        set(),
        {DOC: SUCCEEDED},
        set(),
        Plan(add=[DOC], run=[DOC]),
    ),
    ("registered-never-ran", {DOC: "s1"}, {DOC}, {}, {DOC}, Plan(run=[DOC])),
    ("unchanged", {DOC: "s1"}, {DOC}, {DOC: SUCCEEDED}, {DOC}, Plan()),
    ("changed-sha", {DOC: "s2"}, {DOC}, {DOC: SUCCEEDED}, {DOC}, Plan(run=[DOC])),
    (
        "indexed-but-its-run-died-before-recording-it",
        {DOC: "s1"},
        {DOC},
        {DOC: {**SUCCEEDED, "run_id": None}},
        {DOC},
        Plan(retry=[DOC]),
    ),
    (
        "retryable-under-max",
        {DOC: "s1"},
        {DOC},
        {DOC: _failed(ErrorCode.PARSE_TIMEOUT, 2)},
        {DOC},
        Plan(retry=[DOC]),
    ),
    (
        "retryable-at-max",
        {DOC: "s1"},
        {DOC},
        {DOC: _failed(ErrorCode.PARSE_TIMEOUT, 3)},
        {DOC},
        Plan(),
    ),
    (
        "retryable-over-max",
        {DOC: "s1"},
        {DOC},
        {DOC: _failed(ErrorCode.VECTOR_STORE_UNAVAILABLE, 9)},
        {DOC},
        Plan(),
    ),
    (
        "non-retryable-not-retried",
        {DOC: "s1"},
        {DOC},
        {DOC: _failed(ErrorCode.CORRUPT_FILE, 1)},
        {DOC},
        Plan(),
    ),
    (
        "failed-but-changed-runs-again",
        {DOC: "s2"},
        {DOC},
        {DOC: _failed(ErrorCode.CORRUPT_FILE, 3)},
        {DOC},
        Plan(run=[DOC]),
    ),
    (
        "failed-without-error-not-retried",
        {DOC: "s1"},
        {DOC},
        {DOC: {"sha256": "s1", "status": "failed", "attempts": 1}},
        {DOC},
        Plan(),
    ),
    (
        "pending-mid-pipeline-retried",
        {DOC: "s1"},
        {DOC},
        {DOC: {"sha256": "s1", "status": "pending", "stage": "chunk"}},
        {DOC},
        Plan(retry=[DOC]),
    ),
    (
        "cancelled-runs-again",
        {DOC: "s1"},
        {DOC},
        {DOC: {**SUCCEEDED, "status": "cancelled"}},
        {DOC},
        Plan(run=[DOC]),
    ),
    (
        "owned-file-gone-deleted",
        {},
        {DOC},
        {DOC: SUCCEEDED},
        {DOC},
        Plan(delete=[DOC]),
    ),
    (
        "not-owned-file-gone-left-alone",
        {},
        {DOC},
        {DOC: SUCCEEDED},
        set(),
        Plan(),
    ),
]


@pytest.mark.parametrize(
    ("files", "partitions", "states", "owned", "expected"),
    [s[1:] for s in SCENARIOS],
    ids=[s[0] for s in SCENARIOS],
)
def test_scenarios(
    files: dict[str, str],
    partitions: set[str],
    states: dict[str, Any],
    owned: set[str],
    expected: Plan,
) -> None:
    plan = plan_reconciliation(files, partitions, _typed(states), owned, max_attempts=3)
    assert plan == expected
    assert plan.is_empty() is (expected == Plan())


def test_changed_options_rerun_and_permanent_failures_wait_for_them() -> None:
    """The schedule compares the configured options too: a new chunking or model re-runs a
    current document, and a document that failed for good runs again only then."""
    current = {**SUCCEEDED, "parse_options_hash": "o1", "chunking_hash": "c1"}
    corrupt = {**_failed(ErrorCode.CORRUPT_FILE, 1), "parse_options_hash": "o1"}
    states = _typed({"ok.pdf": current, "bad.pdf": corrupt})
    files = {"ok.pdf": "s1", "bad.pdf": "s1"}
    same = Expected(parse_options_hash="o1", chunking_hash="c1")
    assert plan_reconciliation(files, set(files), states, set(), expected=same).is_empty()
    rechunk = Expected(parse_options_hash="o1", chunking_hash="c2")
    assert plan_reconciliation(files, set(files), states, set(), expected=rechunk) == Plan(
        run=["ok.pdf"]
    )
    reparse = Expected(parse_options_hash="o2", chunking_hash="c1")
    assert plan_reconciliation(files, set(files), states, set(), expected=reparse) == Plan(
        run=["bad.pdf", "ok.pdf"]
    )


def test_default_max_attempts_is_five() -> None:
    states = _typed(
        {
            "four": _failed(ErrorCode.INTERNAL_ERROR, 4),
            "five": _failed(ErrorCode.INTERNAL_ERROR, 5),
        }
    )
    plan = plan_reconciliation({"four": "s1", "five": "s1"}, {"four", "five"}, states, set())
    assert plan.retry == ["four"]


def test_mixed_folder_is_sorted_and_each_document_lands_once() -> None:
    files = {"z-new.pdf": "n", "m-changed.pdf": "new", "b-ok.pdf": "s1", "a-retry.pdf": "s1"}
    states = {
        "m-changed.pdf": {**SUCCEEDED, "sha256": "old"},
        "b-ok.pdf": SUCCEEDED,
        "a-retry.pdf": _failed(ErrorCode.EMBEDDING_ERROR, 1),
        "y-gone.pdf": SUCCEEDED,
        "c-gone.pdf": SUCCEEDED,
        "elsewhere.pdf": SUCCEEDED,
    }
    partitions = set(states)
    owned = {"m-changed.pdf", "b-ok.pdf", "a-retry.pdf", "y-gone.pdf", "c-gone.pdf"}
    plan = plan_reconciliation(files, partitions, _typed(states), owned)
    assert plan == Plan(
        add=["z-new.pdf"],
        run=["m-changed.pdf", "z-new.pdf"],
        retry=["a-retry.pdf"],
        delete=["c-gone.pdf", "y-gone.pdf"],
    )
    assert not set(plan.run) & set(plan.retry)
