"""block, variable and disabled: the hosted engines' chunk modes built on fragments.

- block: one chunk per layout fragment. A heading (or run of headings) travels with the
  fragment after it, so no chunk is a bare heading. A block over `max_tokens` is cut like
  token_size cuts (rows, lines, sentences; a continued table repeats its header rows).
- variable: sections (a heading run up to the next heading, any level) merged while a chunk is
  below `min_size` tokens, sections over `chunk_size` cut at their best boundaries; no chunk
  goes over `chunk_size`.
- disabled: the whole document text as one chunk, however large.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from docingest.chunking.document import DocText, Piece
from docingest.chunking.token_size import Cutter, cut_range
from docingest.tokenizer import get_encoding


def _runs(doc: DocText) -> list[tuple[int, int]]:
    """(start, end) of each fragment, with any heading run before it included."""
    spans, runs = doc.spans, []
    index = 0
    while index < len(spans):
        first = index
        while index < len(spans) - 1 and spans[index].is_heading:
            index += 1
        runs.append((spans[first].start, spans[index].end))
        index += 1
    return runs


def block_pieces(doc: DocText, max_tokens: int, encoding_name: str) -> list[Piece]:
    """One piece per fragment (headings joined to the next), split when over `max_tokens`."""
    encoding = get_encoding(encoding_name)
    cutter: Cutter | None = None  # encodes the whole text: built only if a block is too big
    pieces: list[Piece] = []
    for start, end in _runs(doc):
        tokens = len(encoding.encode_ordinary(doc.text[start:end]))
        if tokens <= max_tokens:
            pieces.append(Piece(start, end, "", tokens))
            continue
        if cutter is None:
            cutter = Cutter(doc, max_tokens, encoding_name)
        pieces.extend(cut_range(cutter, doc, start, end, 0))
    return pieces


def _sections(doc: DocText) -> list[tuple[int, int]]:
    """(start, end) of each section: a heading run up to the next heading run."""
    spans = doc.spans
    heads = [
        i
        for i, span in enumerate(spans)
        if span.is_heading and (i == 0 or not spans[i - 1].is_heading)
    ]
    bounds = ([0] if not heads or heads[0] != 0 else []) + heads + [len(spans)]
    return [(spans[a].start, spans[b - 1].end) for a, b in itertools.pairwise(bounds)]


def variable_pieces(
    doc: DocText, chunk_size: int, min_size: int, encoding_name: str
) -> list[Piece]:
    """Sections merged up to `min_size` (never past `chunk_size`) and split above `chunk_size`."""
    if not doc.spans:
        return []
    cutter = Cutter(doc, chunk_size, encoding_name)

    def size(piece: Piece) -> int:
        return cutter.count(piece.start, piece.end, piece.prefix)

    units: list[Piece] = []
    for start, end in _sections(doc):
        if cutter.count(start, end) <= chunk_size:
            units.append(Piece(start, end))
        else:
            units.extend(cut_range(cutter, doc, start, end, 0))
    # A chunk below min_size takes in the units after it while the whole fits in chunk_size;
    # one still small after that joins the chunk before it if they fit together.
    merged = _merge(
        _merge(units, size, min_size, chunk_size, False), size, min_size, chunk_size, True
    )
    return [Piece(p.start, p.end, p.prefix, size(p)) for p in merged]


def _merge(
    units: list[Piece],
    size: Callable[[Piece], int],
    min_size: int,
    chunk_size: int,
    backward: bool,
) -> list[Piece]:
    """Join neighbours while the earlier one (the later one with `backward`) is below min_size."""
    merged: list[Piece] = []
    for unit in units:
        if merged:
            last = merged[-1]
            joined = Piece(last.start, unit.end, last.prefix)
            if size(unit if backward else last) < min_size and size(joined) <= chunk_size:
                merged[-1] = joined
                continue
        merged.append(unit)
    return merged


def whole_pieces(doc: DocText) -> list[Piece]:
    """The whole document text as one piece (none for an empty document)."""
    return [Piece(doc.spans[0].start, doc.spans[-1].end)] if doc.spans else []
