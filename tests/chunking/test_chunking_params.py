"""validate_params and chunking_hash: defaults, coercion of CLI strings, and refusals."""

from __future__ import annotations

import pytest

from docingest.chunking import CHUNKER_VERSION, chunking_hash, strategy_names, validate_params
from docingest.errors import ConfigError


def test_strategies_cover_the_api_and_the_hosted_chunk_modes() -> None:
    api = {"token_size", "recursive", "by_page", "by_section"}
    hosted = {"block", "page_sections", "variable", "disabled"}
    assert set(strategy_names()) == api | hosted


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ("token_size", {"chunk_size": 512, "chunk_overlap": 50, "encoding_name": "cl100k_base"}),
        (
            "recursive",
            {
                "chunk_size": 1000,
                "chunk_overlap": 200,
                "separators": ["\n\n", "\n", " ", ""],
                "keep_separator": True,
                "encoding_name": "cl100k_base",
            },
        ),
        ("by_page", {"pages_per_chunk": 1, "encoding_name": "cl100k_base"}),
        (
            "by_section",
            {
                "section_headers": [1, 2],
                "include_header_in_chunk": True,
                "encoding_name": "cl100k_base",
            },
        ),
        ("block", {"max_tokens": 512, "encoding_name": "cl100k_base"}),
        (
            "page_sections",
            {
                "section_headers": [1, 2],
                "include_header_in_chunk": True,
                "encoding_name": "cl100k_base",
            },
        ),
        ("variable", {"chunk_size": 512, "min_size": 128, "encoding_name": "cl100k_base"}),
        ("disabled", {"encoding_name": "cl100k_base"}),
    ],
)
def test_defaults(strategy: str, expected: dict[str, object]) -> None:
    assert validate_params(strategy, {}) == {**expected, "contextual_prefix": False}


@pytest.mark.parametrize(
    ("strategy", "given", "key", "value"),
    [
        ("token_size", {"chunk_size": "256"}, "chunk_size", 256),
        ("token_size", {"chunk_overlap": " 0 "}, "chunk_overlap", 0),
        ("token_size", {"encoding_name": "o200k_base"}, "encoding_name", "o200k_base"),
        ("token_size", {"chunk_size": 300.0}, "chunk_size", 300),
        ("recursive", {"separators": '["\\n\\n", " "]'}, "separators", ["\n\n", " "]),
        ("recursive", {"separators": ("\n", "")}, "separators", ["\n", ""]),
        ("recursive", {"keep_separator": "false"}, "keep_separator", False),
        ("recursive", {"keep_separator": "Yes"}, "keep_separator", True),
        ("by_page", {"pages_per_chunk": "3"}, "pages_per_chunk", 3),
        ("by_section", {"section_headers": ["#", "##", "###"]}, "section_headers", [1, 2, 3]),
        ("by_section", {"section_headers": "h2,h1"}, "section_headers", [1, 2]),
        ("by_section", {"section_headers": "[1]"}, "section_headers", [1]),
        ("by_section", {"section_headers": None}, "section_headers", [1, 2]),
        ("by_section", {"include_header_in_chunk": "0"}, "include_header_in_chunk", False),
        ("by_section", {"strategy": "by_section"}, "include_header_in_chunk", True),
        ("block", {"max_tokens": "64"}, "max_tokens", 64),
        ("page_sections", {"section_headers": "#"}, "section_headers", [1]),
        ("variable", {"min_size": "0"}, "min_size", 0),
        ("variable", {"chunk_size": 100, "min_size": 100}, "min_size", 100),
        ("disabled", {"encoding_name": "o200k_base"}, "encoding_name", "o200k_base"),
        ("recursive", {"contextual_prefix": "true"}, "contextual_prefix", True),
        ("disabled", {"contextual_prefix": 1}, "contextual_prefix", True),
    ],
)
def test_coercion(strategy: str, given: dict[str, object], key: str, value: object) -> None:
    assert validate_params(strategy, given)[key] == value


@pytest.mark.parametrize(
    ("strategy", "given", "message"),
    [
        ("semantic", {}, "unknown chunking strategy"),
        ("token_size", {"chunk_sise": 10}, "unknown parameter"),
        ("by_page", {"chunk_size": 10}, "unknown parameter"),
        ("token_size", {"strategy": "recursive"}, "params name strategy"),
        ("token_size", {"chunk_size": 0}, "at least 1"),
        ("token_size", {"chunk_size": -5}, "at least 1"),
        ("token_size", {"chunk_size": "many"}, "integer"),
        ("token_size", {"chunk_size": 1.5}, "integer"),
        ("token_size", {"chunk_size": True}, "integer"),
        ("token_size", {"chunk_size": 100, "chunk_overlap": 100}, "smaller than"),
        ("token_size", {"chunk_size": 100, "chunk_overlap": 101}, "smaller than"),
        ("token_size", {"chunk_overlap": -1}, ">= 0"),
        ("token_size", {"encoding_name": "gpt2"}, "unknown encoding"),
        ("token_size", {"encoding_name": 5}, "unknown encoding"),
        ("recursive", {"chunk_overlap": 1000}, "smaller than"),
        ("recursive", {"separators": "[not json"}, "invalid JSON"),
        ("recursive", {"separators": []}, "non-empty list"),
        ("recursive", {"separators": [1, 2]}, "list of strings"),
        ("recursive", {"keep_separator": "maybe"}, "boolean"),
        ("by_page", {"pages_per_chunk": 0}, "at least 1"),
        ("by_section", {"section_headers": ["####### "]}, "heading level"),
        ("by_section", {"section_headers": [7]}, "outside 1-6"),
        ("by_section", {"section_headers": []}, "at least one"),
        ("by_section", {"include_header_in_chunk": "sometimes"}, "boolean"),
        ("block", {"max_tokens": 0}, "at least 1"),
        ("block", {"chunk_size": 100}, "unknown parameter"),
        ("block", {"encoding_name": "p50k_base"}, "unknown encoding"),
        ("page_sections", {"section_headers": [0]}, "outside 1-6"),
        ("page_sections", {"pages_per_chunk": 1}, "unknown parameter"),
        ("variable", {"chunk_size": 0}, "at least 1"),
        ("variable", {"min_size": 600}, "min_size must be between"),
        ("variable", {"min_size": -1}, "min_size must be between"),
        ("variable", {"chunk_overlap": 10}, "unknown parameter"),
        ("disabled", {"chunk_size": 512}, "unknown parameter"),
        ("disabled", {"encoding_name": "gpt2"}, "unknown encoding"),
        ("token_size", {"contextual_prefix": "maybe"}, "boolean"),
        ("page", {}, "unknown chunking strategy"),
    ],
)
def test_refusals(strategy: str, given: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate_params(strategy, given)


def test_hash_depends_on_normalized_params_only() -> None:
    assert chunking_hash("token_size", {}) == chunking_hash("token_size", {"chunk_size": "512"})
    assert chunking_hash("token_size", {}) != chunking_hash("token_size", {"chunk_size": 256})
    assert chunking_hash("by_page", {}) != chunking_hash("by_section", {})
    assert len(chunking_hash("recursive", {})) == 16
    assert CHUNKER_VERSION


@pytest.mark.parametrize("strategy", strategy_names())
def test_contextual_prefix_changes_the_hash_only_when_on(strategy: str) -> None:
    plain = chunking_hash(strategy, {})
    assert chunking_hash(strategy, {"contextual_prefix": False}) == plain
    assert chunking_hash(strategy, {"contextual_prefix": "yes"}) != plain


def test_hash_refuses_invalid_params() -> None:
    with pytest.raises(ConfigError):
        chunking_hash("token_size", {"chunk_overlap": 600})
