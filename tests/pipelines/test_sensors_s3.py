"""Uploads and data on S3 (moto's server on 127.0.0.1): listing by ETag and size, a sensor that
never downloads an unchanged object, re-ingest on change, removal on delete."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
from upath import UPath

from docingest.storage import DocumentStore
from pipelines.definitions import build_definitions
from pipelines.ingest import ingest_folder
from pipelines.schedules import reconcile_schedule
from pipelines.sensors import listing_store, load_cursor, upload_folder_sensor
from resources import QdrantResource, SourceResource, StorageResource, build_resources
from tests.conftest import corpus_pdf
from tests.fakes import FAKE_MODELS
from tests.object_store import S3Server


def _put(bucket: str, key: str, pdf: str) -> None:
    UPath(f"s3://{bucket}/{key}").write_bytes(corpus_pdf(pdf).read_bytes())


def _tick(instance: dg.DagsterInstance, bucket: str, cursor: str | None) -> dg.SensorResult:
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={
            "source": SourceResource(root=f"s3://{bucket}/uploads"),
            "storage": StorageResource(base_dir=f"s3://{bucket}/data"),
        },
        definitions=build_definitions(),
    )
    result = upload_folder_sensor()(context)
    assert isinstance(result, dg.SensorResult)
    return result


def test_listing_gives_key_size_etag_and_skips_sidecars(s3_bucket: str) -> None:
    _put(s3_bucket, "uploads/reports/a.pdf", "01030000000001.pdf")
    _put(s3_bucket, "uploads/.hidden/b.pdf", "01030000000002.pdf")
    UPath(f"s3://{s3_bucket}/uploads/reports/a.pdf.metadata.json").write_text('{"team": "x"}')
    (file,) = SourceResource(root=f"s3://{s3_bucket}/uploads").list_files()
    assert file.document_id == "reports/a.pdf"
    assert str(file.path) == f"s3://{s3_bucket}/uploads/reports/a.pdf"
    assert file.size == corpus_pdf("01030000000001.pdf").stat().st_size
    assert len(file.etag) == 32 and file.mtime_ns > 0  # the MD5 ETag of a single PUT
    assert file.stamp == [file.size, file.etag]


def test_sensor_on_s3_reads_only_changed_objects(
    home: Path, instance: dg.DagsterInstance, s3_server: S3Server, s3_bucket: str
) -> None:
    _put(s3_bucket, "uploads/a.pdf", "01030000000001.pdf")
    _put(s3_bucket, "uploads/b.pdf", "01030000000002.pdf")
    a_key, b_key = f"{s3_bucket}/uploads/a.pdf", f"{s3_bucket}/uploads/b.pdf"

    first = _tick(instance, s3_bucket, None)
    (batch,) = first.run_requests
    assert batch.tags["dagster/asset_partition_range_start"] == "a.pdf"
    assert batch.tags["dagster/asset_partition_range_end"] == "b.pdf"
    hashed = s3_server.requests("GET", a_key), s3_server.requests("GET", b_key)
    assert hashed[0] >= 1 and hashed[1] >= 1  # read once each, to hash them

    # Unchanged objects: listed, never read again, however many ticks; nor are the records
    # of their documents in the data prefix.
    records = [f"{s3_bucket}/data/sources/{name}.json" for name in ("a.pdf", "b.pdf")]
    storage = StorageResource(base_dir=f"s3://{s3_bucket}/data")
    for name in ("a.pdf", "b.pdf"):  # registered, as the run would
        storage.store.write_json(
            "sources", name, {"document_id": name, "path": f"s3://{s3_bucket}/uploads/{name}"}
        )
    cursor = first.cursor
    for _ in range(3):
        idle = _tick(instance, s3_bucket, cursor)
        assert not idle.run_requests and "no new, changed or deleted" in str(idle.skip_reason)
        cursor = idle.cursor
    assert (s3_server.requests("GET", a_key), s3_server.requests("GET", b_key)) == hashed
    assert [s3_server.requests("GET", key) for key in records] == [0, 0]

    # New content under the same key: a new ETag, read and re-ingested; b is still not read.
    instance.add_dynamic_partitions("documents", ["a.pdf", "b.pdf"])  # as the tick requested
    _put(s3_bucket, "uploads/a.pdf", "01030000000003.pdf")
    changed = _tick(instance, s3_bucket, cursor)
    assert [r.partition_key for r in changed.run_requests] == ["a.pdf"]
    assert s3_server.requests("GET", a_key) > hashed[0]
    assert s3_server.requests("GET", b_key) == hashed[1]
    # The listing the cursor names keeps the ETag (the sensor's own, on the local disk).
    root = SourceResource(root=f"s3://{s3_bucket}/uploads").root_path()
    storage = StorageResource(base_dir=f"s3://{s3_bucket}/data")
    listing, _ = load_cursor(changed.cursor, listing_store(storage, root))
    entry = listing["a.pdf"]
    assert entry[1] == SourceResource(root=f"s3://{s3_bucket}/uploads").list_files()[0].etag

    # A deleted object leaves: a delete run for its document.
    UPath(f"s3://{s3_bucket}/uploads/b.pdf").unlink()
    deleted = _tick(instance, s3_bucket, changed.cursor)
    (request,) = deleted.run_requests
    assert request.run_config["ops"]["delete_documents"]["config"] == {"document_ids": ["b.pdf"]}


def test_ingest_from_s3_writes_data_to_s3_and_a_delete_leaves_the_collection(
    home: Path, instance: dg.DagsterInstance, s3_bucket: str
) -> None:
    _put(s3_bucket, "uploads/a.pdf", "01030000000001.pdf")
    _put(s3_bucket, "uploads/b.pdf", "01030000000002.pdf")
    storage = StorageResource(base_dir=f"s3://{s3_bucket}/data")
    summary = ingest_folder(
        instance,
        UPath(f"s3://{s3_bucket}/uploads"),
        overrides={**FAKE_MODELS, "storage": storage},  # the models are not what is tested
    )
    assert (summary.succeeded, summary.failed) == (2, 0), summary.failures
    store = DocumentStore(UPath(f"s3://{s3_bucket}/data"))
    registered = store.read_json("sources", "a.pdf")
    assert registered is not None and registered["path"] == f"s3://{s3_bucket}/uploads/a.pdf"
    assert store.read_parse_result("a.pdf").source == f"s3://{s3_bucket}/uploads/a.pdf"
    assert store.read_chunks("b.pdf")
    assert not (home / "parsed").exists()  # nothing of the data on the local disk
    qdrant = QdrantResource(keep_open=True)
    with qdrant.open() as vectors:
        assert vectors.document_point_ids("a.pdf") and vectors.document_point_ids("b.pdf")

    # The object leaves the bucket; the prune run removes its points and its data.
    UPath(f"s3://{s3_bucket}/uploads/a.pdf").unlink()
    pruned = ingest_folder(
        instance,
        UPath(f"s3://{s3_bucket}/uploads"),
        overrides={**FAKE_MODELS, "storage": storage},
        prune=True,
    )
    assert pruned.pruned == ["a.pdf"]
    with qdrant.open() as vectors:
        assert vectors.document_point_ids("a.pdf") == set()
        assert vectors.document_point_ids("b.pdf")
    assert store.read_json("sources", "a.pdf") is None
    assert not store.parsed_path("a.pdf").exists()


def test_option_files_on_s3_come_from_the_listing_and_a_change_reruns(
    home: Path, instance: dg.DagsterInstance, s3_server: S3Server, s3_bucket: str
) -> None:
    _put(s3_bucket, "uploads/de/a.pdf", "01030000000001.pdf")
    folder_file = UPath(f"s3://{s3_bucket}/uploads/de/.docingest.yaml")
    folder_file.write_text("parse_options:\n  ocr_languages: de\n")
    source = SourceResource(root=f"s3://{s3_bucket}/uploads")
    (file,) = source.list_files()
    assert source.parse_options_for(file.path) == {"ocr_languages": "de"}

    first = _tick(instance, s3_bucket, None)
    assert [r.partition_key for r in first.run_requests] == ["de/a.pdf"]
    instance.add_dynamic_partitions("documents", ["de/a.pdf"])
    # The names of option files that do not exist are never asked for: one listing tells.
    absent = [
        f"{s3_bucket}/uploads/.docingest.yaml",
        f"{s3_bucket}/uploads/de/a.pdf.docingest.yaml",
    ]
    asked = [s3_server.requests("HEAD", key) for key in absent]
    idle = _tick(instance, s3_bucket, first.cursor)
    assert not idle.run_requests
    assert [s3_server.requests("HEAD", key) for key in absent] == asked

    # Changing the folder's options re-runs the document, its object untouched.
    folder_file.write_text("parse_options:\n  ocr_languages: fr\n")
    changed = _tick(instance, s3_bucket, idle.cursor)
    assert [r.partition_key for r in changed.run_requests] == ["de/a.pdf"]


def test_reconcile_on_s3_hashes_only_objects_whose_etag_moved(
    home: Path, instance: dg.DagsterInstance, s3_server: S3Server, s3_bucket: str
) -> None:
    _put(s3_bucket, "uploads/a.pdf", "01030000000001.pdf")
    _put(s3_bucket, "uploads/b.pdf", "01030000000002.pdf")
    storage = StorageResource(base_dir=f"s3://{s3_bucket}/data")
    resources = {**FAKE_MODELS, "storage": storage}  # the models are not what is tested
    ingest_folder(instance, UPath(f"s3://{s3_bucket}/uploads"), overrides=resources)
    assert storage.store.read_json("sources", "a.pdf")["etag"]  # recorded at registration
    configured = build_resources(**resources)
    keys = [f"{s3_bucket}/uploads/{name}" for name in ("a.pdf", "b.pdf")]
    with dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=datetime.now(UTC),
        resources={
            **{k: configured[k] for k in ("parser", "chunker", "embedder", "storage")},
            "source": SourceResource(root=f"s3://{s3_bucket}/uploads"),
        },
    ) as context:
        reads = [s3_server.requests("GET", key) for key in keys]
        idle = reconcile_schedule()(context)
        assert isinstance(idle, dg.SkipReason) and "all current" in str(idle.skip_message)
        assert [s3_server.requests("GET", key) for key in keys] == reads
        _put(s3_bucket, "uploads/a.pdf", "01030000000003.pdf")
        requests = reconcile_schedule()(context)
        assert isinstance(requests, list)
        assert [r.partition_key for r in requests] == ["a.pdf"]
        assert s3_server.requests("GET", keys[1]) == reads[1]
