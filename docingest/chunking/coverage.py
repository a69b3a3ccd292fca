"""How much of the document text the chunks reproduce: the chunks' own asset check."""

from __future__ import annotations

from collections.abc import Sequence

from docingest.chunking.document import document_text, skip_space
from docingest.models import Chunk, ParseResult


def _place(text: str, body: str, low: int, reach: int) -> int:
    """Where `body` sits in `text`: its last occurrence starting in [low, reach] (the most
    progress without a gap), else its first one from `low`; -1 if none."""
    found = text.find(body, low)
    best = -1
    while 0 <= found <= reach:
        best = found
        found = text.find(body, found + 1)
    return best if best >= 0 else text.find(body, low)


def coverage(text: str, chunks: Sequence[Chunk | str]) -> float:
    """Share of the text's non-whitespace characters that some chunk reproduces.

    Chunks are placed in order, each after the previous one's start and as close after the
    previous one's end as possible (overlaps count once); a chunk that starts with repeated
    table header rows is placed by its remainder after those rows.
    """
    covered = bytearray(len(text))
    previous_start, previous_end = -1, 0
    for chunk in chunks:
        body = chunk if isinstance(chunk, str) else chunk.text
        found = -1
        reach = skip_space(text, previous_end)
        for _ in range(3):
            low = max(previous_start + 1, 0)
            found = _place(text, body, low, reach)
            if found >= 0 or "\n" not in body:
                break
            body = body.split("\n", 1)[1]
        if found < 0:
            continue
        covered[found : found + len(body)] = b"\x01" * len(body)
        previous_start, previous_end = found, max(previous_end, found + len(body))
    total = hit = 0
    for char, flag in zip(text, covered, strict=True):
        if not char.isspace():
            total += 1
            hit += flag
    return 1.0 if total == 0 else hit / total


def coverage_of(parsed: ParseResult, chunks: Sequence[Chunk | str]) -> float:
    """`coverage` of the parse result's document text (the text every strategy cuts): the
    share of its non-whitespace characters that the chunks, overlaps counted once, reproduce."""
    return coverage(document_text(parsed), chunks)
