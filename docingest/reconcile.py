"""What the upload folder needs done: pure planning shared by the sensor and the schedule."""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Plan:
    add: list[str] = field(default_factory=list)  # files without a partition yet
    run: list[str] = field(default_factory=list)  # new or changed content
    retry: list[str] = field(default_factory=list)  # failed for a retryable reason
    delete: list[str] = field(default_factory=list)  # registered, but the file is gone

    def is_empty(self) -> bool:
        return not (self.add or self.run or self.retry or self.delete)


def plan_reconciliation(
    files: Mapping[str, str],
    partitions: Set[str],
    states: Mapping[str, Mapping[str, Any]],
    owned: Set[str],
    *,
    max_attempts: int = 5,
) -> Plan:
    """Compare the folder (`files`: id -> sha256) with what is registered.

    `owned` are the registered documents that came from this folder: only those are deleted
    when their file disappears (documents ingested from elsewhere are left alone).
    """
    plan = Plan()
    for document_id in sorted(files):
        state = states.get(document_id, {})
        if document_id not in partitions:
            plan.add.append(document_id)
            plan.run.append(document_id)
        elif state.get("sha256") != files[document_id] or not state.get("status"):
            plan.run.append(document_id)
        elif state.get("status") == "failed":
            error = state.get("error") or {}
            if error.get("retryable") and int(state.get("attempts") or 0) < max_attempts:
                plan.retry.append(document_id)
        elif state.get("status") == "pending" and state.get("stage") != "index":
            plan.retry.append(document_id)
        elif state.get("status") == "succeeded" and not state.get("run_id"):
            plan.retry.append(document_id)  # indexed, but its run died before recording it
    plan.delete = sorted(d for d in owned if d not in files)
    return plan
