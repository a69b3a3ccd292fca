"""Ruled tables from a page's vector lines, for the fast engine (no layout model).

The page's strokes and thin rectangles become horizontal and vertical rules; rules that cross
form a grid; the grid's row and column boundaries are the rules' positions, and a cell whose
separating rule is missing spans into its neighbour (colspan/rowspan). Words fill the cells by
their centres. It costs a few milliseconds a page, where PyMuPDF's general table finder costs
~100 ms, which is the fast engine's whole budget.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import pymupdf

from docingest.models import BBox

_MAX_PATHS = 3000  # pages drawn with more vector paths (maps, plots) are not searched
_SNAP = 2.0  # points: rules this close are one rule
_JOIN = 3.0  # points: collinear pieces this far apart are one rule
_THIN = 2.5  # points: a filled rectangle this thin is a rule
_MIN_RULE = 8.0  # points: shorter strokes are glyph parts, ticks or underlines
_TOUCH = 2.5  # points: how close a rule must come to another to cross it
_MIN_FILLED = 0.4  # share of the grid's cells holding words, below which it is a chart


@dataclass(slots=True)
class _Rule:
    at: float  # y of a horizontal rule, x of a vertical one
    start: float
    end: float


@dataclass(slots=True)
class GridTable:
    """One table found on a page: its box, HTML (with spans) and pipe-table markdown."""

    bbox: BBox
    html: str
    markdown: str


def _rules(paths: list[dict]) -> tuple[list[_Rule], list[_Rule]] | None:
    if len(paths) > _MAX_PATHS:
        return None
    horizontal: list[_Rule] = []
    vertical: list[_Rule] = []

    def segment(x0: float, y0: float, x1: float, y1: float) -> None:
        if abs(y1 - y0) <= _THIN and abs(x1 - x0) >= _MIN_RULE:
            horizontal.append(_Rule((y0 + y1) / 2, min(x0, x1), max(x0, x1)))
        elif abs(x1 - x0) <= _THIN and abs(y1 - y0) >= _MIN_RULE:
            vertical.append(_Rule((x0 + x1) / 2, min(y0, y1), max(y0, y1)))

    for path in paths:
        for item in path["items"]:
            if item[0] == "l":
                (x0, y0), (x1, y1) = item[1], item[2]
                segment(x0, y0, x1, y1)
            elif item[0] == "re":
                x0, y0, x1, y1 = item[1]
                if min(abs(x1 - x0), abs(y1 - y0)) <= _THIN:
                    segment(x0, y0, x1, y1)  # a rule drawn as a thin filled rectangle
                else:  # a cell or a frame: its four edges
                    segment(x0, y0, x1, y0)
                    segment(x0, y1, x1, y1)
                    segment(x0, y0, x0, y1)
                    segment(x1, y0, x1, y1)
    return _merge(horizontal), _merge(vertical)


def _merge(rules: list[_Rule]) -> list[_Rule]:
    """Collinear, overlapping or nearly touching pieces joined into whole rules."""
    merged: list[_Rule] = []
    for rule in sorted(rules, key=lambda r: (r.at, r.start)):
        for other in reversed(merged[-8:]):
            if abs(other.at - rule.at) <= _SNAP and rule.start <= other.end + _JOIN:
                other.end = max(other.end, rule.end)
                break
        else:
            merged.append(_Rule(rule.at, rule.start, rule.end))
    return merged


def _crosses(h: _Rule, v: _Rule) -> bool:
    return h.start - _TOUCH <= v.at <= h.end + _TOUCH and v.start - _TOUCH <= h.at <= v.end + _TOUCH


def _components(horizontal: list[_Rule], vertical: list[_Rule]) -> list[tuple[list, list]]:
    """Groups of crossing rules: (horizontal rules, vertical rules) per group."""
    parent = list(range(len(horizontal) + len(vertical)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, h in enumerate(horizontal):
        for j, v in enumerate(vertical):
            if _crosses(h, v):
                parent[find(i)] = find(len(horizontal) + j)
    groups: dict[int, tuple[list[_Rule], list[_Rule]]] = {}
    for i, h in enumerate(horizontal):
        groups.setdefault(find(i), ([], []))[0].append(h)
    for j, v in enumerate(vertical):
        groups.setdefault(find(len(horizontal) + j), ([], []))[1].append(v)
    return list(groups.values())


def _positions(values: list[float]) -> list[float]:
    out: list[float] = []
    for value in sorted(values):
        if not out or value - out[-1] > _SNAP * 2:
            out.append(value)
    return out


def _covered(rules: list[_Rule], at: float, lo: float, hi: float) -> bool:
    """Whether a rule at `at` runs along the middle of the interval [lo, hi]."""
    middle = (lo + hi) / 2
    return any(
        abs(r.at - at) <= _SNAP * 2 and r.start - _TOUCH <= middle <= r.end + _TOUCH for r in rules
    )


def _table(horizontal: list[_Rule], vertical: list[_Rule], words: list[tuple]) -> GridTable | None:
    rows = _positions([h.at for h in horizontal])
    cols = _positions([v.at for v in vertical])
    if len(rows) < 3 or len(cols) < 3:  # at least two rows and two columns of cells
        return None
    n_rows, n_cols = len(rows) - 1, len(cols) - 1
    # Union-find over cells: neighbours with no rule between them are one (spanning) cell.
    parent = list(range(n_rows * n_cols))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for r in range(n_rows):
        for c in range(n_cols):
            if c + 1 < n_cols and not _covered(vertical, cols[c + 1], rows[r], rows[r + 1]):
                parent[find(r * n_cols + c + 1)] = find(r * n_cols + c)
            if r + 1 < n_rows and not _covered(horizontal, rows[r + 1], cols[c], cols[c + 1]):
                parent[find((r + 1) * n_cols + c)] = find(r * n_cols + c)
    texts: dict[int, list[tuple]] = {}
    x0, y0, x1, y1 = cols[0], rows[0], cols[-1], rows[-1]
    for word in words:
        cx, cy = (word[0] + word[2]) / 2, (word[1] + word[3]) / 2
        if not (x0 <= cx <= x1 and y0 <= cy <= y1):
            continue
        r = next(i for i in range(n_rows) if cy <= rows[i + 1])
        c = next(i for i in range(n_cols) if cx <= cols[i + 1])
        texts.setdefault(find(r * n_cols + c), []).append(word)
    cells = {find(i) for i in range(n_rows * n_cols)}
    if len(texts) < max(2, _MIN_FILLED * len(cells)):
        return None
    return _render(n_rows, n_cols, find, texts, BBox(x0, y0, x1, y1))


def _render(n_rows: int, n_cols: int, find, texts: dict[int, list[tuple]], bbox: BBox) -> GridTable:
    spans: dict[int, tuple[int, int, int, int]] = {}  # root -> (r0, c0, r1, c1)
    for r in range(n_rows):
        for c in range(n_cols):
            root = find(r * n_cols + c)
            r0, c0, r1, c1 = spans.get(root, (r, c, r, c))
            spans[root] = (min(r0, r), min(c0, c), max(r1, r), max(c1, c))

    def text(root: int) -> str:
        words = sorted(texts.get(root, []), key=lambda w: (w[5], w[6], w[7]))  # block, line, word
        return " ".join(w[4] for w in words)

    markup = ["<table>"]
    grid: list[list[str]] = []
    for r in range(n_rows):
        cells = []
        row_text = []
        for c in range(n_cols):
            root = find(r * n_cols + c)
            r0, c0, r1, c1 = spans[root]
            row_text.append(text(root))
            if (r, c) != (r0, c0):
                continue
            tag = "th" if r == 0 else "td"
            attrs = (f' colspan="{c1 - c0 + 1}"' if c1 > c0 else "") + (
                f' rowspan="{r1 - r0 + 1}"' if r1 > r0 else ""
            )
            cells.append(f"<{tag}{attrs}>{html.escape(text(root), quote=False)}</{tag}>")
        markup.append("<tr>" + "".join(cells) + "</tr>")
        grid.append(row_text)
    markup.append("</table>")
    lines = ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in grid]
    lines.insert(1, "|" + "---|" * n_cols)
    return GridTable(bbox, "".join(markup), "\n".join(lines))


def find_grid_tables(
    page: pymupdf.Page,
    textpage: pymupdf.TextPage | None = None,
    paths: list[dict] | None = None,
) -> list[GridTable]:
    """The ruled tables of `page`, top to bottom; `paths`: its `get_cdrawings()`, if at hand."""
    found = _rules(page.get_cdrawings() if paths is None else paths)
    if found is None:
        return []
    horizontal, vertical = found
    if len(horizontal) < 3 or len(vertical) < 3:
        return []
    words = page.get_text("words", textpage=textpage)
    tables = []
    for h_rules, v_rules in _components(horizontal, vertical):
        table = _table(h_rules, v_rules, words)
        if table is not None:
            tables.append(table)
    return sorted(tables, key=lambda t: (t.bbox.y0, t.bbox.x0))
