"""Where embedded state lives. Read at call time, never at import time."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_HOME = ".docingest"


def docingest_home() -> Path:
    """`$DOCINGEST_HOME`, default `./.docingest`: all embedded state lives under it."""
    return Path(os.environ.get("DOCINGEST_HOME") or DEFAULT_HOME).absolute()


def dagster_home() -> Path:
    """`$DAGSTER_HOME`, default `$DOCINGEST_HOME/dagster` (SQLite instance)."""
    env = os.environ.get("DAGSTER_HOME")
    return Path(env).absolute() if env else docingest_home() / "dagster"


DATA_URL_ENV = "DOCINGEST_DATA_URL"


def data_location() -> str:
    """Where per-document data lives (sources/, parsed/, chunks/, state/, images/):
    `$DOCINGEST_DATA_URL`, a folder or an object-store URL such as `s3://bucket/prefix`, else
    `$DOCINGEST_HOME`. The Qdrant store, the Dagster instance, models and logs stay under
    `$DOCINGEST_HOME` on local disk whatever this says."""
    return os.environ.get(DATA_URL_ENV) or str(docingest_home())
