"""The document text every strategy chunks, and the map from its characters back to fragments.

The text is the pages' fragments in reading order (page headers and footers left out) joined by
blank lines, which reproduces the page markdown closely. For each fragment we keep its character
span in that text, its page, box, type and the heading breadcrumb in force, so any character span
of the text (a chunk) maps back to pages, boxes, fragment types and headings.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

from docingest.models import BBox, Fragment, ParseResult

SEPARATOR = "\n\n"
HEADING_TYPES = frozenset({"title", "section_header"})
SKIPPED_TYPES = frozenset({"page_header", "page_footer"})
_TABLE_SEPARATOR_ROW = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_HEADING_MARK = re.compile(r"^(#{1,6})\s+")


@dataclass(frozen=True, slots=True)
class Span:
    """One fragment placed in the document text."""

    start: int
    end: int
    page: int
    bbox: BBox
    type: str
    level: int | None
    headings: tuple[str, ...]  # breadcrumb in force here (includes this fragment if a heading)

    @property
    def is_heading(self) -> bool:
        return self.type in HEADING_TYPES


@dataclass(frozen=True, slots=True)
class Piece:
    """A chunk before provenance: text[start:end] of the document, after an optional prefix
    (the header rows repeated at the top of a table continuation)."""

    start: int
    end: int
    prefix: str = ""
    tokens: int | None = None  # token count of the text, when the strategy already knows it


@dataclass(slots=True)
class DocText:
    """The document text plus the fragment spans laid out in it (sorted, non-overlapping)."""

    text: str
    spans: list[Span]
    starts: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.starts = [span.start for span in self.spans]

    def overlapping(self, start: int, end: int) -> list[Span]:
        """The fragments that share at least one character with text[start:end]."""
        index = max(0, bisect.bisect_right(self.starts, start) - 1)
        found = []
        while index < len(self.spans) and self.spans[index].start < end:
            if self.spans[index].end > start:
                found.append(self.spans[index])
            index += 1
        return found

    def span_at(self, pos: int) -> Span | None:
        """The fragment containing character `pos`, if any (None in the gaps)."""
        index = bisect.bisect_right(self.starts, pos) - 1
        if index >= 0 and self.spans[index].start <= pos < self.spans[index].end:
            return self.spans[index]
        return None

    def table_header(self, pos: int) -> str:
        """Header + separator rows to repeat when a chunk starts at `pos` inside a table body."""
        span = self.span_at(pos)
        if span is None or span.type != "table":
            return ""
        size = self.header_size(span)
        if size == 0 or pos < span.start + size:
            return ""
        return self.text[span.start : span.start + size]

    def header_size(self, span: Span) -> int:
        """Length of a pipe table's header and separator rows with their newlines (else 0)."""
        if span.type != "table":
            return 0
        lines = self.text[span.start : span.end].split("\n", 3)
        if len(lines) < 3 or not _TABLE_SEPARATOR_ROW.match(lines[1]):
            return 0
        return len(lines[0]) + len(lines[1]) + 2


def skip_space(text: str, pos: int) -> int:
    """First non-whitespace position at or after `pos`."""
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def trim_end(text: str, start: int, end: int) -> int:
    """`end` moved back over trailing whitespace, not before `start`."""
    while end > start and text[end - 1].isspace():
        end -= 1
    return end


def heading_level(fragment: Fragment) -> int:
    """The fragment's heading level: declared, else its '#' marks, else title 1 / section 2."""
    if fragment.level is not None and fragment.level >= 1:
        return int(fragment.level)
    mark = _HEADING_MARK.match(fragment.content.lstrip())
    if mark:
        return len(mark.group(1))
    return 1 if fragment.type == "title" else 2


def heading_text(content: str) -> str:
    """A heading's words: leading '#' marks and wrapping emphasis removed."""
    text = content.strip().lstrip("#").strip()
    for mark in ("**", "__", "*", "_"):
        if len(text) > 2 * len(mark) and text.startswith(mark) and text.endswith(mark):
            text = text[len(mark) : -len(mark)].strip()
    return " ".join(text.split())


def _fallback_fragments(markdown: str, width: float, height: float) -> list[Fragment]:
    """A page without fragments: its markdown blocks, each boxed by the whole page."""
    page_box = BBox(0.0, 0.0, float(width), float(height))
    fragments = []
    for block in re.split(r"\n\s*\n", markdown):
        if not block.strip():
            continue
        stripped = block.strip()
        mark = _HEADING_MARK.match(stripped)
        if mark and "\n" not in stripped:
            fragments.append(Fragment("section_header", stripped, page_box, len(mark.group(1))))
        elif stripped.startswith("|"):
            fragments.append(Fragment("table", stripped, page_box))
        else:
            fragments.append(Fragment("text", stripped, page_box))
    return fragments


def _clean(content: str) -> str:
    # Lone surrogates cannot be tokenized or written as UTF-8: make them visible instead.
    if content.isascii():
        return content.strip()
    return content.encode("utf-8", errors="replace").decode("utf-8").strip()


def build_document(parsed: ParseResult) -> DocText:
    """Lay out the parse result's fragments as one text and remember where each one went."""
    parts: list[str] = []
    spans: list[Span] = []
    stack: list[tuple[int, str]] = []
    breadcrumb: tuple[str, ...] = ()
    position = 0
    for page in parsed.pages:
        fragments = page.fragments
        if not fragments and page.markdown.strip():
            fragments = _fallback_fragments(page.markdown, page.width, page.height)
        for fragment in fragments:
            if fragment.type in SKIPPED_TYPES:
                continue
            content = _clean(fragment.content)
            if not content:
                continue
            level = None
            if fragment.type in HEADING_TYPES:
                level = heading_level(fragment)
                while stack and stack[-1][0] >= level:
                    stack.pop()
                stack.append((level, heading_text(content)))
                breadcrumb = tuple(text for _, text in stack if text)
            if parts:
                parts.append(SEPARATOR)
                position += len(SEPARATOR)
            parts.append(content)
            spans.append(
                Span(
                    start=position,
                    end=position + len(content),
                    page=page.page_number,
                    bbox=fragment.bbox,
                    type=fragment.type,
                    level=level,
                    headings=breadcrumb,
                )
            )
            position += len(content)
    return DocText(text="".join(parts), spans=spans)


def document_text(parsed: ParseResult) -> str:
    """The text the chunkers cut (what `coverage` is measured against)."""
    return build_document(parsed).text
