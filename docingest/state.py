"""The latest outcome of each document, for `docingest status` and "already current" checks.

Dagster's event log stays the record of runs; this is a per-document summary the pipeline keeps
beside its outputs so that status and skip decisions need one small read per document.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from docingest.errors import DocIngestError
from docingest.storage import DocumentStore

_KIND = "state"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def read_state(store: DocumentStore, document_id: str) -> dict[str, Any]:
    return store.read_json(_KIND, document_id) or {"document_id": document_id}


def record_stage(store: DocumentStore, document_id: str, stage: str, **fields: Any) -> None:
    """A stage succeeded: the document is pending until it is indexed, and unfinished until
    its run has recorded it (`note_run`)."""
    state = read_state(store, document_id)
    state.update(fields)
    # Killed between here and note_run, Dagster would lack the document's materializations:
    # without a run id it is not current, and the next run does it again.
    state.pop("run_id", None)
    state.update(
        stage=stage,
        status="succeeded" if stage == "index" else "pending",
        error=None,
        updated_at=_now(),
    )
    if stage == "index":
        state["attempts"] = 0
    store.write_json(_KIND, document_id, state)


def record_failure(
    store: DocumentStore, document_id: str, stage: str, error: DocIngestError, **fields: Any
) -> None:
    state = read_state(store, document_id)
    state.update(fields)
    state.update(
        stage=stage,
        status="failed",
        error=error.to_dict(),
        attempts=int(state.get("attempts") or 0) + 1,
        updated_at=_now(),
    )
    store.write_json(_KIND, document_id, state)


def is_current(state: dict[str, Any], **expected: Any) -> bool:
    """True when a finished run indexed the document with exactly these hashes and model."""
    return (
        state.get("status") == "succeeded"
        and bool(state.get("run_id"))
        and all(state.get(key) == value for key, value in expected.items())
    )


def summarize(store: DocumentStore, document_ids: Iterable[str]) -> dict[str, Any]:
    """Counts by status and error code over the given documents (the registered partitions)."""
    ids = list(document_ids)
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    attempts: Counter[str] = Counter()  # failed attempts, by the code of each latest failure
    pages = chunks = points = 0
    for document_id in ids:
        state = read_state(store, document_id)
        status = state.get("status") or "pending"
        statuses[status] += 1
        if status == "failed" and state.get("error"):
            errors[state["error"]["code"]] += 1
            attempts[state["error"]["code"]] += int(state.get("attempts") or 1)
        if status == "succeeded":
            pages += int(state.get("pages") or 0)
            chunks += int(state.get("chunks") or 0)
            points += int(state.get("points") or 0)
    return {
        "documents": {
            "total": len(ids),
            "succeeded": statuses["succeeded"],
            "failed": statuses["failed"],
            "pending": statuses["pending"],
        },
        "errors": dict(sorted(errors.items())),
        "attempts": dict(sorted(attempts.items())),
        "pages": pages,
        "chunks": chunks,
        "points": points,
    }


def note_run(store: DocumentStore, document_id: str, run_id: str) -> None:
    """Remember which run last finished this document (a retried step skips it)."""
    state = read_state(store, document_id)
    state["run_id"] = run_id
    store.write_json(_KIND, document_id, state)
