"""The production instance (dagster.yaml) on the real PostgreSQL at 127.0.0.1:5432.

In CI (CI=true) a missing PostgreSQL fails this test; elsewhere it is skipped.
"""

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg2
import pytest

from pipelines.ingest import ingest_folder

REPO = Path(__file__).resolve().parents[1]
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}

pytestmark = pytest.mark.postgres


def _admin() -> "psycopg2.extensions.connection":
    try:
        connection = psycopg2.connect(dbname="postgres", connect_timeout=5, **PG)
    except psycopg2.OperationalError as error:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"PostgreSQL is required in CI and is not reachable: {error}")
        pytest.skip(f"PostgreSQL not reachable on 127.0.0.1:5432: {error}")
    connection.autocommit = True
    return connection


@pytest.fixture
def pg_instance(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[dg.DagsterInstance, str]]:
    database = f"docingest_test_{uuid.uuid4().hex[:8]}"
    admin = _admin()
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{database}"')
    dagster_home = tmp_path / "dagster-pg"
    dagster_home.mkdir()
    shutil.copyfile(REPO / "dagster.yaml", dagster_home / "dagster.yaml")
    for key, value in {
        "DAGSTER_HOME": str(dagster_home),
        "DAGSTER_PG_USERNAME": PG["user"],
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_HOST": PG["host"],
        "DAGSTER_PG_PORT": str(PG["port"]),
        "DAGSTER_PG_DB": database,
    }.items():
        monkeypatch.setenv(key, value)
    instance = dg.DagsterInstance.get()
    try:
        yield instance, database
    finally:
        instance.dispose()
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()


def test_runs_and_materializations_recorded_in_postgres(
    pg_instance: tuple[dg.DagsterInstance, str], docs: Path
) -> None:
    instance, database = pg_instance
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    summary = ingest_folder(instance, docs)
    assert summary.succeeded == 2 and summary.failed == 0

    with psycopg2.connect(dbname=database, **PG) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT status FROM runs")
        statuses = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            "SELECT asset_key, partition FROM event_logs "
            "WHERE dagster_event_type = 'ASSET_MATERIALIZATION'"
        )
        materialized = cursor.fetchall()
        cursor.execute("SELECT partition FROM dynamic_partitions WHERE partitions_def_name = %s",
                       ("documents",))  # fmt: skip
        partitions = sorted(row[0] for row in cursor.fetchall())
    assert statuses == ["SUCCESS"]  # both documents in one batch run
    assert len(materialized) == 10  # five assets (with document_classes) for each of two documents
    assert {partition for _, partition in materialized} == set(partitions)
    assert partitions == sorted(p.name for p in docs.iterdir())
