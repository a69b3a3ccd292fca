"""The upload-folder sensor (add, change, delete, idle) and the reconcile schedule."""

import json
import os
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from assets.partitions import documents_partitions
from docingest import listing
from docingest.errors import DocIngestError, ErrorCode
from docingest.listing import ListingStore
from docingest.source import Scan
from docingest.state import record_failure
from docingest.storage import DocumentStore
from pipelines.definitions import build_definitions
from pipelines.ingest import ingest_folder
from pipelines.jobs import delete_documents_job
from pipelines.schedules import reconcile_schedule
from pipelines.sensors import load_cursor, upload_folder_sensor
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
    assert "b.pdf" not in _listing(deleted.cursor, folder)


def _listing(cursor: str | None, folder: Path) -> dict[str, list[Any]]:
    files, _ = load_cursor(cursor, ListingStore(StorageResource().store.base_dir, folder))
    return files


def _fill(folder: Path, count: int) -> None:
    """`count` distinct copies of a corpus PDF (the sensor hashes each)."""
    folder.mkdir(exist_ok=True)
    pdf = corpus_pdf("01030000000001.pdf").read_bytes()
    for index in range(count):
        (folder / f"doc-{index:04d}.pdf").write_bytes(pdf + f"%{index}\n".encode())


def test_the_cursor_names_a_stored_listing_whatever_the_folder_holds(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    """Dagster stores the cursor in every tick: it must not grow with the folder."""
    folder = tmp_path / "uploads"
    _fill(folder, 3)
    few = _tick(instance, folder, None)
    _fill(folder, 400)
    many = _tick(instance, folder, few.cursor)
    assert len(many.cursor) == len(few.cursor) < 100
    assert len(_listing(many.cursor, folder)) == 400
    instance.add_dynamic_partitions("documents", [f"doc-{i:04d}.pdf" for i in range(400)])
    idle = _tick(instance, folder, many.cursor)
    assert idle.cursor == many.cursor  # nothing changed: the same snapshot, nothing rewritten
    snapshots = ListingStore(StorageResource().store.base_dir, folder).folder
    assert [p.stem for p in snapshots.glob("*.json")] == [json.loads(idle.cursor)["listing"]]


def test_a_tick_whose_cursor_was_not_committed_is_evaluated_again(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    """The daemon keeps the old cursor when a tick fails (or the daemon dies) after the sensor
    returned: the snapshot that cursor names must still be there, and the change seen again."""
    folder = tmp_path / "uploads"
    _fill(folder, 2)
    first = _tick(instance, folder, None)
    instance.add_dynamic_partitions("documents", ["doc-0000.pdf", "doc-0001.pdf"])
    shutil.copyfile(corpus_pdf("01030000000002.pdf"), folder / "doc-0001.pdf")
    lost = _tick(instance, folder, first.cursor)
    again = _tick(instance, folder, first.cursor)  # lost.cursor was never committed
    assert [r.partition_key for r in again.run_requests] == ["doc-0001.pdf"]
    assert again.run_requests[0].run_key == lost.run_requests[0].run_key


def test_a_cursor_holding_the_listing_itself_is_still_read(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    """Cursors written before the listing moved out of them: no file is taken for new."""
    folder = tmp_path / "uploads"
    _fill(folder, 2)
    first = _tick(instance, folder, None)
    instance.add_dynamic_partitions("documents", ["doc-0000.pdf", "doc-0001.pdf"])
    inline = json.dumps({"v": 1, "files": _listing(first.cursor, folder)})
    shutil.copyfile(corpus_pdf("01030000000002.pdf"), folder / "doc-0001.pdf")
    upgraded = _tick(instance, folder, inline)
    assert [r.partition_key for r in upgraded.run_requests] == ["doc-0001.pdf"]
    assert json.loads(upgraded.cursor)["v"] == 2


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


def test_a_tick_hashes_within_its_budget_and_the_next_goes_on(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    """Dagster abandons a sensor evaluation after 60 s; a folder of many new files must be taken
    in over several ticks, not time out on every one."""
    folder = tmp_path / "uploads"
    _fill(folder, 3)

    def tick(cursor: str | None, budget_s: float) -> dg.SensorResult:
        source = SourceResource(root=str(folder), settle_seconds=0, hash_budget_s=budget_s)
        context = dg.build_sensor_context(
            instance=instance, cursor=cursor,
            resources={"source": source, "storage": StorageResource()},
        )  # fmt: skip
        result = upload_folder_sensor()(context)
        assert isinstance(result, dg.SensorResult)
        return result

    spent = tick(None, 0)
    assert not spent.run_requests
    assert "3 left for the next tick: hashing budget spent" in str(spent.skip_reason)
    assert _listing(spent.cursor, folder) == {}
    rest = tick(spent.cursor, 30)
    (add,) = rest.dynamic_partitions_requests
    assert sorted(add.partition_keys) == ["doc-0000.pdf", "doc-0001.pdf", "doc-0002.pdf"]


class _SlowListing(SourceResource):
    """The real upload folder, listed as slowly as 100,000 files on a busy machine."""

    def scan(self, *, settle: bool = True) -> Scan:
        time.sleep(self.hash_budget_s + 1)
        return super().scan(settle=settle)


def test_a_listing_slower_than_the_budget_still_leaves_time_to_hash(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    folder = tmp_path / "uploads"
    _fill(folder, 3)
    source = _SlowListing(root=str(folder), settle_seconds=0, hash_budget_s=5)
    context = dg.build_sensor_context(
        instance=instance, resources={"source": source, "storage": StorageResource()}
    )
    result = upload_folder_sensor()(context)
    assert isinstance(result, dg.SensorResult)
    assert len(_listing(result.cursor, folder)) == 3


def test_an_idle_tick_neither_reads_nor_writes_its_listing(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon's code server lives from tick to tick: it keeps the listing it last read or
    wrote, and an idle tick compares instead of reading and serializing 12 MB at 100k files.
    A new process (an empty memory) reads the snapshot from disk and finds the same."""
    folder = tmp_path / "uploads"
    _fill(folder, 3)
    first = _tick(instance, folder, None)
    instance.add_dynamic_partitions("documents", [f"doc-{i:04d}.pdf" for i in range(3)])
    snapshots = ListingStore(StorageResource().store.base_dir, folder).folder
    (snapshot,) = snapshots.glob("*.json")
    written = snapshot.stat().st_mtime_ns
    encoded: list[int] = []
    read: list[Path] = []
    real_encode, real_read = listing._encode, Path.read_bytes

    def encode(files: Any) -> bytes:
        encoded.append(len(files))
        return real_encode(files)

    def read_bytes(path: Path) -> bytes:
        if path.parent == snapshots:
            read.append(path)
        return real_read(path)

    monkeypatch.setattr(listing, "_encode", encode)
    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    idle = _tick(instance, folder, first.cursor)
    assert idle.cursor == first.cursor and not idle.run_requests
    assert encoded == [] and read == [] and snapshot.stat().st_mtime_ns == written

    listing._KEPT.clear()  # as a code server that just started
    again = _tick(instance, folder, idle.cursor)
    assert again.cursor == first.cursor and not again.run_requests
    assert read == [snapshot] and encoded == []
    (folder / "doc-0001.pdf").unlink()
    gone = _tick(instance, folder, again.cursor)
    assert gone.cursor != again.cursor and encoded == [2]  # changed: written once
