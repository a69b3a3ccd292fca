"""Parquet and JSON records per document, under `$DOCINGEST_HOME` by default."""

from pathlib import Path

import dagster as dg
from pydantic import Field, PrivateAttr

from docingest.paths import docingest_home
from docingest.storage import DocumentStore


class StorageResource(dg.ConfigurableResource):
    """Where parsed pages, chunks and per-document state are written."""

    base_dir: str = Field(
        default="",
        description="Folder for Parquet outputs and state; empty means $DOCINGEST_HOME.",
    )

    _store: DocumentStore | None = PrivateAttr(default=None)

    @property
    def store(self) -> DocumentStore:
        """The resource's one DocumentStore, made on first use (the folder is read then)."""
        if self._store is None:
            self._store = DocumentStore(Path(self.base_dir) if self.base_dir else docingest_home())
        return self._store


class NothingStoredIOManager(dg.ConfigurableIOManager):
    """Passes nothing between steps: every stage writes its own data (Parquet and JSON under
    DOCINGEST_HOME, points in Qdrant) and the next stage reads it from there.

    Bound as `io_manager` in place of Dagster's default file-system IO manager, whose base_dir
    the Launchpad would otherwise offer for outputs that hold no value.
    """

    def handle_output(self, context: dg.OutputContext, obj: object) -> None:
        if obj is not None:
            what = context.asset_key if context.has_asset_key else context.step_key
            raise TypeError(f"{what}: outputs hold no value here, got {type(obj)}")

    def load_input(self, context: dg.InputContext) -> None:
        return None
