"""Parquet and JSON records per document, under `$DOCINGEST_HOME` or an object-store prefix."""

import dagster as dg
from pydantic import Field, PrivateAttr

from docingest.locations import check_reachable
from docingest.paths import data_location
from docingest.storage import DocumentStore
from resources.object_store import ObjectStoreFields


class StorageResource(dg.ConfigurableResource, ObjectStoreFields):
    """Where parsed pages, chunks and per-document state are written: a folder or a prefix
    such as `s3://bucket/docingest`, with the same layout."""

    base_dir: str = Field(
        default="",
        description=(
            "Folder or object-store URL (s3://bucket/prefix) for Parquet outputs and state; "
            "empty means $DOCINGEST_DATA_URL, else $DOCINGEST_HOME."
        ),
    )

    _store: DocumentStore | None = PrivateAttr(default=None)

    @property
    def store(self) -> DocumentStore:
        """The resource's one DocumentStore, made on first use (the location is read then)."""
        if self._store is None:
            self._store = DocumentStore(self.location(self.base_dir or str(data_location())))
        return self._store

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # A missing bucket or refused credentials stop the run at its start, in one line,
        # instead of failing every document on its first write.
        check_reachable(self.store.base_dir)


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
