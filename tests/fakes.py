"""Small stand-ins for the two models, for tests that do not measure them.

`FakeEmbedderResource` is the real EmbedderResource with `load()` swapped: the real `Embedder`
class (batching, shape checks, errors) around a hashing bag-of-words model, so texts that share
words stay near each other, instantly and deterministically. `FAST_PARSER` is the real parser on
its fast path (PyMuPDF text, no layout model). Bind them with `build_resources(**FAKE_MODELS)`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from docingest import embedding
from docingest.embedding import Embedder, model_spec, precision_of
from docingest.onnx_model import Precision
from docingest.parsing.options import Engine
from resources import EmbedderResource, ParserResource

_WORD = re.compile(r"\w+")


class HashingModel:
    """Each word adds 1 to one of `dimension` buckets (by its hash); vectors are normalized.
    At `int8` the vector is rounded to steps of 1/16 first, so the two precisions make
    slightly different vectors, as the real ones do."""

    max_seq_length = 256

    def __init__(self, dimension: int, precision: Precision = "fp32") -> None:
        self.dimension = dimension
        self.precision = precision

    def get_embedding_dimension(self) -> int:
        return self.dimension

    def encode(self, texts: Sequence[str], **_: Any) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dimension), dtype="float32")
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                bucket = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest())
                vectors[row, bucket % self.dimension] += 1.0
            vectors[row, 0] += 1e-3  # no zero vector for a text without words
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        if self.precision == "int8":
            vectors = np.round(vectors * 16) / 16 + 1e-3
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        return [len(_WORD.findall(text)) + 2 for text in texts]  # + [CLS] and [SEP]


class FakeEmbedderResource(EmbedderResource):
    """The embedder resource with the model swapped for `HashingModel` (same name and size)."""

    def load(self, precision: str | None = None) -> Embedder:
        spec = model_spec(self.model)
        wanted = precision_of(precision or self.configured_precision())
        wanted = wanted or embedding.DEFAULT_PRECISION
        return Embedder(spec, HashingModel(spec.dimension, wanted), batch_size=self.batch_size)


FAST_PARSER = ParserResource(engine=Engine.fast)
FAKE_MODELS: dict[str, Any] = {"embedder": FakeEmbedderResource(), "parser": FAST_PARSER}
