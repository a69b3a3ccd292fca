"""Chunking: the registered strategies over a parse result, every chunk traced back to pages
and boxes.

Pure code (no Dagster): the chunker resource and the CLI call these functions. Importing the
package registers the built-in strategies (`docingest.chunking.strategies`).
"""

from __future__ import annotations

from docingest.chunking import strategies as _builtin  # noqa: F401  (registers the eight)
from docingest.chunking.chunker import chunk_document, chunk_with
from docingest.chunking.context import embedding_text
from docingest.chunking.coverage import coverage, coverage_of
from docingest.chunking.document import build_document, document_text
from docingest.chunking.params import (
    CHUNKER_VERSION,
    DEFAULT_ENCODING,
    PIPELINE_COMMON,
    ChunkingSettings,
    chunking_hash,
    settings_for,
    validate_params,
)
from docingest.chunking.registry import (
    Strategy,
    all_strategies,
    get_strategy,
    register,
    strategy_names,
)

__all__ = [
    "CHUNKER_VERSION",
    "DEFAULT_ENCODING",
    "PIPELINE_COMMON",
    "ChunkingSettings",
    "Strategy",
    "all_strategies",
    "build_document",
    "chunk_document",
    "chunk_with",
    "chunking_hash",
    "coverage",
    "coverage_of",
    "document_text",
    "embedding_text",
    "get_strategy",
    "register",
    "settings_for",
    "strategy_names",
    "validate_params",
]
