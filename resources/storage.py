"""Parquet and JSON records per document, under `$DOCINGEST_HOME` by default."""

from pathlib import Path

import dagster as dg
from pydantic import Field

from docingest.paths import docingest_home
from docingest.storage import DocumentStore


class StorageResource(dg.ConfigurableResource):
    """Where parsed pages, chunks and per-document state are written."""

    base_dir: str = Field(
        default="",
        description="Folder for Parquet outputs and state; empty means $DOCINGEST_HOME.",
    )

    @property
    def store(self) -> DocumentStore:
        return DocumentStore(Path(self.base_dir) if self.base_dir else docingest_home())
