"""Plain, clean markdown from the layout engine's per-box text, and heading levels."""

from __future__ import annotations

import re

from docingest.models import BBox, Fragment

_PICTURE_TEXT = re.compile(
    r"<!-- Start of picture text -->(.*?)<!-- End of picture text -->", re.DOTALL
)
_OMITTED = re.compile(r"\*\*==> picture \[[^\]]*\] intentionally omitted <==\*\*")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
_INLINE_TAGS = re.compile(r"</?(?:u|sup|sub|mark|b|i|em|strong|s)>", re.IGNORECASE)
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*")
_ITALIC = re.compile(r"(?<![\w*])_(?=\S)([^_\n]+?)(?<=\S)_(?!\w)")
_STAR_ITALIC = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_CODE = re.compile(r"`([^`\n]+)`")
_FENCE = re.compile(r"^```\w*\s*$", re.MULTILINE)
_HEADING = re.compile(r"^(#{1,6})\s+")
_LIST = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+")
_EMPTY_ITEM = re.compile(r"^\s*[-*+]\s*$")
_BLANKS = re.compile(r"\n{3,}")
# "3.2.1 Title", "3.2 Title", "3 Title", "III. Title", "A. Title", "Chapter 3"
_DECIMAL = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,4})\.?\s+\S")
_ROMAN = re.compile(r"^[IVXLC]{1,6}\.\s+\S")
_LETTER = re.compile(r"^[A-H]\.\s+\S")
_CHAPTER = re.compile(r"^(?:chapter|part|section|appendix)\s+\w+", re.IGNORECASE)


def strip_inline(text: str) -> str:
    """Text without emphasis markers and inline HTML tags (the words stay)."""
    text = _INLINE_TAGS.sub("", text)
    text = _BOLD.sub(r"\1", text)
    text = _ITALIC.sub(r"\1", text)
    text = _STAR_ITALIC.sub(r"\1", text)
    return _CODE.sub(r"\1", text)


def picture_text(text: str) -> str:
    """Text found inside a picture, as plain lines; the 'omitted picture' notes removed."""
    text = _PICTURE_TEXT.sub(lambda m: "\n" + _BR.sub("\n", m.group(1)).strip() + "\n", text)
    return _OMITTED.sub("", text)


def clean_block(text: str) -> str:
    """One layout box's markdown made plain: no emphasis, no code fences, tidy lines."""
    text = _FENCE.sub("", picture_text(text))
    lines = []
    for line in text.splitlines():
        if _EMPTY_ITEM.match(line):
            continue
        line = strip_inline(line).rstrip()
        # pymupdf4llm indents list items by nesting depth; keep a single level
        lines.append(line.lstrip() if _LIST.match(line) else line)
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def heading_text(content: str) -> str:
    """A heading's words without `#` marks or emphasis, on one line."""
    text = _HEADING.sub("", clean_block(content))
    return " ".join(text.split())


def numbering_depth(text: str) -> int | None:
    """The level a heading's numbering implies ("3.2 x" -> 2, "III. x" -> 1), else None."""
    if match := _DECIMAL.match(text):
        return min(match.group(1).count(".") + 1, 6)
    if _ROMAN.match(text) or _CHAPTER.match(text):
        return 1
    if _LETTER.match(text):
        return 2
    return None


def heading_level(text: str, font_level: int) -> int:
    """Numbering wins over the font-size rank, which the layout engine gives."""
    depth = numbering_depth(text)
    return depth if depth is not None else max(1, min(font_level, 6))


_CAPTION = re.compile(
    r"^(?:table|tab\.|figure|fig\.|chart|exhibit|graph|map|plate|scheme|box)\s*"
    r"(?:[\dIVXivx]+(?:[.\-]\d+)*)?\s*[:.\-\u2013\u2014]\s*\S",
    re.IGNORECASE,
)
_NUMBER_ONLY = re.compile(r"^(?:\d{1,2}(?:\.\d{1,2}){0,4}|[IVX]{1,5}|[A-H])\.?$")
_HEADING_TYPES = frozenset({"title", "section_header"})


def _words(fragment: Fragment) -> str:
    return _HEADING.sub("", fragment.content).strip()


def refine_headings(fragments: list[Fragment]) -> list[Fragment]:
    """Fix what layout models get wrong about headings, by rules any document obeys.

    A numbered caption ("Table 2: ...") is a caption, not a heading; a heading that starts in
    lower case and ends a sentence is body text; a bare number ("4", "III.") set apart from
    its title is joined to the heading that follows it.
    """
    out: list[Fragment] = []
    for fragment in fragments:
        if fragment.type not in _HEADING_TYPES:
            out.append(fragment)
            continue
        words = _words(fragment)
        previous = out[-1] if out else None
        if previous is not None and previous.type in _HEADING_TYPES:
            number = _words(previous)
            if _NUMBER_ONLY.match(number):
                words = f"{number} {words}"
                level = heading_level(words, fragment.level or 1)
                previous.content, previous.level = f"{'#' * level} {words}", level
                previous.bbox = BBox(
                    min(previous.bbox.x0, fragment.bbox.x0),
                    min(previous.bbox.y0, fragment.bbox.y0),
                    max(previous.bbox.x1, fragment.bbox.x1),
                    max(previous.bbox.y1, fragment.bbox.y1),
                )
                continue
        if _CAPTION.match(words):
            out.append(Fragment("caption", words, fragment.bbox))
        elif words[:1].islower() and words.endswith((".", ",", ";")):
            out.append(Fragment("text", words, fragment.bbox))
        else:
            out.append(fragment)
    return out
