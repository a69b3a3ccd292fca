"""recursive, by_page, by_section and page_sections, plus the fix-ups strategies share.

All of them return `Piece`s: character spans of the document text (see `document.py`).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from langchain_text_splitters import RecursiveCharacterTextSplitter

from docingest.chunking.document import DocText, Piece, skip_space, trim_end


def recursive_pieces(
    doc: DocText,
    chunk_size: int,
    chunk_overlap: int,
    separators: list[str],
    keep_separator: bool,
) -> list[Piece]:
    """LangChain's RecursiveCharacterTextSplitter, its chunks located back in the text."""
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        separators=separators,
        keep_separator=keep_separator,
        strip_whitespace=True,
    )
    text = doc.text
    pieces: list[Piece] = []
    previous_start, previous_end = -1, 0
    for part in splitter.split_text(text):
        if not part.strip():
            continue
        # Chunks come in order and overlap the previous one by at most chunk_overlap characters
        # (the search LangChain's add_start_index does, with safe fallbacks).
        floor = previous_start + 1
        span = _locate(text, part, max(floor, previous_end - chunk_overlap), floor)
        if span is None:  # the splitter changed more than whitespace (it does not)
            continue
        pieces.append(Piece(*span))
        previous_start, previous_end = span
    return snap_to_table_rows(doc, pieces)


def _locate(text: str, part: str, low: int, floor: int) -> tuple[int, int] | None:
    """Span of `part` in `text`, searched from `low`, then from `floor`; when the splitter
    rejoined words with other whitespace (keep_separator=False drops empty splits, so double
    spaces collapse), the source span whose words match, with the source's own whitespace."""
    for begin in (low, floor):
        found = text.find(part, max(begin, 0))
        if found >= 0:
            return found, found + len(part)
    words = part.split()
    pattern = re.compile(r"\s+".join(re.escape(word) for word in words))
    for begin in (low, floor):
        match = pattern.search(text, max(begin, 0))
        if match:
            return match.start(), match.end()
    return None


def snap_to_table_rows(doc: DocText, pieces: Sequence[Piece]) -> list[Piece]:
    """Widen pieces that start or end inside a table row to whole rows, and pieces that start
    inside a heading to the whole heading; a piece that starts in a table body gets the table's
    header rows as its prefix."""
    text = doc.text
    snapped = []
    for piece in pieces:
        start, end = piece.start, piece.end
        span = doc.span_at(start)
        if span is not None and span.is_heading:  # never start inside a heading line
            start = span.start
        if span is not None and span.type == "table":
            start = text.rfind("\n", span.start, start) + 1 or span.start
            start = max(start, span.start)
            if text.count("\n", span.start, start) < 2:  # header or separator row
                start = span.start
        span = doc.span_at(end - 1)
        if span is not None and span.type == "table" and end < span.end and text[end] != "\n":
            row_end = text.find("\n", end, span.end)
            end = span.end if row_end < 0 else row_end
        snapped.append(Piece(start, end, doc.table_header(start)))
    return snapped


def page_pieces(doc: DocText, page_numbers: Sequence[int], pages_per_chunk: int) -> list[Piece]:
    """One piece per `pages_per_chunk` consecutive pages (pages without text give nothing)."""
    group_of = {number: index // pages_per_chunk for index, number in enumerate(page_numbers)}
    pieces = []
    for _, group in itertools.groupby(doc.spans, key=lambda span: group_of[span.page]):
        spans = list(group)
        pieces.append(Piece(spans[0].start, spans[-1].end))
    return pieces


def section_pieces(doc: DocText, levels: Sequence[int], include_header: bool) -> list[Piece]:
    """One piece per section: a heading of one of `levels` up to the next such heading."""
    spans = doc.spans
    heads = [i for i, span in enumerate(spans) if span.is_heading and span.level in levels]
    bounds = ([0] if not heads or heads[0] != 0 else []) + heads + [len(spans)]
    head_set = set(heads)
    pieces = []
    for first, stop in itertools.pairwise(bounds):
        if not include_header and first in head_set:
            first += 1
        if first < stop:
            pieces.append(Piece(spans[first].start, spans[stop - 1].end))
    return pieces


def page_section_pieces(doc: DocText, levels: Sequence[int], include_header: bool) -> list[Piece]:
    """by_section's sections, cut again where the page changes: no piece spans two pages.

    Trailing headings move to the next piece only on the same page: a heading that ends its
    page stays the last line of that page's last piece (moving it would span two pages).
    """
    by_page: dict[int, list[Piece]] = {}
    for piece in section_pieces(doc, levels, include_header):
        spans = doc.overlapping(piece.start, piece.end)
        for page, group in itertools.groupby(spans, key=lambda span: span.page):
            run = list(group)
            by_page.setdefault(page, []).append(Piece(run[0].start, run[-1].end))
    return [moved for pieces in by_page.values() for moved in move_trailing_headings(doc, pieces)]


def move_trailing_headings(doc: DocText, pieces: Sequence[Piece]) -> list[Piece]:
    """No piece ends with a heading: a trailing heading run moves to the start of the next
    piece; a piece that is only headings merges into the next one. The last piece keeps its
    trailing headings (there is no next chunk for them)."""
    text = doc.text
    result: list[Piece] = []
    carry: int | None = None
    for index, piece in enumerate(pieces):
        start, prefix = piece.start, piece.prefix
        if carry is not None and carry < start:
            start, prefix = carry, doc.table_header(carry)
        carry = None
        end = piece.end
        if index < len(pieces) - 1:
            spans = doc.overlapping(start, end)
            keep = len(spans)
            while keep > 0 and spans[keep - 1].is_heading:
                keep -= 1
            if keep < len(spans):
                run_start = max(spans[keep].start, start)
                end = trim_end(text, start, run_start)
                carry = start if end <= start else run_start
                if end <= start:
                    continue
        result.append(Piece(start, end, prefix))
    return result


def strip_pieces(doc: DocText, pieces: Sequence[Piece]) -> list[Piece]:
    """Pieces without leading/trailing whitespace; whitespace-only pieces dropped."""
    text = doc.text
    stripped = []
    for piece in pieces:
        start = skip_space(text, piece.start)
        end = trim_end(text, start, piece.end)
        if end > start:
            stripped.append(Piece(start, end, piece.prefix))
    return stripped
