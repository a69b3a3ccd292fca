"""Chunking parameters: their types, coercion, validation against the registry, hashing.

The parameter names and defaults follow the hosted API's chunking options (TokenSizeChunkingOptions,
RecursiveChunkingOptions, PageChunkingOptions, SectionChunkingOptions) and the hosted engines'
chunk modes (block, page_sections, variable, disabled). Every strategy also takes
`contextual_prefix`: embed the heading breadcrumb with the text (see `embedding_text`), which
changes the vectors, not the chunks. Values may arrive as
strings from the CLI (`--param chunk_size=512`, `--param separators='["\\n\\n", " "]'`), so every
value is coerced to its declared type here, once, before any work starts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from docingest.chunking.registry import Kind, Param, get_strategy
from docingest.errors import ConfigError
from docingest.ids import options_hash
from docingest.tokenizer import SUPPORTED_ENCODINGS

# Bump when the chunk boundaries a given (strategy, params) produces change: it is part of the
# chunking hash, so chunk ids and point ids change with it and stale chunks get re-indexed.
CHUNKER_VERSION = "2"
DEFAULT_ENCODING = "cl100k_base"
DEFAULT_LEVELS = (1, 2)
_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


def _as_int(name: str, value: object) -> int:
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    raise ConfigError(f"{name} must be an integer, got {value!r}")


def _as_bool(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ConfigError(f"{name} must be a boolean, got {value!r}")


def _as_encoding(name: str, value: object) -> str:
    if not isinstance(value, str) or value.strip() not in SUPPORTED_ENCODINGS:
        raise ConfigError(
            f"{name}: unknown encoding {value!r}; supported: {', '.join(SUPPORTED_ENCODINGS)}"
        )
    return value.strip()


def _as_list(name: str, value: object) -> list[Any]:
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            try:
                value = json.loads(stripped)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{name}: invalid JSON list {value!r}: {exc}") from exc
        else:
            value = [part.strip() for part in stripped.split(",") if part.strip()]
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list):
        raise ConfigError(f"{name} must be a list, got {value!r}")
    return value


def _as_separators(name: str, value: object) -> list[str]:
    items = _as_list(name, value)
    if not items or not all(isinstance(item, str) for item in items):
        raise ConfigError(f"{name} must be a non-empty list of strings, got {value!r}")
    return items


def _as_levels(name: str, value: object) -> list[int]:
    """Heading levels that start a section: 1, "1", "#", "h1", "H1" all mean level 1."""
    if value is None:
        return list(DEFAULT_LEVELS)
    levels: set[int] = set()
    for item in _as_list(name, value):
        text = str(item).strip().lower() if not isinstance(item, bool) else ""
        if isinstance(item, int) and not isinstance(item, bool):
            level = item
        elif re.fullmatch(r"#{1,6}", text):
            level = len(text)
        elif re.fullmatch(r"h?\d", text):
            level = int(text.lstrip("h"))
        else:
            raise ConfigError(f"{name}: {item!r} is not a heading level (1-6, '#', 'h1')")
        if not 1 <= level <= 6:
            raise ConfigError(f"{name}: heading level {level} is outside 1-6")
        levels.add(level)
    if not levels:
        raise ConfigError(f"{name} must name at least one heading level")
    return sorted(levels)


INTEGER = Kind("integer", _as_int)
BOOLEAN = Kind("boolean", _as_bool)
ENCODING = Kind(" or ".join(SUPPORTED_ENCODINGS), _as_encoding)
SEPARATORS = Kind("list of strings", _as_separators)
LEVELS = Kind("heading levels", _as_levels)

# Accepted by every strategy, after its own parameters. `contextual_prefix` is hashed only when
# on (see chunking_hash).
COMMON_PARAMS = (
    Param("encoding_name", ENCODING, DEFAULT_ENCODING),
    Param("contextual_prefix", BOOLEAN, False),
)
# What the pipeline uses for every strategy instead of the defaults above: the document title
# and heading breadcrumb embedded with each chunk (measured by bench/retrieval_bench.py, see
# bench/README.md).
PIPELINE_COMMON: dict[str, str] = {"contextual_prefix": "true"}


class ChunkingSettings(NamedTuple):
    """A strategy with its normalized parameters and their hash: validated once, then used for
    every document of a run."""

    strategy: str
    params: dict[str, Any]
    params_hash: str


def validate_params(strategy: str, params: Mapping[str, object] | None = None) -> dict[str, Any]:
    """Normalize `params` for `strategy`: defaults filled in, values coerced to their types.

    Raises ConfigError on an unknown strategy or parameter, a value of the wrong type or below
    its minimum, a broken rule between parameters (an overlap not smaller than the size, a
    minimum above the size), or an encoding that is not available offline.
    """
    record = get_strategy(strategy)
    given = dict(params or {})
    declared = given.pop("strategy", strategy)
    if declared != strategy:
        raise ConfigError(f"params name strategy {declared!r} but {strategy!r} was asked for")
    declared_params = (*record.params, *COMMON_PARAMS)
    unknown = sorted(set(given) - {p.name for p in declared_params})
    if unknown:
        raise ConfigError(
            f"unknown parameter(s) for {strategy}: {', '.join(map(str, unknown))}; "
            f"known: {', '.join(sorted(p.name for p in declared_params))}"
        )
    result: dict[str, Any] = {}
    for param in declared_params:
        value = param.kind.coerce(param.name, given.get(param.name, param.default))
        if param.minimum is not None and value < param.minimum:
            raise ConfigError(f"{param.name} must be at least {param.minimum}, got {value}")
        result[param.name] = value
    for check in record.checks:
        check(result)
    return result


def settings_for(strategy: str, params: Mapping[str, object] | None = None) -> ChunkingSettings:
    """Validate once: the strategy, its normalized parameters and their chunking hash.

    `contextual_prefix` enters the hash only when on: turning it on changes chunk and point ids
    (the vectors must be re-embedded), while settings from before the option keep their hash
    (no needless re-index after an upgrade).
    """
    normalized = validate_params(strategy, params)
    hashed = {k: v for k, v in normalized.items() if k != "contextual_prefix" or v}
    digest = options_hash({"strategy": strategy, "params": hashed, "version": CHUNKER_VERSION})
    return ChunkingSettings(strategy, normalized, digest)


def chunking_hash(strategy: str, params: Mapping[str, object] | None = None) -> str:
    """Hash of (strategy, normalized params, CHUNKER_VERSION): equal settings, equal hash."""
    return settings_for(strategy, params).params_hash
