"""One answer to "is this document current?": `docingest ingest`, the upload sensor and the
reconcile schedule, each on a real folder, a real instance and state written by the state
functions, for every `Freshness` reason.

The sensor knows only the content (it never reads the configured options): a document whose
options changed is the schedule's and the CLI's to re-run, by design.
"""

import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from assets.partitions import DOCUMENTS
from assets.pipeline import expected_options
from assets.run_tags import CORRELATION_TAG
from docingest.errors import DocIngestError, ErrorCode
from docingest.ids import sha256_file
from docingest.source import iter_source_files
from docingest.state import (
    Expected,
    Freshness,
    note_run,
    read_state,
    record_cancelled,
    record_failure,
    record_stage,
)
from docingest.storage import DocumentStore
from pipelines.definitions import build_definitions
from pipelines.ingest import assign_document_ids, ingest_reason
from pipelines.schedules import reconcile_schedule
from pipelines.sensors import upload_folder_sensor
from resources import SourceResource, StorageResource, build_resources
from tests.conftest import corpus_pdf

DOC = "a.pdf"
TICK = datetime(2026, 1, 1, 12, tzinfo=UTC)
PRIORITY = 3
Setup = Callable[[DocumentStore, Expected], None]


def _indexed(store: DocumentStore, now: Expected, **differs: str) -> None:
    """The document went all the way with the options `now`, except those in `differs`."""
    made = {
        "sha256": now.sha256,
        "parse_options_hash": now.parse_options_hash,
        "chunking_hash": now.chunking_hash,
        "embedding_model": now.embedding_model,
        **differs,
    }
    record_stage(store, DOC, "index", **made)
    note_run(store, DOC, "run-1")


def _half_way(store: DocumentStore, now: Expected) -> None:
    record_stage(store, DOC, "chunk", sha256=now.sha256)


def _failed(code: ErrorCode) -> Setup:
    def setup(store: DocumentStore, now: Expected) -> None:
        record_failure(
            store, DOC, "parse", DocIngestError(code, "x"), run_id="run-1",
            sha256=now.sha256, parse_options_hash=now.parse_options_hash,
        )  # fmt: skip

    return setup


def _cancelled(store: DocumentStore, now: Expected) -> None:
    record_stage(store, DOC, "parse", sha256=now.sha256)
    record_cancelled(store, DOC, "run-1")


# name, registered, setup, reason, runs from: (CLI, sensor, schedule)
TABLE: list[tuple[str, bool, Setup, Freshness, tuple[bool, bool, bool]]] = [
    ("current", True, _indexed, Freshness.CURRENT, (False, False, False)),
    ("new", False, lambda store, now: None, Freshness.NEW, (True, True, True)),
    ("content", True, lambda store, now: _indexed(store, now, sha256="0" * 64),
     Freshness.CONTENT_CHANGED, (True, True, True)),
    ("parse-options", True, lambda store, now: _indexed(store, now, parse_options_hash="o0"),
     Freshness.PARSE_OPTIONS_CHANGED, (True, False, True)),
    ("chunking", True, lambda store, now: _indexed(store, now, chunking_hash="c0"),
     Freshness.CHUNKING_CHANGED, (True, False, True)),
    ("model", True, lambda store, now: _indexed(store, now, embedding_model="m0"),
     Freshness.MODEL_CHANGED, (True, False, True)),
    ("half-way", True, _half_way, Freshness.HALF_WAY, (True, True, True)),
    ("cancelled", True, _cancelled, Freshness.CANCELLED, (True, True, True)),
    ("failed-retryable", True, _failed(ErrorCode.PARSE_TIMEOUT), Freshness.FAILED_RETRYABLE,
     (True, True, True)),
    ("failed-for-good", True, _failed(ErrorCode.CORRUPT_FILE), Freshness.FAILED_PERMANENTLY,
     (False, False, False)),
]  # fmt: skip


def test_the_table_covers_every_reason() -> None:
    assert {row[3] for row in TABLE} == set(Freshness)


@pytest.mark.parametrize(
    ("registered", "setup", "reason", "runs"),
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_cli_sensor_and_schedule_agree(
    home: Path,
    instance: dg.DagsterInstance,
    tmp_path: Path,
    registered: bool,
    setup: Setup,
    reason: Freshness,
    runs: tuple[bool, bool, bool],
) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    shutil.copyfile(corpus_pdf("01030000000001.pdf"), folder / DOC)
    configured = build_resources()
    parser, chunker, embedder = (configured[k] for k in ("parser", "chunker", "embedder"))
    now = Expected(
        sha256=sha256_file(folder / DOC),
        **{
            key: getattr(expected_options(parser, chunker, embedder), key)
            for key in ("parse_options_hash", "chunking_hash", "embedding_model")
        },
    )
    store = DocumentStore(home)
    if registered:
        instance.add_dynamic_partitions(DOCUMENTS, [DOC])
    setup(store, now)
    source = SourceResource(root=str(folder), settle_seconds=0, run_priority=PRIORITY)

    # docingest ingest: the reason it plans each file by.
    (candidate,), _ = assign_document_ids(folder, list(iter_source_files(folder)), store)
    cli_reason = ingest_reason(candidate, read_state(store, DOC), registered, now)
    assert cli_reason is reason
    cli_runs = cli_reason.needs_run()

    # The sensor, on a file new to its cursor.
    # Used as context managers: a context that opened an instance closes it (an instance left
    # open stays Dagster's current one after the test, and later ones trip over it).
    with dg.build_sensor_context(
        instance=instance,
        cursor=None,
        resources={"source": source, "storage": StorageResource()},
        definitions=build_definitions(),
    ) as sensor_context:
        sensor = upload_folder_sensor()(sensor_context)
    assert isinstance(sensor, dg.SensorResult)
    sensor_requests = [r for r in sensor.run_requests or [] if r.partition_key == DOC]

    # The reconcile schedule, with the configured options.
    schedule_resources = {
        "parser": parser, "chunker": chunker, "embedder": embedder,
        "source": source, "storage": StorageResource(),
    }  # fmt: skip
    with dg.build_schedule_context(
        instance=instance, resources=schedule_resources, scheduled_execution_time=TICK
    ) as schedule_context:
        schedule = reconcile_schedule()(schedule_context)
    assert isinstance(schedule, list | dg.SkipReason)
    schedule_requests = (
        [r for r in schedule if r.partition_key == DOC] if isinstance(schedule, list) else []
    )

    assert (cli_runs, bool(sensor_requests), bool(schedule_requests)) == runs
    for request in (*sensor_requests, *schedule_requests):
        assert request.tags["dagster/priority"] == str(PRIORITY)
    # Each evaluation's runs are one batch, named by a correlation id.
    assert all(r.tags[CORRELATION_TAG].startswith("upload:") for r in sensor_requests)
    for request in schedule_requests:
        assert request.tags[CORRELATION_TAG] == "reconcile:2026-01-01T12:00:00+00:00"
