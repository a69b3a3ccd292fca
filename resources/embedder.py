"""The embedding model: the model name is the one field; its vector size comes with it."""

from collections.abc import Sequence
from enum import StrEnum

import dagster as dg
from pydantic import Field, PrivateAttr

from docingest.embedding import (
    BACKENDS,
    DEFAULT_PRECISION,
    PRECISIONS,
    Embedder,
    get_embedder,
    model_spec,
    precision_of,
)
from docingest.vectorstore import VectorStore

# Choices in the Launchpad, derived from the embedding module's lists.
EmbeddingBackend = StrEnum("EmbeddingBackend", {v: v for v in BACKENDS})  # type: ignore[misc]
EmbeddingPrecision = StrEnum(  # type: ignore[misc]
    "EmbeddingPrecision", {v: v for v in ("auto", *PRECISIONS)}
)


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
    precision: EmbeddingPrecision = Field(
        default=EmbeddingPrecision("auto"),
        description=(
            f"'auto': a collection keeps the precision it was built with, a new one gets "
            f"{DEFAULT_PRECISION}. 'int8' (onnx only; weights quantized, derived from the fp32 "
            "export and checked against it) or 'fp32': this one, and a collection of the other "
            "is refused until rebuilt (reindex --recreate)."
        ),
    )

    _embedder: Embedder | None = PrivateAttr(default=None)

    def configured_precision(self) -> str | None:
        """'fp32' or 'int8' when set; None for auto (follow the collection)."""
        return precision_of(str(self.precision))

    def load(self, precision: str | None = None) -> Embedder:
        """The model at `precision` (default: the configured one, else the default), loaded
        once per process and shared (loading takes seconds; many runs execute in one process).
        Tests that do not measure embeddings swap a subclass whose `load` returns a small fake
        (tests/fakes.py)."""
        return get_embedder(
            self.model,
            batch_size=self.batch_size,
            backend=str(self.backend),
            precision=precision or self.configured_precision(),
        )

    def for_collection(self, store: VectorStore) -> Embedder:
        """The model whose vectors go into `store`'s collection: the configured precision, or
        with 'auto' the precision of the points already there (a new collection: the default).
        `VectorStore.ensure_collection(precision=...)` then refuses a precision that differs
        from the points'."""
        wanted = self.configured_precision()
        if wanted is None:
            stored = store.stored_embedding()
            wanted = stored[1] if stored else None
        return self.load(wanted)

    def embedder(self) -> Embedder:
        """The model as trained (fp32), loaded on first use, for what is not a collection's
        vectors: classification, whose rules were measured at fp32 and whose cached page
        vectors are keyed by the model's name. A collection's vectors: `for_collection`."""
        if self._embedder is None:
            self._embedder = self.load("fp32")
        return self._embedder

    @property
    def dimension(self) -> int:
        return model_spec(self.model).dimension

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self.embedder().embed(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.embedder().embed_query(text)
