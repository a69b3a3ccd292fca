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
_LETTER_DECIMAL = re.compile(r"^[A-H]((?:\.\d{1,2}){1,4})\.?\s+\S")  # "B.1 Title", appendices
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


# Typographic quotes as ASCII: what users type in queries, and one form for the same text
# whichever typesetting a document had.
_QUOTES = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
    }
)


def plain_quotes(text: str) -> str:
    """`text` with curly single and double quotes made straight."""
    return text.translate(_QUOTES)


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
    if match := _LETTER_DECIMAL.match(text):
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


_CAPTION_WORD = r"(?:table|tab\.|figure|fig\.|chart|diagram|exhibit|graph|map|plate|scheme|box)"
_CAPTION = re.compile(
    rf"^{_CAPTION_WORD}\s*(?:[\dIVXivx]+(?:[.\-]\d+)*)?\s*[:.\-\u2013\u2014]\s*\S"
    # "Figure 4 Distribution of ...": a number, then a capitalised title, no separator
    rf"|^{_CAPTION_WORD}\s+\d+(?:[.\-]\d+)*\s+[A-Z]",
    re.IGNORECASE,
)
_CAPTION_WORD_ONLY = re.compile(rf"^(?:{_CAPTION_WORD}|source|note)s?\b", re.IGNORECASE)
_NUMBER_ONLY = re.compile(r"^(?:\d{1,2}(?:\.\d{1,2}){0,4}|[IVX]{1,5}|[A-H])\.?$")
_HEADING_TYPES = frozenset({"title", "section_header"})
_DROP_CAP = re.compile(r"^[A-Z]$")
_DROP_CAP_TYPES = _HEADING_TYPES | {"text"}
_HEADING_LINE_GAP = 1.0  # of a line's height: the most space between two lines of one heading
_HEADING_LOOKAHEAD = 6  # fragments searched for a heading's second line
_DROP_CAP_SEARCH = 400  # characters of the paragraph searched for the letter's stray copy


def _words(fragment: Fragment) -> str:
    return _HEADING.sub("", fragment.content).strip()


_CHAPTER_LINE = re.compile(
    r"^(?:chapter|part)\s+(?:\d{1,3}|[ivxlc]{1,6}|[a-z]+)\.?$", re.IGNORECASE
)
_BOLD_BLOCK = re.compile(r"^\*\*[^*]+\*\*$")
_MAX_TITLE_WORDS = 8


def is_title_line(raw: str, *, bold_only: bool) -> bool:
    """A box the layout model did not call a heading that is one.

    "Chapter 7" standing alone; or (for a caption box, `bold_only`) a short, unnumbered,
    all-bold title: captions are numbered ("Figure 3") or sentences, not bold titles.
    """
    words = heading_text(raw)
    if not bold_only:
        return bool(_CHAPTER_LINE.match(words))
    return (
        bool(_BOLD_BLOCK.match(raw.strip()))
        and 0 < len(words.split()) <= _MAX_TITLE_WORDS
        and not words.endswith((".", ",", ";", ":", "!", "?"))
        and not _CAPTION.match(words)
        and not _CAPTION_WORD_ONLY.match(words)
        and words[:1].isupper()
    )


def _overlaps(a: BBox, b: BBox) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def _union(a: BBox, b: BBox) -> BBox:
    return BBox(min(a.x0, b.x0), min(a.y0, b.y0), max(a.x1, b.x1), max(a.y1, b.y1))


def merge_drop_caps(fragments: list[Fragment]) -> list[Fragment]:
    """A drop cap (one large initial letter set apart) joined back to the paragraph it starts.

    Layout models see the big letter as a heading or a block of its own, and the paragraph
    then starts mid-word ("ndia suffers ..."). When the letter's box overlaps the paragraph's,
    the paragraph's text usually holds the glyph a second time as a stray word: dropped.
    """
    out: list[Fragment] = []
    index = 0
    while index < len(fragments):
        fragment = fragments[index]
        following = fragments[index + 1] if index + 1 < len(fragments) else None
        letter = _words(fragment) if fragment.type in _DROP_CAP_TYPES else ""
        if (
            following is not None
            and _DROP_CAP.match(letter)
            and following.type == "text"
            and following.content[:1].islower()
        ):
            body = following.content
            if _overlaps(fragment.bbox, following.bbox):
                stray = body.find(f" {letter} ", 0, _DROP_CAP_SEARCH)
                if stray >= 0:
                    body = body[:stray] + body[stray + 2 :]
            out.append(Fragment("text", letter + body, _union(fragment.bbox, following.bbox)))
            index += 2
            continue
        out.append(fragment)
        index += 1
    return out


def _continues(first: Fragment, second: Fragment) -> bool:
    """`second` is the next line of heading `first`, set as a box of its own."""
    a, b = first.bbox, second.bbox
    line = min(a.y1 - a.y0, b.y1 - b.y0)
    gap = b.y0 - a.y1
    return (
        first.level == second.level  # the same size rank: one heading, not heading + sub
        and -line * 0.2 <= gap <= line * _HEADING_LINE_GAP
        and min(a.x1, b.x1) - max(a.x0, b.x0) > 0
        and not _words(first).endswith((".", ":", "!", "?"))
        and numbering_depth(_words(second)) is None
    )


def join_heading_lines(fragments: list[Fragment]) -> list[Fragment]:
    """A heading broken over two boxes, one line below the other, made one heading again.

    On multi-column pages the second line may come after other columns' headings in reading
    order, so any later heading is considered, not only the next fragment.
    """
    out = list(fragments)
    index = 0
    while index < len(out):
        first = out[index]
        if first.type in _HEADING_TYPES:
            for later in range(index + 1, min(index + _HEADING_LOOKAHEAD, len(out))):
                second = out[later]
                if second.type in _HEADING_TYPES and _continues(first, second):
                    words = f"{_words(first)} {_words(second)}"
                    level = first.level or 1
                    first.content, first.level = f"{'#' * level} {words}", level
                    first.bbox = _union(first.bbox, second.bbox)
                    del out[later]
                    break
            else:
                index += 1
            continue
        index += 1
    return out


def refine_headings(fragments: list[Fragment]) -> list[Fragment]:
    """Fix what layout models get wrong about headings, by rules any document obeys.

    A drop cap is joined to its paragraph; a numbered caption ("Table 2: ...") is a caption,
    not a heading; a heading that starts in lower case and ends a sentence is body text; a
    bare number ("4", "III.") set apart from its title is joined to the heading that follows.
    """
    out: list[Fragment] = []
    for fragment in join_heading_lines(merge_drop_caps(fragments)):
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
                previous.bbox = _union(previous.bbox, fragment.bbox)
                continue
        if _CAPTION.match(words):
            out.append(Fragment("caption", words, fragment.bbox))
        elif words[:1].islower() and words.endswith((".", ",", ";")):
            out.append(Fragment("text", words, fragment.bbox))
        else:
            out.append(fragment)
    return out
