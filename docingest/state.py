"""The latest outcome of each document, for `docingest status` and "already current" checks.

Dagster's event log stays the record of runs; this is a per-document summary the pipeline keeps
beside its outputs so that status and skip decisions need one small read per document.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
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
    state.pop("trace", None)
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
    if stage in ("source", "parse"):  # flags of an earlier parse no longer describe the file
        for flag in ("repaired", "empty_pages", "ocr_unavailable_pages", "parse_warnings"):
            state.pop(flag, None)
    state.update(fields)
    state.update(
        stage=stage,
        status="failed",
        error=error.to_dict(),
        attempts=int(state.get("attempts") or 0) + 1,
        updated_at=_now(),
    )
    store.write_json(_KIND, document_id, state)


class Freshness(StrEnum):
    """Why a document needs a run, or that it does not: the one answer the CLI, the sensor's
    and the schedule's planning all read (`freshness`)."""

    CURRENT = "current"
    NEW = "new"
    CONTENT_CHANGED = "content changed"
    PARSE_OPTIONS_CHANGED = "parse options changed"
    CHUNKING_CHANGED = "chunking changed"
    MODEL_CHANGED = "embedding model changed"
    HALF_WAY = "half-way"  # a run stopped between stages, or before it recorded the document
    FAILED_RETRYABLE = "failed, retryable"
    FAILED_PERMANENTLY = "failed, not retryable"

    def needs_run(self, *, retry_failed: bool = False) -> bool:
        """Whether to run the document; a permanent failure only when asked (--retry-failed)."""
        if self is Freshness.FAILED_PERMANENTLY:
            return retry_failed
        return self is not Freshness.CURRENT


@dataclass(frozen=True)
class Expected:
    """What a run would use now: the file's content hash and the configured options. A field
    left None is not compared (e.g. the sensor, which only knows the content)."""

    sha256: str | None = None
    parse_options_hash: str | None = None
    chunking_hash: str | None = None
    embedding_model: str | None = None

    def changed(self, state: Mapping[str, Any]) -> Freshness | None:
        """The first option (in pipeline order) that differs from what the state recorded."""
        for key, reason in (
            ("parse_options_hash", Freshness.PARSE_OPTIONS_CHANGED),
            ("chunking_hash", Freshness.CHUNKING_CHANGED),
            ("embedding_model", Freshness.MODEL_CHANGED),
        ):
            wanted = getattr(self, key)
            if wanted is not None and state.get(key) is not None and state.get(key) != wanted:
                return reason
        return None


def freshness(state: Mapping[str, Any], expected: Expected) -> Freshness:
    """Is this document current and, if not, why.

    A permanent failure stays put until the content or an option that could change its outcome
    changes: the options a failed run used are recorded with the failure (`record_failure`).
    """
    status = state.get("status")
    if not status or not state.get("sha256"):
        return Freshness.NEW
    if expected.sha256 is not None and state.get("sha256") != expected.sha256:
        return Freshness.CONTENT_CHANGED
    if status == "failed":
        error = state.get("error") or {}
        if error.get("retryable", False):
            return Freshness.FAILED_RETRYABLE
        return expected.changed(state) or Freshness.FAILED_PERMANENTLY
    if status != "succeeded" or not state.get("run_id"):
        return Freshness.HALF_WAY
    return expected.changed(state) or Freshness.CURRENT


def is_current(state: Mapping[str, Any], expected: Expected) -> bool:
    return freshness(state, expected) is Freshness.CURRENT


# What the parse flags on a document that succeeded (see docingest/parsing/integrity.py): a
# file MuPDF had to repair, pages with no readable text, pages whose OCR could not run.
FLAGS = ("repaired", "empty_pages", "ocr_unavailable_pages")


def document_flags(state: Mapping[str, Any]) -> list[str]:
    return [flag for flag in FLAGS if state.get(flag)]


def summarize(store: DocumentStore, document_ids: Iterable[str]) -> dict[str, Any]:
    """Counts by status and error code over the given documents (the registered partitions)."""
    ids = list(document_ids)
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    attempts: Counter[str] = Counter()  # failed attempts, by the code of each latest failure
    flagged: Counter[str] = Counter()  # succeeded documents the parse flagged, by flag
    pages = chunks = points = 0
    for document_id in ids:
        state = read_state(store, document_id)
        status = state.get("status") or "pending"
        statuses[status] += 1
        if status == "failed" and state.get("error"):
            errors[state["error"]["code"]] += 1
            attempts[state["error"]["code"]] += int(state.get("attempts") or 1)
        if status == "succeeded":
            for flag in FLAGS:
                if state.get(flag):
                    flagged[flag] += 1
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
        "flagged": {flag: flagged[flag] for flag in FLAGS},
        "pages": pages,
        "chunks": chunks,
        "points": points,
    }


def note_run(store: DocumentStore, document_id: str, run_id: str) -> None:
    """Remember which run last finished this document (a retried step skips it)."""
    state = read_state(store, document_id)
    state["run_id"] = run_id
    store.write_json(_KIND, document_id, state)
