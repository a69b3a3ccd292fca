"""PageBuilder: what every office format module emits, turned into pages of typed fragments.

Headings, paragraphs, list items (grouped into one fragment per list), tables (HTML with
colspan/rowspan, or a pipe table), figures and footnotes. Formats without geometry (a word
processor's flow, HTML, CSV) use the zero box, as text and markdown files do; slides and
sheets pass the boxes they have.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from docingest.models import BBox, Fragment, PageResult
from docingest.parsing.pages import FIGURE_PLACEHOLDER, page_markdown
from docingest.parsing.tables import html_table_to_markdown

ZERO_BOX = BBox(0.0, 0.0, 0.0, 0.0)
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u3000]+")
_MAX_HEADING_LEVEL = 6
_FILE_NAME = re.compile(r"^\S+\.(?:png|jpe?g|gif|bmp|tiff?|emf|wmf|svg|webp)$", re.IGNORECASE)


def clean_inline(text: str) -> str:
    """One line of text: runs of spaces collapsed, ends trimmed."""
    return _SPACES.sub(" ", text.replace("\r", " ").replace("\n", " ")).strip()


@dataclass(slots=True)
class Cell:
    """A table cell: its text and how many grid columns and rows it covers."""

    text: str
    colspan: int = 1
    rowspan: int = 1


def table_html(rows: list[list[Cell]]) -> str:
    """`rows` as an HTML table; a spanning cell appears once, with colspan/rowspan."""
    out = ["<table>"]
    for row in rows:
        out.append("<tr>")
        for cell in row:
            attrs = ""
            if cell.colspan > 1:
                attrs += f' colspan="{cell.colspan}"'
            if cell.rowspan > 1:
                attrs += f' rowspan="{cell.rowspan}"'
            out.append(f"<td{attrs}>{html.escape(cell.text, quote=False)}</td>")
        out.append("</tr>")
    out.append("</table>")
    return "".join(out)


def grid_to_rows(
    grid: list[list[str]], merges: list[tuple[int, int, int, int]]
) -> list[list[Cell]]:
    """Rows of cells from a rectangular grid and its merged ranges (r0, c0, r1, c1 inclusive)."""
    covered: set[tuple[int, int]] = set()
    spans: dict[tuple[int, int], tuple[int, int]] = {}
    for r0, c0, r1, c1 in merges:
        spans[(r0, c0)] = (r1 - r0 + 1, c1 - c0 + 1)
        for r in range(r0, r1 + 1):
            for c in range(c0, c1 + 1):
                if (r, c) != (r0, c0):
                    covered.add((r, c))
    rows = []
    for r, values in enumerate(grid):
        row = []
        for c, value in enumerate(values):
            if (r, c) in covered:
                continue
            rowspan, colspan = spans.get((r, c), (1, 1))
            row.append(Cell(value, colspan, rowspan))
        rows.append(row)
    return rows


class PageBuilder:
    """Collects fragments page by page; `finish` returns the pages with their markdown."""

    def __init__(self, table_format: str, include_headers_footers: bool = False) -> None:
        self.table_format = table_format
        self.include_headers_footers = include_headers_footers
        self.pages: list[PageResult] = []
        self._list: list[str] = []
        self._list_box = ZERO_BOX
        self._seen_title = False
        self.tables = 0

    def new_page(self, width: float = 0.0, height: float = 0.0) -> None:
        """Start a page; what follows goes onto it."""
        self._flush_list()
        self.pages.append(PageResult(len(self.pages) + 1, width, height, ""))

    @property
    def _fragments(self) -> list[Fragment]:
        if not self.pages:
            self.new_page()
        return self.pages[-1].fragments

    def _flush_list(self) -> None:
        if self._list and self.pages:
            self.pages[-1].fragments.append(
                Fragment("list_item", "\n".join(self._list), self._list_box)
            )
        self._list = []

    def _add(self, fragment: Fragment) -> None:
        self._flush_list()
        self._fragments.append(fragment)

    def heading(self, level: int, text: str, bbox: BBox = ZERO_BOX, title: bool = False) -> None:
        """A heading of `level` (1 = top); the document's first level-1 heading is its title."""
        text = clean_inline(text)
        if not text:
            return
        level = max(1, min(_MAX_HEADING_LEVEL, level))
        kind = "section_header"
        if title or (level == 1 and not self._seen_title):
            kind, self._seen_title = "title", True
        self._add(Fragment(kind, f"{'#' * level} {text}", bbox, level=level))

    def text(self, text: str, bbox: BBox = ZERO_BOX, kind: str = "text") -> None:
        """A paragraph (or caption, footnote, page header/footer with `kind`)."""
        text = text.strip()
        if text:
            self._add(Fragment(kind, text, bbox))

    def list_item(
        self, text: str, depth: int = 0, marker: str = "-", bbox: BBox = ZERO_BOX
    ) -> None:
        """One item of a (nested) list; consecutive items form one list_item fragment."""
        text = clean_inline(text)
        if not text:
            return
        if not self._list:
            self._fragments  # noqa: B018 - makes sure a page exists before the list starts
            self._list_box = bbox
        self._list.append(f"{'    ' * max(0, depth)}{marker} {text}")

    def table(self, rows: list[list[Cell]], bbox: BBox = ZERO_BOX) -> None:
        """A table; spans kept in the HTML, dropped to empty cells in a pipe table."""
        rows = [row for row in rows if row]
        if not rows or not any(cell.text.strip() for row in rows for cell in row):
            return
        markup = table_html(rows)
        content = markup if self.table_format == "html" else html_table_to_markdown(markup)
        self.tables += 1
        self._add(Fragment("table", content, bbox, html=markup))

    def figure(self, alt: str = "", target: str = "", bbox: BBox = ZERO_BOX) -> None:
        """An image: its alt text as a markdown image, or the placeholder when it has none."""
        alt = clean_inline(alt)
        if _FILE_NAME.match(alt):
            alt = ""  # writers fill the alt text with the picture's file name: not a description
        content = f"![{alt}]({target})" if alt else FIGURE_PLACEHOLDER
        self._add(Fragment("figure", content, bbox))

    def finish(self) -> list[PageResult]:
        """The pages, each with its markdown (at least one page, possibly empty)."""
        self._flush_list()
        if not self.pages:
            self.new_page()
        for page in self.pages:
            page.markdown = page_markdown(page.fragments, self.include_headers_footers)
        return self.pages
