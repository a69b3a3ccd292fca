"""A docingest deployment as a data engineer runs it, for out-of-process tests: a fresh
DOCINGEST_HOME and DAGSTER_HOME (SQLite, or the production dagster.yaml on the local
PostgreSQL), an upload folder, the real `dagster-daemon`, `dagster` and `docingest` commands.

Nothing here calls the project's functions to do the work: the daemon ticks the sensor and the
schedule, launches the runs and the run workers execute them, exactly as in production.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
ACTIVE_RUNS = [
    dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]  # fmt: skip
# Variables of the developer's shell that would point a deployment somewhere else.
_FOREIGN = ("DOCINGEST_", "DAGSTER_", "QDRANT_")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def production_dagster_yaml() -> Path:
    """The repository's PostgreSQL instance config."""
    return REPO / "dagster.yaml"


def postgres_database() -> tuple[str, Callable[[], None]]:
    """A new, empty database on the local PostgreSQL and a function that drops it. In CI a
    missing server fails the test; elsewhere it is skipped."""
    import psycopg2

    try:
        admin = psycopg2.connect(dbname="postgres", connect_timeout=5, **PG)
    except psycopg2.OperationalError as error:
        if in_ci():
            pytest.fail(f"PostgreSQL is required in CI and is not reachable: {error}")
        pytest.skip(f"PostgreSQL not reachable on 127.0.0.1:5432: {error}")
    admin.autocommit = True
    name = f"docingest_e2e_{uuid.uuid4().hex[:8]}"
    with admin.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with admin.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()

    return name, drop


class Deployment:
    """One deployment's folders, environment and processes."""

    def __init__(self, root: Path, *, postgres_db: str | None = None, **env: str) -> None:
        self.root = root
        self.home = root / "home"
        self.uploads = root / "uploads"
        self.logs = root / "logs"
        for folder in (self.home, self.uploads, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
        base = {k: v for k, v in os.environ.items() if not k.startswith(_FOREIGN)}
        self.env: dict[str, str] = {
            **base,
            "DOCINGEST_HOME": str(self.home),
            "DAGSTER_HOME": str(self.home / "dagster"),
            "DOCINGEST_SOURCE_DIR": str(self.uploads),
            "PYTHONPATH": str(REPO),  # run workers and code servers load this checkout
            **env,
        }
        dagster_home = self.home / "dagster"
        dagster_home.mkdir(parents=True, exist_ok=True)
        if postgres_db:
            shutil.copyfile(production_dagster_yaml(), dagster_home / "dagster.yaml")
            self.env.update(
                DAGSTER_PG_USERNAME=PG["user"], DAGSTER_PG_PASSWORD="",
                DAGSTER_PG_HOST=PG["host"], DAGSTER_PG_PORT=str(PG["port"]),
                DAGSTER_PG_DB=postgres_db,
            )  # fmt: skip
        else:  # the embedded default, written the way `make dev` writes it
            self.run_python("from pipelines.instance import ensure_dagster_home as e; e()")
        # Create the instance's storage once, before the daemon, the CLI and this process
        # open it at the same moment (SQLite schema creation races).
        self.run_python("import dagster as dg; dg.DagsterInstance.get().get_runs(limit=1)")
        self._processes: list[tuple[subprocess.Popen[bytes], Path]] = []

    # -- commands ---------------------------------------------------------------------------
    def run(
        self, *args: str, timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            list(args), cwd=REPO, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
            )
        return result

    def run_python(self, code: str) -> subprocess.CompletedProcess[str]:
        return self.run(sys.executable, "-c", code)

    def docingest(
        self, *args: str, check: bool = False, **env: str
    ) -> subprocess.CompletedProcess[str]:
        saved = dict(self.env)
        self.env.update(env)
        try:
            return self.run(str(BIN / "docingest"), *args, check=check)
        finally:
            self.env = saved

    def dagster(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(str(BIN / "dagster"), *args, "-w", str(REPO / "workspace.yaml"))

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        """A long-running command in its own process group (killed whole at the end)."""
        log = self.logs / f"{name}.log"
        process = subprocess.Popen(
            list(args), cwd=REPO, env=self.env, stdout=log.open("wb"),
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self._processes.append((process, log))
        return process

    def start_daemon(self) -> subprocess.Popen[bytes]:
        return self.start(
            "daemon", str(BIN / "dagster-daemon"), "run", "-w", str(REPO / "workspace.yaml")
        )

    def stop(self) -> None:
        for process, _ in self._processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process, _ in self._processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)

    def log_tail(self, chars: int = 6000) -> str:
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')[-chars:]}"
            for _, log in self._processes
            if log.exists()
        )

    # -- reading what the deployment did ------------------------------------------------------
    @contextmanager
    def environment(self) -> Iterator[None]:
        """This process reads the deployment's home and instance while inside."""
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env)
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)

    @contextmanager
    def instance(self) -> Iterator[dg.DagsterInstance]:
        with self.environment():
            instance = dg.DagsterInstance.get()
            try:
                yield instance
            finally:
                instance.dispose()

    def settled(self, expected: Mapping[str, str | None]) -> bool:
        """Every expected document (id -> content hash, None for any) has a final outcome for
        that content, and no run is queued or in flight."""
        from docingest.state import read_state
        from docingest.storage import default_store

        with self.environment():  # the data may be on S3 (DOCINGEST_DATA_URL)
            states = {
                document_id: read_state(default_store(), document_id) for document_id in expected
            }
        for document_id, sha256 in expected.items():
            state = states[document_id]
            if sha256 is not None and state.sha256 != sha256:
                return False
            if state.status not in ("succeeded", "failed"):
                return False
            if state.status == "succeeded" and not state.run_id:
                return False
        with self.instance() as instance:
            return not instance.get_runs(filters=dg.RunsFilter(statuses=ACTIVE_RUNS))

    def wait_for(
        self, what: str, condition: Callable[[], Any], timeout: float = 240, every: float = 1.0
    ) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for process, log in self._processes:
                if process.poll() is not None:
                    raise AssertionError(f"{log.stem} exited {process.returncode}\n"
                                         f"{self.log_tail()}")  # fmt: skip
            value = condition()
            if value:
                return value
            time.sleep(every)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n"
                             f"{self.log_tail()}")  # fmt: skip
