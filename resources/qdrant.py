"""Qdrant: the embedded engine (Qdrant Edge) by default, a server by URL; one store class."""

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from pydantic import Field

from docingest.paths import docingest_home
from docingest.vectorstore import VectorStore


class QdrantResource(dg.ConfigurableResource):
    """The vector store holding one point per chunk."""

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
            "Keep the embedded store open between steps (one long-lived process, such as "
            "`docingest ingest`); it is handed to any other process that asks for it between "
            "two operations. Off, it is released after each step."
        ),
    )

    def local_path(self) -> str:
        return self.path or str(docingest_home() / "qdrant")

    @contextmanager
    def open(self) -> Iterator[VectorStore]:
        """A store for one step; the embedded store is released after it unless keep_open."""
        if self.url:
            store = VectorStore(
                collection=self.collection,
                url=self.url,
                api_key=self.api_key,
                timeout_s=self.timeout_s,
            )
        else:
            store = VectorStore(collection=self.collection, path=self.local_path())
        try:
            yield store
        finally:
            if self.url or not self.keep_open:
                store.close()
