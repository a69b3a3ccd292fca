"""N registered documents on the PostgreSQL instance: what the sensor, `docingest status`, the
asset page and a backfill cost as N grows (issue 14, point 5).

Run from the repository root (PostgreSQL on 127.0.0.1:5432 with trust auth, as in CI):

    .venv/bin/python -m bench.scale_bench --docs 1000 10000 100000 [--out FILE]
    .venv/bin/python -m bench.scale_bench build --docs 100000 --work DIR   # build only
    .venv/bin/python -m bench.scale_bench measure --work DIR               # measure a build

Building N documents does not parse them. One real corpus PDF is ingested through the real
pipeline into a fresh PostgreSQL database; the other N - 1 documents are small distinct PDFs in
the same upload folder, registered the way that ingest left the first one: its `sources` and
`state` records with the id, path, size and content hash of each file, the dynamic partitions
added in batches, and its materialization of `vector_store_entries` (the asset whose page is
loaded) copied for each partition, stored in batches as Dagster stores a run's events. Then:

- sensor: `upload_folder_sensor` through `dg.build_sensor_context` on the instance, its first
  tick (no cursor: hashes every file), a steady tick (nothing new) and a tick with 100 new
  files; and the `dagster-daemon` sensor iteration (`execute_sensor_iteration`, the daemon's
  own code, code location loaded from workspace.yaml), first and steady;
- `docingest status` and `docingest status --json` as subprocesses;
- the asset page: the GraphQL queries the UI sends (read from the installed webserver's bundle)
  posted to a real `dagster-webserver`;
- a backfill of every partition: the UI's `launchPartitionBackfill` mutation, then the first
  iteration of the backfill daemon (`execute_backfill_iteration`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import cache
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "odl-bench" / "pdfs"
TEMPLATE_PDF = CORPUS / "01030000000001.pdf"
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
BUILD_FILE = "scale.json"
PARTITION_BATCH, EVENT_BATCH = 10_000, 1_000
NEW_FILES = 100
ONE_PASS_S = 86_400.0  # a hashing budget no first tick here reaches
BACKFILL_SAMPLE_RUNS = 5  # enough for the rate: a run takes tens of seconds to submit here
# The asset whose page the bench loads; only it is materialized for every partition (the other
# assets only for the ingested document): 500,000 events would take most of an hour to store.
PAGE_ASSET = "vector_store_entries"
DAEMON_SENSOR_INTERVAL_S = 1
DAEMON_FIRST_PASS_TICKS = 20  # at most, to finish the first pass (hashing budget per tick)
DAEMON_STEADY_TICKS = 3  # the median is reported


# -- the deployment ---------------------------------------------------------------------------
def _admin() -> Any:
    import psycopg2

    connection = psycopg2.connect(dbname="postgres", connect_timeout=5, **PG)
    connection.autocommit = True
    return connection


def create_database() -> str:
    name = f"docingest_scale_{uuid.uuid4().hex[:8]}"
    admin = _admin()
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()
    return name


def analyze_database(name: str) -> None:
    """`VACUUM ANALYZE` the deployment's database, as autovacuum does on a production server
    after bulk inserts. This machine's PostgreSQL runs with autovacuum off: without statistics
    the planner took the 100k rows of `event_logs` for five and answered the asset page's
    check-status query (`AssetGraphLiveQuery`) with a nested loop, 36 s and a statement
    timeout (HTTP 500) where it takes 2 ms analyzed."""
    import psycopg2

    connection = psycopg2.connect(dbname=name, connect_timeout=5, **PG)
    connection.autocommit = True  # VACUUM cannot run inside a transaction
    try:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    finally:
        connection.close()


def drop_database(name: str) -> None:
    admin = _admin()
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def deployment_env(work: Path, database: str) -> dict[str, str]:
    """The environment of a production deployment under `work`: the repository's dagster.yaml
    on the given PostgreSQL database, DOCINGEST_HOME and the upload folder under `work`."""
    foreign = ("DOCINGEST_", "DAGSTER_", "QDRANT_")
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(foreign)},
        "DOCINGEST_HOME": str(work / "home"),
        "DAGSTER_HOME": str(work / "dagster"),
        "DOCINGEST_SOURCE_DIR": str(work / "uploads"),
        "DOCINGEST_PARSE_ENGINE": "fast",
        # The daemon evaluates the sensor at most this often: two iterations a second apart.
        "DOCINGEST_SENSOR_INTERVAL_S": str(DAEMON_SENSOR_INTERVAL_S),
        # The backfill daemon checks for a cancellation between chunks of runs (25 by default).
        "DAGSTER_ASSET_BACKFILL_RUN_CHUNK_SIZE": str(BACKFILL_SAMPLE_RUNS),
        "DAGSTER_PG_USERNAME": PG["user"],
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_HOST": PG["host"],
        "DAGSTER_PG_PORT": str(PG["port"]),
        "DAGSTER_PG_DB": database,
        "PYTHONPATH": str(REPO),
    }


def enter_deployment(work: Path, database: str) -> None:
    """This process becomes the deployment's: the bench measures from inside it."""
    env = deployment_env(work, database)
    for name in set(os.environ) - set(env):
        del os.environ[name]
    os.environ.update(env)


# -- building N documents ---------------------------------------------------------------------
def _small_pdf(index: int) -> bytes:
    """A small one-page PDF of its own: a comment after the end of the file makes its content
    distinct (the sensor hashes every file) at no rendering cost."""
    return _blank_pdf() + f"%{index}\n".encode()


@cache
def _blank_pdf() -> bytes:
    import pymupdf

    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "A document of the scale bench")
    data: bytes = doc.tobytes()
    doc.close()
    return data


def _ingest_template(instance: Any, uploads: Path) -> str:
    """The first document, ingested by the real pipeline: its records are the template."""
    from pipelines.ingest import ingest_folder

    shutil.copyfile(TEMPLATE_PDF, uploads / TEMPLATE_PDF.name)
    summary = ingest_folder(instance, uploads)
    if summary.succeeded != 1:
        raise RuntimeError(f"the template document did not ingest: {summary}")
    return TEMPLATE_PDF.name


def _asset_templates(instance: Any, document_id: str) -> dict[str, Any]:
    """The template document's latest materialization of each asset, as stored events."""
    import dagster as dg

    templates = {}
    for key in instance.get_asset_keys():
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, asset_partitions=[document_id]), limit=1
        ).records
        if records:
            templates[key.to_user_string()] = records[0].event_log_entry
    return templates


def _clone_event(entry: Any, partition: str) -> Any:
    """The template's materialization event, for another partition (same run, metadata)."""
    from dagster._core.events import StepMaterializationData

    event = entry.dagster_event
    materialization = event.event_specific_data.materialization
    data = StepMaterializationData(materialization._replace(partition=partition))
    return entry._replace(
        dagster_event=event._replace(event_specific_data=data), timestamp=time.time()
    )


def materialize(instance: Any, template: Any, partitions: list[str]) -> None:
    """The template materialization, once per partition, stored in batches."""
    for at in range(0, len(partitions), EVENT_BATCH):
        batch = [_clone_event(template, key) for key in partitions[at : at + EVENT_BATCH]]
        instance.event_log_storage.store_event_batch(batch)


def build(work: Path, count: int) -> dict[str, Any]:
    """A fresh database and home under `work` holding `count` registered documents."""
    import dagster as dg

    from assets.partitions import DOCUMENTS
    from docingest.ids import document_id_for, sha256_bytes
    from docingest.storage import DocumentStore

    database = create_database()
    work.mkdir(parents=True, exist_ok=True)
    (work / "dagster").mkdir(exist_ok=True)
    shutil.copyfile(REPO / "dagster.yaml", work / "dagster" / "dagster.yaml")
    uploads = work / "uploads"
    uploads.mkdir(exist_ok=True)
    enter_deployment(work, database)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    instance = dg.DagsterInstance.get()
    template_id = _ingest_template(instance, uploads)
    timings["template_ingest_s"] = time.perf_counter() - started
    store = DocumentStore(work / "home")
    source = store.read_json("sources", template_id) or {}
    state = store.read_json("state", template_id) or {}
    events = _asset_templates(instance, template_id)

    started = time.perf_counter()
    ids: list[str] = []
    for index in range(1, count):
        data = _small_pdf(index)
        path = uploads / f"doc-{index:06d}.pdf"
        path.write_bytes(data)
        document_id = document_id_for(path, uploads.resolve())
        sha256 = sha256_bytes(data)
        own = {"document_id": document_id, "sha256": sha256}
        where = str(path.absolute())
        store.write_json(
            "sources", document_id, {**source, **own, "path": where, "size": len(data)}
        )
        store.write_json("state", document_id, {**state, **own, "source": where})
        ids.append(document_id)
    timings["files_and_records_s"] = time.perf_counter() - started

    started = time.perf_counter()
    for at in range(0, len(ids), PARTITION_BATCH):
        instance.add_dynamic_partitions(DOCUMENTS, ids[at : at + PARTITION_BATCH])
    timings["partitions_s"] = time.perf_counter() - started

    started = time.perf_counter()
    materialize(instance, events[PAGE_ASSET], ids)
    timings["materializations_s"] = time.perf_counter() - started
    instance.dispose()
    started = time.perf_counter()
    analyze_database(database)
    timings["analyze_s"] = time.perf_counter() - started
    built = {
        "docs": count,
        "database": database,
        "assets": len(events),
        "build": {k: round(v, 1) for k, v in timings.items()},
    }
    (work / BUILD_FILE).write_text(json.dumps(built, indent=2))
    return built


# -- measuring ---------------------------------------------------------------------------------
@contextmanager
def timed(figures: dict[str, Any], name: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    figures[name] = round(time.perf_counter() - started, 3)


def sensor_ticks(instance: Any, uploads: Path, figures: dict[str, Any]) -> None:
    """The sensor as the daemon evaluates it, through its definition: first, steady, and with
    `NEW_FILES` new files (whose partition requests are not applied)."""
    import dagster as dg

    from pipelines.sensors import upload_folder_sensor
    from resources import SourceResource, build_resources

    resources = build_resources()
    sensor = upload_folder_sensor()

    def tick(cursor: str | None, source: SourceResource | None = None) -> Any:
        bound = {**resources, "source": source or resources["source"]}
        # The qdrant resource opens its store for the evaluation: a context manager.
        with dg.build_sensor_context(instance=instance, cursor=cursor, resources=bound) as context:
            return sensor(context)

    # Without a cursor every file is hashed; the daemon's ticks spread that over several ticks
    # (hash_budget_s), the bench takes it in one to time the whole pass.
    with timed(figures, "sensor_first_tick_s"):
        first = tick(None, SourceResource(hash_budget_s=ONE_PASS_S))
    figures["sensor_first_tick_runs"] = len(first.run_requests or [])
    figures["cursor_bytes"] = len(first.cursor or "")
    with timed(figures, "sensor_steady_tick_s"):
        steady = tick(first.cursor)
    figures["sensor_steady_tick_runs"] = len(steady.run_requests or [])
    figures["sensor_steady_skip"] = steady.skip_reason.skip_message if steady.skip_reason else ""
    added = _add_new_files(uploads)
    with timed(figures, "sensor_new_files_tick_s"):
        fresh = tick(steady.cursor)
    figures["sensor_new_files_partitions"] = sum(
        len(request.partition_keys) for request in fresh.dynamic_partitions_requests or []
    )
    figures["sensor_new_files_runs"] = len(fresh.run_requests or [])
    for path in added:
        path.unlink()


@contextmanager
def daemon_workspace(instance: Any) -> Iterator[Any]:
    """The daemon's view of the deployment: workspace.yaml's code location in a code server
    process, loaded as `dagster-daemon run` loads it."""
    from dagster._core.test_utils import create_test_daemon_workspace_context
    from dagster._core.workspace.load_target import WorkspaceFileTarget

    target = WorkspaceFileTarget([str(REPO / "workspace.yaml")])
    with create_test_daemon_workspace_context(target, instance) as context:
        yield context


def daemon_sensor_iterations(context: Any, uploads: Path, figures: dict[str, Any]) -> None:
    """`dagster-daemon`'s sensor iteration, the daemon's own code: the first tick (no cursor),
    the ticks after it until every file is hashed (the hashing budget spreads a first pass
    over ticks), then steady ones (nothing new; the code server has ticked before, as a
    daemon's has) and one with `NEW_FILES` new files."""
    import logging

    from dagster._daemon.sensor import execute_sensor_iteration

    instance = context.instance
    logger = logging.getLogger("scale_bench.sensor_daemon")
    location = next(iter(context.create_request_context().get_code_location_entries().values()))
    if location.code_location is None:
        raise RuntimeError(f"the code location did not load: {location.load_error}")
    (repository,) = location.code_location.get_repositories().values()
    sensor = repository.get_sensor("upload_folder_sensor")
    instance.start_sensor(sensor)
    origin, selector = sensor.get_remote_origin_id(), sensor.selector_id
    # A sensor measured before keeps its cursor: the first iteration starts from none.
    state = instance.get_instigator_state(origin, selector)
    instance.update_instigator_state(state.with_data(state.instigator_data._replace(cursor=None)))

    def iteration(name: str) -> Any:
        time.sleep(DAEMON_SENSOR_INTERVAL_S + 0.2)
        with timed(figures, name):
            list(execute_sensor_iteration(context, logger, None, None))
        (tick,) = instance.get_ticks(origin, selector, limit=1)
        return tick

    tick = iteration("daemon_sensor_first_s")
    figures["daemon_sensor_first_status"] = tick.status.value
    rest = []
    for _ in range(DAEMON_FIRST_PASS_TICKS):  # the first pass, spread by the hashing budget
        if "left for the next tick" not in (tick.skip_reason or ""):
            break
        started = time.perf_counter()
        tick = iteration("daemon_sensor_pass_s")
        rest.append(round(time.perf_counter() - started, 3))
    figures["daemon_sensor_pass_ticks"] = rest
    steady = []
    for _ in range(DAEMON_STEADY_TICKS):
        tick = iteration("daemon_sensor_steady_s")
        steady.append((figures["daemon_sensor_steady_s"], tick.status.value))
    figures["daemon_sensor_steady_ticks"] = steady
    figures["daemon_sensor_steady_s"] = sorted(t for t, _ in steady)[len(steady) // 2]
    added = _add_new_files(uploads)
    tick = iteration("daemon_sensor_new_files_s")
    figures["daemon_sensor_new_files_status"] = tick.status.value
    figures["daemon_sensor_new_files_runs"] = len(tick.run_ids)
    for path in added:  # and what the daemon made of them: the figures after count N
        path.unlink()
    for run_id in tick.run_ids:
        instance.delete_run(run_id)
    for path in added:
        instance.delete_dynamic_partition("documents", path.name)
    ticks = instance.get_ticks(origin, selector, limit=DAEMON_STEADY_TICKS + 2)
    figures["daemon_sensor_ticks"] = [tick.status.value for tick in reversed(ticks)]
    figures["daemon_tick_stored_bytes"] = _stored_tick_bytes()
    instance.stop_sensor(origin, selector, sensor)


def _add_new_files(uploads: Path) -> list[Path]:
    """`NEW_FILES` new small PDFs, left long enough to be settled."""
    from resources import SourceResource

    added = [uploads / f"new-{index:03d}.pdf" for index in range(NEW_FILES)]
    for index, path in enumerate(added):
        path.write_bytes(_small_pdf(-1 - index))
    time.sleep(SourceResource().settle_seconds + 0.5)
    return added


def reconcile_evaluations(instance: Any, uploads: Path, figures: dict[str, Any]) -> None:
    """The reconcile schedule's evaluation, as the daemon's schedule iteration calls it: the
    first (nothing remembered: every file hashed; in one pass here, as a daemon's would be
    spread by the budget), steady (nothing moved) and with `NEW_FILES` files touched (their
    mtime moved, the content not)."""
    from datetime import UTC, datetime

    import dagster as dg

    from pipelines.schedules import reconcile_schedule
    from resources import SourceResource, build_resources

    resources = build_resources()
    schedule = reconcile_schedule()
    checked = Path(os.environ["DOCINGEST_HOME"]) / "reconcile_checked"
    shutil.rmtree(checked, ignore_errors=True)  # a first evaluation: nothing remembered
    one_pass = (
        SourceResource(reconcile_budget_s=ONE_PASS_S)
        if "reconcile_budget_s" in SourceResource.model_fields
        else resources["source"]
    )

    def evaluate(name: str, source: Any) -> Any:
        bound = {**resources, "source": source}
        with (
            dg.build_schedule_context(
                instance=instance, scheduled_execution_time=datetime.now(UTC), resources=bound
            ) as context,
            timed(figures, name),
        ):
            result = schedule(context)
        return result

    first = evaluate("reconcile_first_s", one_pass)
    figures["reconcile_first_runs"] = len(first) if isinstance(first, list) else 0
    steady = evaluate("reconcile_steady_s", resources["source"])
    figures["reconcile_steady_runs"] = len(steady) if isinstance(steady, list) else 0
    touched = sorted(uploads.glob("doc-*.pdf"))[:NEW_FILES]
    for path in touched:
        info = path.stat()
        os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 10**9))
    time.sleep(resources["source"].settle_seconds + 0.5)
    after = evaluate("reconcile_touched_s", resources["source"])
    figures["reconcile_touched_runs"] = len(after) if isinstance(after, list) else 0
    if not isinstance(after, list):
        figures["reconcile_touched_skip"] = after.skip_message


def _stored_tick_bytes() -> int:
    """What the instance stores per sensor tick (the latest tick row, as PostgreSQL keeps it,
    compressed): the cursor goes into every tick, and Dagster keeps ticks for days."""
    import psycopg2

    connection = psycopg2.connect(dbname=os.environ["DAGSTER_PG_DB"], **PG)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_column_size(tick_body) FROM job_ticks ORDER BY id DESC")
            row = cursor.fetchone()
    finally:
        connection.close()
    return int(row[0]) if row else 0


def cli_status(env: dict[str, str], figures: dict[str, Any]) -> None:
    """`docingest status` and `docingest status --json`, each a new process, as users run them."""
    import subprocess

    command = [sys.executable, "-m", "pipelines.cli", "status"]
    for name, extra in (("status_s", []), ("status_json_s", ["--json"])):
        with timed(figures, name):
            result = subprocess.run(
                [*command, *extra], env=env, cwd=REPO, capture_output=True, text=True, check=True
            )
    figures["status_total"] = json.loads(result.stdout)["documents"]["total"]


class Webserver:
    """A real `dagster-webserver` on the deployment, and the UI's queries posted to it."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        import socket
        import subprocess

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "dagster-webserver"), "-w",
             str(REPO / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(self.port)],
            env=env, cwd=logs, stdout=(logs / "webserver.log").open("wb"),
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def wait_ready(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                result = self.query("query Ready { workspaceOrError { __typename } }")
                if result["data"]["workspaceOrError"]["__typename"] == "Workspace":
                    return
            except OSError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"dagster-webserver exited {self.process.returncode}")
            time.sleep(1)
        raise TimeoutError("dagster-webserver did not answer")

    def query(self, document: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        import urllib.request

        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/graphql",
            data=json.dumps({"query": document, "variables": variables or {}}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=900) as response:
            answer: dict[str, Any] = json.loads(response.read())
        if answer.get("errors"):
            raise RuntimeError(f"GraphQL errors: {answer['errors']}")
        return answer

    def stop(self) -> None:
        import signal

        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=60)


def asset_page(server: Webserver, partition: str, figures: dict[str, Any]) -> None:
    """The queries the UI sends for an asset's page and its partitions tab, each timed twice
    (the first answer fills Dagster's caches, the second is what a reload costs)."""
    from bench.ui_queries import ui_query

    key = {"path": [PAGE_ASSET]}
    for name, variables in (
        ("AssetViewDefinitionQuery", {"assetKey": key}),
        ("AssetGraphLiveQuery", {"assetKeys": [key]}),
        ("AssetOverviewMetadataEventsQuery", {"assetKey": key}),
        ("PartitionHealthQuery", {"assetKey": key}),
        ("AssetPartitionDetailQuery", {"assetKey": key, "partitionKey": partition}),
    ):
        document = ui_query(name)
        for run in ("first", "again"):
            with timed(figures, f"ui_{name}_{run}_s"):
                answer = server.query(document, variables)
    health = server.query(ui_query("PartitionHealthQuery"), {"assetKey": key})["data"]
    node = health["assetNodeOrError"]
    figures["ui_partition_keys"] = len(node["partitionKeysByDimension"][0]["partitionKeys"])
    figures["ui_materialized"] = len(node["assetPartitionStatuses"]["materializedPartitions"])
    del answer


def backfill(server: Webserver, context: Any, figures: dict[str, Any]) -> None:
    """A backfill of every partition of every asset, launched as the UI launches it, then the
    backfill daemon's first iteration (its runs are queued: no run-queue daemon runs here)."""
    import logging

    import dagster as dg
    from dagster._core.execution.backfill import BulkActionStatus
    from dagster._daemon.backfill import execute_backfill_iteration

    from bench.ui_queries import ui_query
    from resources.source import BATCH_SIZE

    instance = context.instance
    keys = [{"path": key.path} for key in instance.get_asset_keys()]
    params = {"backfillParams": {"assetSelection": keys, "allPartitions": True}}
    with timed(figures, "backfill_launch_s"):
        answer = server.query(ui_query("LaunchPartitionBackfill"), params)
    launched = answer["data"]["launchPartitionBackfill"]
    if "backfillId" not in launched:
        raise RuntimeError(f"the backfill was not launched: {launched}")
    backfill_id = launched["backfillId"]

    def queued() -> int:
        return int(instance.get_runs_count(dg.RunsFilter(tags={"dagster/backfill": backfill_id})))

    # The first iteration submits every run of the backfill (N / 50 runs), in chunks (see
    # deployment_env): at 100k documents that is hours here. The bench times the first chunk,
    # then cancels the backfill, which ends the iteration after the chunk in flight.
    logger = logging.getLogger("scale_bench.backfill_daemon")
    iteration = threading.Thread(target=lambda: list(execute_backfill_iteration(context, logger)))
    started = time.perf_counter()
    iteration.start()
    while iteration.is_alive() and queued() < BACKFILL_SAMPLE_RUNS:
        time.sleep(0.5)
    figures["backfill_first_runs_s"] = round(time.perf_counter() - started, 3)
    figures["backfill_first_runs"] = queued()
    record = instance.get_backfill(backfill_id)
    # One run covers a batch of documents for every asset (one multi-asset step).
    target = record.asset_backfill_data.target_subset.num_partitions_and_non_partitioned_assets
    figures["backfill_target_runs"] = math.ceil(target / len(keys) / BATCH_SIZE)
    while iteration.is_alive():  # the iteration writes its own copy between chunks: insist
        record = instance.get_backfill(backfill_id)
        if record.status != BulkActionStatus.CANCELING:
            instance.update_backfill(record.with_status(BulkActionStatus.CANCELING))
        iteration.join(timeout=5)


PARTS = ("status", "sensor", "daemon", "reconcile", "ui")


def measure(work: Path, parts: tuple[str, ...] = PARTS) -> dict[str, Any]:
    """The figures of `parts` for the deployment `build` left under `work`: `docingest status`,
    the sensor's ticks, the daemon's sensor iterations, the asset page and a backfill (ui)."""
    import dagster as dg

    built = json.loads((work / BUILD_FILE).read_text())
    analyze_database(built["database"])  # what a deployment's autovacuum keeps up to date
    enter_deployment(work, built["database"])
    env = dict(os.environ)
    figures: dict[str, Any] = {"docs": built["docs"], "build": built["build"]}
    figures["loadavg_start"] = Path("/proc/loadavg").read_text().split()[0]
    instance = dg.DagsterInstance.get()
    if "status" in parts:
        cli_status(env, figures)
    if "sensor" in parts:
        sensor_ticks(instance, work / "uploads", figures)
    if "reconcile" in parts:
        reconcile_evaluations(instance, work / "uploads", figures)
    server = Webserver(env, work) if "ui" in parts else None  # its code server loads meanwhile
    try:
        with ExitStack() as stack:
            if "daemon" in parts or server:
                with timed(figures, "daemon_code_location_load_s"):
                    daemon = stack.enter_context(daemon_workspace(instance))
            if "daemon" in parts:
                daemon_sensor_iterations(daemon, work / "uploads", figures)
            if server:
                server.wait_ready()
                asset_page(server, "doc-000001.pdf", figures)
                backfill(server, daemon, figures)
    finally:
        if server:
            server.stop()
    figures["loadavg_end"] = Path("/proc/loadavg").read_text().split()[0]
    instance.dispose()
    return figures


def scaling(reports: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each timed figure per N, and how it grows from the second-largest N to the largest:
    its ratio divided by the ratio of N (1.0 is linear; above ~1.5, worse than linear even
    on this noisy machine; near 0, constant)."""
    by_n = sorted(reports, key=lambda report: report["docs"])
    table: dict[str, dict[str, Any]] = {}
    for name in by_n[-1]:
        if not name.endswith("_s"):
            continue
        row: dict[str, Any] = {str(report["docs"]): report.get(name) for report in by_n}
        if len(by_n) > 1 and by_n[-2].get(name):
            growth = (by_n[-1][name] / by_n[-2][name]) / (by_n[-1]["docs"] / by_n[-2]["docs"])
            row["growth_vs_linear"] = round(growth, 2)
            row["verdict"] = (
                "worse than linear" if growth > 1.5 else "linear" if growth > 0.4 else "sublinear"
            )
        table[name] = row
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="all", choices=["all", "build", "measure"])
    parser.add_argument("--docs", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--work", type=Path, help="build/measure: the deployment's folder")
    parser.add_argument("--out", type=Path, default=Path("bench/results/scale.json"))
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    args = parser.parse_args(argv)
    if args.command == "build":
        print(json.dumps(build(args.work, args.docs[0]), indent=2))
        return 0
    if args.command == "measure":
        print(json.dumps(measure(args.work, tuple(args.parts)), indent=2))
        return 0
    reports = []
    for count in args.docs:
        work = Path(tempfile.mkdtemp(prefix=f"scale-bench-{count}-"))
        built = build(work, count)
        try:
            reports.append(measure(work, tuple(args.parts)))
        finally:
            drop_database(built["database"])
            shutil.rmtree(work, ignore_errors=True)
    result = {"reports": reports, "scaling": scaling(reports)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result["scaling"], indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
