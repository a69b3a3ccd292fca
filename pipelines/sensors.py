"""upload_folder_sensor: new and changed files become runs, deleted files are removed."""

import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg

from assets.partitions import DOCUMENTS, documents_partitions
from assets.run_tags import run_tags
from docingest.errors import DocIngestError
from docingest.ids import short_digest
from docingest.listing import ListingStore
from docingest.locations import Location, is_local
from docingest.option_files import INVALID_OPTION_FILES, OptionFileReader
from docingest.paths import docingest_home
from docingest.reconcile import orphaned
from docingest.source import rewritten
from docingest.state import Expected, freshness, read_state
from pipelines.batching import batch_run_request, contiguous_batches
from pipelines.jobs import delete_documents_job, ingest_job
from resources import SourceResource, StorageResource

# v2: the cursor names a snapshot of the listing (docingest.listing); v1 held the listing itself.
_CURSOR_VERSION = 2
_INLINE_LISTING = 1
# How often the daemon evaluates the sensor. Read when the definitions are built (like the
# resources' environment), so a test or a busy folder can tick faster than every 30 s.
INTERVAL_ENV = "DOCINGEST_SENSOR_INTERVAL_S"


def load_cursor(
    raw: str | None, listings: ListingStore
) -> tuple[Mapping[str, list[Any]], str | None]:
    """The files the last tick saw (read-only), and the digest of their snapshot (None: nothing
    to keep). A missing snapshot or an unknown cursor means a rescan: every file is hashed once
    more, and the unchanged ones stay put (their state says they are current)."""
    if not raw:
        return {}, None
    data = json.loads(raw)
    if data.get("v") == _INLINE_LISTING:  # written before the listing moved out of the cursor
        return dict(data.get("files", {})), None
    if data.get("v") != _CURSOR_VERSION:
        return {}, None
    digest = str(data["listing"])
    return listings.load(digest) or {}, digest


def _options_of(entry: list[Any]) -> str:
    return str(entry[3]) if len(entry) > 3 else ""  # cursors written before option files: none


def _options_digest(options: OptionFileReader, path: Location) -> str:
    """What the folder's option files set for the file at `path`, as a short digest."""
    try:
        return options.digest(path)
    except DocIngestError:
        return INVALID_OPTION_FILES  # the run reports them; fixing them changes the digest


class _Partitions:
    """The `documents` partitions, read from the instance at the first question (100,000 keys
    from PostgreSQL are a good part of a tick that has nothing to do)."""

    def __init__(self, instance: dg.DagsterInstance) -> None:
        self.instance = instance
        self._ordered: Sequence[str] | None = None
        self._keys: frozenset[str] = frozenset()

    def ordered(self) -> Sequence[str]:
        if self._ordered is None:
            ordered = self.instance.get_dynamic_partitions(DOCUMENTS)
            self._ordered, self._keys = ordered, frozenset(ordered)
        return self._ordered

    def __contains__(self, document_id: str) -> bool:
        self.ordered()
        return document_id in self._keys


_IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def _deleting(instance: dg.DagsterInstance) -> bool:
    """Whether a delete_documents_job run is queued or running."""
    runs = instance.get_run_records(
        filters=dg.RunsFilter(job_name=delete_documents_job.name, statuses=_IN_FLIGHT), limit=1
    )
    return bool(runs)


def delete_run_request(document_ids: list[str]) -> dg.RunRequest:
    return dg.RunRequest(
        job_name=delete_documents_job.name,
        run_config={"ops": {"delete_documents": {"config": {"document_ids": document_ids}}}},
        tags={"docingest/operation": "delete"},
    )


def listing_store(storage: StorageResource, root: Location) -> ListingStore:
    """Where the sensor keeps its listings of `root`: beside the data, or under DOCINGEST_HOME
    when the data is on an object store (the listing is the sensor's own, on a local disk)."""
    base = storage.store.base_dir
    return ListingStore(Path(base) if is_local(base) else docingest_home(), root)


def upload_folder_sensor(interval_s: int | None = None) -> dg.SensorDefinition:
    """The sensor, ticking every `interval_s` seconds (default: $DOCINGEST_SENSOR_INTERVAL_S,
    else 30), read when the definitions are built, never on import."""
    return dg.sensor(
        name="upload_folder_sensor",
        jobs=[ingest_job, delete_documents_job],
        minimum_interval_seconds=interval_s or int(os.environ.get(INTERVAL_ENV) or 30),
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Watches the upload folder: adds, re-ingests and removes documents.",
    )(upload_folder_tick)


def upload_folder_tick(
    context: dg.SensorEvaluationContext, source: SourceResource, storage: StorageResource
) -> dg.SensorResult | dg.SkipReason:
    """Listing: document id -> [size, mtime_ns or ETag, sha256, option files digest] of each
    file seen, kept under DOCINGEST_HOME; the cursor names it (docingest.listing). A file is
    re-hashed (an object downloaded) only when its size or mtime (ETag) moved, and re-ingested
    only when its hash or the parse options its folder's option files set changed."""
    root = source.root_path()
    listings = listing_store(storage, root)
    seen, seen_digest = load_cursor(context.cursor, listings)
    # An object-store prefix exists as long as objects do; the bucket was checked when the
    # source resource was set up, and an emptied prefix must still delete its documents.
    if is_local(root) and not root.is_dir():
        return dg.SkipReason(f"upload folder {root} does not exist")
    current: dict[str, list[Any]] = {}
    changed: dict[str, str] = {}  # document id -> new content hash
    new_ids: list[str] = []
    unsettled = 0
    listed_at = time.time_ns()
    listed = source.scan(settle=False)
    # The budget starts after the listing: a listing slower than the budget must still leave
    # time to hash some files, or no tick would ever get further than the last.
    hash_until = time.monotonic() + source.hash_budget_s
    deferred = 0
    option_files = source.parse_options_reader(listed)
    partitions = _Partitions(context.instance)  # read only when a file was hashed
    for file in listed.files:
        document_id = file.document_id
        previous = seen.get(document_id)
        options = _options_digest(option_files, file.path)
        # The steady case first, on plain values: an unchanged file (hashed when it had
        # settled, so it still has) keeps its entry.
        if (
            previous is not None
            and previous[0] == file.size
            and previous[1] == (file.etag or file.mtime_ns)
            and _options_of(previous) == options
        ):
            current[document_id] = previous
            continue
        if not source.settled(file, listed_at):
            unsettled += 1
            if previous:
                current[document_id] = previous
            continue
        options_moved = previous is not None and _options_of(previous) != options
        if time.monotonic() > hash_until:
            deferred += 1  # past the tick's hashing budget: the next tick goes on from here
            if previous:
                current[document_id] = previous
            continue
        try:
            digest = source.content_hash(file)
            # An object is replaced whole by its PUT: a newer one read here shows as another
            # ETag on the next tick, which re-reads it. A local file may be written to while
            # being hashed.
            moved = rewritten(file)
        except OSError as error:
            # Vanished or unreadable since the listing: one file must not fail the tick.
            context.log.warning(f"cannot read {file.path}: {error.strerror or error}")
            if previous:
                current[document_id] = previous
            continue
        if moved:
            unsettled += 1  # written to while being hashed: the next tick takes it whole
            if previous:
                current[document_id] = previous
            continue
        current[document_id] = [*file.stamp, digest, options]
        if previous and previous[2] == digest and not options_moved:
            continue  # touched, not changed
        registered = document_id in partitions
        if (
            not options_moved
            and registered
            and not freshness(
                read_state(storage.store, document_id), Expected(sha256=digest)
            ).needs_run()
        ):
            continue  # new to this cursor, but already current (or failed for good) as it is
        if not registered:
            new_ids.append(document_id)
        changed[document_id] = digest + options
    # New and changed documents run in batches over adjacent partitions; new files are appended
    # to the partitions in this order, so they form ranges.
    ordered = [*partitions.ordered(), *new_ids] if changed else []
    # The tick's runs form one batch: `docingest cancel --correlation-id upload:...` stops it.
    tags = run_tags(
        correlation_id="upload:"
        + short_digest(",".join(f"{d}:{changed[d]}" for d in sorted(changed))),
        priority=source.run_priority,
    )
    requests: list[dg.RunRequest] = [
        # The run key names the contents: a file changed back and forth still runs each time.
        # A sensor that targets two jobs must name the job of each request (the daemon refuses
        # the whole tick otherwise).
        batch_run_request(
            batch,
            job_name=ingest_job.name,
            key="upload:" + short_digest(",".join(changed[d] for d in batch)),
            tags=tags,
        )
        for batch in contiguous_batches(ordered, list(changed), source.batch_size)
    ]
    # Files gone since the last tick, plus registered documents from this folder whose file is
    # missing: a removal that failed half-way is attempted again on every tick.
    gone = set(seen) - set(current)
    deleted: list[str] = []
    if source.on_delete == "delete":
        # Only the records of files not listed now are read: a listed file is no orphan.
        records = storage.store.iter_json("sources", excluding=current.keys())
        orphans = set(orphaned(records, root, set(current)))
        if orphans and _deleting(context.instance):
            # Records a queued or running delete run is about to remove: requesting them again
            # on every tick would queue a run per tick behind it. The next tick looks again.
            orphans = set()
        deleted = sorted(gone | orphans)
        if deleted:
            requests.append(delete_run_request(deleted))
    elif gone:
        context.log.info(f"{len(gone)} files left {root}; their documents are kept (on_delete)")
    digest = listings.save(current, keep=seen_digest, previous=seen)
    cursor = json.dumps({"v": _CURSOR_VERSION, "listing": digest})
    if not requests:
        idle = f"no new, changed or deleted files among {len(current)} in {root}"
        if unsettled:
            idle += f" ({unsettled} still being written)"
        if deferred:
            idle += f" ({deferred} left for the next tick: hashing budget spent)"
        return dg.SensorResult(skip_reason=idle, cursor=cursor)
    context.log.info(
        f"{len(new_ids)} new, {len(changed) - len(new_ids)} changed, {len(deleted)} deleted "
        f"documents in {len(requests)} runs"
        + (f"; {deferred} files left for the next tick (hashing budget spent)" if deferred else "")
    )
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[documents_partitions.build_add_request(new_ids)]
        if new_ids
        else [],
        cursor=cursor,
    )
