"""The chunking strategies: one record each, and the one table every reader takes them from.

A record says everything the rest of the project needs to know about a strategy: its name, what
a chunk is, its parameters (type, default, lower bound), the defaults the pipeline uses instead
of the strategy's own, the parameter that bounds every chunk's tokens (if any) and the function
that cuts a document into pieces. Validation, the chunking hash, `chunk_document`, the chunker
resource (Launchpad choices and descriptions), the token-limit check, the CLI's `--strategy`
help and the README table all read this table; adding a strategy is one `register(...)` call
(see `docingest.chunking.strategies`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from docingest.errors import ConfigError

if TYPE_CHECKING:
    from docingest.chunking.document import DocText, Piece
    from docingest.models import ParseResult


@dataclass(frozen=True)
class Kind:
    """A parameter type: its name for people, and the coercion of a given value (CLI strings
    included) to it, raising ConfigError."""

    name: str
    coerce: Callable[[str, object], Any]


@dataclass(frozen=True)
class Param:
    name: str
    kind: Kind
    default: Any
    minimum: int | None = None  # integers only: the smallest value accepted
    unit: str = ""  # shown after the default in the README table ("characters")


# pieces(document text, parse result, normalized params) -> the chunk boundaries.
PiecesFn = Callable[["DocText", "ParseResult", Mapping[str, Any]], "list[Piece]"]
# A rule between parameters (e.g. overlap below size), raising ConfigError.
ParamsCheck = Callable[[Mapping[str, Any]], None]


@dataclass(frozen=True)
class Strategy:
    name: str
    summary: str  # what a chunk is, in a few words
    pieces: PiecesFn
    params: tuple[Param, ...] = ()
    # In the pipeline (ingest, sensor, schedule, UI) these replace the strategy's own defaults;
    # `docingest chunk` keeps the strategy's own. Values as the Launchpad takes them: strings.
    pipeline_defaults: Mapping[str, str] = field(default_factory=dict)
    # The parameter that bounds every chunk's token count; None: the strategy bounds sections,
    # pages or characters, and the token-limit check reports the largest chunk without judging.
    token_limit: str | None = None
    checks: tuple[ParamsCheck, ...] = ()

    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)


_REGISTRY: dict[str, Strategy] = {}


def register(strategy: Strategy) -> Strategy:
    """Add a strategy to the table; refuses a second record under the same name and a record
    whose token limit or pipeline defaults name a parameter it does not have."""
    if strategy.name in _REGISTRY:
        raise ValueError(f"chunking strategy {strategy.name!r} is already registered")
    names = set(strategy.param_names())
    if strategy.token_limit is not None and strategy.token_limit not in names:
        raise ValueError(f"{strategy.name}: token_limit {strategy.token_limit!r} is no parameter")
    unknown = sorted(set(strategy.pipeline_defaults) - names)
    if unknown:
        raise ValueError(f"{strategy.name}: pipeline defaults for unknown parameters {unknown}")
    _REGISTRY[strategy.name] = strategy
    return strategy


def get_strategy(name: str) -> Strategy:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"unknown chunking strategy {name!r}; one of {', '.join(strategy_names())}"
        ) from None


def strategy_names() -> tuple[str, ...]:
    """The registered strategies, in registration order."""
    return tuple(_REGISTRY)


def all_strategies() -> tuple[Strategy, ...]:
    return tuple(_REGISTRY.values())


def _default_text(param: Param) -> str:
    """512, 1000 characters, true, 1, 2, "\\n\\n", " " (list items unwrapped; strings quoted in
    lists only, where they may be separators)."""
    if isinstance(param.default, list):
        value = ", ".join(json.dumps(item) for item in param.default)
    else:
        value = param.default if isinstance(param.default, str) else json.dumps(param.default)
    return f"{value} {param.unit}".strip()


def markdown_table() -> str:
    """The README's table: each strategy, what a chunk is, its own parameters with their
    defaults in brackets, what the pipeline uses instead, and the parameter that bounds every
    chunk's tokens (tests/chunking/test_strategy_registry.py keeps the README in step)."""
    rows = [
        "| strategy | what a chunk is | parameters [default] | in the pipeline | token limit |",
        "|---|---|---|---|---|",
    ]
    for strategy in all_strategies():
        params = ", ".join(f"`{p.name}` [{_default_text(p)}]" for p in strategy.params)
        pipeline = ", ".join(f"`{k}`={v}" for k, v in strategy.pipeline_defaults.items())
        limit = f"`{strategy.token_limit}`" if strategy.token_limit else ""
        rows.append(f"| `{strategy.name}` | {strategy.summary} | {params} | {pipeline} | {limit} |")
    return "\n".join(rows)
