"""The eight chunking strategies, one record each: to add one, add its record here.

The parameter names and defaults follow the hosted API's chunking options
(TokenSizeChunkingOptions, RecursiveChunkingOptions, PageChunkingOptions,
SectionChunkingOptions) and the hosted engines' chunk modes (block, page_sections, variable,
disabled). The default embedding model (all-MiniLM-L6-v2) reads at most 256 word pieces, about
220 cl100k tokens: in the pipeline, size-bounded strategies default below that, or chunks would
be embedded by their beginning only (`pipeline_defaults`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from docingest.chunking.blocks import block_pieces, variable_pieces, whole_pieces
from docingest.chunking.document import DocText, Piece
from docingest.chunking.params import BOOLEAN, DEFAULT_LEVELS, INTEGER, LEVELS, SEPARATORS
from docingest.chunking.registry import Param, Strategy, register
from docingest.chunking.splitters import (
    move_trailing_headings,
    page_pieces,
    page_section_pieces,
    recursive_pieces,
    section_pieces,
    strip_pieces,
)
from docingest.chunking.token_size import token_pieces
from docingest.errors import ConfigError
from docingest.models import ParseResult

# The section strategies' parameters.
_LEVEL_PARAMS = (
    Param("section_headers", LEVELS, list(DEFAULT_LEVELS)),
    Param("include_header_in_chunk", BOOLEAN, True),
)


def _overlap_below_size(params: Mapping[str, Any]) -> None:
    if params["chunk_overlap"] < 0:
        raise ConfigError(f"chunk_overlap must be >= 0, got {params['chunk_overlap']}")
    if params["chunk_overlap"] >= params["chunk_size"]:
        raise ConfigError(
            f"chunk_overlap ({params['chunk_overlap']}) must be smaller than "
            f"chunk_size ({params['chunk_size']})"
        )


def _min_within_size(params: Mapping[str, Any]) -> None:
    if not 0 <= params["min_size"] <= params["chunk_size"]:
        raise ConfigError(
            f"min_size must be between 0 and chunk_size ({params['chunk_size']}), "
            f"got {params['min_size']}"
        )


def _token_size(doc: DocText, parsed: ParseResult, params: Mapping[str, Any]) -> list[Piece]:
    return token_pieces(doc, params["chunk_size"], params["chunk_overlap"], params["encoding_name"])


def _recursive(doc: DocText, parsed: ParseResult, params: Mapping[str, Any]) -> list[Piece]:
    pieces = recursive_pieces(
        doc,
        params["chunk_size"],
        params["chunk_overlap"],
        params["separators"],
        params["keep_separator"],
    )
    return move_trailing_headings(doc, strip_pieces(doc, pieces))


def _by_page(doc: DocText, parsed: ParseResult, params: Mapping[str, Any]) -> list[Piece]:
    numbers = [page.page_number for page in parsed.pages]
    return strip_pieces(doc, page_pieces(doc, numbers, params["pages_per_chunk"]))


def _by_section(doc: DocText, parsed: ParseResult, params: Mapping[str, Any]) -> list[Piece]:
    pieces = section_pieces(doc, params["section_headers"], params["include_header_in_chunk"])
    return move_trailing_headings(doc, strip_pieces(doc, pieces))


def _block(doc: DocText, parsed: ParseResult, params: Mapping[str, Any]) -> list[Piece]:
    return block_pieces(doc, params["max_tokens"], params["encoding_name"])


def _page_sections(doc: DocText, parsed: ParseResult, params: Mapping[str, Any]) -> list[Piece]:
    return page_section_pieces(doc, params["section_headers"], params["include_header_in_chunk"])


def _variable(doc: DocText, parsed: ParseResult, params: Mapping[str, Any]) -> list[Piece]:
    return variable_pieces(doc, params["chunk_size"], params["min_size"], params["encoding_name"])


def _disabled(doc: DocText, parsed: ParseResult, params: Mapping[str, Any]) -> list[Piece]:
    return whole_pieces(doc)


register(
    Strategy(
        "token_size",
        "a window of tokens, cut back to a fragment, line or sentence boundary",
        _token_size,
        params=(
            Param("chunk_size", INTEGER, 512, minimum=1),
            Param("chunk_overlap", INTEGER, 50),
        ),
        pipeline_defaults={"chunk_size": "200", "chunk_overlap": "30"},
        token_limit="chunk_size",
        checks=(_overlap_below_size,),
    )
)
register(
    Strategy(
        "recursive",
        "LangChain's recursive character splitter",
        _recursive,
        params=(
            Param("chunk_size", INTEGER, 1000, minimum=1, unit="characters"),
            Param("chunk_overlap", INTEGER, 200),
            Param("separators", SEPARATORS, ["\n\n", "\n", " ", ""]),
            Param("keep_separator", BOOLEAN, True),
        ),
        checks=(_overlap_below_size,),
    )
)
register(
    Strategy(
        "by_page",
        "whole pages",
        _by_page,
        params=(Param("pages_per_chunk", INTEGER, 1, minimum=1),),
    )
)
register(
    Strategy(
        "by_section",
        "a section, cut at the chosen heading levels",
        _by_section,
        params=_LEVEL_PARAMS,
    )
)
register(
    Strategy(
        "block",
        "one fragment (a heading travels with what follows it)",
        _block,
        params=(Param("max_tokens", INTEGER, 512, minimum=1),),
        pipeline_defaults={"max_tokens": "200"},
        token_limit="max_tokens",
    )
)
register(
    Strategy(
        "page_sections",
        "a section, also cut at page boundaries",
        _page_sections,
        params=_LEVEL_PARAMS,
    )
)
register(
    Strategy(
        "variable",
        "small sections merged up to a size, large ones split at the best boundary",
        _variable,
        params=(
            Param("chunk_size", INTEGER, 512, minimum=1),
            Param("min_size", INTEGER, 128),
        ),
        pipeline_defaults={"chunk_size": "200", "min_size": "64"},
        token_limit="chunk_size",
        checks=(_min_within_size,),
    )
)
register(Strategy("disabled", "the whole document", _disabled))
