"""`docingest cancel`: terminate the runs of a batch through the Dagster instance.

Each run is cancelled the way the UI's Terminate does it, through the instance's run
coordinator: a queued run leaves the queue (CANCELED); a started one is marked CANCELING and its
launcher asked to interrupt it. The pipeline checks for CANCELING between stages, so runs the
launcher cannot reach (`docingest ingest` runs in its own process) stop too, at the next stage.
The documents a cancelled run did not finish are marked cancelled, not failed.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import dagster as dg

from assets.partitions import DOCUMENTS
from assets.run_tags import CORRELATION_TAG
from docingest.errors import ConfigError
from docingest.state import record_cancelled
from docingest.storage import DocumentStore
from pipelines.batching import RANGE_END, RANGE_START

_UNFINISHED = (
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
)
_NOT_STARTED = (dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED)


@dataclass(frozen=True)
class Cancelled:
    """What `cancel` did with one run."""

    run_id: str
    job_name: str
    status_before: str
    outcome: str  # "cancelled", "cancelling" (stops at its next stage) or "already finished"
    documents: tuple[str, ...]  # marked cancelled now (a queued run's); a started run marks its own

    def to_dict(self) -> dict[str, object]:
        return {
            "run_id": self.run_id,
            "job_name": self.job_name,
            "status_before": self.status_before,
            "outcome": self.outcome,
            "documents": list(self.documents),
        }


def find_runs(
    instance: dg.DagsterInstance,
    *,
    correlation_id: str | None = None,
    run_ids: Sequence[str] = (),
) -> list[dg.DagsterRun]:
    """The runs of a batch (tagged with the correlation id) or the named runs; ConfigError when
    neither or both are given, or a named run does not exist."""
    if bool(correlation_id) == bool(run_ids):
        raise ConfigError("name the runs: --correlation-id ID, or one or more RUN_IDs")
    if correlation_id:
        records = instance.get_run_records(
            filters=dg.RunsFilter(tags={CORRELATION_TAG: correlation_id})
        )
        return [record.dagster_run for record in records]
    runs = []
    for run_id in run_ids:
        run = instance.get_run_by_id(run_id)
        if run is None:
            raise ConfigError(f"no run {run_id!r} in this instance")
        runs.append(run)
    return runs


def documents_of(instance: dg.DagsterInstance, run: dg.DagsterRun) -> list[str]:
    """The document partitions a run covers: its partition, or its partition range."""
    if run.tags.get("dagster/partition"):
        return [run.tags["dagster/partition"]]
    start, end = run.tags.get(RANGE_START), run.tags.get(RANGE_END)
    if not start or not end:
        return []
    ordered = instance.get_dynamic_partitions(DOCUMENTS)
    if start not in ordered or end not in ordered:
        return []
    return list(ordered[ordered.index(start) : ordered.index(end) + 1])


def cancel_runs(
    instance: dg.DagsterInstance, runs: Sequence[dg.DagsterRun], store: DocumentStore
) -> list[Cancelled]:
    """Terminate each unfinished run; a run that never started has its documents marked
    cancelled here (a started run marks those it does not finish itself)."""
    report = []
    for run in runs:
        before = run.status
        documents: tuple[str, ...] = ()
        if before not in _UNFINISHED:
            outcome = "already finished"
        else:
            instance.run_coordinator.cancel_run(run.run_id)
            after = instance.get_run_by_id(run.run_id)
            status = after.status if after else before
            outcome = "cancelled" if status == dg.DagsterRunStatus.CANCELED else "cancelling"
            if before in _NOT_STARTED and status == dg.DagsterRunStatus.CANCELED:
                documents = tuple(documents_of(instance, run))
                for document_id in documents:
                    record_cancelled(store, document_id, run.run_id)
        report.append(Cancelled(run.run_id, run.job_name, before.value, outcome, documents))
    return report
