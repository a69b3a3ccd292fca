"""PPTX/PPTM with python-pptx: one page per slide, shapes in their positions and reading order.

Slide titles are headings; body placeholders' paragraphs are list items at their outline
level; tables keep merged cells; pictures are figures with their alt text; charts become a
table of their data unless `presentation_skip_embedded_data`; speaker notes follow the slide
(`presentation_include_notes`); shapes entirely off the slide are dropped unless
`presentation_out_of_bounds_content`. Macros are never run.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from docingest.errors import DocIngestError, ErrorCode
from docingest.models import BBox
from docingest.parsing.office.blocks import Cell, PageBuilder, clean_inline
from docingest.parsing.office.safety import open_zip
from docingest.parsing.options import ParseOptions

_EMU_PER_PT = 12700
_ROW_BAND = 20  # shapes whose tops are within 1/20 of the slide's height read left to right
_TITLES = ("TITLE", "CENTER_TITLE", "VERTICAL_TITLE")
_BODIES = ("BODY", "OBJECT", "VERTICAL_BODY", "VERTICAL_OBJECT")


def _pt(value: Any) -> float | None:
    return None if value is None else float(value) / _EMU_PER_PT


def _box(shape: Any) -> BBox | None:
    try:
        left, top = _pt(shape.left), _pt(shape.top)
        width, height = _pt(shape.width) or 0.0, _pt(shape.height) or 0.0
    except (AttributeError, ValueError, TypeError, KeyError):
        return None
    if left is None or top is None:
        return None
    return BBox(left, top, left + width, top + height)


def _shapes(shapes: Any) -> Iterator[Any]:
    """Shapes with group shapes opened, in the document's order."""
    for shape in shapes:
        if getattr(shape, "shape_type", None) is not None and shape.shape_type == 6:  # GROUP
            yield from _shapes(shape.shapes)
        else:
            yield shape


def _placeholder(shape: Any) -> str:
    try:
        return str(shape.placeholder_format.type).split(".")[-1].split(" ")[0]
    except (ValueError, AttributeError):
        return ""


def _runs(paragraph: Any) -> str:
    parts = []
    for run in paragraph.runs:
        text = run.text
        try:
            address = run.hyperlink.address
        except (AttributeError, KeyError):
            address = None
        parts.append(f"[{text.strip()}]({address})" if address and text.strip() else text)
    return clean_inline("".join(parts))


def _bullet(paragraph: Any) -> bool | None:
    """Whether the paragraph says it is a list item (a bullet or auto-number), or None when it
    inherits that from its placeholder (body placeholders are bulleted)."""
    ppr = paragraph._p.pPr
    if ppr is None:
        return None
    for child in ppr:
        name = child.tag.rsplit("}", 1)[-1]
        if name == "buNone":
            return False
        if name in ("buChar", "buAutoNum", "buBlip"):
            return True
    return None


def _table(shape: Any) -> list[list[Cell]]:
    rows = []
    for row in shape.table.rows:
        cells = []
        for cell in row.cells:
            if cell.is_spanned:
                continue
            text = clean_inline(" ".join(_runs(p) for p in cell.text_frame.paragraphs))
            if cell.is_merge_origin:
                cells.append(Cell(text, cell.span_width, cell.span_height))
            else:
                cells.append(Cell(text))
        rows.append(cells)
    return rows


def _chart(shape: Any) -> tuple[str, list[list[Cell]]]:
    chart = shape.chart
    title = ""
    if chart.has_title and chart.chart_title.has_text_frame:
        title = clean_inline(chart.chart_title.text_frame.text)
    plot = chart.plots[0] if len(chart.plots) else None
    if plot is None:
        return title, []
    categories = [str(c) for c in plot.categories]
    series = list(plot.series)
    header = [Cell("")] + [Cell(clean_inline(s.name or "")) for s in series]
    rows = [header]
    for index, category in enumerate(categories):
        row = [Cell(category)]
        for s in series:
            values = list(s.values)
            value = values[index] if index < len(values) else None
            row.append(Cell("" if value is None else f"{value:g}"))
        rows.append(row)
    return title, rows


def _alt(shape: Any) -> str:
    try:
        props = shape._element.xpath("./*[1]/p:cNvPr")[0]
    except (AttributeError, IndexError):
        return ""
    return str(props.get("descr") or props.get("title") or "")


def _slide(slide: Any, number: int, size: tuple[float, float], options: ParseOptions,
           out: PageBuilder) -> None:  # fmt: skip
    width, height = size
    band = height / _ROW_BAND or 1.0
    shapes = list(_shapes(slide.shapes))
    boxes = [_box(shape) for shape in shapes]

    def position(i: int) -> tuple[int, int, float, int]:
        box = boxes[i]
        title = 0 if _placeholder(shapes[i]) in _TITLES else 1
        # Shapes without a position (malformed files) keep their document order at the top.
        return (title, round(box.y0 / band), box.x0, i) if box else (title, 0, 0.0, i)

    order = sorted(range(len(shapes)), key=position)
    for i in order:
        shape, box = shapes[i], boxes[i] or BBox(0.0, 0.0, width, height)
        if not options.presentation_out_of_bounds_content and (
            box.x0 >= width or box.y0 >= height or box.x1 <= 0 or box.y1 <= 0
        ):
            continue
        kind = _placeholder(shape)
        if getattr(shape, "has_table", False) and shape.has_table:
            out.table(_table(shape), box)
        elif getattr(shape, "has_chart", False) and shape.has_chart:
            if not options.presentation_skip_embedded_data:
                title, rows = _chart(shape)
                out.text(title, box, kind="caption")
                out.table(rows, box)
        elif getattr(shape, "shape_type", None) == 13:  # PICTURE
            out.figure(_alt(shape), "", box)
        elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
            paragraphs = shape.text_frame.paragraphs
            if kind in _TITLES:
                out.heading(1, " ".join(_runs(p) for p in paragraphs), box)
                continue
            for paragraph in paragraphs:
                text = _runs(paragraph)
                bullet = _bullet(paragraph)
                if bullet or (bullet is None and kind in _BODIES):
                    out.list_item(text, paragraph.level, "-", box)
                else:
                    out.text(text, box)
    if options.presentation_include_notes and slide.has_notes_slide:
        frame = slide.notes_slide.notes_text_frame
        notes = clean_inline(frame.text) if frame is not None else ""
        if notes:
            out.text(f"Speaker notes: {notes}")


def parse_pptx(data: bytes, options: ParseOptions, out: PageBuilder) -> dict[str, Any]:
    from pptx import Presentation
    from pptx.exc import PackageNotFoundError

    open_zip(data, "the presentation").close()  # the bomb checks, before python-pptx unzips
    try:
        presentation = Presentation(io.BytesIO(data))
    except (PackageNotFoundError, KeyError, ValueError, TypeError) as exc:
        raise DocIngestError(
            ErrorCode.CORRUPT_FILE, f"python-pptx cannot read the presentation: {exc}"
        ) from exc
    width = _pt(presentation.slide_width) or 720.0
    height = _pt(presentation.slide_height) or 540.0
    count = 0
    for number, slide in enumerate(presentation.slides, start=1):
        out.new_page(width, height)
        _slide(slide, number, (width, height), options, out)
        count += 1
    return {"slides": count}
