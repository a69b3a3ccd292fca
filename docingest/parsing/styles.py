"""Font statistics of a page's text lines, for the headings a layout model glues to body text.

Slides and reports often set a block's title in a larger size, or in bold, as the first lines of
the block; layout models then return one text box. Its leading lines, set apart by size or
weight from the rest and shaped like a title, become a section header of their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pymupdf

from docingest.models import BBox, Fragment

_FLAGS = pymupdf.TEXTFLAGS_DICT & ~pymupdf.TEXT_PRESERVE_IMAGES
_LARGER = 1.15  # a title's size over the size of the text below it
_MAX_TITLE_LINES = 3
_MAX_TITLE_WORDS = 12
_MIN_BODY_WORDS = 3  # per line below the title: prose, not a column of table cells
_SENTENCE_END = (".", ",", ";", ":", "!", "?")


# Bold by name where the font does not set the flag: "-Bold", "Black", "Heavy", "Semibold",
# "Demi", and TeX's bold extended ("CMBX12").
_BOLD_FONT = re.compile(r"bold|black|heavy|demi|^cmbx|[-,]bd\b", re.IGNORECASE)


@dataclass(slots=True)
class TextLine:
    """One line of MuPDF text with its style (both engines read lines through this)."""

    text: str
    bbox: tuple[float, float, float, float]
    size: float  # character-weighted mean span size
    bold: bool  # every span bold

    @property
    def centre(self) -> tuple[float, float]:
        return (self.bbox[0] + self.bbox[2]) / 2, (self.bbox[1] + self.bbox[3]) / 2

    def same_style(self, other: TextLine) -> bool:
        return abs(self.size - other.size) < 0.5 and self.bold == other.bold


def text_line(raw: dict) -> TextLine | None:
    """The line of a `get_text("dict")` block, None when it holds no visible text."""
    spans = [s for s in raw["spans"] if s["text"].strip()]
    if not spans:
        return None
    text = "".join(s["text"] for s in raw["spans"]).replace("\xad", "").strip()
    chars = sum(len(s["text"]) for s in spans)
    size = sum(s["size"] * len(s["text"]) for s in spans) / chars
    bold = all(s["flags"] & pymupdf.TEXT_FONT_BOLD or _BOLD_FONT.search(s["font"]) for s in spans)
    return TextLine(text, tuple(raw["bbox"]), size, bold)


class PageStyles:
    """The text lines of one page with their size and weight."""

    def __init__(self, page: pymupdf.Page) -> None:
        self.lines = [
            line
            for block in page.get_text("dict", flags=_FLAGS)["blocks"]
            for raw in block.get("lines", ())
            if (line := text_line(raw)) is not None
        ]

    def lines_in(self, bbox: BBox) -> list[TextLine]:
        """The lines centred in `bbox`, top to bottom."""
        inside = [
            (x, y, line)
            for line in self.lines
            for x, y in (line.centre,)
            if bbox.x0 <= x <= bbox.x1 and bbox.y0 <= y <= bbox.y1
        ]
        return [line for _, _, line in sorted(inside, key=lambda t: (round(t[1]), t[0]))]


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
