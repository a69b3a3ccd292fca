"""Spreadsheets as pages: one page per sheet, its tables found in the used cells.

A sheet's non-empty cells (merged ranges joined) split into regions separated by empty rows
and columns (`spreadsheet_extract_sub_tables`, on by default; off: one table per used range).
A region of a single cell is a line of text (a sheet's title), anything larger a table.
Boxes are grid positions in points at Excel's default cell size (64 x 20 px).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from docingest.errors import DocIngestError, ErrorCode
from docingest.models import BBox
from docingest.parsing.office.blocks import PageBuilder, clean_inline, grid_to_rows
from docingest.parsing.options import ParseOptions

CELL_WIDTH_PT = 48.0
CELL_HEIGHT_PT = 15.0
MAX_CELL_CHARS = 2000
# Text a workbook may expand to: at least this, or this many times its file size.
TEXT_BUDGET_CHARS = 20_000_000
TEXT_BUDGET_RATIO = 20


@dataclass
class Sheet:
    """One sheet's displayed cell values by (row, column), 0-based, and merged ranges."""

    name: str
    cells: dict[tuple[int, int], str] = field(default_factory=dict)
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)  # r0, c0, r1, c1
    hidden: bool = False


class Budget:
    """Cells and characters a workbook may produce before it is refused as too large."""

    def __init__(self, options: ParseOptions, size: int) -> None:
        self.cells_left = options.spreadsheet_max_cells
        self.chars_left = max(TEXT_BUDGET_CHARS, TEXT_BUDGET_RATIO * size)
        self.max_cells = options.spreadsheet_max_cells

    def take(self, text: str) -> str:
        text = text if len(text) <= MAX_CELL_CHARS else text[:MAX_CELL_CHARS] + "…"
        self.cells_left -= 1
        self.chars_left -= len(text)
        if self.cells_left < 0:
            raise DocIngestError(
                ErrorCode.FILE_SIZE_TOO_LARGE,
                f"the workbook has more than {self.max_cells} non-empty cells "
                "(spreadsheet_max_cells)",
            )
        if self.chars_left < 0:
            raise DocIngestError(
                ErrorCode.FILE_SIZE_TOO_LARGE,
                "the workbook expands to more text than its size allows (shared-string bomb?)",
            )
        return text


def _regions(sheet: Sheet, split: bool) -> list[tuple[int, int, int, int]]:
    """Bounding boxes (r0, c0, r1, c1) of the connected groups of non-empty cells."""
    filled = {key for key, value in sheet.cells.items() if value.strip()}
    if not filled:
        return []
    if not split:
        rows = [r for r, _ in filled]
        cols = [c for _, c in filled]
        return [(min(rows), min(cols), max(rows), max(cols))]
    parent: dict[tuple[int, int], tuple[int, int]] = {cell: cell for cell in filled}

    def find(cell: tuple[int, int]) -> tuple[int, int]:
        while parent[cell] != cell:
            parent[cell] = parent[parent[cell]]
            cell = parent[cell]
        return cell

    def union(a: tuple[int, int], b: tuple[int, int]) -> None:
        parent[find(a)] = find(b)

    for r, c in filled:
        for neighbour in ((r + 1, c), (r, c + 1)):
            if neighbour in parent:
                union((r, c), neighbour)
    for r0, c0, r1, c1 in sheet.merges:
        inside = [cell for cell in ((r0, c0), (r1, c1), (r0, c1), (r1, c0)) if cell in parent]
        anchor = (r0, c0)
        if anchor in parent:
            # A merged cell reaches as far as its range: join what touches the range.
            for r in range(r0, min(r1, r0 + 1000) + 2):
                for c in (c1 + 1, c0 - 1):
                    if (r, c) in parent:
                        union(anchor, (r, c))
            for c in range(c0, min(c1, c0 + 1000) + 2):
                for r in (r1 + 1, r0 - 1):
                    if (r, c) in parent:
                        union(anchor, (r, c))
        for cell in inside:
            union(anchor if anchor in parent else inside[0], cell)
    groups: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for cell in filled:
        groups.setdefault(find(cell), []).append(cell)
    boxes = []
    for members in groups.values():
        rows = [r for r, _ in members]
        cols = [c for _, c in members]
        boxes.append((min(rows), min(cols), max(rows), max(cols)))
    return sorted(boxes)


def emit_sheet(sheet: Sheet, options: ParseOptions, out: PageBuilder) -> None:
    """One page for the sheet: its name as a heading, then its regions in reading order."""
    filled = [key for key, value in sheet.cells.items() if value.strip()]
    max_row = max((r for r, _ in filled), default=0) + 1
    max_col = max((c for _, c in filled), default=0) + 1
    out.new_page(max_col * CELL_WIDTH_PT, max_row * CELL_HEIGHT_PT)
    out.heading(2, sheet.name)
    for r0, c0, r1, c1 in _regions(sheet, options.spreadsheet_extract_sub_tables):
        box = BBox(c0 * CELL_WIDTH_PT, r0 * CELL_HEIGHT_PT, (c1 + 1) * CELL_WIDTH_PT,
                   (r1 + 1) * CELL_HEIGHT_PT)  # fmt: skip
        if r0 == r1 and c0 == c1:
            out.text(clean_inline(sheet.cells.get((r0, c0), "")), box)
            continue
        grid = [
            [clean_inline(sheet.cells.get((r, c), "")) for c in range(c0, c1 + 1)]
            for r in range(r0, r1 + 1)
        ]
        merges = [
            (max(a, r0) - r0, max(b, c0) - c0, min(x, r1) - r0, min(y, c1) - c0)
            for a, b, x, y in sheet.merges
            if r0 <= a <= r1 and c0 <= b <= c1
        ]
        out.table(grid_to_rows(grid, merges), box)


# --- numbers and dates as displayed ---------------------------------------------------------
_DATE_TOKENS = re.compile(
    r"yyyy|yy|mmmmm|mmmm|mmm|mm|m|dddd|ddd|dd|d|hh|h|ss|s|am/pm|a/p|\[[^\]]*\]|\"[^\"]*\"|\\.|.",
    re.IGNORECASE,
)
_QUOTED = re.compile(r'"([^"]*)"')


def _format_date(value: dt.datetime | dt.date | dt.time, fmt: str) -> str:
    tokens = _DATE_TOKENS.findall(fmt.split(";")[0])
    twelve = any(t.lower() in ("am/pm", "a/p") for t in tokens)
    out = []
    for i, token in enumerate(tokens):
        low = token.lower()
        prev = next((t.lower() for t in reversed(tokens[:i]) if t.strip() and t.isalpha()), "")
        nxt = next((t.lower() for t in tokens[i + 1 :] if t.strip() and t.isalpha()), "")
        minute = low in ("m", "mm") and (prev.startswith("h") or nxt.startswith("s"))
        hour = getattr(value, "hour", 0)
        if low == "yyyy":
            out.append(f"{getattr(value, 'year', 0):04d}")
        elif low == "yy":
            out.append(f"{getattr(value, 'year', 0) % 100:02d}")
        elif low in ("mmmm", "mmmmm"):
            out.append(value.strftime("%B") if isinstance(value, dt.date) else "")
        elif low == "mmm":
            out.append(value.strftime("%b") if isinstance(value, dt.date) else "")
        elif minute:
            out.append(f"{getattr(value, 'minute', 0):0{len(low)}d}")
        elif low in ("mm", "m"):
            out.append(f"{getattr(value, 'month', 0):0{len(low)}d}")
        elif low == "dddd":
            out.append(value.strftime("%A") if isinstance(value, dt.date) else "")
        elif low == "ddd":
            out.append(value.strftime("%a") if isinstance(value, dt.date) else "")
        elif low in ("dd", "d"):
            out.append(f"{getattr(value, 'day', 0):0{len(low)}d}")
        elif low in ("hh", "h"):
            shown = (hour % 12 or 12) if twelve else hour
            out.append(f"{shown:0{len(low)}d}")
        elif low in ("ss", "s"):
            out.append(f"{getattr(value, 'second', 0):0{len(low)}d}")
        elif low in ("am/pm", "a/p"):
            out.append("AM" if hour < 12 else "PM")
        elif token.startswith("["):
            continue
        elif token.startswith('"'):
            out.append(token.strip('"'))
        elif token.startswith("\\"):
            out.append(token[1:])
        else:
            out.append(token)
    return "".join(out).strip()


def _general(value: float) -> str:
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    text = f"{value:.10g}"
    return text


def format_number(value: float, fmt: str) -> str:
    """A number as its Excel format shows it (decimals, thousands, percent, literals)."""
    fmt = (fmt or "General").split(";")[0]
    if fmt.lower() in ("general", "@", ""):
        return _general(value)
    literal = "".join(_QUOTED.findall(fmt))
    bare = _QUOTED.sub("", re.sub(r"\[[^\]]*\]", "", fmt))
    if not re.search(r"[0#?]", bare):
        return _general(value)
    percent = "%" in bare
    shown = value * 100 if percent else value
    decimals = 0
    if "." in bare:
        decimals = len(re.match(r"[0#?]*", bare.split(".", 1)[1]).group(0))  # type: ignore[union-attr]
    text = f"{shown:,.{decimals}f}" if "," in bare else f"{shown:.{decimals}f}"
    prefix = re.match(r"^[^0#?,.]*", bare).group(0)  # type: ignore[union-attr]
    prefix = prefix.replace("\\", "").replace("_", "").replace("*", "").strip()
    suffix = "%" if percent else ""
    currency = "".join(ch for ch in prefix if ch in "$€£¥")
    return f"{currency}{text}{suffix}{(' ' + literal.strip()) if literal.strip() else ''}"


def display(value: object, fmt: str | None) -> str:
    """A cell's value as its number format shows it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime | dt.date | dt.time):
        fmt = fmt or ""
        if not re.search(r"[ymdhs]", _QUOTED.sub("", fmt), re.IGNORECASE):
            return value.isoformat()
        return _format_date(value, fmt)
    if isinstance(value, dt.timedelta):
        return str(value)
    if isinstance(value, int | float):
        return format_number(float(value), fmt or "General")
    return str(value)
