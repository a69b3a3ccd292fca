"""The embedding model: the model name is the one field; its vector size comes with it."""

from collections.abc import Sequence
from enum import StrEnum

import dagster as dg
from pydantic import Field, PrivateAttr

from docingest.embedding import BACKENDS, Embedder, get_embedder

# A choice in the Launchpad, derived from the embedding module's list.
EmbeddingBackend = StrEnum("EmbeddingBackend", {v: v for v in BACKENDS})  # type: ignore[misc]


class EmbedderResource(dg.ConfigurableResource):
    """A local sentence-embedding model, loaded once per process, offline."""

    model: str = Field(
        default="all-MiniLM-L6-v2",
        description="Embedding model; its vector size is taken from the model registry.",
    )
    batch_size: int = Field(default=32, description="Texts per forward pass.")
    backend: EmbeddingBackend = Field(
        default=EmbeddingBackend("onnx"),
        description=(
            "'onnx' (onnxruntime, exported from the model's weights on first use and checked "
            "against them; same vectors, less CPU) or 'torch' (sentence-transformers)."
        ),
    )

    _embedder: Embedder | None = PrivateAttr(default=None)

    def load(self) -> Embedder:
        """The model, loaded once per process and shared (loading takes seconds; many runs
        execute in one process). Tests that do not measure embeddings swap a subclass whose
        `load` returns a small fake (tests/fakes.py)."""
        return get_embedder(self.model, batch_size=self.batch_size, backend=str(self.backend))

    def embedder(self) -> Embedder:
        """This resource's embedder, loaded on first use."""
        if self._embedder is None:
            self._embedder = self.load()
        return self._embedder

    @property
    def dimension(self) -> int:
        return self.embedder().dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self.embedder().embed(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.embedder().embed_query(text)
