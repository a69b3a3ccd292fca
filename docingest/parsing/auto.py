"""The auto engine: every page read by the fast path, the layout model only where it is needed.

Pages without a usable text layer go straight to the layout engine (which OCRs them); every
other page is read from MuPDF's text blocks, and `triage.page_trigger` decides whether that read
stands or the page goes to the layout model too. Both engines produce the same PageResult
shape; heading levels are then set once for the whole document, from the font sizes of all its
headings whichever engine found them, so a level means the same on every page.
"""

from __future__ import annotations

import pymupdf

from docingest.models import BBox, Fragment, PageResult
from docingest.parsing.clean import heading_level, heading_text
from docingest.parsing.fast import FastPage, FastReader
from docingest.parsing.ocr import text_layer_is_unusable
from docingest.parsing.options import ParseOptions
from docingest.parsing.pages import per_page
from docingest.parsing.triage import OCR, page_trigger

_HEADINGS = frozenset({"title", "section_header"})
_MAX_LEVELS = 6
_SLACK = 1.0  # points a line's centre may lie outside a heading's box


def _needs_ocr(doc: pymupdf.Document, index: int, options: ParseOptions) -> bool:
    """OCR forced, or no usable text layer; a page MuPDF cannot load goes to the fast read,
    which meets the same error and reports it as the page's."""
    if options.ocr_mode == "force":
        return True
    try:
        return options.ocr_mode == "auto" and text_layer_is_unusable(doc[index])
    except Exception:
        return False


def _trigger(
    doc: pymupdf.Document, index: int, fast: FastPage, options: ParseOptions
) -> str | None:
    try:
        return page_trigger(doc[index], fast, options)
    except Exception:  # its vector paths cannot be read: the fast read, which worked, stands
        return None


def _heading_size(fragment: Fragment, fast: FastPage) -> int | None:
    """The largest (rounded) font size of the text lines inside the heading's box."""
    box: BBox = fragment.bbox
    sizes = [
        round(line.size)
        for block in fast.blocks
        for line in block.lines
        if box.x0 - _SLACK <= line.centre[0] <= box.x1 + _SLACK
        and box.y0 - _SLACK <= line.centre[1] <= box.y1 + _SLACK
    ]
    return max(sizes) if sizes else None


def level_headings(pages: list[PageResult], reads: dict[int, FastPage]) -> None:
    """Section header levels from the document's heading sizes, the same rule on every page:
    the numbering's depth where there is one, else the size's rank among all headings' sizes
    (`reads`: the fast path's lines by 0-based page index; OCR'd pages keep their levels)."""
    found: list[tuple[Fragment, int]] = []
    for page in pages:
        fast = reads.get(page.page_number - 1)
        if fast is None:
            continue
        for fragment in page.fragments:
            if fragment.type in _HEADINGS:
                size = _heading_size(fragment, fast)
                if size is not None:
                    found.append((fragment, size))
    ranks = sorted({size for _, size in found}, reverse=True)
    for fragment, size in found:
        if fragment.type != "section_header":
            continue  # a title is level 1 whatever its size
        words = heading_text(fragment.content)
        level = heading_level(words, min(ranks.index(size) + 1, _MAX_LEVELS))
        fragment.content, fragment.level = f"{'#' * level} {words}", level


def triage(
    doc: pymupdf.Document, indexes: list[int], options: ParseOptions
) -> tuple[FastReader, dict[int, str]]:
    """The fast read of pages `indexes` (0-based) that have a usable text layer, and the
    trigger of each page (by index) that needs the layout model."""
    triggers = {index: OCR for index in indexes if _needs_ocr(doc, index, options)}
    text_indexes = [index for index in indexes if index not in triggers]
    reader = FastReader(doc, text_indexes, options, ocr=False, title_index=indexes[0])
    for index, item in reader.read.items():
        if isinstance(item, tuple) and (trigger := _trigger(doc, index, item[0], options)):
            triggers[index] = trigger
    return reader, triggers


def parse_auto(
    doc: pymupdf.Document, indexes: list[int], options: ParseOptions
) -> tuple[list[PageResult], dict[int, str]]:
    """Parse pages `indexes` (0-based) of `doc`; also the trigger of each page (1-based number)
    that went to the layout model. Every other page is the fast path's."""
    reader, triggers = triage(doc, indexes, options)
    fast_indexes = [index for index in reader.read if index not in triggers]
    pages = per_page(doc, fast_indexes, reader.build)
    if triggers:
        # Imported here, as in api.py: the layout model loads only when a page needs it.
        from docingest.parsing.layout import parse_layout

        pages.extend(parse_layout(doc, sorted(triggers), options))
    pages.sort(key=lambda page: page.page_number)
    reads = {i: item[0] for i, item in reader.read.items() if isinstance(item, tuple)}
    level_headings([page for page in pages if page.status == "ok" and not page.ocr], reads)
    return pages, {index + 1: trigger for index, trigger in sorted(triggers.items())}
