"""What the upload folder needs done: pure planning shared by the sensor and the schedule."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from docingest.locations import Location, is_local
from docingest.state import DocumentState, Expected, Freshness, freshness


@dataclass
class Plan:
    add: list[str] = field(default_factory=list)  # files without a partition yet
    run: list[str] = field(default_factory=list)  # new or changed content
    retry: list[str] = field(default_factory=list)  # failed for a retryable reason
    delete: list[str] = field(default_factory=list)  # registered, but the file is gone

    def is_empty(self) -> bool:
        return not (self.add or self.run or self.retry or self.delete)


def owned_by(records: Iterable[Mapping[str, Any]], root: Location) -> dict[str, Location]:
    """The registered documents (`sources` records) whose file is, or was, under `root`."""
    if not is_local(root):
        prefix = str(root).rstrip("/") + "/"
        return {
            record["document_id"]: root.joinpath(str(record["path"])[len(prefix) :])
            for record in records
            if str(record["path"]).startswith(prefix)
        }
    folder = root.absolute()
    return {
        record["document_id"]: Path(record["path"])
        for record in records
        if Path(record["path"]).is_relative_to(folder)
    }


def orphaned(records: Iterable[Mapping[str, Any]], root: Location, present: Set[str]) -> list[str]:
    """Documents registered from files under `root` that are not `present` and whose file is
    gone: the removals a sensor tick or `ingest --prune` owes."""
    return sorted(
        document_id
        for document_id, path in owned_by(records, root).items()
        if document_id not in present and not path.exists()
    )


_RUN = frozenset(
    {
        Freshness.NEW,
        Freshness.CONTENT_CHANGED,
        Freshness.PARSE_OPTIONS_CHANGED,
        Freshness.CHUNKING_CHANGED,
        Freshness.MODEL_CHANGED,
        Freshness.CANCELLED,
    }
)


def plan_reconciliation(
    files: Mapping[str, str],
    partitions: Set[str],
    states: Mapping[str, DocumentState],
    owned: Set[str],
    *,
    expected: Expected | None = None,
    parse_options_hashes: Mapping[str, str] | None = None,
    max_attempts: int = 5,
) -> Plan:
    """Compare the folder (`files`: id -> sha256) with what is registered, each document judged
    by `state.freshness` against `expected` (the configured options; None compares content only)
    and its own entry of `parse_options_hashes` (the parse options it would be parsed with).

    `owned` are the registered documents that came from this folder: only those are deleted
    when their file disappears (documents ingested from elsewhere are left alone). A permanent
    failure is left alone until its content or options change; a retryable one is retried up
    to `max_attempts` times.
    """
    plan = Plan()
    options = expected or Expected()
    for document_id in sorted(files):
        state = states.get(document_id, DocumentState(document_id))
        if document_id not in partitions:
            plan.add.append(document_id)
            plan.run.append(document_id)
            continue
        own = (parse_options_hashes or {}).get(document_id, options.parse_options_hash)
        reason = freshness(
            state, replace(options, sha256=files[document_id], parse_options_hash=own)
        )
        if reason in _RUN:
            plan.run.append(document_id)
        elif reason is Freshness.HALF_WAY or (
            reason is Freshness.FAILED_RETRYABLE and state.attempts < max_attempts
        ):
            plan.retry.append(document_id)
    plan.delete = sorted(d for d in owned if d not in files)
    return plan
