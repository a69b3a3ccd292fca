"""The Dagster instance the CLI shares with the UI."""

import os
from importlib import resources
from pathlib import Path

import dagster as dg

from docingest.paths import dagster_home

_EMBEDDED_YAML = resources.files("docingest") / "_data" / "dagster.embedded.yaml"


def ensure_dagster_home() -> Path:
    """Default `DAGSTER_HOME` to `$DOCINGEST_HOME/dagster`, seeded with the embedded config."""
    home = dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(_EMBEDDED_YAML.read_text().replace("{dagster_home}", str(home)))
    return home


def get_instance() -> dg.DagsterInstance:
    ensure_dagster_home()
    return dg.DagsterInstance.get()
