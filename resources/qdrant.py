"""Qdrant: the embedded engine (Qdrant Edge) by default, a server by URL; one store class."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from pydantic import Field, PrivateAttr

from docingest.paths import docingest_home
from docingest.vectorstore import VectorStore


class QdrantResource(dg.ConfigurableResource):
    """The vector store holding one point per chunk.

    In a run the resource owns its store: `setup_for_execution` builds it and
    `teardown_after_execution` releases it, and every `open()` of the run shares it. Outside a
    run (the CLI's `reindex --recreate`, tests) `open()` builds one for its block. Tests swap
    the engine by overriding `build_store`.

    The embedded engine stays one shard handle per folder per process underneath
    (`docingest.edge_store`): Qdrant Edge refuses a second `load` of an open shard in the same
    process and that refusal breaks the first opener, so two stores on one folder (two runs
    of `docingest ingest`'s process, a check beside its asset) must share the loaded shard.
    """

    url: str | None = Field(
        default=None, description="Qdrant server URL; unset = the embedded store."
    )
    api_key: str | None = Field(
        default=None, repr=False, description="Qdrant API key (bind with EnvVar)."
    )
    path: str | None = Field(
        default=None, description="Embedded store folder; default $DOCINGEST_HOME/qdrant."
    )
    collection: str = Field(default="documents", description="Collection name.")
    timeout_s: float = Field(default=30.0, description="Request timeout for a server.")
    keep_open: bool = Field(
        default=False,
        description=(
            "Keep the embedded store open after a run (one long-lived process, such as "
            "`docingest ingest`); it is handed to any other process that asks for it between "
            "two operations. Off, it is released when the run ends."
        ),
    )

    _store: VectorStore | None = PrivateAttr(default=None)

    def local_path(self) -> str:
        return self.path or str(docingest_home() / "qdrant")

    def build_store(self) -> VectorStore:
        """A store on the engine these fields name. Building one takes no lock: the embedded
        shard is locked and loaded at its first operation, so parse-only runs never wait."""
        if self.url:
            return VectorStore(
                collection=self.collection,
                url=self.url,
                api_key=self.api_key,
                timeout_s=self.timeout_s,
            )
        return VectorStore(collection=self.collection, path=self.local_path())

    def _release(self, store: VectorStore) -> None:
        if self.url or not self.keep_open:
            store.close()

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._store = self.build_store()

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if self._store is not None:
            self._release(self._store)
            self._store = None

    @contextmanager
    def open(self) -> Iterator[VectorStore]:
        """The run's store inside a run; outside one, a store for this block, released after
        it unless keep_open."""
        if self._store is not None:
            yield self._store
            return
        store = self.build_store()
        try:
            yield store
        finally:
            self._release(store)

    def delete_document(self, document_id: str) -> int:
        """Remove the document's points; returns how many there were."""
        with self.open() as store:
            return store.delete_document(document_id)

    def drop_collection(self) -> None:
        """Delete the whole collection (`docingest reindex --recreate`)."""
        with self.open() as store:
            store.drop_collection()
