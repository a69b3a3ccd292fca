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
