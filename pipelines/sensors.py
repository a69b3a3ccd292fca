"""upload_folder_sensor: new and changed files become runs, deleted files are removed."""

import json
from pathlib import Path
from typing import Any

import dagster as dg

from assets.partitions import documents_partitions
from docingest.ids import sha256_file
from docingest.source import iter_source_files
from pipelines.jobs import delete_documents_job, ingest_job
from resources import SourceResource, StorageResource

_CURSOR_VERSION = 1


def _load_cursor(raw: str | None) -> dict[str, list[Any]]:
    if not raw:
        return {}
    data = json.loads(raw)
    return dict(data.get("files", {})) if data.get("v") == _CURSOR_VERSION else {}


def _orphans(root: Path, storage: StorageResource, present: set[str]) -> set[str]:
    return {
        record["document_id"]
        for record in storage.store.iter_json("sources")
        if record["document_id"] not in present
        and Path(record["path"]).is_relative_to(root)
        and not Path(record["path"]).exists()
    }


def delete_run_request(document_ids: list[str]) -> dg.RunRequest:
    return dg.RunRequest(
        job_name=delete_documents_job.name,
        run_config={"ops": {"delete_documents": {"config": {"document_ids": document_ids}}}},
        tags={"docingest/operation": "delete"},
    )


@dg.sensor(
    jobs=[ingest_job, delete_documents_job],
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Watches the upload folder: adds, re-ingests and removes documents.",
)
def upload_folder_sensor(
    context: dg.SensorEvaluationContext, source: SourceResource, storage: StorageResource
) -> dg.SensorResult | dg.SkipReason:
    """Cursor: document id -> [size, mtime_ns, sha256] of each file seen. A file is re-hashed
    only when its size or mtime moved, and re-ingested only when its hash changed."""
    seen = _load_cursor(context.cursor)
    root = source.root_path()
    if not root.is_dir():
        return dg.SkipReason(f"upload folder {root} does not exist")
    current: dict[str, list[Any]] = {}
    requests: list[dg.RunRequest] = []
    new_ids: list[str] = []
    unsettled = 0
    settled_ids = {
        f.document_id for f in iter_source_files(root, settle_seconds=source.settle_seconds)
    }
    for file in iter_source_files(root):
        previous = seen.get(file.document_id)
        if file.document_id not in settled_ids:
            unsettled += 1
            if previous:
                current[file.document_id] = previous
            continue
        if previous and previous[0] == file.size and previous[1] == file.mtime_ns:
            current[file.document_id] = previous
            continue
        digest = sha256_file(file.path)
        current[file.document_id] = [file.size, file.mtime_ns, digest]
        if previous and previous[2] == digest:
            continue  # touched, not changed
        if previous is None:
            new_ids.append(file.document_id)
        requests.append(
            dg.RunRequest(partition_key=file.document_id, run_key=f"{file.document_id}@{digest}")
        )
    # Files gone since the last tick, plus registered documents from this folder whose file is
    # missing: a removal that failed half-way is attempted again on every tick.
    deleted = sorted((set(seen) - set(current)) | _orphans(root, storage, set(current)))
    if deleted:
        requests.append(delete_run_request(deleted))
    cursor = json.dumps({"v": _CURSOR_VERSION, "files": current}, separators=(",", ":"))
    if not requests:
        idle = f"no new, changed or deleted files among {len(current)} in {root}"
        if unsettled:
            idle += f" ({unsettled} still being written)"
        return dg.SensorResult(skip_reason=idle, cursor=cursor)
    context.log.info(f"{len(new_ids)} new, {len(requests) - len(new_ids)} changed/deleted runs")
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[documents_partitions.build_add_request(new_ids)]
        if new_ids
        else [],
        cursor=cursor,
    )
