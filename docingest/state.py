"""The latest outcome of each document, for `docingest status` and "already current" checks.

Dagster's event log stays the record of runs; this is a per-document summary the pipeline keeps
beside its outputs so that status and skip decisions need one small read per document. The
record is typed and frozen (`DocumentState`), and this module is the only one that reads or
writes `state/<doc>.json`; a file written before the record was typed loads unchanged.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from docingest.errors import DocIngestError
from docingest.storage import DocumentStore

_KIND = "state"
# The latest steps kept per document (a few runs' worth): status shows them, nothing replays them.
HISTORY_LIMIT = 40


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Status(StrEnum):
    PENDING = "pending"  # a stage succeeded, the document is not indexed yet
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"  # its run was cancelled before it finished: the next run does it


@dataclass(frozen=True)
class StateError:
    """The classified error of the latest failure (see docingest.errors)."""

    code: str
    message: str
    retryable: bool

    @classmethod
    def of(cls, error: DocIngestError) -> StateError:
        return cls(error.code.value, error.message, error.retryable)


@dataclass(frozen=True)
class Step:
    """One stage of one run for the document (Dex's `history` entry): when it started and
    ended, how long it took, and how it ended (succeeded, failed or cancelled)."""

    step: str
    status: str
    started_at: str
    ended_at: str
    duration_s: float
    run_id: str | None = None


@dataclass(frozen=True)
class DocumentState:
    """What the pipeline last did with a document, and with which content and options."""

    document_id: str
    status: Status | None = None  # None: registered, never run
    stage: str | None = None  # the latest stage that succeeded, or the one that failed
    sha256: str | None = None
    source: str | None = None
    pages: int = 0
    chunks: int = 0
    points: int = 0
    # The options the latest run used (recorded with a failure too: see `freshness`).
    parse_options_hash: str | None = None
    chunking_hash: str | None = None
    embedding_model: str | None = None
    # What the parse flagged (see docingest/parsing/integrity.py).
    repaired: bool = False
    empty_pages: tuple[int, ...] = ()
    ocr_unavailable_pages: tuple[int, ...] = ()
    parse_warnings: tuple[str, ...] = ()
    error: StateError | None = None
    attempts: int = 0  # failed attempts since the document was last indexed
    run_id: str | None = None  # the run that finished it (unset until that run recorded it)
    correlation_id: str | None = None  # the caller's id of the batch the latest run belonged to
    trace: str | None = None  # the traceback of an INTERNAL_ERROR
    history: tuple[Step, ...] = ()
    updated_at: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DocumentState:
        """From the stored JSON; keys this version does not know are dropped."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["status"] = Status(values["status"]) if values.get("status") else None
        values["error"] = StateError(**values["error"]) if values.get("error") else None
        values["history"] = tuple(Step(**step) for step in values.get("history") or ())
        for key in ("empty_pages", "ocr_unavailable_pages", "parse_warnings"):
            values[key] = tuple(values.get(key) or ())
        for key in ("pages", "chunks", "points", "attempts"):
            values[key] = int(values.get(key) or 0)
        values["repaired"] = bool(values.get("repaired"))
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value if self.status else None
        return data

    @property
    def flags(self) -> list[str]:
        """What the parse flagged on the document: a file MuPDF had to repair, pages with no
        readable text, pages whose OCR could not run."""
        return [flag for flag in FLAGS if getattr(self, flag)]


FLAGS = ("repaired", "empty_pages", "ocr_unavailable_pages")
# Set only by the functions below: a stage records what it made, never its own outcome.
_OUTCOME = frozenset(
    {
        "document_id", "status", "stage", "error", "attempts", "run_id", "correlation_id",
        "history", "updated_at",
    }
)  # fmt: skip


def read_state(store: DocumentStore, document_id: str) -> DocumentState:
    data = store.read_json(_KIND, document_id)
    return DocumentState.from_dict(data) if data else DocumentState(document_id)


def _write(store: DocumentStore, state: DocumentState) -> DocumentState:
    store.write_json(_KIND, state.document_id, state.to_dict())
    return state


def _what_a_stage_made(made: Mapping[str, Any]) -> dict[str, Any]:
    outcome = sorted(set(made) & _OUTCOME)
    if outcome:
        raise TypeError(f"a stage cannot set {outcome}: the state functions do")
    return {key: tuple(value) if isinstance(value, list) else value for key, value in made.items()}


def record_stage(store: DocumentStore, document_id: str, stage: str, **made: Any) -> None:
    """A stage succeeded: the document is pending until it is indexed, and unfinished until
    its run has recorded it (`note_run`). `made`: fields of DocumentState (hashes, counts)."""
    state = replace(read_state(store, document_id), **_what_a_stage_made(made))
    indexed = stage == "index"
    _write(
        store,
        replace(
            state,
            stage=stage,
            status=Status.SUCCEEDED if indexed else Status.PENDING,
            error=None,
            # Killed between here and note_run, Dagster would lack the document's
            # materializations: without a run id it is not current, and the next run does it.
            run_id=None,
            trace=None,
            attempts=0 if indexed else state.attempts,
            updated_at=utc_now(),
        ),
    )


def record_failure(
    store: DocumentStore,
    document_id: str,
    stage: str,
    error: DocIngestError,
    *,
    run_id: str | None = None,
    **made: Any,
) -> None:
    """A stage failed: the error, one more attempt, and the options the run used (`made`)."""
    state = read_state(store, document_id)
    if stage in ("source", "parse"):  # flags of an earlier parse no longer describe the file
        state = replace(
            state, repaired=False, empty_pages=(), ocr_unavailable_pages=(), parse_warnings=()
        )
    _write(
        store,
        replace(
            state,
            **_what_a_stage_made(made),
            stage=stage,
            status=Status.FAILED,
            error=StateError.of(error),
            attempts=state.attempts + 1,
            run_id=run_id,
            updated_at=utc_now(),
        ),
    )


def record_cancelled(store: DocumentStore, document_id: str, run_id: str) -> DocumentState:
    """The document's run was cancelled before it finished it: not a failure (no attempt is
    counted), and not current (`Freshness.CANCELLED`: the next ingest or reconcile runs it)."""
    state = read_state(store, document_id)
    now = utc_now()
    step = Step("run", Status.CANCELLED.value, now, now, 0.0, run_id)
    return _write(
        store,
        replace(
            state,
            status=Status.CANCELLED,
            error=None,
            run_id=run_id,
            history=(*state.history, step)[-HISTORY_LIMIT:],
            updated_at=now,
        ),
    )


def note_run(store: DocumentStore, document_id: str, run_id: str) -> None:
    """Remember which run last finished this document (a retried step skips it)."""
    _write(store, replace(read_state(store, document_id), run_id=run_id))


def record_steps(
    store: DocumentStore,
    document_id: str,
    steps: Sequence[Step],
    *,
    correlation_id: str | None,
) -> None:
    """Append the stages a run went through for the document (their timing and outcome) to
    its history, and note the correlation id of the batch it ran in. One write per document
    and run: the pipeline records the steps when the document is done with."""
    state = read_state(store, document_id)
    history = (*state.history, *steps)[-HISTORY_LIMIT:]
    _write(store, replace(state, history=history, correlation_id=correlation_id))


class Freshness(StrEnum):
    """Why a document needs a run, or that it does not: the one answer the CLI, the sensor's
    and the schedule's planning and the pipeline's retry skip all read (`freshness`)."""

    CURRENT = "current"
    NEW = "new"
    CONTENT_CHANGED = "content changed"
    PARSE_OPTIONS_CHANGED = "parse options changed"
    CHUNKING_CHANGED = "chunking changed"
    MODEL_CHANGED = "embedding model changed"
    HALF_WAY = "half-way"  # a run stopped between stages, or before it recorded the document
    CANCELLED = "cancelled"  # its run was cancelled (docingest cancel, or from the UI)
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

    def changed(self, state: DocumentState) -> Freshness | None:
        """The first option (in pipeline order) that differs from what the state recorded."""
        for key, reason in (
            ("parse_options_hash", Freshness.PARSE_OPTIONS_CHANGED),
            ("chunking_hash", Freshness.CHUNKING_CHANGED),
            ("embedding_model", Freshness.MODEL_CHANGED),
        ):
            wanted, recorded = getattr(self, key), getattr(state, key)
            if wanted is not None and recorded is not None and recorded != wanted:
                return reason
        return None


def freshness(state: DocumentState, expected: Expected) -> Freshness:
    """Is this document current and, if not, why.

    A permanent failure stays put until the content or an option that could change its outcome
    changes: the options a failed run used are recorded with the failure (`record_failure`).
    """
    if state.status is None or not state.sha256:
        return Freshness.NEW
    if expected.sha256 is not None and state.sha256 != expected.sha256:
        return Freshness.CONTENT_CHANGED
    if state.status is Status.CANCELLED:
        return Freshness.CANCELLED
    if state.status is Status.FAILED:
        if state.error is not None and state.error.retryable:
            return Freshness.FAILED_RETRYABLE
        return expected.changed(state) or Freshness.FAILED_PERMANENTLY
    if state.status is not Status.SUCCEEDED or not state.run_id:
        return Freshness.HALF_WAY
    return expected.changed(state) or Freshness.CURRENT


def is_current(state: DocumentState, expected: Expected) -> bool:
    return freshness(state, expected) is Freshness.CURRENT


def summarize(store: DocumentStore, document_ids: Iterable[str]) -> dict[str, Any]:
    """Counts by status and error code over the given documents (the registered partitions).

    Reads only the fields it counts from each stored record: building every document's whole
    record (its history of steps) took half the time of `docingest status` at 100,000
    documents."""
    ids = list(document_ids)
    statuses: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    attempts: Counter[str] = Counter()  # failed attempts, by the code of each latest failure
    flagged: Counter[str] = Counter()  # succeeded documents the parse flagged, by flag
    pages = chunks = points = 0
    for document_id in ids:
        record = store.read_json(_KIND, document_id) or {}
        status = record.get("status") or Status.PENDING
        statuses[status] += 1
        error = record.get("error")
        if status == Status.FAILED and error:
            errors[error["code"]] += 1
            attempts[error["code"]] += int(record.get("attempts") or 0) or 1
        if status == Status.SUCCEEDED:
            flagged.update(flag for flag in FLAGS if record.get(flag))
            pages += int(record.get("pages") or 0)
            chunks += int(record.get("chunks") or 0)
            points += int(record.get("points") or 0)
    return {
        "documents": {
            "total": len(ids),
            "succeeded": statuses[Status.SUCCEEDED],
            "failed": statuses[Status.FAILED],
            "pending": statuses[Status.PENDING],
            "cancelled": statuses[Status.CANCELLED],
        },
        "errors": dict(sorted(errors.items())),
        "attempts": dict(sorted(attempts.items())),
        "flagged": {flag: flagged[flag] for flag in FLAGS},
        "pages": pages,
        "chunks": chunks,
        "points": points,
    }
