"""The embedded instance's SQLite storages with their connections kept open.

Dagster's SQLite run and event log storages build a new engine and open a new connection for
every statement group (NullPool), so each event costs an engine, a connection, a commit that
waits for the disk (synchronous=FULL) and, when that connection closes as the last one on the
file, a checkpoint of the WAL. A document logs 11 events (five materializations, six check
evaluations): that was most of what the pipeline added to its stages' own work (bench/README.md,
ingest_bench).

These storages are the same databases, schemas and queries. Each keeps one engine and a small
pool of open connections per process, and commits with synchronous=NORMAL, which in WAL mode
loses no committed event when a process is killed, only the last ones if the machine loses
power (like the pipeline's own state files, written without fsync). Other processes (the
webserver, the daemon, other CLI runs) share the files as before: SQLite locks per
transaction, not per connection, and waits its busy timeout for a lock.
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Self

import sqlalchemy as sa
from dagster._core.storage.event_log import ConsolidatedSqliteEventLogStorage
from dagster._core.storage.event_log.sqlite.consolidated_sqlite_event_log import (
    SQLITE_EVENT_LOG_FILENAME,
)
from dagster._core.storage.runs import SqliteRunStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS, create_db_conn_string
from dagster._serdes import ConfigurableClassData

# Connections kept open per process: a run's step uses one at a time; the webserver's request
# threads may open more, closed again beyond this many.
POOL_SIZE = 2


def _synchronous_normal(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def _pooled_engine(conn_string: str) -> sa.Engine:
    engine = sa.create_engine(
        conn_string,
        pool_size=POOL_SIZE,
        max_overflow=-1,  # never wait for a connection: a nested use opens another
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
    )
    sa.event.listen(engine, "connect", _synchronous_normal)
    return engine


class PooledSqliteEventLogStorage(ConsolidatedSqliteEventLogStorage):
    """Dagster's consolidated SQLite event log (one file for all runs), connections kept."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None) -> None:
        # Set before the parent's __init__, which may already query the database.
        self._engine = _pooled_engine(create_db_conn_string(base_dir, SQLITE_EVENT_LOG_FILENAME))
        self._tables: set[str] = set()  # tables known to exist (has_table)
        super().__init__(base_dir, inst_data)

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> Self:
        return cls(inst_data=inst_data, **config_value)

    @contextmanager
    def _connect(self) -> Iterator[sa.Connection]:
        with self._engine.connect() as conn, conn.begin():
            yield conn

    def has_table(self, table_name: str) -> bool:
        """Whether the event log has `table_name`, asked on a kept connection.

        Dagster asks this on every asset check evaluation and every materialization's tags, each
        time through a new engine and connection (a quarter of an event's cost in a profile of
        `docingest ingest`). A table that exists stays: tables are added by `dagster instance
        migrate`, never dropped, so a yes is remembered; a no is asked again.
        """
        if table_name in self._tables:
            return True
        with self._engine.connect() as conn:
            found = bool(self._engine.dialect.has_table(conn, table_name))
        if found:
            self._tables.add(table_name)
        return found

    def dispose(self) -> None:
        super().dispose()
        self._engine.dispose()


class PooledSqliteRunStorage(SqliteRunStorage):
    """Dagster's SQLite run storage (`runs.db`), connections kept."""

    def __init__(self, conn_string: str, inst_data: ConfigurableClassData | None = None) -> None:
        self._engine = _pooled_engine(conn_string)
        super().__init__(conn_string, inst_data)

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> Self:
        # The parent builds a SqliteRunStorage by name; from_local creates the database.
        return cls.from_local(inst_data=inst_data, **config_value)

    @contextmanager
    def connect(self) -> Iterator[sa.Connection]:
        with self._engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        super().dispose()
        self._engine.dispose()
