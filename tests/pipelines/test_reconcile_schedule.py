"""The reconcile schedule at scale: a file is hashed again only when its stamp (size, mtime,
ctime; an object's ETag) moved since the schedule last hashed it, and one evaluation checks
files for at most `reconcile_budget_s`, the next going on where it stopped."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg

from docingest.listing import CheckedFiles
from docingest.source import SourceFile
from docingest.storage import DocumentStore
from pipelines.ingest import ingest_folder
from pipelines.schedules import checked_files, reconcile_schedule
from pipelines.sensors import upload_folder_sensor
from resources import SourceResource, StorageResource, build_resources
from tests.conftest import corpus_pdf
from tests.fakes import FAKE_MODELS


class _CountingSource(SourceResource):
    """The real upload folder; each file the schedule hashes is counted."""

    def content_hash(self, file: SourceFile) -> str:
        _HASHED.append(file.document_id)
        return super().content_hash(file)


_HASHED: list[str] = []


def _reconcile(
    instance: dg.DagsterInstance, folder: Path, budget_s: float = 30.0
) -> tuple[list[dg.RunRequest] | dg.SkipReason, list[str]]:
    """One evaluation of the schedule; what it returned and the files it hashed."""
    _HASHED.clear()
    configured = build_resources(**FAKE_MODELS)
    source = _CountingSource(root=str(folder), settle_seconds=0, reconcile_budget_s=budget_s)
    with dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=datetime.now(UTC),
        resources={
            **{k: configured[k] for k in ("parser", "chunker", "embedder")},
            "source": source,
            "storage": StorageResource(),
        },
    ) as context:
        result = reconcile_schedule()(context)
    assert isinstance(result, list | dg.SkipReason)
    return result, sorted(_HASHED)


def _pdf(folder: Path, name: str, mark: str) -> Path:
    """A real corpus PDF with a comment of its own after its end: same size for every `mark`
    of the same length, different content."""
    path = folder / name
    path.write_bytes(corpus_pdf("01030000000001.pdf").read_bytes() + f"%{mark}\n".encode())
    return path


def _ingested(instance: dg.DagsterInstance, tmp_path: Path) -> Path:
    folder = tmp_path / "uploads"
    folder.mkdir()
    _pdf(folder, "a.pdf", "1")
    shutil.copyfile(corpus_pdf("01030000000002.pdf"), folder / "b.pdf")
    summary = ingest_folder(instance, folder, overrides=FAKE_MODELS)  # models are not tested
    assert summary.succeeded == 2
    return folder


def test_a_touched_file_is_hashed_once_and_not_run(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    folder = _ingested(instance, tmp_path)
    first, hashed = _reconcile(instance, folder)
    assert isinstance(first, dg.SkipReason) and "2 of 2 files" in str(first.skip_message)
    assert hashed == ["a.pdf", "b.pdf"]  # nothing known yet: every file once
    again, hashed = _reconcile(instance, folder)
    assert isinstance(again, dg.SkipReason) and hashed == []  # no stamp moved: nothing read

    stat = (folder / "a.pdf").stat()
    os.utime(folder / "a.pdf", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    touched, hashed = _reconcile(instance, folder)
    assert isinstance(touched, dg.SkipReason) and "all current" in str(touched.skip_message)
    assert hashed == ["a.pdf"]  # the sha256 decides: same content, no run
    after, hashed = _reconcile(instance, folder)
    assert isinstance(after, dg.SkipReason) and hashed == []  # the new stamp is remembered


def test_a_rewrite_with_size_and_mtime_restored_is_found_by_its_ctime(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    """Decided: a same-size rewrite whose mtime is set back (`touch -d`, `rsync -t`, an
    unpacked archive) keeps the sensor's stamp (size, mtime), so the sensor does not see it;
    the reconcile schedule's stamp adds the ctime, which every write moves and no tool sets
    back, so the next reconcile hashes the file and runs it."""
    folder = _ingested(instance, tmp_path)
    sensor_source = SourceResource(root=str(folder), settle_seconds=0)
    with dg.build_sensor_context(
        instance=instance, resources={"source": sensor_source, "storage": StorageResource()}
    ) as context:
        seen = upload_folder_sensor()(context)
    assert isinstance(seen, dg.SensorResult) and not seen.run_requests  # ingested already
    _reconcile(instance, folder)  # remembers every file's stamp

    before = (folder / "a.pdf").stat()
    _pdf(folder, "a.pdf", "2")
    os.utime(folder / "a.pdf", ns=(before.st_atime_ns, before.st_mtime_ns))
    after = (folder / "a.pdf").stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert after.st_ctime_ns != before.st_ctime_ns

    with dg.build_sensor_context(
        instance=instance,
        cursor=seen.cursor,
        resources={"source": sensor_source, "storage": StorageResource()},
    ) as context:
        missed = upload_folder_sensor()(context)
    assert isinstance(missed, dg.SensorResult) and not missed.run_requests  # by design
    requests, hashed = _reconcile(instance, folder)
    assert hashed == ["a.pdf"]
    assert isinstance(requests, list) and [r.partition_key for r in requests] == ["a.pdf"]


def test_the_budget_leaves_the_rest_for_the_next_evaluation(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    """With no time at all, each evaluation still checks one file, and the next goes on from
    the one after it: work resumes, it never starts over."""
    folder = tmp_path / "uploads"
    folder.mkdir()
    for index in range(3):
        _pdf(folder, f"doc-{index}.pdf", str(index))
    runs = []
    for expected_next in ("doc-1.pdf", "doc-2.pdf"):
        result, hashed = _reconcile(instance, folder, budget_s=0)
        assert isinstance(result, list) and len(hashed) == 1
        (request,) = result
        runs.append(request.partition_key)
        _, next_id = checked_files(StorageResource(), folder.absolute()).load()
        assert next_id == expected_next
    result, hashed = _reconcile(instance, folder, budget_s=0)
    assert isinstance(result, list)
    runs += [r.partition_key for r in result]
    assert runs == ["doc-0.pdf", "doc-1.pdf", "doc-2.pdf"]  # each missed file once, in turn
    known, next_id = checked_files(StorageResource(), folder.absolute()).load()
    assert next_id == "doc-0.pdf" and sorted(known) == runs  # round again from the first

    # With time enough, one evaluation checks every file and hashes none of them again.
    complete, hashed = _reconcile(instance, folder)
    assert hashed == []
    assert isinstance(complete, list)  # never ingested: all three still to run, in one batch
    assert [r.tags["dagster/asset_partition_range_start"] for r in complete] == ["doc-0.pdf"]


def test_checked_files_live_beside_the_sensor_listings(home: Path, tmp_path: Path) -> None:
    store = StorageResource()
    checked = checked_files(store, tmp_path)
    assert isinstance(checked, CheckedFiles)
    assert checked.load() == ({}, "")
    checked.save({"a.pdf": [1, 2, 3, "f" * 64]}, "b.pdf")
    assert checked.load() == ({"a.pdf": [1, 2, 3, "f" * 64]}, "b.pdf")
    assert checked.path.is_relative_to(Path(DocumentStore(home).base_dir))
