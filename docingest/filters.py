"""Search filters: typed conditions on the payload, parsed from `--filter` expressions.

One neutral form (`Condition`) that each store backend translates into its own filter, so the
embedded store and a Qdrant server answer the same filter the same way.

Expressions (`docingest search --filter ...`, repeatable, all must hold):

| expression | meaning |
|---|---|
| `team=legal` | equality (values: true/false -> bool, integers -> int, numbers -> float) |
| `team=legal\\|finance` | any of |
| `team!=legal`, `team!=a\\|b` | none of |
| `year>=2020`, `year>2020`, `score<0.5`, `date<=2024-06-30` | ranges (numbers or ISO dates) |
| `document=ID`, `path^=reports/2024` | one document; the documents under an upload subfolder |
| `page=3`, `page=3..7`, `page>=10` | chunks that overlap those pages |
| `type=table` | chunks holding a fragment of that type |
| `heading=Risk Factors` | chunks under that heading (any level of the breadcrumb) |
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from docingest.errors import ConfigError

FilterValue = str | int | float | bool
# Payload keys the pipeline writes that aliases map to.
PATH_PREFIXES_KEY = "path_prefixes"
_ALIASES = {"document": "document_id", "type": "fragment_types", "heading": "headings"}
_EXPRESSION = re.compile(r"^\s*([A-Za-z0-9_.-]+)\s*(!=|>=|<=|\^=|=|>|<)(.*)$")
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?")
_PAGES = re.compile(r"^(\d+)(?:\.\.(\d+))?$")


@dataclass(frozen=True)
class Condition:
    """One condition on a payload key: a match (any of `values`, or none of them with `negate`)
    or a range (`gte`/`gt`/`lte`/`lt`, numbers or ISO datetimes)."""

    key: str
    values: tuple[FilterValue, ...] = ()
    negate: bool = False
    gte: float | str | None = None
    gt: float | str | None = None
    lte: float | str | None = None
    lt: float | str | None = None

    @property
    def is_range(self) -> bool:
        return not self.values

    @property
    def is_datetime(self) -> bool:
        return any(isinstance(b, str) for b in (self.gte, self.gt, self.lte, self.lt))


Filter = tuple[Condition, ...]


def parse_value(raw: str) -> FilterValue:
    """true/false -> bool, integers -> int, other numbers -> float, else the string."""
    text = raw.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def _bound(key: str, raw: str) -> float | str:
    text = raw.strip()
    if _DATE.fullmatch(text):
        return text if "T" in text or " " in text else f"{text}T00:00:00Z"
    value = parse_value(text)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"filter {key}: a range needs a number or an ISO date, got {raw!r}")
    return float(value)


def _pages(op: str, raw: str) -> list[Condition]:
    """Chunks overlapping the pages: page_end >= first and page_start <= last."""
    if op in (">=", ">", "<=", "<"):
        page = int(_bound("page", raw)) + {">": 1, "<": -1}.get(op, 0)
        if op in (">=", ">"):
            return [Condition("page_end", gte=page)]
        return [Condition("page_start", lte=page)]
    match = _PAGES.match(raw.strip())
    if op != "=" or not match:
        raise ConfigError(f"page filter: expected page=N, page=N..M or page>=N, got {raw!r}")
    first = int(match.group(1))
    last = int(match.group(2) or first)
    return [Condition("page_end", gte=first), Condition("page_start", lte=last)]


def parse_filter(expression: str) -> list[Condition]:
    """One `--filter` expression -> its conditions (see the module docstring)."""
    match = _EXPRESSION.match(expression)
    if not match:
        raise ConfigError(
            f"invalid filter {expression!r}: expected KEY=VALUE, KEY!=VALUE, KEY>=N, KEY<=N, "
            "KEY>N, KEY<N or path^=FOLDER, with KEY made of letters, digits, '_', '.', '-'"
        )
    key, op, raw = match.group(1), match.group(2), match.group(3)
    if key == "page":
        return _pages(op, raw)
    if key == "path":
        if op != "^=":
            raise ConfigError(f"path filter: expected path^=FOLDER, got {expression!r}")
        return [Condition(PATH_PREFIXES_KEY, (raw.strip().strip("/"),))]
    key = _ALIASES.get(key, key)
    if op == "^=":
        raise ConfigError(f"'^=' (prefix) is for path only, got {expression!r}")
    if op in ("=", "!="):
        values = tuple(parse_value(v) for v in raw.split("|"))
        return [Condition(key, values, negate=op == "!=")]
    bound = _bound(key, raw)
    if op == ">=":
        return [Condition(key, gte=bound)]
    if op == ">":
        return [Condition(key, gt=bound)]
    if op == "<=":
        return [Condition(key, lte=bound)]
    return [Condition(key, lt=bound)]


def parse_filters(expressions: Sequence[str]) -> Filter:
    """Every `--filter` expression's conditions, all of which must hold."""
    return tuple(c for expression in expressions for c in parse_filter(expression))


def equality_filter(filters: Mapping[str, FilterValue] | Filter | None) -> Filter:
    """Accept the older `{key: value}` form as equality conditions."""
    if not filters:
        return ()
    if isinstance(filters, Mapping):
        return tuple(Condition(k, (v,)) for k, v in filters.items())
    return tuple(filters)


def path_prefixes(document_id: str) -> list[str]:
    """The folders a document lies under, for `path^=FOLDER`: `a/b/c.pdf` -> [`a`, `a/b`]."""
    parts = document_id.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def index_type(value: Any) -> str | None:
    """The payload index a metadata value calls for: keyword, integer, float, bool, datetime."""
    if isinstance(value, list):
        kinds = {index_type(v) for v in value}
        return kinds.pop() if len(kinds) == 1 else "keyword"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "datetime" if _DATE.fullmatch(value) else "keyword"
    return None
