"""Chunking: eight strategies over a parse result, every chunk traced back to pages and boxes.

Pure code (no Dagster): the chunker resource and the CLI call these functions.
"""

from __future__ import annotations

from docingest.chunking.chunker import chunk_document
from docingest.chunking.context import embedding_text
from docingest.chunking.coverage import coverage, coverage_of
from docingest.chunking.document import build_document, document_text
from docingest.chunking.params import (
    CHUNKER_VERSION,
    DEFAULT_ENCODING,
    STRATEGIES,
    chunking_hash,
    validate_params,
)

__all__ = [
    "CHUNKER_VERSION",
    "DEFAULT_ENCODING",
    "STRATEGIES",
    "build_document",
    "chunk_document",
    "chunking_hash",
    "coverage",
    "coverage_of",
    "document_text",
    "embedding_text",
    "validate_params",
]
