"""Tables: markdown pipe tables to HTML, and HTML (with spans) to grids and pipe tables."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from itertools import pairwise

from docingest.models import Fragment, PageResult

_RULE_CELL = re.compile(r"^:?-{1,}:?$")
_SPLIT = re.compile(r"(?<!\\)\|")
_BR = re.compile(r"&lt;br\s*/?&gt;", re.IGNORECASE)
_EMPHASIS = (
    (re.compile(r"\*\*(.+?)\*\*"), r"\1"),
    (re.compile(r"(?<!\w)__(.+?)__(?!\w)"), r"\1"),
    (re.compile(r"(?<![\w*])\*([^*]+?)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<!\w)_([^_]+?)_(?!\w)"), r"\1"),
    (re.compile(r"`([^`]*)`"), r"\1"),
)


def split_row(line: str) -> list[str] | None:
    """The cells of one `| a | b |` line, or None when the line is not a table row."""
    stripped = line.strip()
    if "|" not in stripped:
        return None
    if stripped.startswith("|"):
        stripped = stripped[1:]
    if stripped.endswith("|") and not stripped.endswith("\\|"):
        stripped = stripped[:-1]
    return [cell.strip().replace("\\|", "|") for cell in _SPLIT.split(stripped)]


def is_rule_row(cells: list[str]) -> bool:
    """Whether `cells` is the `|---|:--:|` line under a table's header."""
    return bool(cells) and all(_RULE_CELL.match(cell.replace(" ", "")) for cell in cells)


def _cell_html(text: str) -> str:
    for pattern, replacement in _EMPHASIS:
        text = pattern.sub(replacement, text)
    # Cells from pymupdf4llm carry <br> for line breaks inside a cell; keep those as markup.
    return _BR.sub("<br>", html.escape(text, quote=False))


def markdown_table_to_html(markdown: str) -> str | None:
    """HTML for the pipe table in `markdown`; None when it holds no table rows."""
    rows = [cells for line in markdown.splitlines() if (cells := split_row(line)) is not None]
    rows = [cells for cells in rows if not is_rule_row(cells)]
    if not rows:
        return None
    width = max(len(cells) for cells in rows)
    out = ["<table>"]
    for index, cells in enumerate(rows):
        tag = "th" if index == 0 else "td"
        padded = cells + [""] * (width - len(cells))
        out.append("<tr>" + "".join(f"<{tag}>{_cell_html(c)}</{tag}>" for c in padded) + "</tr>")
    out.append("</table>")
    return "".join(out)


class _Grid(HTMLParser):
    """Rows of (text, colspan, rowspan, header) cells from one HTML table."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[tuple[str, int, int, bool]]] = []
        self._cell: list[str] | None = None
        self._span = (1, 1, False)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            values = dict(attrs)
            self._cell = []
            self._span = (_int(values.get("colspan")), _int(values.get("rowspan")), tag == "th")
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            if not self.rows:
                self.rows.append([])
            text = " ".join("".join(self._cell).split())
            self.rows[-1].append((text, *self._span))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _int(value: str | None) -> int:
    try:
        return max(1, int(value or 1))
    except ValueError:
        return 1


def html_table_grid(markup: str) -> list[list[str]]:
    """The table as a rectangular grid; a spanning cell's text fills its first slot only."""
    parser = _Grid()
    parser.feed(markup)
    grid: dict[tuple[int, int], str] = {}
    for r, row in enumerate(parser.rows):
        c = 0
        for text, colspan, rowspan, _ in row:
            while (r, c) in grid:
                c += 1
            for dr in range(rowspan):
                for dc in range(colspan):
                    grid[(r + dr, c + dc)] = text if dr == dc == 0 else ""
            c += colspan
    if not grid:
        return []
    height = max(r for r, _ in grid) + 1
    width = max(c for _, c in grid) + 1
    return [[grid.get((r, c), "") for c in range(width)] for r in range(height)]


def html_table_to_markdown(markup: str) -> str:
    """A pipe table for `markup` (first row as the header); spans become empty cells."""
    grid = html_table_grid(markup)
    if not grid:
        return ""

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    rows = [line(grid[0]), line(["---"] * len(grid[0]))]
    rows.extend(line(cells) for cells in grid[1:])
    return "\n".join(rows)


def compact_pipe_table(markdown: str) -> str:
    """A pipe table without cell padding: '| a | b |' -> '|a|b|', the rule row '|-|-|'."""
    lines = []
    for row in markdown.split("\n"):
        cells = split_row(row)
        if cells is None:
            return markdown  # not a pipe table (HTML, or text the model called a table)
        if is_rule_row(cells):  # keep the alignment colons, one dash each
            cells = [re.sub("-+", "-", cell.replace(" ", "")) for cell in cells]
        else:
            cells = [cell.replace("|", "\\|") for cell in cells]
        lines.append("|" + "|".join(cells) + "|")
    return "\n".join(lines)


def compact_tables(pages: list[PageResult]) -> None:
    """Every pipe table of `pages` compacted, in its fragment and in its page's markdown."""
    for page in pages:
        for fragment in page.fragments:
            if fragment.type != "table" or fragment.content.lstrip().startswith("<"):
                continue
            compact = compact_pipe_table(fragment.content)
            if compact != fragment.content:
                page.markdown = page.markdown.replace(fragment.content, compact)
                fragment.content = compact


# A page number ends the cell, alone or after a space or leader dots (not a decimal's point).
_PAGE_NUMBER = re.compile(r"(?:^|\s|(?<!\d)[.\u2026])(\d{1,4}|[ivxlc]{1,7})$", re.IGNORECASE)
_ROMAN = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100}
_TOC_MIN_ROWS = 3
_TOC_MAX_COLUMNS = 3
_TOC_NUMBERED = 0.8  # share of entry rows that end in a page number


def _page_number(cell: str) -> tuple[int, int] | None:
    """(0, n) for an arabic page number ending `cell`, (1, n) for a roman one; else None."""
    match = _PAGE_NUMBER.search(cell)
    if match is None:
        return None
    token = match.group(1).lower()
    if token.isdigit():
        return 0, int(token)
    values = [_ROMAN[c] for c in token]
    return 1, sum(-v if v < w else v for v, w in zip(values, [*values[1:], 0], strict=True))


def table_of_contents_lines(grid: list[list[str]]) -> list[str] | None:
    """The lines of a table of contents laid out as a table, or None for a real table.

    Contents pages come out of table finders as two or three columns: the entry, perhaps
    dot leaders, the page number. That is not tabular data; as plain lines it reads (and
    retrieves) as it is printed. A table counts as contents when nearly every row ends in a
    page number (front matter's roman numbers, then arabic ones), the numbers of each kind
    never go down, and the entries are words.
    """
    rows = [[cell.strip() for cell in row if cell.strip()] for row in grid]
    rows = [row for row in rows if row]
    if len(rows) < _TOC_MIN_ROWS or max(len(row) for row in grid) > _TOC_MAX_COLUMNS:
        return None
    numbers: list[tuple[int, int]] = []
    for row in rows:
        number = _page_number(row[-1])
        entry = _PAGE_NUMBER.sub("", " ".join(row))
        if number is not None and any(c.isalpha() for c in entry):
            numbers.append(number)
    if len(numbers) < max(_TOC_MIN_ROWS, _TOC_NUMBERED * len(rows)):
        return None
    for kind in (0, 1):
        values = [value for k, value in numbers if k == kind]
        if any(later < earlier for earlier, later in pairwise(values)):
            return None
    return [" ".join(row) for row in rows]


_ROW = re.compile(r"<tr\b.*?</tr>", re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_BODY_TYPES = frozenset({"page_header", "page_footer", "footnote"})


def _row_text(row: str) -> str:
    return " ".join(_TAG.sub(" ", row).split())


def _edge_table(fragments: list[Fragment], last: bool) -> Fragment | None:
    body = [f for f in fragments if f.type not in _BODY_TYPES]
    if not body:
        return None
    edge = body[-1] if last else body[0]
    return edge if edge.type == "table" and edge.html else None


def merge_continued_tables(pages: list[PageResult], table_format: str) -> None:
    """Join a table that ends a page to one with as many columns that starts the next page."""
    for before, after in pairwise(pages):
        if before.status != "ok" or after.status != "ok":
            continue
        first, second = _edge_table(before.fragments, True), _edge_table(after.fragments, False)
        if first is None or second is None or first.html is None or second.html is None:
            continue
        if len(html_table_grid(first.html)[0]) != len(html_table_grid(second.html)[0]):
            continue
        rows = _ROW.findall(second.html)
        head = _ROW.findall(first.html)[:1]
        if rows and head and _row_text(rows[0]) == _row_text(head[0]):
            rows = rows[1:]  # the header row repeated on the next page
        end = first.html.lower().rindex("</table>")
        first.html = first.html[:end] + "".join(rows) + first.html[end:]
        first.content = first.html if table_format == "html" else html_table_to_markdown(first.html)
        after.fragments.remove(second)
