"""Font statistics of a page's text lines, for the headings a layout model glues to body text.

Slides and reports often set a block's title in a larger size, or in bold, as the first lines of
the block; layout models then return one text box. Its leading lines, set apart by size or
weight from the rest and shaped like a title, become a section header of their own.
"""

from __future__ import annotations

from dataclasses import dataclass

import pymupdf

from docingest.models import BBox, Fragment

_FLAGS = pymupdf.TEXTFLAGS_DICT & ~pymupdf.TEXT_PRESERVE_IMAGES
_LARGER = 1.15  # a title's size over the size of the text below it
_MAX_TITLE_LINES = 3
_MAX_TITLE_WORDS = 12
_MIN_BODY_WORDS = 3  # per line below the title: prose, not a column of table cells
_SENTENCE_END = (".", ",", ";", ":", "!", "?")


@dataclass(slots=True, frozen=True)
class _Line:
    x: float
    y: float
    text: str
    size: float  # character-weighted
    bold: bool  # every span bold

    def same_style(self, other: _Line) -> bool:
        return abs(self.size - other.size) < 0.5 and self.bold == other.bold


def _line(raw: dict) -> _Line | None:
    spans = [s for s in raw["spans"] if s["text"].strip()]
    if not spans:
        return None
    chars = sum(len(s["text"].strip()) for s in spans)
    size = sum(s["size"] * len(s["text"].strip()) for s in spans) / chars
    bold = all(s["flags"] & pymupdf.TEXT_FONT_BOLD or "bold" in s["font"].lower() for s in spans)
    x0, y0, x1, y1 = raw["bbox"]
    text = " ".join("".join(s["text"] for s in raw["spans"]).split())
    return _Line((x0 + x1) / 2, (y0 + y1) / 2, text, size, bold)


class PageStyles:
    """The text lines of one page with their size and weight."""

    def __init__(self, page: pymupdf.Page) -> None:
        self.lines = [
            line
            for block in page.get_text("dict", flags=_FLAGS)["blocks"]
            for raw in block.get("lines", ())
            if (line := _line(raw)) is not None
        ]

    def lines_in(self, bbox: BBox) -> list[_Line]:
        """The lines centred in `bbox`, top to bottom."""
        inside = [
            line
            for line in self.lines
            if bbox.x0 <= line.x <= bbox.x1 and bbox.y0 <= line.y <= bbox.y1
        ]
        return sorted(inside, key=lambda line: (round(line.y), line.x))


def _title_like(words: list[str]) -> bool:
    text = " ".join(words)
    return (
        0 < len(words) <= _MAX_TITLE_WORDS
        and not text.endswith(_SENTENCE_END)
        and any(c.isalpha() for c in text)
        and text[:1].isupper()
    )


def _split(fragment: Fragment, styles: PageStyles) -> list[Fragment]:
    lines = styles.lines_in(fragment.bbox)
    if len(lines) < 2:
        return [fragment]
    lead = 1
    while lead < len(lines) and lines[lead].same_style(lines[0]):
        lead += 1
    if lead == len(lines) or lead > _MAX_TITLE_LINES:
        return [fragment]
    head, rest = lines[:lead], lines[lead:]
    rest_chars = sum(len(line.text) for line in rest) or 1
    rest_size = sum(line.size * len(line.text) for line in rest) / rest_chars
    larger = head[0].size >= rest_size * _LARGER
    bolder = head[0].bold and not any(line.bold for line in rest)
    prose = sum(len(line.text.split()) for line in rest) >= _MIN_BODY_WORDS * len(rest)
    title = " ".join(line.text for line in head).split()
    words = fragment.content.split()
    if not (larger or bolder) or not prose or not _title_like(title):
        return [fragment]
    if words[: len(title)] != title:
        return [fragment]
    body = " ".join(words[len(title) :])
    heading = Fragment("section_header", f"## {' '.join(title)}", fragment.bbox, level=2)
    return [heading, Fragment("text", body, fragment.bbox)] if body else [heading]


def split_leading_titles(fragments: list[Fragment], styles: PageStyles) -> list[Fragment]:
    """Text fragments whose first lines are a title set apart by size or weight, split."""
    out: list[Fragment] = []
    for fragment in fragments:
        out.extend(_split(fragment, styles) if fragment.type == "text" else [fragment])
    return out
