"""token_size: windows of `chunk_size` tokens with `chunk_overlap`, cut at natural boundaries.

The text is encoded once; a window of `chunk_size` tokens from the current start gives the
furthest character a chunk may reach. The cut is then snapped back to the best boundary inside
the window (fragment > line > sentence > whitespace; only row boundaries inside tables; never
right after or inside a heading), so words, table rows and heading/body pairs stay together.
Chunks are slices of the source string, never decoded token slices, so a multi-byte character is
never split and the text is exactly the source; each is re-counted and shrunk if over the limit.
The re-count is exact without re-encoding the chunk: tiktoken's pre-tokens never straddle certain
positions (see `pretoken_boundaries`), so only the slice's two edges are encoded alone.
"""

from __future__ import annotations

import bisect
import re

from docingest.chunking.document import DocText, Piece, skip_space, trim_end
from docingest.chunking.textindex import (
    drop_zones,
    line_starts,
    pretoken_boundaries,
    sorted_union,
    token_offsets,
    word_starts,
)
from docingest.tokenizer import get_encoding

# A boundary class is used when its last position in the window lies in the window's last
# fraction (by characters); whitespace is taken anywhere rather than cutting a word.
_LOOK_BACK = (0.5, 0.5, 0.5, 1.0)  # per class, the last resort excluded
_SENTENCE_END = re.compile("[.!?][\"'\u201d\u2019)\\]]*\\s+")


def boundary_classes(doc: DocText) -> tuple[list[list[int]], list[int], list[int]]:
    """Allowed cut positions per class (fragment, line, sentence, whitespace, then any
    whitespace as the last resort), the positions a chunk may start at, and the loose cuts.

    A cut at position p ends a chunk at text[:p]. Positions inside a heading or between a
    heading and the next fragment are never cuts (the heading would end the chunk), nor inside
    a table's header rows; inside a table only line starts (row boundaries) are. The loose cuts
    (fragment and line starts, also right after a heading) are the fallback when nothing clean
    fits: a heading may then end a chunk, so that a table is still not cut inside a row.
    """
    text, spans = doc.text, doc.spans
    heading_zones = []
    for index, span in enumerate(spans):
        if span.is_heading:
            following = spans[index + 1].start if index + 1 < len(spans) else len(text)
            heading_zones.append((span.start + 1, following + 1))
    tables = [span for span in spans if span.type == "table"]
    table_zones = [(span.start + 1, span.end) for span in tables]
    # Nor between a table's header rows and its first body row.
    header_zones = [(t.start + 1, t.start + doc.header_size(t) + 1) for t in tables]
    heading_zones = sorted(heading_zones + header_zones)
    strict_zones = sorted(heading_zones + table_zones)
    raw_space, lines = word_starts(text), line_starts(text)
    fragment = drop_zones([s.start for s in spans[1:]], heading_zones)
    line = drop_zones(lines, heading_zones)
    sentence = drop_zones([m.end() for m in _SENTENCE_END.finditer(text)], strict_zones)
    space = drop_zones(raw_space, strict_zones)
    starts = sorted_union(line, space)
    # Loose cuts: still never inside a heading or a table's header rows.
    inside = sorted(header_zones + [(s.start + 1, s.end) for s in spans if s.is_heading])
    loose = drop_zones(sorted_union([s.start for s in spans[1:]], lines), inside)
    return [fragment, line, sentence, space, raw_space], starts, loose


def _pick_cut(classes: list[list[int]], start: int, floor: int, limit: int) -> int | None:
    """Best cut in (floor, limit]: the last position of the first class found late enough,
    else of the first class found anywhere in the window (never the last-resort class)."""
    width = limit - start
    for fractions in (_LOOK_BACK, (1.0,) * len(_LOOK_BACK)):
        for positions, fraction in zip(classes, fractions, strict=False):
            lowest = max(floor, start + int(width * (1.0 - fraction)))
            index = bisect.bisect_right(positions, limit) - 1
            if index >= 0 and positions[index] > lowest:
                return positions[index]
    return None


class Cutter:
    """Token windows over one document text (encoded once, for every range cut from it)."""

    def __init__(self, doc: DocText, chunk_size: int, encoding_name: str) -> None:
        self.text, self.size = doc.text, chunk_size
        self.encoding = get_encoding(encoding_name)
        # Special-token text counts as ordinary text: the ids of encode(disallowed_special=()),
        # without its scan for special tokens (a third faster).
        self.ids = self.encoding.encode_ordinary(self.text)
        self.offsets = token_offsets(self.text, self.ids, encoding_name)
        self.safe = pretoken_boundaries(self.text)
        self.classes, self.starts, self.loose = boundary_classes(doc)

    def tokens(self, value: str) -> int:
        return len(self.encoding.encode_ordinary(value))

    def count(self, start: int, end: int, prefix: str = "") -> int:
        """Exact token count of prefix + text[start:end], as encoding it alone gives: the
        whole-text tokens between the first and last pre-token boundary inside the slice, plus
        the two edges encoded alone (a prefix, repeated table rows, ends with a newline and the
        slice starts with '|', so they meet on a boundary too)."""
        text = self.text
        if prefix and not (prefix.endswith("\n") and start < end and text[start] not in " \t/"):
            return self.tokens(prefix + text[start:end])
        extra = self.tokens(prefix) if prefix else 0
        low = bisect.bisect_left(self.safe, start)
        high = bisect.bisect_right(self.safe, end) - 1
        if low > high or self.safe[low] >= self.safe[high]:
            return extra + self.tokens(text[start:end])
        first, last = self.safe[low], self.safe[high]
        inner = bisect.bisect_left(self.offsets, last) - bisect.bisect_left(self.offsets, first)
        head = self.tokens(text[start:first]) if first > start else 0
        tail = self.tokens(text[last:end]) if end > last else 0
        return extra + head + inner + tail

    def window(
        self, start: int, floor: int, prefix: str, relaxed: bool, stop: int
    ) -> tuple[int, int, int] | None:
        """(end, cut, tokens) of the chunk starting at `start` and ending by `stop`, or None when
        there is no clean cut beyond `floor` (with `relaxed`, a loose cut, then any whitespace
        and at last the raw limit will do)."""
        text, count = self.text, len(self.ids)
        first = max(0, bisect.bisect_right(self.offsets, start) - 1)
        last = first + self.size - (self.tokens(prefix) if prefix else 0)
        while True:
            limit = stop if last >= count else max(self.offsets[last], start + 1)
            cut = stop if limit >= stop else _pick_cut(self.classes, start, floor, limit)
            if cut is None and not relaxed:
                return None
            if cut is None:
                cut = _pick_cut([self.loose], start, floor, limit)
            if cut is None:
                index = bisect.bisect_right(self.classes[-1], limit) - 1
                fallback = self.classes[-1][index] if index >= 0 else limit
                cut = fallback if fallback > max(start, floor) else limit
            end = trim_end(text, start, cut)
            tokens = self.count(start, end, prefix)
            over = tokens - self.size
            if over <= 0 or end - start <= 1:
                return end, cut, tokens
            last = max(first, min(last, count) - over)

    def overlap_start(self, end: int, low_token: int, previous_start: int) -> int | None:
        """Where the next chunk starts inside the overlap (first fragment, line or sentence
        start there, else the first word start), or None when nothing fits."""
        if low_token >= len(self.ids):
            return None
        low = self.offsets[low_token]
        for positions in (*self.classes[:3], self.starts):
            index = bisect.bisect_left(positions, low)
            if index < len(positions) and previous_start < positions[index] < end:
                return skip_space(self.text, positions[index])
        return None


def token_pieces(
    doc: DocText, chunk_size: int, chunk_overlap: int, encoding_name: str
) -> list[Piece]:
    """Cut the document text into pieces of at most `chunk_size` tokens."""
    cutter = Cutter(doc, chunk_size, encoding_name)
    return cut_range(cutter, doc, 0, len(doc.text), chunk_overlap)


def cut_range(cutter: Cutter, doc: DocText, low: int, stop: int, chunk_overlap: int) -> list[Piece]:
    """Cut text[low:stop] into pieces of at most the cutter's size in tokens (stop is a
    position where a chunk may end: a fragment end or the end of the text)."""
    text = doc.text
    pieces: list[Piece] = []
    start = skip_space(text, low)
    floor = start  # a cut must lie beyond the previous chunk's end: every chunk adds text
    resume = start  # where the next chunk starts without overlap
    while start < stop:
        # Repeated table headers matter more than overlap: try with the header (with, then
        # without the overlap), then without the header, and at last relax the cut.
        begins = [start] if resume == start else [start, resume]
        attempts = [(begin, doc.table_header(begin)) for begin in begins]
        attempts += [(begin, "") for begin, prefix in attempts if prefix]
        result = None
        for begin, prefix in attempts:
            result = cutter.window(begin, floor, prefix, relaxed=False, stop=stop)
            if result is not None:
                break
        if result is None:
            begin, prefix = resume, ""
            result = cutter.window(begin, floor, prefix, relaxed=True, stop=stop)
        assert result is not None
        end, cut, tokens = result
        pieces.append(Piece(begin, end, prefix, tokens))
        if cut >= stop:
            break
        floor = cut
        start = resume = skip_space(text, cut)
        if chunk_overlap:
            first = bisect.bisect_left(cutter.offsets, end)
            overlap = cutter.overlap_start(end, max(first - chunk_overlap, 0), begin)
            start = resume if overlap is None else overlap
    return pieces
