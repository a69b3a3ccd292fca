"""The chunker: strategy and parameters as resource config, overridable per run."""

from collections.abc import Mapping
from enum import StrEnum

import dagster as dg
from pydantic import Field

from docingest.chunking import STRATEGIES, chunk_document, chunking_hash, validate_params
from docingest.models import Chunk, ParseResult

# The strategies as a choice (the Launchpad offers them and refuses a typo), derived from the
# chunking package's own list.
ChunkingStrategy = StrEnum("ChunkingStrategy", {v: v for v in STRATEGIES})  # type: ignore[misc]

# The default embedding model (all-MiniLM-L6-v2) reads at most 256 word pieces, about 220
# cl100k tokens: in the pipeline, size-bounded strategies default below that, or chunks would be
# embedded by their beginning only. `docingest chunk` keeps the strategies' own defaults.
# Every strategy embeds its chunks with the document title and heading breadcrumb first
# (`contextual_prefix`): measured by bench/retrieval_bench.py, see bench/README.md.
PIPELINE_COMMON: dict[str, str] = {"contextual_prefix": "true"}
PIPELINE_DEFAULTS: dict[str, dict[str, str]] = {
    "token_size": {"chunk_size": "200", "chunk_overlap": "30"},
    "variable": {"chunk_size": "200", "min_size": "64"},
    "block": {"max_tokens": "200"},
}


def strategies_help() -> str:
    """Each strategy with its parameters, for the Launchpad's descriptions."""
    return "; ".join(f"{name} ({', '.join(validate_params(name))})" for name in STRATEGIES)


STRATEGY_DESCRIPTION = f"Chunking strategy, one of: {', '.join(STRATEGIES)}."
PARAMS_DESCRIPTION = (
    "Strategy parameters as strings, e.g. {'chunk_size': '512'}; unset ones take their "
    f"defaults. Per strategy: {strategies_help()}."
)


class ChunkerResource(dg.ConfigurableResource):
    """Splits a parsed document into chunks that carry pages, boxes and headings."""

    strategy: ChunkingStrategy = Field(
        default=ChunkingStrategy("token_size"), description=STRATEGY_DESCRIPTION
    )
    params: dict[str, str] = Field(default_factory=dict, description=PARAMS_DESCRIPTION)

    def resolve(
        self, strategy: str | None = None, params: Mapping[str, str] | None = None
    ) -> tuple[str, dict[str, object], str]:
        """(strategy, normalized params, chunking hash); a run's config wins over the resource's."""
        if strategy and strategy != self.strategy:
            name, given = str(strategy), dict(params or {})
        else:
            name, given = str(self.strategy), {**self.params, **(params or {})}
        merged: dict[str, object] = {**PIPELINE_COMMON, **PIPELINE_DEFAULTS.get(name, {}), **given}
        normalized = validate_params(name, merged)
        return name, normalized, chunking_hash(name, normalized)

    def chunk(
        self, parsed: ParseResult, strategy: str, params: Mapping[str, object]
    ) -> list[Chunk]:
        return chunk_document(parsed, strategy, params)
