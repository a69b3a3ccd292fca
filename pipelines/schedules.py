"""reconcile_schedule: re-runs retryable failures and catches what the sensor missed."""

import bisect
import os
import time
from pathlib import Path
from typing import Any

import dagster as dg

from assets.partitions import DOCUMENTS
from assets.run_tags import run_tags
from docingest.errors import DocIngestError
from docingest.listing import CheckedFiles
from docingest.locations import Location, is_local
from docingest.option_files import INVALID_OPTION_FILES, OptionFileReader, overrides_digest
from docingest.paths import docingest_home
from docingest.reconcile import plan_reconciliation
from docingest.source import SourceFile, rewritten
from docingest.state import DocumentState, Expected, read_state
from docingest.storage import DocumentStore
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


def checked_files(storage: StorageResource, root: Location) -> CheckedFiles:
    """Where the schedule keeps what it found for each file of `root` (beside the sensor's
    listings: on the local disk, under DOCINGEST_HOME when the data is on an object store)."""
    base = storage.store.base_dir
    return CheckedFiles(Path(base) if is_local(base) else docingest_home(), root)


def _rotated(files: list[SourceFile], start: str) -> list[SourceFile]:
    """`files` in document-id order, from the first at or after `start`, then the others: an
    evaluation that ran out of time is continued by the next one (`start` may be gone)."""
    ordered = sorted(files, key=lambda file: file.document_id)
    at = bisect.bisect_left([f.document_id for f in ordered], start) if start else 0
    return ordered[at:] + ordered[:at]


def _registered_hash(store: DocumentStore, file: SourceFile) -> str | None:
    """The sha256 registration recorded, when the object's ETag is the one it recorded (the
    same object: not downloaded again)."""
    if not file.etag:
        return None
    record = store.read_json("sources", file.document_id)
    if record and record.get("etag") == file.etag:
        return str(record["sha256"])
    return None


class _PlannedOptions:
    """The parse options hash each document would be parsed with: one reader of the option
    files for the evaluation, one hash per distinct set of overrides."""

    def __init__(self, parser: ParserResource, reader: OptionFileReader) -> None:
        self.parser, self.reader = parser, reader
        self._hashes: dict[str, str] = {}

    def __call__(self, file: SourceFile) -> str:
        try:
            overrides = self.reader.overrides(file.path)
        except DocIngestError:
            return INVALID_OPTION_FILES
        key = overrides_digest(overrides)
        if key not in self._hashes:
            self._hashes[key] = self.parser.planned_options_hash_of(overrides)
        return self._hashes[key]


def reconcile_tick(
    context: dg.ScheduleEvaluationContext,
    source: SourceResource,
    storage: StorageResource,
    parser: ParserResource,
    chunker: ChunkerResource,
    embedder: EmbedderResource,
) -> list[dg.RunRequest] | dg.SkipReason:
    """Compares the upload folder, the registered partitions and each document's state with
    what the configured options would make of it (state.freshness).

    A file is hashed only when its stamp (size, mtime and ctime; an object's size and ETag)
    moved since the schedule last hashed it (`CheckedFiles`): a file touched but unchanged is
    hashed once and not run. The sha256 decides; the stamp only says when to look. Checking
    stops after `source.reconcile_budget_s` (at least one file is checked); the next
    evaluation goes on from there."""
    root = source.root_path()
    store = storage.store
    listed = source.scan()
    checked = checked_files(storage, root)
    known, start = checked.load()
    until = time.monotonic() + source.reconcile_budget_s  # after the listing, as the sensor's
    planned = _PlannedOptions(parser, source.parse_options_reader(listed))
    remembered: dict[str, list[Any]] = {}
    files: dict[str, str] = {}  # document id -> sha256, of the files checked this time
    states: dict[str, DocumentState] = {}
    options: dict[str, str] = {}
    hashed = 0
    order = _rotated(listed.files, start)
    stopped_at = ""
    for at, file in enumerate(order):
        if files and time.monotonic() > until:
            stopped_at = file.document_id
            for rest in order[at:]:  # what is known of them stays known
                if rest.document_id in known:
                    remembered[rest.document_id] = known[rest.document_id]
            break
        stamp = file.check_stamp
        entry = known.get(file.document_id)
        if entry is not None and entry[:-1] == stamp:
            sha256 = str(entry[-1])
        else:
            try:
                recorded = _registered_hash(store, file)
                if recorded is None:
                    recorded = source.content_hash(file)
                    hashed += 1
                sha256 = recorded
                moved = rewritten(file)
            except OSError as error:
                context.log.warning(f"cannot read {file.path}: {error.strerror or error}")
                continue
            if moved:
                continue  # written to while being hashed: the next evaluation takes it whole
        remembered[file.document_id] = [*stamp, sha256]
        files[file.document_id] = sha256
        states[file.document_id] = read_state(store, file.document_id)
        options[file.document_id] = planned(file)
    checked.save(remembered, stopped_at)
    partitions = set(context.instance.get_dynamic_partitions(DOCUMENTS))
    expected = Expected(chunking_hash=chunker.resolve().params_hash, embedding_model=embedder.model)
    # Removals are the sensor's (it sees a file go): only what the folder holds is planned.
    plan = plan_reconciliation(
        files, partitions, states, set(), expected=expected, parse_options_hashes=options
    )
    progress = f"{len(files)} of {len(listed.files)} files in {root} checked ({hashed} hashed)"
    if stopped_at:
        progress += f"; budget spent, the next evaluation goes on from {stopped_at}"
    if not (plan.add or plan.run or plan.retry):
        return dg.SkipReason(f"{progress}: all current")
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
        f"reconcile: {progress}; {len(plan.add)} added, {len(plan.run)} to run, "
        f"{len(plan.retry)} retries"
    )
    return requests
