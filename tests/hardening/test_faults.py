"""Faults mid-run: `docingest ingest` SIGKILLed, and PostgreSQL restarted under it.

The harness is `bench/fault_trials.py` (its docstring says what each trial checks). One
reference ingest of 50 documents gives the expected point set; then:

- random trials: SIGKILL of the process group at a seeded point of the run, then a re-run;
  `DOCINGEST_FAULT_TRIALS` of them (default 3; `python -m bench.fault_trials --trials 20`
  runs the full set, figures in bench/README.md);
- named points (bench/kill_at.py): a half-written Parquet file, points written before the
  state, state written before Dagster's event, a re-chunk between its upsert and its stale
  delete;
- PostgreSQL restarted (and stopped for longer than dagster-postgres's connection retries)
  while a run records its events: the run ends SUCCESS or FAILURE, nothing is recorded twice
  by one run, and the next ingest leaves everything exact.
"""

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import psycopg2
import pytest

from bench.fault_trials import (
    SCENARIOS,
    Reference,
    Scenario,
    dagster_problems,
    docingest_command,
    documents_done,
    kill_group,
    kill_points,
    make_reference,
    point_problems,
    random_trial,
    read_store,
    run,
    scenario_trial,
    seed_models,
    start,
    subset_folder,
)

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
DOCS = 50
SEED = 7
TRIALS = int(os.environ.get("DOCINGEST_FAULT_TRIALS") or 3)
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    return make_reference(tmp_path_factory.mktemp("faults"), DOCS, SEED)


@pytest.mark.parametrize("number", range(TRIALS))
def test_sigkill_at_a_random_point_then_rerun_is_exact(
    reference: Reference, number: int, tmp_path: Path
) -> None:
    point = kill_points(SEED, TRIALS, DOCS)[number]
    trial = random_trial(reference, tmp_path, number, point)
    assert trial.problems == [], trial


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.point for s in SCENARIOS])
def test_sigkill_at_a_named_point_then_rerun_is_exact(
    reference: Reference, scenario: Scenario, tmp_path: Path
) -> None:
    trial = scenario_trial(reference, tmp_path, scenario, 0, 8)
    assert trial.killed, trial
    assert trial.problems == [], trial
    if scenario.point == "parquet":
        # The half-written temporary file is left behind, and never read as an output.
        assert trial.temp_files == 1


# --- PostgreSQL restarted mid-run ----------------------------------------------------------------


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"PostgreSQL is required in CI: {reason}")
    pytest.skip(reason)


def _cluster() -> list[str]:
    """`pg_ctlcluster VERSION main` for the local server (Debian's tooling)."""
    versions = sorted(os.listdir("/etc/postgresql")) if Path("/etc/postgresql").is_dir() else []
    if not versions or shutil.which("pg_ctlcluster") is None:
        _unavailable("no local PostgreSQL cluster to restart (pg_ctlcluster, /etc/postgresql)")
    return ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main"]


def _ready() -> bool:
    try:
        psycopg2.connect(dbname="postgres", connect_timeout=2, **PG).close()
    except psycopg2.OperationalError:
        return False
    return True


def _ensure_up(cluster: list[str], timeout_s: float = 120) -> None:
    """PostgreSQL accepting connections again, whatever the test did to it."""
    deadline = time.monotonic() + timeout_s
    while not _ready():
        if time.monotonic() > deadline:
            raise RuntimeError("PostgreSQL did not come back")
        if subprocess.run([*cluster, "status"], capture_output=True).returncode != 0:
            subprocess.run([*cluster, "start"], capture_output=True, timeout=60)
        time.sleep(0.5)


@dataclass
class PgHome:
    dagster_home: Path
    env: dict[str, str]
    cluster: list[str]


@pytest.fixture
def pg_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PgHome]:
    """A fresh database and a DAGSTER_HOME with the production dagster.yaml pointing at it."""
    cluster = _cluster()
    try:
        admin = psycopg2.connect(dbname="postgres", connect_timeout=5, **PG)
    except psycopg2.OperationalError as error:
        _unavailable(f"PostgreSQL not reachable on 127.0.0.1:5432: {error}")
    admin.autocommit = True
    database = f"docingest_fault_{uuid.uuid4().hex[:8]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{database}"')
    admin.close()
    dagster_home = tmp_path / "dagster-pg"
    dagster_home.mkdir()
    shutil.copyfile(REPO / "dagster.yaml", dagster_home / "dagster.yaml")
    env = {
        "DAGSTER_HOME": str(dagster_home),
        "DAGSTER_PG_USERNAME": str(PG["user"]),
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_HOST": str(PG["host"]),
        "DAGSTER_PG_PORT": str(PG["port"]),
        "DAGSTER_PG_DB": database,
    }
    for key, value in env.items():  # for the checks this process makes on the instance
        monkeypatch.setenv(key, value)
    try:
        yield PgHome(dagster_home, env, cluster)
    finally:
        _ensure_up(cluster)
        admin = psycopg2.connect(dbname="postgres", connect_timeout=5, **PG)
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.close()


def _interrupt(cluster: list[str], down_s: float) -> None:
    if down_s == 0:
        subprocess.run([*cluster, "restart"], check=True, capture_output=True, timeout=120)
    else:
        subprocess.run([*cluster, "stop"], check=True, capture_output=True, timeout=120)
        time.sleep(down_s)
        subprocess.run([*cluster, "start"], check=True, capture_output=True, timeout=120)


@pytest.mark.postgres
@pytest.mark.exclusive  # the server goes down: no other test may be using it meanwhile
@pytest.mark.parametrize(
    "down_s",
    [0, 15],
    ids=["restart", "down-15s"],  # 15 s: past dagster-postgres's ~11 s of connection retries
)
def test_postgres_restarted_mid_run(
    reference: Reference, pg_home: PgHome, tmp_path: Path, down_s: float
) -> None:
    folder = subset_folder(reference, tmp_path, 20)
    documents = sorted(p.name for p in folder.iterdir())
    expected = {p: v for p, v in reference.points.items() if v[0] in documents}
    home, log = tmp_path / "home", tmp_path / "ingest.log"
    seed_models(home, reference.models)
    process = start(docingest_command("ingest", str(folder)), home, log, pg_home.env)
    try:
        deadline = time.monotonic() + 180
        while process.poll() is None and time.monotonic() < deadline:
            if (home / "state").is_dir() and documents_done(home) >= 3:
                break
            time.sleep(0.05)
        assert process.poll() is None, f"the run ended before the restart; see {log}"
        done_before = documents_done(home)
        _interrupt(pg_home.cluster, down_s)
        first_exit = process.wait(timeout=300)
    finally:
        kill_group(process)
        _ensure_up(pg_home.cluster)
    assert done_before < len(documents)  # the restart came mid-run

    instance = dg.DagsterInstance.from_config(str(pg_home.dagster_home))
    try:
        (first,) = instance.get_runs()
    finally:
        instance.dispose()
    # Resumed (the step's retry) and succeeded, or failed cleanly. A process that died while
    # the database was down would leave its run STARTED: the next ingest fails it (checked
    # below: no run left unfinished).
    if first.status == dg.DagsterRunStatus.STARTED:
        assert first_exit != 0, log
    else:
        assert first.status in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE)
        assert (first_exit == 0) == (first.status == dg.DagsterRunStatus.SUCCESS), log
    # The next ingest finishes whatever is left; then everything is exact.
    assert run(docingest_command("ingest", str(folder)), home, log, pg_home.env) == 0, log
    state = read_store(home)
    problems = point_problems(state, expected)
    problems += dagster_problems(pg_home.dagster_home, documents)
    assert problems == [], log.read_text()[-3000:]
