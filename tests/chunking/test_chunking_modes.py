"""The hosted engines' chunk modes (block, page_sections, variable, disabled), the contextual
embedding text and the coverage helper."""

from __future__ import annotations

import itertools
from typing import cast

import pytest

from docingest.chunking import (
    build_document,
    chunk_document,
    chunking_hash,
    coverage,
    coverage_of,
    document_text,
    embedding_text,
    strategy_names,
)
from docingest.chunking.context import document_title, readable_text
from docingest.errors import ConfigError
from docingest.models import BBox, Fragment, PageResult, ParseResult
from docingest.tokenizer import count_tokens

BOX = BBox(0, 0, 10, 10)


def _doc(pages: list[list[Fragment]]) -> ParseResult:
    results = [PageResult(n, 100, 100, "", fragments) for n, fragments in enumerate(pages, 1)]
    return ParseResult("inline.md", "inline.md", "0" * 64, "text/markdown", len(results), "test",
                       "test", "", results)  # fmt: skip


def _heading_at_page_end() -> ParseResult:
    return _doc(
        [
            [
                Fragment("title", "# Guide", BOX, 1),
                Fragment("text", "Intro text.", BOX),
                Fragment("section_header", "## Setup", BOX, 2),
            ],
            [
                Fragment("text", "Install it.", BOX),
                Fragment("section_header", "## Use", BOX, 2),
                Fragment("text", "Run it.", BOX),
            ],
        ]
    )


def test_block_is_one_fragment_per_chunk_with_its_headings(multipage: ParseResult) -> None:
    doc = build_document(multipage)
    bodies = [span for span in doc.spans if not span.is_heading]
    chunks = chunk_document(multipage, "block", {})
    assert len(chunks) == len(bodies)
    for chunk, body in zip(chunks, bodies, strict=True):
        assert chunk.text.endswith(doc.text[body.start : body.end])
        assert chunk.fragment_types[-1] == body.type
        assert set(chunk.fragment_types[:-1]) <= {"title", "section_header"}


def test_block_splits_big_fragments_under_max_tokens(multipage: ParseResult) -> None:
    chunks = chunk_document(multipage, "block", {"max_tokens": 60})
    assert max(c.token_count for c in chunks) <= 60
    assert len(chunks) > len(chunk_document(multipage, "block", {}))
    assert coverage_of(multipage, chunks) == 1.0


@pytest.mark.parametrize(
    ("strategy", "params"),
    [
        ("token_size", {"chunk_size": 80, "chunk_overlap": 0}),
        ("block", {"max_tokens": 80}),
        ("variable", {"chunk_size": 80, "min_size": 20}),
    ],
)
def test_table_continuations_repeat_the_header(
    strategy: str, params: dict[str, object], multipage: ParseResult
) -> None:
    chunks = chunk_document(multipage, strategy, params)
    pieces = [c for c in chunks if c.fragment_types == ["table"]]
    assert len(pieces) >= 4
    for chunk in pieces:
        lines = chunk.text.split("\n")
        assert lines[0].startswith("|**Name") and lines[1].startswith("|---")
        assert all(line.startswith("|") and line.endswith("|") for line in lines)
        assert chunk.token_count <= 80


def test_heading_at_the_end_of_a_page() -> None:
    parsed = _heading_at_page_end()
    # page_sections may not carry the heading over: it stays alone at the end of page 1.
    sections = chunk_document(parsed, "page_sections", {})
    assert [(c.text, c.page_start, c.page_end) for c in sections] == [
        ("# Guide\n\nIntro text.", 1, 1),
        ("## Setup", 1, 1),
        ("Install it.", 2, 2),
        ("## Use\n\nRun it.", 2, 2),
    ]
    assert sections[2].headings == ["Guide", "Setup"]
    # block and variable have no page limit: the heading goes with what follows it.
    blocks = chunk_document(parsed, "block", {})
    assert [c.text for c in blocks] == [
        "# Guide\n\nIntro text.",
        "## Setup\n\nInstall it.",
        "## Use\n\nRun it.",
    ]
    assert (blocks[1].page_start, blocks[1].page_end) == (1, 2)
    variable = chunk_document(parsed, "variable", {"min_size": 0})
    assert [c.text for c in variable] == [
        "# Guide\n\nIntro text.",
        "## Setup\n\nInstall it.",
        "## Use\n\nRun it.",
    ]


def test_page_sections_refine_by_section(book: ParseResult) -> None:
    text = document_text(book)
    for chunk in chunk_document(book, "page_sections", {}):
        assert chunk.page_start == chunk.page_end and chunk.text in text
    sections = [c.text for c in chunk_document(book, "by_section", {})]
    pages = [c.text for c in chunk_document(book, "page_sections", {})]
    # Every page_sections chunk lies inside one by_section chunk.
    assert all(any(piece in section for section in sections) for piece in pages)


def test_variable_without_min_size_is_one_chunk_per_section(multipage: ParseResult) -> None:
    variable = chunk_document(multipage, "variable", {"min_size": 0})
    sections = chunk_document(multipage, "by_section", {"section_headers": [1, 2, 3, 4, 5, 6]})
    assert [c.text for c in variable] == [c.text for c in sections]


def test_variable_merges_small_sections(all_docs: list[ParseResult]) -> None:
    size, low = 300, 120
    for parsed in all_docs:
        chunks = chunk_document(parsed, "variable", {"chunk_size": size, "min_size": low})
        assert all(c.token_count <= size for c in chunks)
        for before, after in itertools.pairwise(chunks):
            if min(before.token_count, after.token_count) < low:
                # Small only where the neighbours do not fit together (a few tokens of slack:
                # merging is decided on the whole-text token counts).
                joined = count_tokens(f"{before.text}\n\n{after.text}")
                assert joined > size - 4, (before.text, after.text)
    huge = chunk_document(all_docs[0], "variable", {"chunk_size": 100_000, "min_size": 100_000})
    assert [c.text for c in huge] == [document_text(all_docs[0])]


def test_disabled_keeps_a_large_document_whole(book: ParseResult) -> None:
    pages = [
        PageResult(n, p.width, p.height, p.markdown, p.fragments)
        for n, p in enumerate(book.pages * 8, start=1)
    ]
    large = ParseResult(**{**book.to_dict(), "pages": pages, "page_count": len(pages)})
    (chunk,) = chunk_document(large, "disabled", {})
    assert chunk.token_count > 10_000
    assert chunk.text == document_text(large)
    assert (chunk.page_start, chunk.page_end) == (1, len(pages))


def test_embedding_text_prefixes_the_breadcrumb(multipage: ParseResult) -> None:
    params = {"chunk_size": 100, "contextual_prefix": True}
    chunks = chunk_document(multipage, "token_size", params)
    plain = chunk_document(multipage, "token_size", {"chunk_size": 100})
    assert [c.text for c in chunks] == [c.text for c in plain]
    assert chunks[0].params_hash == chunking_hash("token_size", params) != plain[0].params_hash
    deep = next(c for c in chunks if len(c.headings) == 2)
    title = document_title(deep.document_id)
    expected = f"{title}\n{deep.headings[0]} > {deep.headings[1]}\n\n{deep.text}"
    assert embedding_text(deep, contextual_prefix=True) == expected
    assert embedding_text(deep, contextual_prefix=False) == deep.text


def test_embedding_text_without_headings() -> None:
    parsed = _doc([[Fragment("text", "No heading here.", BOX)]])
    (chunk,) = chunk_document(parsed, "block", {"contextual_prefix": True})
    assert chunk.headings == []
    title = document_title(chunk.document_id)
    assert embedding_text(chunk, contextual_prefix=True) == f"{title}\n\nNo heading here."
    assert embedding_text(chunk, True, title="") == "No heading here."


@pytest.mark.parametrize(
    ("document_id", "title"),
    [("reports/2023 Q1 AAPL.pdf", "2023 Q1 AAPL"), ("a_b__c.pdf", "a b c"), ("notes", "notes")],
)
def test_document_title_is_the_file_name(document_id: str, title: str) -> None:
    assert document_title(document_id) == title


def test_embedded_tables_are_rows_of_cells_not_markup() -> None:
    table = (
        '<table><tr><th></th><th colspan="2">June 25,<br/>2022</th></tr>'
        "<tr><td>Net sales</td><td>$ 82,959</td><td>&amp; more</td></tr></table>"
    )
    text = f"Before.\n\n{table}\n\nAfter."
    assert (
        readable_text(text) == "Before.\n\nJune 25, 2022\nNet sales | $ 82,959 | & more\n\nAfter."
    )
    assert readable_text("no tables | here") == "no tables | here"


@pytest.mark.parametrize("strategy", strategy_names())
def test_invalid_params_raise_before_any_work(strategy: str) -> None:
    nothing = cast(ParseResult, None)  # touching it would raise AttributeError, not ConfigError
    with pytest.raises(ConfigError, match="unknown parameter"):
        chunk_document(nothing, strategy, {"chunk_sise": 1})
    with pytest.raises(ConfigError, match="unknown encoding"):
        chunk_document(nothing, strategy, {"encoding_name": "r50k_base"})


def test_coverage_of_is_coverage_of_the_document_text(all_docs: list[ParseResult]) -> None:
    for parsed in all_docs:
        chunks = chunk_document(parsed, "token_size", {"chunk_size": 64, "chunk_overlap": 16})
        assert coverage_of(parsed, chunks) == coverage(document_text(parsed), chunks) >= 0.99
        assert coverage_of(parsed, chunks[1:]) < 1.0


@pytest.mark.parametrize("strategy", strategy_names())
def test_no_empty_chunks_on_blank_pages(strategy: str) -> None:
    parsed = _doc([[Fragment("text", "  ", BOX)], [], [Fragment("text", "Only words.", BOX)]])
    chunks = chunk_document(parsed, strategy, {})
    assert [c.text for c in chunks] == ["Only words."]
    assert chunks[0].page_start == chunks[0].page_end == 3
