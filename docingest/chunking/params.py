"""Chunking strategies and their parameters: defaults, coercion, validation, hashing.

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
from collections.abc import Callable, Mapping
from typing import Any

from docingest.errors import ConfigError
from docingest.ids import options_hash
from docingest.tokenizer import SUPPORTED_ENCODINGS

# Bump when the chunk boundaries a given (strategy, params) produces change: it is part of the
# chunking hash, so chunk ids and point ids change with it and stale chunks get re-indexed.
CHUNKER_VERSION = "2"
DEFAULT_ENCODING = "cl100k_base"
STRATEGIES: tuple[str, ...] = (
    "token_size",
    "recursive",
    "by_page",
    "by_section",
    "block",
    "page_sections",
    "variable",
    "disabled",
)

_DEFAULTS: dict[str, dict[str, Any]] = {
    "token_size": {"chunk_size": 512, "chunk_overlap": 50, "encoding_name": DEFAULT_ENCODING},
    "recursive": {
        "chunk_size": 1000,
        "chunk_overlap": 200,
        "separators": ["\n\n", "\n", " ", ""],
        "keep_separator": True,
        "encoding_name": DEFAULT_ENCODING,
    },
    "by_page": {"pages_per_chunk": 1, "encoding_name": DEFAULT_ENCODING},
    "by_section": {
        "section_headers": [1, 2],
        "include_header_in_chunk": True,
        "encoding_name": DEFAULT_ENCODING,
    },
    "block": {"max_tokens": 512, "encoding_name": DEFAULT_ENCODING},
    "page_sections": {
        "section_headers": [1, 2],
        "include_header_in_chunk": True,
        "encoding_name": DEFAULT_ENCODING,
    },
    "variable": {"chunk_size": 512, "min_size": 128, "encoding_name": DEFAULT_ENCODING},
    "disabled": {"encoding_name": DEFAULT_ENCODING},
}
# Accepted by every strategy; hashed only when on (see chunking_hash).
_COMMON: dict[str, Any] = {"contextual_prefix": False}
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
        return list(_DEFAULTS["by_section"]["section_headers"])
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


_COERCE: dict[str, Callable[[str, object], Any]] = {
    "chunk_size": _as_int,
    "chunk_overlap": _as_int,
    "pages_per_chunk": _as_int,
    "max_tokens": _as_int,
    "min_size": _as_int,
    "encoding_name": _as_encoding,
    "separators": _as_separators,
    "keep_separator": _as_bool,
    "section_headers": _as_levels,
    "include_header_in_chunk": _as_bool,
    "contextual_prefix": _as_bool,
}


def validate_params(strategy: str, params: Mapping[str, object] | None = None) -> dict[str, Any]:
    """Normalize `params` for `strategy`: defaults filled in, values coerced to their types.

    Raises ConfigError on an unknown strategy or parameter, a value of the wrong type, a size
    below 1, an overlap not smaller than the size, a minimum above the size, or an encoding that
    is not available offline.
    """
    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown chunking strategy {strategy!r}; one of {', '.join(STRATEGIES)}")
    given = dict(params or {})
    declared = given.pop("strategy", strategy)
    if declared != strategy:
        raise ConfigError(f"params name strategy {declared!r} but {strategy!r} was asked for")
    defaults = {**_DEFAULTS[strategy], **_COMMON}
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise ConfigError(
            f"unknown parameter(s) for {strategy}: {', '.join(map(str, unknown))}; "
            f"known: {', '.join(sorted(defaults))}"
        )
    result: dict[str, Any] = {}
    for name, default in defaults.items():
        value = given.get(name, default)
        result[name] = _COERCE[name](name, value)
    for name in ("chunk_size", "pages_per_chunk", "max_tokens"):
        if name in result and result[name] < 1:
            raise ConfigError(f"{name} must be at least 1, got {result[name]}")
    if "min_size" in result and not 0 <= result["min_size"] <= result["chunk_size"]:
        raise ConfigError(
            f"min_size must be between 0 and chunk_size ({result['chunk_size']}), "
            f"got {result['min_size']}"
        )
    if "chunk_overlap" in result:
        if result["chunk_overlap"] < 0:
            raise ConfigError(f"chunk_overlap must be >= 0, got {result['chunk_overlap']}")
        if result["chunk_overlap"] >= result["chunk_size"]:
            raise ConfigError(
                f"chunk_overlap ({result['chunk_overlap']}) must be smaller than "
                f"chunk_size ({result['chunk_size']})"
            )
    return result


def chunking_hash(strategy: str, params: Mapping[str, object] | None = None) -> str:
    """Hash of (strategy, normalized params, CHUNKER_VERSION): equal settings, equal hash.

    `contextual_prefix` enters the hash only when on: turning it on changes chunk and point ids
    (the vectors must be re-embedded), while settings from before the option keep their hash
    (no needless re-index after an upgrade).
    """
    normalized = validate_params(strategy, params)
    if not normalized["contextual_prefix"]:
        del normalized["contextual_prefix"]
    return options_hash({"strategy": strategy, "params": normalized, "version": CHUNKER_VERSION})
