"""The upload-folder sensor (add, change, delete, idle) and the reconcile schedule."""

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from assets.partitions import documents_partitions
from docingest.errors import DocIngestError, ErrorCode
from docingest.state import record_failure
from docingest.storage import DocumentStore
from pipelines.definitions import build_definitions
from pipelines.ingest import ingest_folder
from pipelines.jobs import delete_documents_job
from pipelines.schedules import reconcile_schedule
from pipelines.sensors import upload_folder_sensor
from resources import QdrantResource, SourceResource, StorageResource, build_resources
from tests.conftest import corpus_pdf
from tests.fakes import FAKE_MODELS


def _tick(instance: dg.DagsterInstance, folder: Path, cursor: str | None) -> dg.SensorResult:
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={
            "source": SourceResource(root=str(folder), settle_seconds=0),
            "storage": StorageResource(),
        },
        definitions=build_definitions(),
    )
    result = upload_folder_sensor()(context)
    assert isinstance(result, dg.SensorResult)
    return result


def test_sensor_adds_changes_and_deletes(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    shutil.copyfile(corpus_pdf("01030000000001.pdf"), folder / "a.pdf")
    shutil.copyfile(corpus_pdf("01030000000002.pdf"), folder / "b.pdf")

    first = _tick(instance, folder, None)
    (batch,) = first.run_requests  # both new files in one run over their partition range
    assert batch.partition_key is None
    assert batch.tags["dagster/asset_partition_range_start"] == "a.pdf"
    assert batch.tags["dagster/asset_partition_range_end"] == "b.pdf"
    (add,) = first.dynamic_partitions_requests
    assert sorted(add.partition_keys) == ["a.pdf", "b.pdf"]

    idle = _tick(instance, folder, first.cursor)
    assert not idle.run_requests and "no new, changed or deleted" in str(idle.skip_reason)

    # Touching without changing content is not a change; new content is.
    stat = (folder / "a.pdf").stat()
    os.utime(folder / "a.pdf", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    touched = _tick(instance, folder, idle.cursor)
    assert not touched.run_requests
    shutil.copyfile(corpus_pdf("01030000000003.pdf"), folder / "a.pdf")
    instance.add_dynamic_partitions("documents", ["a.pdf", "b.pdf"])  # as the tick requested
    changed = _tick(instance, folder, touched.cursor)
    assert [r.partition_key for r in changed.run_requests] == ["a.pdf"]
    assert not changed.dynamic_partitions_requests  # already a partition
    # Changing it back is a new run, not a duplicate run key.
    shutil.copyfile(corpus_pdf("01030000000001.pdf"), folder / "a.pdf")
    reverted = _tick(instance, folder, changed.cursor)
    (request,) = reverted.run_requests
    assert request.run_key != changed.run_requests[0].run_key

    (folder / "b.pdf").unlink()
    deleted = _tick(instance, folder, reverted.cursor)
    (request,) = deleted.run_requests
    assert request.job_name == delete_documents_job.name
    config = request.run_config["ops"]["delete_documents"]["config"]
    assert config == {"document_ids": ["b.pdf"]}
    assert "b.pdf" not in json.loads(deleted.cursor)["files"]


def test_deleting_a_document_removes_exactly_its_points(
    home: Path, instance: dg.DagsterInstance, docs: Path
) -> None:
    ingest_folder(instance, docs, overrides=FAKE_MODELS)  # the models are not what is tested
    store = DocumentStore(home)
    qdrant = QdrantResource(keep_open=True)
    with qdrant.open() as vectors:
        keep = vectors.document_point_ids("01030000000002.pdf")
        assert vectors.document_point_ids("01030000000001.pdf")
    (docs / "01030000000001.pdf").unlink()
    result = delete_documents_job.execute_in_process(
        instance=instance,
        run_config={
            "ops": {"delete_documents": {"config": {"document_ids": ["01030000000001.pdf"]}}}
        },
        resources={"qdrant": qdrant, "storage": StorageResource()},
    )
    assert result.success
    with qdrant.open() as vectors:
        assert vectors.document_point_ids("01030000000001.pdf") == set()
        assert vectors.document_point_ids("01030000000002.pdf") == keep
    assert not store.parsed_path("01030000000001.pdf").exists()
    assert store.parsed_path("01030000000002.pdf").exists()
    partitions = instance.get_dynamic_partitions(documents_partitions.name)
    assert partitions == ["01030000000002.pdf"]


def test_reconcile_retries_retryable_failures_and_adds_missed_files(
    home: Path, instance: dg.DagsterInstance, docs: Path
) -> None:
    ingest_folder(instance, docs, overrides=FAKE_MODELS)  # the models are not what is tested
    store = DocumentStore(home)
    record_failure(
        store,
        "01030000000002.pdf",
        "index",
        DocIngestError(ErrorCode.VECTOR_STORE_UNAVAILABLE, "store held by another process"),
    )
    shutil.copyfile(corpus_pdf("01030000000003.pdf"), docs / "missed.pdf")
    configured = build_resources(**FAKE_MODELS)
    with dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=datetime.now(UTC),
        resources={
            **{k: configured[k] for k in ("parser", "chunker", "embedder")},
            "source": SourceResource(root=str(docs), settle_seconds=0),
            "storage": StorageResource(),
        },
    ) as context:  # closes the instance it opens
        requests = reconcile_schedule()(context)
        assert isinstance(requests, list)
        (request,) = requests  # the retry and the missed file are adjacent: one batch
        assert request.tags["dagster/asset_partition_range_start"] == "01030000000002.pdf"
        assert request.tags["dagster/asset_partition_range_end"] == "missed.pdf"
        assert "missed.pdf" in instance.get_dynamic_partitions(documents_partitions.name)

        # A non-retryable failure is left alone.
        record_failure(store, "01030000000002.pdf", "parse",
                       DocIngestError(ErrorCode.CORRUPT_FILE, "broken"))  # fmt: skip
        again = reconcile_schedule()(context)
        assert isinstance(again, list)
        assert [r.partition_key for r in again] == ["missed.pdf"]


def test_sensor_keeps_deleted_documents_when_configured(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    shutil.copyfile(corpus_pdf("01030000000001.pdf"), folder / "a.pdf")
    keep = SourceResource(root=str(folder), settle_seconds=0, on_delete="keep")
    context = dg.build_sensor_context(
        instance=instance, resources={"source": keep, "storage": StorageResource()}
    )
    first = upload_folder_sensor()(context)
    assert isinstance(first, dg.SensorResult)
    (folder / "a.pdf").unlink()
    context = dg.build_sensor_context(
        instance=instance,
        cursor=first.cursor,
        resources={"source": keep, "storage": StorageResource()},
    )
    after = upload_folder_sensor()(context)
    assert isinstance(after, dg.SensorResult) and not after.run_requests
