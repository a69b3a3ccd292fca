"""A folder's option files through the pipeline: the CLI's ingest, the sensor and the schedule
all see them, and they are part of the parse cache's key."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pymupdf

from docingest.storage import DocumentStore
from pipelines.ingest import ingest_folder
from pipelines.schedules import reconcile_schedule
from pipelines.sensors import upload_folder_sensor
from resources import ChunkerResource, EmbedderResource, SourceResource, StorageResource
from resources.parser import ParserResource

FAST = ParserResource(engine="fast")


def _has_letterhead(store: DocumentStore, document_id: str) -> bool:
    """Whether the parse kept the letterhead (a page_header fragment: out of the markdown)."""
    pages = store.read_parse_result(document_id).pages
    return any("Letterhead" in f.content for page in pages for f in page.fragments)


def _pdf(path: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 30), "Letterhead of the Example Company", fontsize=10)
    page.insert_text((72, 300), "The minutes of the annual meeting of the members.", fontsize=11)
    doc.save(path)


def test_option_files_reach_the_parse_and_its_cache_key(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    folder = tmp_path / "uploads"
    (folder / "cropped").mkdir(parents=True)
    _pdf(folder / "plain.pdf")
    _pdf(folder / "cropped" / "minutes.pdf")
    (folder / "cropped" / ".docingest.yaml").write_text("parse_options:\n  bbox_top: 0.1\n")
    summary = ingest_folder(instance, folder, overrides={"parser": FAST})
    assert (summary.succeeded, summary.failed) == (2, 0)
    store = DocumentStore(home)
    plain = store.read_parse_result("plain.pdf")
    cropped = store.read_parse_result("cropped/minutes.pdf")
    assert _has_letterhead(store, "plain.pdf") and not _has_letterhead(store, "cropped/minutes.pdf")
    assert cropped.options["bbox_top"] == 0.1 and plain.options["bbox_top"] == 0.0
    assert cropped.options_hash == FAST.options({"bbox_top": 0.1}).options_hash()
    assert plain.options_hash == FAST.options().options_hash()

    # Current as they are: nothing runs again.
    assert ingest_folder(instance, folder, overrides={"parser": FAST}).skipped == 2

    # The sensor has seen the folder; a changed option file is a change to its documents only.
    resources = {"source": SourceResource(root=str(folder), settle_seconds=0),
                 "storage": StorageResource()}  # fmt: skip
    first = upload_folder_sensor()(dg.build_sensor_context(instance=instance, resources=resources))
    assert isinstance(first, dg.SensorResult) and not first.run_requests
    (folder / "cropped" / ".docingest.yaml").write_text("parse_options:\n  bbox_top: 0.0\n")
    seen = upload_folder_sensor()(
        dg.build_sensor_context(instance=instance, cursor=first.cursor, resources=resources)
    )
    assert isinstance(seen, dg.SensorResult)
    assert [r.partition_key for r in seen.run_requests] == ["cropped/minutes.pdf"]

    # The schedule plans it too, and so does the CLI, which re-parses it alone.
    context = dg.build_schedule_context(
        instance=instance,
        resources={**resources, "parser": FAST, "chunker": ChunkerResource(),
                   "embedder": EmbedderResource()},
        scheduled_execution_time=datetime(2026, 1, 1, 12, tzinfo=UTC),
    )  # fmt: skip
    planned = reconcile_schedule()(context)
    assert isinstance(planned, list)
    assert [r.partition_key for r in planned] == ["cropped/minutes.pdf"]
    again = ingest_folder(instance, folder, overrides={"parser": FAST})
    assert (again.succeeded, again.skipped) == (1, 1)
    assert _has_letterhead(store, "cropped/minutes.pdf")


def test_invalid_option_file_fails_its_documents_only(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    folder = tmp_path / "uploads"
    (folder / "bad").mkdir(parents=True)
    _pdf(folder / "good.pdf")
    _pdf(folder / "bad" / "one.pdf")
    _pdf(folder / "bad" / "two.pdf")
    (folder / "bad" / "two.pdf.docingest.yaml").write_text("parse_options:\n  bbox_top: 2\n")
    (folder / "bad" / "one.pdf.docingest.yaml").write_text("parse_options:\n  isolate: false\n")
    summary = ingest_folder(instance, folder, overrides={"parser": FAST})
    assert (summary.succeeded, summary.failed) == (1, 2)
    assert summary.errors == {"CORRUPT_FILE": 2}
    assert "bbox_top" in summary.failures["bad/two.pdf"]
    assert "isolate cannot be set here" in summary.failures["bad/one.pdf"]
    # An option the parse refuses fails for good: left alone until its file changes. A file
    # that cannot be read at all fails the registration, which (like an invalid metadata
    # sidecar) is tried again on every ingest.
    again = ingest_folder(instance, folder, overrides={"parser": FAST})
    assert (again.skipped, again.not_retried, again.failed) == (1, {"CORRUPT_FILE": 1}, 1)
    (folder / "bad" / "two.pdf.docingest.yaml").write_text("parse_options:\n  bbox_top: 0.2\n")
    fixed = ingest_folder(instance, folder, overrides={"parser": FAST})
    assert (fixed.succeeded, fixed.skipped, fixed.failed) == (1, 1, 1)
