"""The fast engine: MuPDF text blocks plus font-size heuristics, no layout model."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import pymupdf

from docingest.errors import DocIngestError, ErrorCode
from docingest.models import BBox, Fragment, PageResult
from docingest.parsing.clean import refine_headings
from docingest.parsing.grid import GridTable, find_grid_tables
from docingest.parsing.ocr import ocr_textpage, text_layer_is_unusable
from docingest.parsing.options import ParseOptions
from docingest.parsing.order import reading_order
from docingest.parsing.pages import FIGURE_PLACEHOLDER, ocr_error_page, per_page
from docingest.parsing.styles import TextLine, text_line

# No image payloads (figures come from get_image_info), ligatures expanded to letters.
_FLAGS = pymupdf.TEXTFLAGS_DICT & ~pymupdf.TEXT_PRESERVE_IMAGES & ~pymupdf.TEXT_PRESERVE_LIGATURES
_GLYPHS = "•●○◦▪■‣∙·*\\-\u2013"  # bullet glyphs, hyphen, en dash
_BULLET = re.compile(rf"^\s*(?:([{_GLYPHS}])|(\(?\d{{1,3}}[.)]))\s+(?=\S)")
_BULLET_ONLY = re.compile(rf"^\s*(?:[{_GLYPHS}]|\(?\d{{1,3}}[.)])\s*$")
_SECTION_NUMBER = re.compile(r"^(?:\d{1,2}(?:\.\d{1,2}){0,4}|[IVX]{1,5}|[A-H])\.?$")
_HEADING_RATIO = 1.15
_MAX_HEADING_CHARS = 200
_MAX_BOLD_HEADING_CHARS = 80
_MARGIN = 0.06
_MAX_MARGIN_CHARS = 120
_MIN_FIGURE_AREA = 0.01  # of the page


def _glyph_bulleted(text: str) -> bool:
    match = _BULLET.match(text)
    return match is not None and match.group(1) is not None


def _join(lines: list[TextLine]) -> str:
    """Lines joined with spaces, re-joining words hyphenated at a line end."""
    out = ""
    for line in lines:
        if out.endswith("-") and line.text[:1].islower() and out[-2:-1].isalpha():
            out = out[:-1] + line.text
        else:
            out = f"{out} {line.text}" if out else line.text
    return out


@dataclass(slots=True)
class _Block:
    lines: list[TextLine]
    bbox: tuple[float, float, float, float]

    @property
    def text(self) -> str:
        return _join(self.lines)

    @property
    def size(self) -> float:
        chars = sum(len(line.text) for line in self.lines) or 1
        return round(sum(line.size * len(line.text) for line in self.lines) / chars * 2) / 2


@dataclass(slots=True)
class FastPage:
    width: float
    height: float
    blocks: list[_Block]
    figures: list[tuple[float, float, float, float]]
    tables: list[GridTable]


def _extract(page: pymupdf.Page, textpage: pymupdf.TextPage | None = None) -> FastPage:
    data = page.get_text("dict", sort=True, flags=_FLAGS, textpage=textpage)
    blocks = []
    for raw in data["blocks"]:
        if raw.get("type", 0) != 0:
            continue
        lines = [line for raw_line in raw["lines"] if (line := text_line(raw_line)) is not None]
        if lines:
            blocks.append(_Block(lines, tuple(raw["bbox"])))
    area = float(page.rect.width * page.rect.height) or 1.0
    figures = []
    for info in page.get_image_info():
        rect = pymupdf.Rect(info["bbox"]) & page.rect
        if not rect.is_empty and rect.width * rect.height / area >= _MIN_FIGURE_AREA:
            figures.append(tuple(rect))
    blocks = [blocks[i] for i in reading_order([b.bbox for b in blocks])]
    tables = find_grid_tables(page, textpage)
    return FastPage(float(data["width"]), float(data["height"]), blocks, figures, tables)


class _Styles:
    """Document-wide font statistics: the body size and the heading size ranks."""

    def __init__(self, pages: list[FastPage]) -> None:
        weights: Counter[float] = Counter()
        for page in pages:
            for block in page.blocks:
                for line in block.lines:
                    weights[round(line.size * 2) / 2] += len(line.text)
        self.body = weights.most_common(1)[0][0] if weights else 0.0
        sizes = {
            block.size
            for page in pages
            for block in page.blocks
            if self._large(block) and len(block.text) <= _MAX_HEADING_CHARS
        }
        self.ranks = sorted(sizes, reverse=True)

    def _large(self, block: _Block) -> bool:
        return self.body > 0 and block.size > self.body * _HEADING_RATIO

    def heading_line(self, line: TextLine) -> bool:
        """A line set like a heading: bold or large, short, not a sentence, not a bullet."""
        text = line.text
        if _SECTION_NUMBER.match(text):
            return True  # "4" set on its own line before the title: part of the heading
        return (
            (line.bold or (self.body > 0 and line.size > self.body * _HEADING_RATIO))
            and len(text) <= _MAX_BOLD_HEADING_CHARS
            and not text.endswith((".", ",", ";"))
            and any(c.isalpha() for c in text)
            and not _glyph_bulleted(text)
        )

    def split(self, block: _Block) -> list[_Block]:
        """`block` cut where a heading's lines (at most 3) meet body lines: MuPDF often keeps
        a section title in one block with the paragraph below it."""
        if len(block.lines) < 2:
            return [block]
        runs: list[tuple[bool, list[TextLine]]] = []
        for line in block.lines:
            flag = self.heading_line(line)
            if runs and runs[-1][0] == flag:
                runs[-1][1].append(line)
            else:
                runs.append((flag, [line]))
        if len(runs) == 1 or any(flag and len(lines) > 3 for flag, lines in runs):
            return [block]
        return [_Block(lines, _line_box(lines)) for _, lines in runs]

    def heading_level(self, block: _Block) -> int | None:
        text = block.text
        if len(text) > _MAX_HEADING_CHARS or len(block.lines) > 3:
            return None
        if self._large(block) and block.size in self.ranks:
            return min(self.ranks.index(block.size) + 1, 6)
        if (
            all(line.bold for line in block.lines)
            and len(text) <= _MAX_BOLD_HEADING_CHARS
            and not text.endswith((".", ",", ";"))
            and any(c.isalpha() for c in text)
            and not _glyph_bulleted(text)  # "5. Results" in bold is a heading; "• x" is not
        ):
            return min(len(self.ranks) + 1, 6)
        return None


def _line_box(lines: list[TextLine]) -> tuple[float, float, float, float]:
    box = _box(lines)
    return (box.x0, box.y0, box.x1, box.y1)


def _box(lines: list[TextLine]) -> BBox:
    return BBox(
        min(line.bbox[0] for line in lines),
        min(line.bbox[1] for line in lines),
        max(line.bbox[2] for line in lines),
        max(line.bbox[3] for line in lines),
    )


def _list_segments(block: _Block) -> list[tuple[bool, list[TextLine]]]:
    """Split a block at lines that start with a bullet; (is_list_item, lines) per segment."""
    lines: list[TextLine] = []
    pending = ""
    for line in block.lines:
        if _BULLET_ONLY.match(line.text):
            pending = line.text.strip()  # a bullet glyph set as its own line
            continue
        if pending:
            line = TextLine(f"{pending} {line.text}", line.bbox, line.size, line.bold)
            pending = ""
        lines.append(line)
    segments: list[tuple[bool, list[TextLine]]] = []
    for line in lines:
        if _BULLET.match(line.text) or not segments:
            segments.append((bool(_BULLET.match(line.text)), [line]))
        else:
            segments[-1][1].append(line)
    return segments


def _list_markdown(text: str) -> str:
    match = _BULLET.match(text)
    if match is None:
        return text
    marker = match.group(2) or "-"
    return f"{marker} {text[match.end() :]}"


def _block_fragments(block: _Block, page: FastPage, styles: _Styles) -> list[Fragment]:
    text = block.text
    x0, y0, x1, y1 = block.bbox
    if len(text) <= _MAX_MARGIN_CHARS and len(block.lines) <= 2:
        # Starts in the top (ends in the bottom) margin band and stays close to it.
        if y0 <= page.height * _MARGIN and y1 <= page.height * _MARGIN * 2:
            return [Fragment("page_header", text, BBox(x0, y0, x1, y1))]
        if y1 >= page.height * (1 - _MARGIN) and y0 >= page.height * (1 - _MARGIN * 2):
            return [Fragment("page_footer", text, BBox(x0, y0, x1, y1))]
    level = styles.heading_level(block)
    if level is not None:
        return [Fragment("section_header", f"{'#' * level} {text}", BBox(x0, y0, x1, y1), level)]
    fragments = []
    for is_item, lines in _list_segments(block):
        content = _join(lines)
        if is_item:
            fragments.append(Fragment("list_item", _list_markdown(content), _box(lines)))
        else:
            fragments.append(Fragment("text", content, _box(lines)))
    return fragments


def _inside(centre: tuple[float, float], box: BBox) -> bool:
    x, y = centre
    return box.x0 <= x <= box.x1 and box.y0 <= y <= box.y1


def _table_fragment(table: GridTable, table_format: str) -> Fragment:
    shown = table.html if table_format == "html" else table.markdown
    return Fragment("table", shown, table.bbox, html=table.html)


def _page_fragments(page: FastPage, styles: _Styles, table_format: str) -> list[Fragment]:
    fragments: list[Fragment] = []
    figures = sorted(page.figures, key=lambda r: (r[1], r[0]))
    tables = list(page.tables)
    for block in page.blocks:
        while figures and figures[0][1] <= block.bbox[1]:
            fragments.append(Fragment("figure", FIGURE_PLACEHOLDER, BBox(*figures.pop(0))))
        # A block's lines may run through several grids side by side (a financial statement
        # whose column groups are ruled apart): every grid a line lies in is emitted here, once,
        # with the words in its cells; the lines outside every grid stay text.
        loose = []
        for line in block.lines:
            table = next((t for t in page.tables if _inside(line.centre, t.bbox)), None)
            if table is None:
                loose.append(line)
            elif table in tables:
                tables.remove(table)
                fragments.append(_table_fragment(table, table_format))
        if not loose:
            continue
        if len(loose) < len(block.lines):
            block = _Block(loose, _line_box(loose))
        for part in styles.split(block):
            fragments.extend(_block_fragments(part, page, styles))
    fragments.extend(Fragment("figure", FIGURE_PLACEHOLDER, BBox(*r)) for r in figures)
    # A grid no line's centre fell in (its lines straddle two grids) still holds words.
    fragments.extend(_table_fragment(table, table_format) for table in tables)
    return fragments


def _read(page: pymupdf.Page, options: ParseOptions) -> tuple[FastPage, bool]:
    """The page's text blocks, from Tesseract when its text layer is missing or garbage."""
    if options.ocr_mode == "force" or (options.ocr_mode == "auto" and text_layer_is_unusable(page)):
        return _extract(page, ocr_textpage(page, options.ocr_languages, options.ocr_dpi)), True
    return _extract(page), False


class FastReader:
    """Pages read from MuPDF's text blocks, with the font statistics of all of them.

    `read` holds, per 0-based page index, the extracted page and whether it was OCR'd, or the
    exception reading it raised; `build` turns one into a PageResult. The auto engine reads
    every page here first and builds only the pages it keeps on the fast path.
    """

    def __init__(
        self,
        doc: pymupdf.Document,
        indexes: list[int],
        options: ParseOptions,
        *,
        ocr: bool = True,
        title_index: int | None = None,
    ) -> None:
        self.doc = doc
        self.options = options
        # The page whose first top-level heading is the title: the first parsed page.
        self.title_index = indexes[0] if title_index is None and indexes else title_index
        self.read: dict[int, tuple[FastPage, bool] | Exception] = {}
        for index in indexes:
            try:
                page = doc[index]
                self.read[index] = _read(page, options) if ocr else (_extract(page), False)
            except Exception as exc:
                self.read[index] = exc
        self.styles = _Styles([p[0] for p in self.read.values() if isinstance(p, tuple)])

    def build(self, index: int) -> PageResult:
        """Page `index` (0-based) as fragments, markdown left empty."""
        item = self.read[index]
        if isinstance(item, DocIngestError) and item.code == ErrorCode.OCR_ERROR:
            return ocr_error_page(self.doc, index, item)
        if isinstance(item, Exception):
            raise item
        page, ocr = item
        fragments = refine_headings(_page_fragments(page, self.styles, self.options.table_format))
        if index == self.title_index:
            # The first top-level heading on the first parsed page is the document's title.
            for fragment in fragments:
                if fragment.level == 1:
                    fragment.type = "title"
                    break
        return PageResult(index + 1, page.width, page.height, "", fragments, ocr=ocr)


def parse_fast(
    doc: pymupdf.Document, indexes: list[int], options: ParseOptions
) -> list[PageResult]:
    """Parse pages `indexes` (0-based) of `doc` from MuPDF's text blocks (markdown left empty)."""
    return per_page(doc, indexes, FastReader(doc, indexes, options).build)
