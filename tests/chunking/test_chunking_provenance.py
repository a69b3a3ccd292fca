"""Where chunks come from: pages, boxes, headings, fragment types; and the edge cases."""

from __future__ import annotations

import itertools

import pytest
from langchain_text_splitters import RecursiveCharacterTextSplitter

from docingest.chunking import (
    build_document,
    chunk_document,
    coverage,
    document_text,
    strategy_names,
)
from docingest.errors import ConfigError
from docingest.models import BBox, Fragment, PageResult, ParseResult
from docingest.tokenizer import count_tokens


def _doc(pages: list[PageResult], document_id: str = "inline.md") -> ParseResult:
    return ParseResult(
        document_id=document_id,
        source=document_id,
        sha256="0" * 64,
        mime_type="text/markdown",
        page_count=len(pages),
        engine="test",
        options_hash="test",
        markdown="\n\n".join(page.markdown for page in pages),
        pages=pages,
    )


def _fragment_box(parsed: ParseResult, page: int, needle: str) -> dict[str, float]:
    for fragment in parsed.pages[page - 1].fragments:
        if needle in fragment.content:
            return {"page": page, **fragment.bbox.to_dict()}
    raise AssertionError(needle)


def test_document_text_follows_the_page_markdown(multipage: ParseResult) -> None:
    text = document_text(multipage)
    for page in multipage.pages:
        for line in page.markdown.split("\n"):
            assert line.strip() in text


@pytest.mark.parametrize("strategy", strategy_names())
def test_chunk_maps_back_to_its_fragment(strategy: str, multipage: ParseResult) -> None:
    needle = "Item 3.2 about ingestion step 2"
    chunks = [c for c in chunk_document(multipage, strategy, {}) if needle in c.text]
    assert chunks
    box = _fragment_box(multipage, 3, needle)
    for chunk in chunks:
        assert chunk.page_start <= 3 <= chunk.page_end
        assert box in chunk.bboxes
        assert "list_item" in chunk.fragment_types
        # The breadcrumb is the one in force where the chunk starts.
        first = chunk.page_start
        assert chunk.headings[0] == f"Chapter {first}: Topic {first}"


def test_by_section_sections_and_breadcrumbs(multipage: ParseResult) -> None:
    chunks = chunk_document(multipage, "by_section", {})
    assert len(chunks) == 18  # an h1 and two h2 sections per page
    for chunk in chunks:
        assert chunk.text.startswith("#")
        assert chunk.page_start == chunk.page_end
    third = chunks[7]
    assert third.headings == ["Chapter 3: Topic 3", "Section 3.1 Details"]
    assert third.fragment_types == ["section_header", "text", "list_item"]
    assert len(third.bboxes) == 1 + 1 + 4
    by_chapter = chunk_document(multipage, "by_section", {"section_headers": ["#"]})
    assert [c.headings for c in by_chapter] == [[f"Chapter {n}: Topic {n}"] for n in range(1, 7)]


def test_by_section_without_headers_keeps_the_breadcrumb(multipage: ParseResult) -> None:
    chunks = chunk_document(multipage, "by_section", {"include_header_in_chunk": False})
    assert len(chunks) == 18
    assert not any(chunk.text.startswith("#") for chunk in chunks)
    assert chunks[1].headings == ["Chapter 1: Topic 1", "Section 1.1 Details"]


def test_heading_only_section_joins_the_next(multipage: ParseResult) -> None:
    page = multipage.pages[0]
    box = BBox(0, 0, 10, 10)
    fragments = [
        Fragment("title", "# Book", box, 1),
        Fragment("section_header", "## Part A", box, 2),
        Fragment("text", "Body of part A.", box),
        Fragment("section_header", "## Part B", box, 2),
        Fragment("text", "Body of part B.", box),
    ]
    parsed = _doc([PageResult(1, page.width, page.height, "", fragments)])
    chunks = chunk_document(parsed, "by_section", {})
    assert [c.text for c in chunks] == [
        "# Book\n\n## Part A\n\nBody of part A.",
        "## Part B\n\nBody of part B.",
    ]
    assert chunks[0].headings == ["Book"]
    assert chunks[1].headings == ["Book", "Part B"]


def test_by_page_groups(multipage: ParseResult) -> None:
    chunks = chunk_document(multipage, "by_page", {"pages_per_chunk": 2})
    assert [(c.page_start, c.page_end) for c in chunks] == [(1, 2), (3, 4), (5, 6)]


def test_table_continuations_repeat_the_header(multipage: ParseResult) -> None:
    chunks = chunk_document(multipage, "token_size", {"chunk_size": 80, "chunk_overlap": 0})
    pieces = [c for c in chunks if c.fragment_types == ["table"]]
    assert len(pieces) >= 4
    for chunk in pieces:
        lines = chunk.text.split("\n")
        assert lines[0].startswith("|**Name") and lines[1].startswith("|---")
        assert all(line.startswith("|") and line.endswith("|") for line in lines)
        assert chunk.token_count <= 80


def test_fallback_to_page_markdown_without_fragments() -> None:
    pages = [
        PageResult(1, 600, 800, "# Intro\n\nFirst page text.\n\n## Detail\n\nMore words here."),
        PageResult(2, 600, 800, "Second page text, no heading."),
        PageResult(3, 600, 800, "   "),
    ]
    parsed = _doc(pages)
    for strategy in strategy_names():
        chunks = chunk_document(parsed, strategy, {})
        assert coverage(document_text(parsed), chunks) >= 0.99
        for chunk in chunks:
            for box in chunk.bboxes:
                assert box == {"page": box["page"], "x0": 0, "y0": 0, "x1": 600, "y1": 800}
    sections = chunk_document(parsed, "by_section", {})
    assert [c.headings for c in sections] == [["Intro"], ["Intro", "Detail"]]
    assert (sections[1].page_start, sections[1].page_end) == (1, 2)
    assert len(chunk_document(parsed, "by_page", {})) == 2


def test_empty_document_gives_no_chunks() -> None:
    assert chunk_document(_doc([]), "token_size", {}) == []
    assert chunk_document(_doc([PageResult(1, 1, 1, "")]), "by_section", {}) == []


def test_invalid_params_raise_before_work() -> None:
    with pytest.raises(ConfigError):
        chunk_document(_doc([]), "token_size", {"chunk_size": 10, "chunk_overlap": 10})


def _plain(text: str) -> ParseResult:
    box = BBox(0, 0, 100, 100)
    return _doc([PageResult(1, 100, 100, text, [Fragment("text", text, box)])])


@pytest.mark.parametrize("overlap", [0, 4])
def test_multibyte_text_without_spaces(overlap: int) -> None:
    text = ("漢字のテキストは空白がない。" * 40) + ("🙂🚀👩‍👩‍👧" * 30)
    parsed = _plain(text)
    chunks = chunk_document(parsed, "token_size", {"chunk_size": 20, "chunk_overlap": overlap})
    assert all(c.token_count <= 20 for c in chunks)
    assert coverage(text, chunks) == 1.0
    if overlap == 0:
        assert "".join(c.text for c in chunks) == text
    assert all(c.text in text for c in chunks)


def test_token_overlap_repeats_the_tail() -> None:
    words = " ".join(f"word{i}" for i in range(600))
    chunks = chunk_document(_plain(words), "token_size", {"chunk_size": 50, "chunk_overlap": 10})
    for before, after in itertools.pairwise(chunks):
        tail = before.text.split()[-3:]
        assert " ".join(tail) in after.text
        assert count_tokens(before.text) <= 50


def test_recursive_matches_langchain_on_plain_text() -> None:
    paragraphs = [" ".join(f"p{p}w{i}" for i in range(30 + 7 * p)) for p in range(12)]
    text = "\n\n".join(paragraphs)
    expected = RecursiveCharacterTextSplitter(chunk_size=250, chunk_overlap=40).split_text(text)
    box = BBox(0, 0, 1, 1)
    parsed = _doc([PageResult(1, 1, 1, text, [Fragment("text", p, box) for p in paragraphs])])
    chunks = chunk_document(parsed, "recursive", {"chunk_size": 250, "chunk_overlap": 40})
    assert [c.text for c in chunks] == expected


def test_build_document_skips_running_headers(corpus_docs: list[ParseResult]) -> None:
    parsed = corpus_docs[0]
    doc = build_document(parsed)
    headers = [f for f in parsed.pages[0].fragments if f.type == "page_header"]
    assert headers and not any(span.type == "page_header" for span in doc.spans)
    assert doc.text.startswith(parsed.pages[0].fragments[2].content.strip()[:40])
