"""reconcile_schedule: re-runs retryable failures and catches what the sensor missed."""

import os
from typing import Any

import dagster as dg

from assets.partitions import DOCUMENTS
from assets.run_tags import run_tags
from docingest.reconcile import owned_by, plan_reconciliation
from docingest.source import SourceFile
from docingest.state import Expected, read_state
from pipelines.batching import batch_run_request, contiguous_batches
from pipelines.jobs import ingest_job
from resources import (
    ChunkerResource,
    EmbedderResource,
    ParserResource,
    SourceResource,
    StorageResource,
)

# When the reconcile schedule runs (cron, in the daemon's time zone); read when the definitions
# are built. Hourly by default.
CRON_ENV = "DOCINGEST_RECONCILE_CRON"


def reconcile_schedule(cron: str | None = None) -> dg.ScheduleDefinition:
    """The schedule, on `cron` (default: $DOCINGEST_RECONCILE_CRON, else hourly), read when the
    definitions are built, never on import."""
    return dg.schedule(
        name="reconcile_schedule",
        cron_schedule=cron or os.environ.get(CRON_ENV) or "0 * * * *",
        job=ingest_job,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Hourly: retry retryable failures and ingest files the sensor missed.",
    )(reconcile_tick)


def _content_hash(
    source: SourceResource, file: SourceFile, registered: dict[str, Any] | None
) -> str:
    """The file's sha256: the registered one when the object's ETag is the one registered (the
    same object, not downloaded again), else read now."""
    if file.etag and registered and registered.get("etag") == file.etag:
        return str(registered["sha256"])
    return source.content_hash(file)


def reconcile_tick(
    context: dg.ScheduleEvaluationContext,
    source: SourceResource,
    storage: StorageResource,
    parser: ParserResource,
    chunker: ChunkerResource,
    embedder: EmbedderResource,
) -> list[dg.RunRequest] | dg.SkipReason:
    """Compares the upload folder, the registered partitions and each document's state with
    what the configured options would make of it (state.freshness)."""
    root = source.root_path()
    store = storage.store
    listed = list(source.list_files())
    registered = {r["document_id"]: r for r in store.iter_json("sources")}
    files = {f.document_id: _content_hash(source, f, registered.get(f.document_id)) for f in listed}
    partitions = set(context.instance.get_dynamic_partitions(DOCUMENTS))
    owned = set(owned_by(registered.values(), root)) | (partitions & set(files))
    known = partitions | set(registered)
    states = {document_id: read_state(store, document_id) for document_id in known | set(files)}
    expected = Expected(chunking_hash=chunker.resolve().params_hash, embedding_model=embedder.model)
    plan = plan_reconciliation(
        files,
        partitions,
        states,
        owned,
        expected=expected,
        # Per document: the folder's option files may give it options of its own.
        parse_options_hashes={
            f.document_id: parser.planned_options_hash(root, f.path) for f in listed
        },
    )
    if not (plan.add or plan.run or plan.retry):
        return dg.SkipReason(f"{len(files)} files in {root} are all current")
    if plan.add:
        # Schedules cannot return partition requests; add them before requesting their runs.
        context.instance.add_dynamic_partitions(DOCUMENTS, plan.add)
    ordered = context.instance.get_dynamic_partitions(DOCUMENTS)
    # The evaluation's runs form one batch: `docingest cancel --correlation-id reconcile:...`.
    when = context.scheduled_execution_time
    tags = {
        "docingest/operation": "reconcile",
        **run_tags(f"reconcile:{when.isoformat(timespec='seconds')}", source.run_priority),
    }
    requests = [
        batch_run_request(
            batch,
            job_name=ingest_job.name,
            tags=tags,
        )
        for batch in contiguous_batches(ordered, plan.run + plan.retry, source.batch_size)
    ]
    context.log.info(
        f"reconcile: {len(plan.add)} added, {len(plan.run)} to run, {len(plan.retry)} retries, "
        f"{len(plan.delete)} removals left to the sensor"
    )
    return requests
