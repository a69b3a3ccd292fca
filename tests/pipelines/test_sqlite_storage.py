"""The embedded instance's pooled SQLite storages: kept connections, shared files, kill safety."""

import signal
import subprocess
import sys
import textwrap

import dagster as dg
import sqlalchemy as sa

from pipelines.definitions import build_definitions
from pipelines.sqlite_storage import PooledSqliteEventLogStorage, PooledSqliteRunStorage

PROBE = "storage_probe"
SQLITE_SYNCHRONOUS_NORMAL = 1

# A second process on the same DAGSTER_HOME: writes its events while the test writes its own,
# then dies by SIGKILL, without closing its connections.
WRITER = textwrap.dedent(
    """
    import os, signal, sys
    import dagster as dg
    from pipelines.instance import get_instance

    instance = get_instance()
    for n in range(int(sys.argv[1])):
        instance.report_runless_asset_event(
            dg.AssetMaterialization("storage_probe", partition=f"child-{n}")
        )
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def _report(instance: dg.DagsterInstance, partition: str) -> None:
    instance.report_runless_asset_event(dg.AssetMaterialization(PROBE, partition=partition))


def _partitions(instance: dg.DagsterInstance) -> set[str]:
    """Every partition with a probe materialization (paged: a quiet machine writes thousands)."""
    keys: set[str] = set()
    cursor = None
    while True:
        result = instance.fetch_materializations(dg.AssetKey(PROBE), limit=1000, cursor=cursor)
        keys.update(r.partition_key for r in result.records if r.partition_key is not None)
        if not result.has_more:
            return keys
        cursor = result.cursor


def test_embedded_instance_keeps_its_connections(instance: dg.DagsterInstance) -> None:
    events = instance.event_log_storage
    assert isinstance(events, PooledSqliteEventLogStorage)
    runs = instance.run_storage
    assert isinstance(runs, PooledSqliteRunStorage)
    _report(instance, "one")
    _report(instance, "two")
    pool = events._engine.pool
    assert isinstance(pool, sa.pool.QueuePool) and pool.checkedin() >= 1  # kept for the next event
    with events._connect() as conn:
        assert conn.execute(sa.text("PRAGMA synchronous")).scalar() == SQLITE_SYNCHRONOUS_NORMAL
    run = instance.create_run_for_job(job_def=build_definitions().resolve_job_def("ingest_job"))
    assert instance.get_run_by_id(run.run_id) is not None
    runs_pool = runs._engine.pool
    assert isinstance(runs_pool, sa.pool.QueuePool) and runs_pool.checkedin() >= 1


def test_processes_share_the_files_and_a_killed_writer_keeps_its_events(
    instance: dg.DagsterInstance,
) -> None:
    _report(instance, "parent-before")  # this process holds an open connection from here on
    count = 40
    child = subprocess.Popen([sys.executable, "-c", WRITER, str(count)])
    written = 0
    while child.poll() is None:  # both processes write at once
        _report(instance, f"parent-{written}")
        written += 1
    assert child.returncode == -signal.SIGKILL
    _report(instance, "parent-after")

    expected = {f"child-{n}" for n in range(count)} | {f"parent-{n}" for n in range(written)}
    assert _partitions(instance) == expected | {"parent-before", "parent-after"}
    events = instance.event_log_storage
    assert isinstance(events, PooledSqliteEventLogStorage)
    with events._connect() as conn:
        assert conn.execute(sa.text("PRAGMA integrity_check")).scalar() == "ok"


def test_table_checks_use_the_kept_engine_and_remember_a_yes(
    instance: dg.DagsterInstance,
) -> None:
    """Dagster asks `has_table` per check evaluation; asked once per table, on the pool."""
    events = instance.event_log_storage
    assert isinstance(events, PooledSqliteEventLogStorage)
    checkouts: list[object] = []
    sa.event.listen(events._engine, "checkout", lambda *args: checkouts.append(args))
    assert events.has_table("asset_check_executions")
    asked = len(checkouts)
    assert asked >= 1
    assert events.has_table("asset_check_executions") and events.supports_asset_checks
    assert len(checkouts) == asked  # remembered: no connection for a table known to exist
    # A no is asked again: a table created later (as `dagster instance migrate` does) is seen.
    assert not events.has_table("docingest_probe_table")
    with events._connect() as conn:
        conn.execute(sa.text("CREATE TABLE docingest_probe_table (id INTEGER)"))
    assert events.has_table("docingest_probe_table")
