"""`--filter` expressions -> typed conditions, and metadata values -> payload index types."""

from __future__ import annotations

import pytest

from docingest.errors import ConfigError
from docingest.filters import (
    Condition,
    equality_filter,
    index_type,
    parse_filter,
    path_prefixes,
)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("team=legal", [Condition("team", ("legal",))]),
        ("year=2024", [Condition("year", (2024,))]),
        ("draft=true", [Condition("draft", (True,))]),
        ("score=0.5", [Condition("score", (0.5,))]),
        ("team=legal|sales", [Condition("team", ("legal", "sales"))]),
        ("team!=legal", [Condition("team", ("legal",), negate=True)]),
        ("year>=2020", [Condition("year", gte=2020.0)]),
        ("year>2020", [Condition("year", gt=2020.0)]),
        ("year<=2020", [Condition("year", lte=2020.0)]),
        ("year<2020", [Condition("year", lt=2020.0)]),
        ("date>=2024-06-30", [Condition("date", gte="2024-06-30T00:00:00Z")]),
        ("document=reports/a.pdf", [Condition("document_id", ("reports/a.pdf",))]),
        ("type=table", [Condition("fragment_types", ("table",))]),
        ("heading=Risk Factors", [Condition("headings", ("Risk Factors",))]),
        ("path^=reports/2024/", [Condition("path_prefixes", ("reports/2024",))]),
        ("page=3", [Condition("page_end", gte=3), Condition("page_start", lte=3)]),
        ("page=3..7", [Condition("page_end", gte=3), Condition("page_start", lte=7)]),
        ("page>=10", [Condition("page_end", gte=10)]),
        ("page<10", [Condition("page_start", lte=9)]),
    ],
)
def test_parse_filter(expression: str, expected: list[Condition]) -> None:
    assert parse_filter(expression) == expected


@pytest.mark.parametrize(
    "expression", ["team", "=x", "year>=soon", "page=a..b", "path=reports", "team^=x", "a b=c"]
)
def test_bad_filters_are_usage_errors(expression: str) -> None:
    with pytest.raises(ConfigError):
        parse_filter(expression)


def test_equality_filter_accepts_the_mapping_form() -> None:
    assert equality_filter({"team": "legal"}) == (Condition("team", ("legal",)),)
    assert equality_filter(None) == ()


def test_path_prefixes() -> None:
    assert path_prefixes("a/b/c.pdf") == ["a", "a/b"]
    assert path_prefixes("c.pdf") == []


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("legal", "keyword"),
        (2024, "integer"),
        (0.5, "float"),
        (True, "bool"),
        ("2024-06-30", "datetime"),
        (["a", "b"], "keyword"),
        ([1, 2], "integer"),
        ([1, "a"], "keyword"),
    ],
)
def test_index_type_follows_the_value(value: object, kind: str) -> None:
    assert index_type(value) == kind
