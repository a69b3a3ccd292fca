"""The embedding model: the model name is the one field; its vector size comes with it."""

from collections.abc import Sequence

import dagster as dg
from pydantic import Field

from docingest.embedding import Embedder, get_embedder


class EmbedderResource(dg.ConfigurableResource):
    """A local sentence-embedding model, loaded once per process, offline."""

    model: str = Field(
        default="all-MiniLM-L6-v2",
        description="Embedding model; its vector size is taken from the model registry.",
    )
    batch_size: int = Field(default=32, description="Texts per forward pass.")

    def embedder(self) -> Embedder:
        return get_embedder(self.model, batch_size=self.batch_size)

    @property
    def dimension(self) -> int:
        return self.embedder().dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self.embedder().embed(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.embedder().embed_query(text)
