"""The chunker: strategy and parameters as resource config, overridable per run.

Two surfaces set the chunking, with one rule: the chunker resource holds the deployment's
setting; a run's config (`ChunkingConfig` in assets/pipeline.py, `--strategy/--param` on the CLI)
overrides it. A run that names the resource's strategy (or none) adds its params to the
resource's; a run that names another strategy starts from that strategy's defaults, because the
resource's params belong to its own strategy. The pipeline step logs that second case (which
resource params it leaves out), so it is never silent.
"""

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Literal

import dagster as dg
from pydantic import Field

from docingest.chunking import (
    PIPELINE_COMMON,
    ChunkingSettings,
    all_strategies,
    chunk_with,
    get_strategy,
    settings_for,
    strategy_names,
)
from docingest.chunking.params import COMMON_PARAMS
from docingest.chunking.registry import Param
from docingest.models import Chunk, ParseResult


def chunking_strategy_enum() -> type[StrEnum]:
    """The registered strategies as a choice (the Launchpad offers them and refuses a typo)."""
    return StrEnum("ChunkingStrategy", {v: v for v in strategy_names()})  # type: ignore[return-value]


ChunkingStrategy = chunking_strategy_enum()


def _params_help(params: Sequence[Param]) -> str:
    return ", ".join(f"{p.name}: {p.kind.name}" for p in params)


def strategies_help() -> str:
    """Each strategy with its parameters and their types, for the Launchpad's descriptions."""
    each = "; ".join(f"{s.name} ({_params_help(s.params)})" for s in all_strategies())
    return f"{each}; every strategy also takes {_params_help(COMMON_PARAMS)}"


STRATEGY_DESCRIPTION = f"Chunking strategy, one of: {', '.join(strategy_names())}."
PARAMS_DESCRIPTION = (
    "Strategy parameters as strings, e.g. {'chunk_size': '512'}; unset ones take the pipeline's "
    f"defaults, else the strategy's. Per strategy: {strategies_help()}."
)
# Where a run's parameters came from: the resource's (with the run's on top), or the run's only.
ParamsSource = Literal["resource", "run"]


def pipeline_params(strategy: str) -> dict[str, str]:
    """The pipeline's defaults for `strategy`: the common ones, then the strategy's own."""
    return {**PIPELINE_COMMON, **get_strategy(strategy).pipeline_defaults}


class ChunkerResource(dg.ConfigurableResource):
    """Splits a parsed document into chunks that carry pages, boxes and headings."""

    strategy: ChunkingStrategy = Field(  # type: ignore[valid-type]
        default=ChunkingStrategy("token_size"), description=STRATEGY_DESCRIPTION
    )
    params: dict[str, str] = Field(default_factory=dict, description=PARAMS_DESCRIPTION)

    def params_source(self, strategy: str | None = None) -> ParamsSource:
        """'run' when a run names another strategy than the resource's: the resource's params
        are then not used."""
        return "run" if strategy and strategy != self.strategy else "resource"

    def resolve(
        self, strategy: str | None = None, params: Mapping[str, str] | None = None
    ) -> ChunkingSettings:
        """(strategy, normalized params, chunking hash), validated once; a run's config wins
        over the resource's (the rule in the module docstring)."""
        if self.params_source(strategy) == "run":
            name, given = str(strategy), dict(params or {})
        else:
            name, given = str(self.strategy), {**self.params, **(params or {})}
        return settings_for(name, {**pipeline_params(name), **given})

    def chunk(self, parsed: ParseResult, settings: ChunkingSettings) -> list[Chunk]:
        return chunk_with(parsed, settings)
