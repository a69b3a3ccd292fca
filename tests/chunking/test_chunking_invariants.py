"""Rules every strategy keeps, checked on real PDFs (corpus pages and a built 6-page PDF).

Exceptions to "a heading never ends a chunk", by design: by_page and page_sections never span
pages, so a heading that is the last fragment of a page may end that page's chunk; and under a
token limit, a heading may end a chunk when the table after it (heading, header rows and first
body row) does not fit in one chunk: the table is then not cut inside a row.
"""

from __future__ import annotations

import pytest

from docingest.chunking import build_document, chunk_document, chunking_hash, coverage
from docingest.chunking.document import DocText
from docingest.ids import chunk_id_for
from docingest.models import Chunk, ParseResult
from docingest.tokenizer import count_tokens

CASES = [
    ("token_size", {}),
    ("token_size", {"chunk_size": 64, "chunk_overlap": 16}),
    ("token_size", {"chunk_size": 40, "chunk_overlap": 10, "encoding_name": "o200k_base"}),
    ("token_size", {"chunk_size": 128, "chunk_overlap": 0}),
    ("recursive", {}),
    ("recursive", {"chunk_size": 300, "chunk_overlap": 60}),
    ("by_page", {}),
    ("by_page", {"pages_per_chunk": 2}),
    ("by_section", {}),
    ("by_section", {"section_headers": [1]}),
    ("block", {}),
    ("block", {"max_tokens": 40}),
    ("block", {"max_tokens": 64, "encoding_name": "o200k_base"}),
    ("page_sections", {}),
    ("page_sections", {"section_headers": [1]}),
    ("page_sections", {"section_headers": [1, 2, 3]}),
    ("variable", {}),
    ("variable", {"chunk_size": 100, "min_size": 50}),
    ("variable", {"chunk_size": 48, "min_size": 0, "encoding_name": "o200k_base"}),
    ("disabled", {}),
    ("token_size", {"contextual_prefix": True}),
    ("by_section", {"contextual_prefix": True}),
]
# The strategies with a token limit, and the parameter that sets it.
LIMITS = {
    "token_size": ("chunk_size", 512),
    "variable": ("chunk_size", 512),
    "block": ("max_tokens", 512),
}
PAGE_BOUND = {"by_page", "page_sections"}


def token_limit(strategy: str, params: dict[str, object]) -> int | None:
    if strategy not in LIMITS:
        return None
    name, default = LIMITS[strategy]
    return int(str(params.get(name, default)))


def _ids(case: tuple[str, dict[str, object]]) -> str:
    return case[0] + "-" + "-".join(f"{k}={v}" for k, v in case[1].items())


def locate(text: str, chunk: Chunk, after: int) -> tuple[int, int, str]:
    """(start, end, prefix) of the chunk's source span; the prefix is repeated table headers."""
    body, prefix = chunk.text, ""
    for _ in range(3):
        found = text.find(body, after)
        if found >= 0:
            return found, found + len(body), prefix
        head, body = body.split("\n", 1)
        prefix += head + "\n"
    raise AssertionError(f"chunk {chunk.chunk_index} is not a slice of the document text")


def table_rows(doc: DocText) -> dict[str, str]:
    """Every row of every table, mapped to that table's header + separator rows."""
    rows = {}
    for span in doc.spans:
        if span.type == "table":
            lines = doc.text[span.start : span.end].split("\n")
            rows.update({line: "\n".join(lines[:2]) for line in lines})
    return rows


def check_rows(
    lines: list[str], rows: dict[str, str], token_limit: int | None, encoding: str
) -> None:
    """Tables are never cut inside a row, and a piece that starts in a table body repeats the
    header rows; under a token limit a row too big to fit with its header may be split."""

    def too_big(line: str) -> bool:
        return token_limit is not None and any(
            line in row and count_tokens(f"{header}\n{row}", encoding) > token_limit
            for row, header in rows.items()
        )

    for line in lines:
        if (line.startswith("|") or line.endswith("|")) and line not in rows:
            assert too_big(line), f"partial table row {line!r}"
    if lines[0] in rows and not rows[lines[0]].startswith(lines[0]):
        assert too_big(lines[0]), f"table piece without its header: {lines[0]!r}"


def heading_may_end(
    strategy: str,
    chunk: Chunk,
    following: Chunk,
    limit: int | None,
    encoding: str,
) -> bool:
    """Whether a page or size limit forbids moving the heading that ends `chunk` onward."""
    if strategy in PAGE_BOUND:
        return following.page_start > chunk.page_end
    if limit is None or following.fragment_types[0] != "table":
        return False
    head = "\n".join(following.text.split("\n")[:3])  # header, separator, first body row
    return count_tokens(f"{chunk.text}\n\n{head}", encoding) > limit


def check_common(parsed: ParseResult, strategy: str, params: dict, chunks: list[Chunk]) -> None:
    doc = build_document(parsed)
    params_hash = chunking_hash(strategy, params)
    encoding = str(params.get("encoding_name", "cl100k_base"))
    headings = {doc.text[s.start : s.end] for s in doc.spans if s.is_heading}
    rows = table_rows(doc)
    assert [c.chunk_index for c in chunks] == list(range(len(chunks)))
    assert coverage(doc.text, chunks) >= 0.99
    for chunk, following in zip(chunks, [*chunks[1:], None], strict=True):
        assert chunk.text.strip() and chunk.text == chunk.text.strip()
        assert chunk.chunk_id == chunk_id_for(parsed.document_id, chunk.chunk_index, params_hash)
        assert (chunk.strategy, chunk.params_hash) == (strategy, params_hash)
        assert chunk.token_count == count_tokens(chunk.text, encoding)
        assert 1 <= chunk.page_start <= chunk.page_end <= parsed.page_count
        pages = {box["page"] for box in chunk.bboxes}
        assert {chunk.page_start, chunk.page_end} <= pages
        assert all(chunk.page_start <= page <= chunk.page_end for page in pages)
        assert all(box["x0"] <= box["x1"] and box["y0"] <= box["y1"] for box in chunk.bboxes)
        assert chunk.fragment_types and not {"page_header", "page_footer"} & set(
            chunk.fragment_types
        )
        lines = chunk.text.split("\n")
        limit = token_limit(strategy, params)
        check_rows(lines, rows, limit, encoding)
        if limit is not None:
            assert chunk.token_count <= limit
        if strategy == "page_sections":
            assert chunk.page_start == chunk.page_end
        if following is not None and lines[-1].strip() in headings:
            assert heading_may_end(strategy, chunk, following, limit, encoding), (
                f"chunk {chunk.chunk_index} ends with a heading"
            )


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_invariants(case: tuple[str, dict], all_docs: list[ParseResult]) -> None:
    strategy, params = case
    for parsed in all_docs:
        chunks = chunk_document(parsed, strategy, params)
        assert chunks, parsed.document_id
        check_common(parsed, strategy, params, chunks)


@pytest.mark.parametrize("case", [c for c in CASES if c[0] in LIMITS], ids=_ids)
def test_token_limits_and_exact_text(case: tuple[str, dict], all_docs: list) -> None:
    strategy, params = case
    size = token_limit(strategy, params)
    assert size is not None
    for parsed in all_docs:
        text = build_document(parsed).text
        position = 0
        for chunk in chunk_document(parsed, strategy, params):
            assert chunk.token_count <= size
            start, end, _ = locate(text, chunk, position)
            position = start + 1
            # Cuts fall on whitespace: no word is split.
            assert start == 0 or text[start - 1].isspace()
            assert end == len(text) or text[end].isspace()


@pytest.mark.parametrize("pages_per_chunk", [1, 2, 3, 5])
def test_by_page_never_spans_more_pages(pages_per_chunk: int, book: ParseResult) -> None:
    chunks = chunk_document(book, "by_page", {"pages_per_chunk": pages_per_chunk})
    for chunk in chunks:
        assert chunk.page_end - chunk.page_start + 1 <= pages_per_chunk
        assert (chunk.page_start - 1) // pages_per_chunk == (chunk.page_end - 1) // pages_per_chunk
    assert len(chunks) == -(-book.page_count // pages_per_chunk)


def test_deterministic_ids(multipage: ParseResult) -> None:
    first = chunk_document(multipage, "token_size", {"chunk_size": 100})
    again = chunk_document(multipage, "token_size", {"chunk_size": "100"})
    other = chunk_document(multipage, "token_size", {"chunk_size": 120})
    assert [c.to_dict() for c in first] == [c.to_dict() for c in again]
    assert {c.chunk_id for c in first}.isdisjoint({c.chunk_id for c in other})
    assert len({c.chunk_id for c in first}) == len(first)


@pytest.mark.parametrize("levels", [[1], [1, 2], [1, 2, 3]])
def test_page_sections_never_span_two_pages(levels: list[int], book: ParseResult) -> None:
    chunks = chunk_document(book, "page_sections", {"section_headers": levels})
    sections = chunk_document(book, "by_section", {"section_headers": levels})
    assert all(chunk.page_start == chunk.page_end for chunk in chunks)
    assert {chunk.page_start for chunk in chunks} == set(range(1, book.page_count + 1))
    assert len(chunks) >= len(sections)


def test_disabled_is_the_whole_document(all_docs: list[ParseResult]) -> None:
    for parsed in all_docs:
        (chunk,) = chunk_document(parsed, "disabled", {})
        assert chunk.text == build_document(parsed).text
        assert (chunk.page_start, chunk.page_end) == (1, parsed.page_count)
