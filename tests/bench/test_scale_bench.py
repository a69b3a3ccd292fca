"""bench.scale_bench at a small N on the real PostgreSQL: the figures it reports are real
(the sensor ticked over every file, status counted every document, the UI's queries answered
with every partition, the backfill daemon queued runs).

In CI (CI=true) a missing PostgreSQL fails this test; elsewhere it is skipped.
"""

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest

from bench import scale_bench
from bench.ui_queries import ui_query
from tests.deployment import in_ci

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

DOCS = 200


@pytest.fixture
def own_environment() -> Iterator[None]:
    """The bench makes its process the deployment's; the test's environment comes back after."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def postgres() -> None:
    try:
        scale_bench._admin().close()
    except psycopg2.OperationalError as error:
        if in_ci():
            pytest.fail(f"PostgreSQL is required in CI and is not reachable: {error}")
        pytest.skip(f"PostgreSQL not reachable on 127.0.0.1:5432: {error}")


def test_ui_queries_come_whole_from_the_installed_webserver() -> None:
    document = ui_query("AssetPartitionDetailQuery")
    assert document.startswith("query AssetPartitionDetailQuery(")
    # Every fragment it spreads is defined once, the nested ones included.
    assert document.count("fragment MetadataEntryFragment on MetadataEntry") == 1
    with pytest.raises(KeyError, match="NoSuchQuery"):
        ui_query("NoSuchQuery")


def test_scale_bench_reports_real_figures(
    tmp_path: Path, postgres: None, own_environment: None
) -> None:
    work = tmp_path / "deployment"
    built = scale_bench.build(work, DOCS)
    try:
        report = scale_bench.measure(work)
    finally:
        scale_bench.drop_database(built["database"])
    assert built["assets"] == 5  # the real ingest materialized every asset of the graph
    assert report["status_total"] == DOCS
    assert report["sensor_first_tick_runs"] == 0  # every file registered and current
    assert report["sensor_steady_skip"].startswith(f"no new, changed or deleted files among {DOCS}")
    assert report["sensor_new_files_partitions"] == scale_bench.NEW_FILES
    assert report["sensor_new_files_runs"] == 2  # 100 new files, 50 documents per run
    assert report["daemon_sensor_ticks"] == ["SKIPPED"] * 4 + ["SUCCESS"]
    assert report["daemon_sensor_pass_ticks"] == []  # 200 files: hashed in the first tick
    assert report["daemon_sensor_new_files_runs"] == 2
    assert report["reconcile_first_runs"] == report["reconcile_touched_runs"] == 0
    assert f"{DOCS} of {DOCS} files" in report["reconcile_touched_skip"]
    assert f"({scale_bench.NEW_FILES} hashed)" in report["reconcile_touched_skip"]
    assert report["ui_partition_keys"] == DOCS
    assert report["ui_materialized"] == DOCS
    assert report["backfill_target_runs"] == DOCS // 50  # documents per run
    assert 1 <= report["backfill_first_runs"] <= report["backfill_target_runs"]
    timed = [value for name, value in report.items() if name.endswith("_s")]
    assert timed and all(value > 0 for value in timed)
