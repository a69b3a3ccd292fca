"""Page triage for the auto engine: which pages the fast path reads well, and which need the
layout model, with the reason (the trigger that fired).

Every signal comes from what the fast path has already read (text lines with boxes, images,
ruled grids) plus the page's vector paths; a page costs a few milliseconds. The thresholds were
set on odl-bench (150 pages with ground truth, where the layout model's gain over the fast path
is known per page) and checked against the share of pages they send on the long documents of
the retrieval corpus (`bench/throughput_bench.py`, figures in `bench/README.md`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

import pymupdf

from docingest.parsing.fast import FastPage
from docingest.parsing.options import ParseOptions
from docingest.parsing.order import has_column_cut
from docingest.parsing.styles import TextLine

# The triggers, in the order they are tried; the first that fires is reported.
OCR = "ocr"  # no usable text layer (or ocr_mode=force): the layout engine OCRs the page
REGEXP = "regexp"  # auto_mode_trigger_on_regexp_in_page matched
TEXT = "text"  # auto_mode_trigger_on_text_in_page found
TABLE = "table"  # rows of aligned cells, a doubtful ruled grid, or many long horizontal rules
IMAGE = "image"  # images, or a drawing of many vector paths, covering much of the page
COLUMNS = "columns"  # side-by-side text that no column cut separates

_ROW_SNAP = 2.5  # points between line centres that share a row
_CELL_GAP = 8.0  # points of white space between two cells of a row
_MIN_CELLS = 3  # text runs in a row that make it a table row
_TABLE_ROWS = 10  # table rows on a page without ruled grids that make it a table page
_ROWS_BESIDE_GRID = 3  # table rows outside the page's ruled grids that its grids missed
_RULE_WIDTH = 0.25  # of the page width: a horizontal rule this long is a table rule
_TABLE_RULES = 15  # such rules on a page (booktabs tables, ledgers) make it a table page
_THIN = 2.5  # points: a path this thin is a rule, not a drawing
_IMAGE_COVER = 0.15  # of the page covered by images
_DRAWING_PATHS = 20  # vector paths (not rules, not the page background) that make a drawing
_DRAWING_COVER = 0.3  # of the page covered by their union
_BACKGROUND = 0.9  # of the page area: a path this large is the page background
_COLUMN_ROWS = 8  # rows a page needs before its columns are judged
_SIDE_BY_SIDE = 0.7  # share of rows holding two text runs side by side


def _rows(lines: Sequence[TextLine]) -> list[list[TextLine]]:
    """Lines grouped into rows by their vertical centres."""
    rows: list[list[TextLine]] = []
    last = float("-inf")
    for line in sorted(lines, key=lambda line: line.centre[1]):
        y = line.centre[1]
        if rows and y - last <= _ROW_SNAP:
            rows[-1].append(line)
        else:
            rows.append([line])
        last = y
    return rows


def _cells(row: list[TextLine]) -> int:
    """Runs of text in a row separated by at least _CELL_GAP of white space."""
    spans = sorted((line.bbox[0], line.bbox[2]) for line in row)
    count, reach = 1, spans[0][1]
    for x0, x1 in spans[1:]:
        if x0 - reach >= _CELL_GAP:
            count += 1
        reach = max(reach, x1)
    return count


def _paths(page: pymupdf.Page) -> tuple[int, int, float]:
    """Long horizontal rules, drawing paths, and the share of the page their union covers."""
    area = abs(page.rect) or 1.0
    rules = 0
    drawn = []
    for path in page.get_cdrawings():
        rect = pymupdf.Rect(path["rect"])
        if rect.height <= _THIN and rect.width >= page.rect.width * _RULE_WIDTH:
            rules += 1
        elif rect.width > _THIN and rect.height > _THIN and abs(rect) < area * _BACKGROUND:
            drawn.append(rect)
    union = pymupdf.Rect()
    for rect in drawn:
        union |= rect
    return rules, len(drawn), abs(union & page.rect) / area if drawn else 0.0


@cache
def _pattern(expression: str) -> re.Pattern[str]:
    return re.compile(expression)


def _text(fast: FastPage) -> str:
    return "\n".join(line.text for block in fast.blocks for line in block.lines)


def _user_trigger(fast: FastPage, options: ParseOptions) -> str | None:
    expression = options.auto_mode_trigger_on_regexp_in_page
    needle = options.auto_mode_trigger_on_text_in_page
    if expression is None and needle is None:
        return None
    text = _text(fast)
    if expression is not None and _pattern(expression).search(text):
        return REGEXP
    if needle is not None and needle in text:
        return TEXT
    return None


def _in_grid(row: list[TextLine], fast: FastPage) -> bool:
    y = sum(line.centre[1] for line in row) / len(row)
    return any(t.bbox.y0 - _ROW_SNAP <= y <= t.bbox.y1 + _ROW_SNAP for t in fast.tables)


def _has_table(fast: FastPage, rows: list[list[TextLine]], rules: int) -> bool:
    """A table the fast path cannot read: many long rules, rows of aligned cells, or a ruled
    grid it read doubtfully. Its grids go wrong where a cell seems to span (doubled or partial
    rules make phantom rows and columns) or where aligned rows continue outside the rules."""
    if rules >= _TABLE_RULES:
        return True
    table_rows = [row for row in rows if _cells(row) >= _MIN_CELLS]
    if not fast.tables:
        return len(table_rows) >= _TABLE_ROWS
    spanning = any("span=" in table.html for table in fast.tables)
    outside = sum(not _in_grid(row, fast) for row in table_rows)
    return spanning or outside >= _ROWS_BESIDE_GRID


def _has_image(fast: FastPage, paths: int, cover: float) -> bool:
    area = fast.width * fast.height or 1.0
    images = sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in fast.figures) / area
    return images >= _IMAGE_COVER or (paths >= _DRAWING_PATHS and cover >= _DRAWING_COVER)


def _unsettled_columns(fast: FastPage, rows: list[list[TextLine]]) -> bool:
    """Most rows hold side-by-side text, yet no vertical cut splits the page's blocks."""
    if len(rows) < _COLUMN_ROWS:
        return False
    # Exactly two runs: three or more make a table row, which the table trigger judges.
    side_by_side = sum(_cells(row) == 2 for row in rows) / len(rows)
    return side_by_side >= _SIDE_BY_SIDE and not has_column_cut([b.bbox for b in fast.blocks])


def page_trigger(page: pymupdf.Page, fast: FastPage, options: ParseOptions) -> str | None:
    """Why page needs the layout model (a trigger name), or None when the fast read stands."""
    user = _user_trigger(fast, options)
    if user is not None:
        return user
    rows = _rows([line for block in fast.blocks for line in block.lines])
    table_on = options.auto_mode_trigger_on_table_in_page
    image_on = options.auto_mode_trigger_on_image_in_page
    rules, paths, cover = _paths(page) if table_on or image_on else (0, 0, 0.0)
    if table_on and _has_table(fast, rows, rules):
        return TABLE
    if image_on and _has_image(fast, paths, cover):
        return IMAGE
    if _unsettled_columns(fast, rows):
        return COLUMNS
    return None
