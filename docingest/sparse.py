"""BM25 sparse vectors, computed client-side so that every store gets the same vectors.

A chunk's sparse vector holds, per hashed (stemmed, lower-cased, stop-word-free English) term,
BM25's saturated term frequency `tf * (k + 1) / (tf + k * (1 - b + b * len / avg_len))`; a
query's holds 1.0 per term. The store multiplies by each term's IDF at search time (Qdrant's
`idf` modifier on the sparse vector), so the dot product is the BM25 score and needs no corpus
statistics here. The tokenizer, stemmer and hashing are Qdrant's own (`qdrant_edge.Bm25`), the
same as a Qdrant server's BM25 inference, and run offline.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SPARSE_NAME = "bm25"
# Words in a typical chunk of the pipeline's default chunking (~200 cl100k tokens); BM25 only
# uses it to normalize lengths, so it needs to be about right, not exact.
DEFAULT_AVG_LEN = 150.0

SparseVector = tuple[list[int], list[float]]


@dataclass
class Bm25Encoder:
    """Text -> BM25 sparse vector (indices, values), for documents and for queries."""

    k: float = 1.2
    b: float = 0.75
    avg_len: float = DEFAULT_AVG_LEN
    _model: Any = field(default=None, init=False, repr=False)

    def _bm25(self) -> Any:
        if self._model is None:
            import qdrant_edge

            config = qdrant_edge.Bm25Config(k=self.k, b=self.b, avg_len=self.avg_len)
            self._model = qdrant_edge.Bm25(config)
        return self._model

    def document(self, text: str) -> SparseVector:
        """The vector stored with a chunk: saturated term frequencies."""
        vector = self._bm25().embed_document(text)
        return list(vector.indices), [float(v) for v in vector.values]

    def query(self, text: str) -> SparseVector:
        """The vector of a query: 1.0 per distinct term."""
        vector = self._bm25().embed_query(text)
        return list(vector.indices), [float(v) for v in vector.values]

    def describe(self) -> str:
        """Recorded with the collection: a change of parameters means new sparse vectors."""
        return f"bm25(k={self.k},b={self.b},avg_len={self.avg_len})"
