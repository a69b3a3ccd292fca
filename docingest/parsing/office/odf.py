"""OpenDocument text, spreadsheets and presentations (ODT/ODS/ODP), read from content.xml.

Text: headings from text:h outline levels, nested lists, tables with spans, footnotes,
frames (images with their titles, text boxes); LibreOffice's soft page breaks (where it last
laid out pages) are page boundaries. Spreadsheets: one page per sheet, repeated rows and cells
expanded only where they hold values. Presentations: one page per slide, frames in their
positions, speaker notes.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from docingest.errors import DocIngestError, ErrorCode
from docingest.models import BBox
from docingest.parsing.office.blocks import ZERO_BOX, Cell, PageBuilder, clean_inline
from docingest.parsing.office.package import Package
from docingest.parsing.office.safety import encrypted
from docingest.parsing.office.sheets import Budget, Sheet, emit_sheet
from docingest.parsing.options import ParseOptions

_NS = {
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "draw": "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0",
    "svg": "urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0",
    "presentation": "urn:oasis:names:tc:opendocument:xmlns:presentation:1.0",
    "xlink": "http://www.w3.org/1999/xlink",
    "style": "urn:oasis:names:tc:opendocument:xmlns:style:1.0",
    "fo": "urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0",
    "manifest": "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0",
}
_POINTS = {"pt": 1.0, "in": 72.0, "cm": 72 / 2.54, "mm": 72 / 25.4, "pc": 12.0, "px": 0.75}
_LENGTH = re.compile(r"^\s*(-?[\d.]+)\s*([a-z]*)\s*$")
_MAX_REPEAT = 10_000
_MAX_COLUMNS = 1000  # repeated rows/cells holding values expand at most this far


def _q(name: str) -> str:
    prefix, local = name.split(":")
    return f"{{{_NS[prefix]}}}{local}"


def _length(value: str | None) -> float:
    match = _LENGTH.match(value or "")
    if not match:
        return 0.0
    try:
        return float(match.group(1)) * _POINTS.get(match.group(2) or "pt", 1.0)
    except ValueError:
        return 0.0


def _int(value: str | None, default: int = 1) -> int:
    try:
        return max(0, int(value or default))
    except ValueError:
        return default


class _Text:
    """Inline text of ODF paragraphs; footnotes collected for the page."""

    def __init__(self, options: ParseOptions) -> None:
        self.options = options
        self.notes: list[str] = []
        self.page_break = False

    def of(self, el: etree._Element) -> str:
        parts: list[str] = [el.text or ""]
        for child in el:
            tag = child.tag
            if tag == _q("text:s"):
                parts.append(" " * min(_int(child.get(_q("text:c"))), 100))
            elif tag in (_q("text:tab"), _q("text:line-break")):
                parts.append(" ")
            elif tag == _q("text:a"):
                label = clean_inline(self.of(child))
                href = child.get(_q("xlink:href")) or ""
                parts.append(f"[{label}]({href})" if label and href else label)
            elif tag == _q("text:note"):
                citation = child.find(_q("text:note-citation"))
                body = child.find(_q("text:note-body"))
                mark = clean_inline("".join(citation.itertext())) if citation is not None else ""
                if self.options.office_include_footnotes and body is not None:
                    text = clean_inline(" ".join(self.of(p) for p in body.iter(_q("text:p"))))
                    parts.append(f"[^{mark}]")
                    self.notes.append(f"[^{mark}]: {text}")
            elif tag == _q("text:soft-page-break"):
                self.page_break = True
            elif tag in (_q("office:annotation"), _q("draw:frame"), _q("text:bookmark-ref")):
                pass
            else:
                parts.append(self.of(child))
            parts.append(child.tail or "")
        return "".join(parts)


class _Flow:
    """Blocks of a text flow (document body, text box, slide frame, notes)."""

    def __init__(self, options: ParseOptions, out: PageBuilder, pages: bool) -> None:
        self.text = _Text(options)
        self.out = out
        self.pages = pages  # soft page breaks start pages (text documents only)

    def blocks(self, el: etree._Element, box: BBox = ZERO_BOX, list_depth: int = -1) -> None:
        for child in el:
            tag = child.tag
            if tag == _q("text:soft-page-break"):
                self.text.page_break = True
            elif tag == _q("text:h"):
                level = _int(child.get(_q("text:outline-level")), 1)
                self.out.heading(level, self.text.of(child), box)
            elif tag == _q("text:p"):
                text = self.text.of(child)
                style = (child.get(_q("text:style-name")) or "").lower()
                if style == "title":
                    self.out.heading(1, text, box, title=True)
                elif list_depth >= 0:
                    self.out.list_item(text, list_depth, "-", box)
                else:
                    self.out.text(clean_inline(text), box)
                self.frames(child, box)
            elif tag == _q("text:list"):
                self.list(child, list_depth + 1, box)
            elif tag == _q("table:table"):
                self.table(child, box)
            elif tag in (_q("text:section"), _q("draw:text-box"), _q("office:text")):
                self.blocks(child, box, list_depth)
            elif tag == _q("draw:frame"):
                self.frame(child, box)
            self.break_page()

    def break_page(self) -> None:
        for note in self.text.notes:
            self.out.text(note, kind="footnote")
        self.text.notes = []
        if self.text.page_break and self.pages:
            self.out.new_page()
        self.text.page_break = False

    def list(self, el: etree._Element, depth: int, box: BBox) -> None:
        for item in el:
            if item.tag not in (_q("text:list-item"), _q("text:list-header")):
                continue
            for child in item:
                if child.tag == _q("text:list"):
                    self.list(child, depth + 1, box)
                elif child.tag in (_q("text:p"), _q("text:h")):
                    self.out.list_item(self.text.of(child), depth, "-", box)

    def frames(self, el: etree._Element, box: BBox) -> None:
        for frame in el.iter(_q("draw:frame")):
            self.frame(frame, box)

    def frame(self, frame: etree._Element, box: BBox) -> None:
        text_box = frame.find(_q("draw:text-box"))
        if text_box is not None:
            self.blocks(text_box, box)
            return
        table = frame.find(_q("table:table"))
        if table is not None:
            self.table(table, box)
            return
        if frame.find(_q("draw:image")) is not None:
            title = frame.find(_q("svg:title"))
            desc = frame.find(_q("svg:desc"))
            alt = " ".join(t.text or "" for t in (title, desc) if t is not None)
            self.out.figure(alt, "", box)

    def table(self, el: etree._Element, box: BBox) -> None:
        width = sum(
            min(_int(column.get(_q("table:number-columns-repeated"))), _MAX_COLUMNS)
            for column in el.iter(_q("table:table-column"))
            if next(iter(column.iterancestors(_q("table:table"))), None) is el
        )
        rows: list[list[Cell]] = []
        for row in el.iter(_q("table:table-row")):
            if next(iter(row.iterancestors(_q("table:table"))), None) is not el:
                continue
            cells = []
            for cell in row:
                if cell.tag != _q("table:table-cell"):
                    continue
                text = clean_inline(" ".join(self.text.of(p) for p in cell.iter(_q("text:p"))))
                # Rows often end in a cell repeated to the sheet's last column: capped, and
                # trailing empty cells are trimmed below.
                repeat = min(_int(cell.get(_q("table:number-columns-repeated"))), 100)
                for _ in range(repeat):
                    cells.append(
                        Cell(
                            text,
                            max(1, _int(cell.get(_q("table:number-columns-spanned")))),
                            max(1, _int(cell.get(_q("table:number-rows-spanned")))),
                        )
                    )
            rows.append(_fit(cells, width))
        self.out.table(rows, box)


def _fit(cells: list[Cell], width: int) -> list[Cell]:
    """The row's cells within the table's declared columns (rows often end in one cell
    repeated to the sheet's edge); trailing empty cells beyond them are dropped."""
    if width <= 0:
        while cells and not cells[-1].text and cells[-1].colspan == 1:
            cells.pop()
        return cells
    kept, used = [], 0
    for cell in cells:
        if used >= width and not cell.text:
            break
        kept.append(cell)
        used += cell.colspan
    return kept


def _hidden_tables(root: etree._Element) -> set[str]:
    hidden = set()
    for style in root.iter(_q("style:style")):
        props = style.find(_q("style:table-properties"))
        if props is not None and props.get(_q("table:display")) == "false":
            hidden.add(style.get(_q("style:name")) or "")
    return hidden


def _sheet(table: etree._Element, budget: Budget) -> Sheet:
    sheet = Sheet(table.get(_q("table:name")) or "Sheet")
    r = 0
    for row in table.iter(_q("table:table-row")):
        if next(iter(row.iterancestors(_q("table:table"))), None) is not table:
            continue
        row_repeat = _int(row.get(_q("table:number-rows-repeated")))
        cells = []
        c = 0
        for cell in row:
            repeat = _int(cell.get(_q("table:number-columns-repeated")))
            if cell.tag == _q("table:table-cell"):
                text = clean_inline(
                    " ".join("".join(p.itertext()) for p in cell.iter(_q("text:p")))
                )
                if text:
                    rows_span = _int(cell.get(_q("table:number-rows-spanned")))
                    cols_span = _int(cell.get(_q("table:number-columns-spanned")))
                    for k in range(min(repeat, _MAX_REPEAT)):
                        cells.append((c + k, text))
                        if rows_span > 1 or cols_span > 1:
                            sheet.merges.append(
                                (r, c + k, r + rows_span - 1, c + k + cols_span - 1)
                            )
            c += repeat
        if cells:
            for k in range(min(row_repeat, _MAX_REPEAT)):
                for col, text in cells:
                    sheet.cells[(r + k, col)] = budget.take(text)
        r += row_repeat
    return sheet


def _slide_size(package: Package) -> tuple[float, float]:
    styles = package.xml("styles.xml")
    if styles is not None:
        for props in styles.iter(_q("style:page-layout-properties")):
            width = _length(props.get(_q("fo:page-width")))
            height = _length(props.get(_q("fo:page-height")))
            if width and height:
                return width, height
    return 792.0, 612.0


def _frame_box(frame: etree._Element) -> BBox:
    x, y = _length(frame.get(_q("svg:x"))), _length(frame.get(_q("svg:y")))
    return BBox(
        x, y, x + _length(frame.get(_q("svg:width"))), y + _length(frame.get(_q("svg:height")))
    )


def _slides(body: etree._Element, package: Package, options: ParseOptions, out: PageBuilder) -> int:
    width, height = _slide_size(package)
    flow = _Flow(options, out, pages=False)
    count = 0
    for page in body.iter(_q("draw:page")):
        count += 1
        out.new_page(width, height)
        frames = [f for f in page if f.tag in (_q("draw:frame"), _q("draw:custom-shape"))]
        frames.sort(key=lambda f: (round(_frame_box(f).y0 / 20), _frame_box(f).x0))
        for frame in frames:
            box = _frame_box(frame)
            if not options.presentation_out_of_bounds_content and (
                box.x0 >= width or box.y0 >= height or box.x1 <= 0 or box.y1 <= 0
            ):
                continue
            kind = frame.get(_q("presentation:class")) or ""
            text_box = frame.find(_q("draw:text-box"))
            if kind == "title" and text_box is not None:
                text = " ".join(flow.text.of(p) for p in text_box.iter(_q("text:p")))
                out.heading(1, text, box)
            elif frame.tag == _q("draw:custom-shape"):
                flow.blocks(frame, box)
            else:
                flow.frame(frame, box)
        notes = page.find(_q("presentation:notes"))
        if notes is not None and options.presentation_include_notes:
            for frame in notes.iter(_q("draw:frame")):
                if frame.get(_q("presentation:class")) == "notes":
                    text = " ".join(flow.text.of(p) for p in frame.iter(_q("text:p")))
                    out.text(clean_inline(text) and f"Speaker notes: {clean_inline(text)}")
    return count


def parse_odf(data: bytes, options: ParseOptions, out: PageBuilder) -> dict[str, Any]:
    package = Package(data, "the OpenDocument file")
    try:
        manifest = package.xml("META-INF/manifest.xml")
        if manifest is not None and any(
            True for _ in manifest.iter(_q("manifest:encryption-data"))
        ):
            raise encrypted("the OpenDocument file")
        root = package.xml("content.xml")
        body = root.find(_q("office:body")) if root is not None else None
        if body is None or root is None:
            raise DocIngestError(ErrorCode.CORRUPT_FILE, "the OpenDocument file has no body")
        text = body.find(_q("office:text"))
        spreadsheet = body.find(_q("office:spreadsheet"))
        presentation = body.find(_q("office:presentation"))
        if spreadsheet is not None:
            budget = Budget(options, len(data))
            hidden = _hidden_tables(root)
            sheets = []
            for table in spreadsheet.iter(_q("table:table")):
                if table.getparent() is not spreadsheet:
                    continue
                is_hidden = (table.get(_q("table:style-name")) or "") in hidden
                name = table.get(_q("table:name")) or ""
                if is_hidden and not options.spreadsheet_include_hidden_sheets:
                    sheets.append({"name": name, "hidden": True, "page": None})
                    continue
                emit_sheet(_sheet(table, budget), options, out)
                sheets.append({"name": name, "hidden": is_hidden, "page": len(out.pages)})
            return {"sheets": sheets}
        if presentation is not None:
            return {"slides": _slides(presentation, package, options, out)}
        if text is None:
            raise DocIngestError(ErrorCode.CORRUPT_FILE, "the OpenDocument body is empty")
        out.new_page()
        flow = _Flow(options, out, pages=True)
        flow.blocks(text)
        flow.break_page()
        return {}
    finally:
        package.close()
