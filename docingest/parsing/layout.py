"""The layout engine: pymupdf4llm with PyMuPDF's layout model, one fragment per layout box."""

from __future__ import annotations

import contextlib
import io
import re
from functools import cache
from types import ModuleType
from typing import Any

import pymupdf

from docingest.models import BBox, Fragment, PageResult
from docingest.parsing.options import ParseOptions
from docingest.parsing.pages import FIGURE_PLACEHOLDER, page_markdown, per_page
from docingest.parsing.tables import markdown_table_to_html

_CLASS_TO_TYPE = {
    "title": "title",
    "section-header": "section_header",
    "text": "text",
    "list-item": "list_item",
    "table": "table",
    "picture": "figure",
    "caption": "caption",
    "formula": "formula",
    "footnote": "footnote",
    "page-header": "page_header",
    "page-footer": "page_footer",
}
_HEADING = re.compile(r"^(#{1,6})\s")
_TO_MARKDOWN_ARGS: dict[str, Any] = {
    "page_chunks": True,
    "header": True,  # headers/footers are always fragments; page_markdown() drops them
    "footer": True,
    "use_ocr": False,
    "force_ocr": False,
    "write_images": False,
    "embed_images": False,
    "show_progress": False,
}


@cache
def _pymupdf4llm() -> ModuleType:
    # pymupdf.layout must be imported first for pymupdf4llm to use the layout model; both
    # chatter on stdout/stderr at import, and loading the model is slow: import once, lazily.
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        import pymupdf.layout  # noqa: F401
        import pymupdf4llm
    return pymupdf4llm


def _heading_level(content: str) -> int:
    match = _HEADING.match(content)
    return len(match.group(1)) if match else 1


def _fragment(box: dict[str, Any], text: str, options: ParseOptions) -> Fragment | None:
    start, stop = box["pos"]
    content = text[start:stop].strip()
    kind = _CLASS_TO_TYPE.get(box["class"], "text")
    x0, y0, x1, y1 = (float(v) for v in box["bbox"])
    bbox = BBox(x0, y0, x1, y1)
    if kind == "figure" and not content:
        return Fragment(kind, FIGURE_PLACEHOLDER, bbox)
    if not content:
        return None
    if kind in ("title", "section_header"):
        return Fragment(kind, content, bbox, level=_heading_level(content))
    if kind == "table":
        html = markdown_table_to_html(content) if "|" in content else None
        if html and options.table_format == "html":
            return Fragment(kind, html, bbox, html=html)
        return Fragment(kind, content, bbox, html=html)
    return Fragment(kind, content, bbox)


def _page_result(doc: pymupdf.Document, chunk: dict[str, Any], options: ParseOptions) -> PageResult:
    number = int(chunk["metadata"]["page_number"])
    rect = doc[number - 1].rect
    text = chunk["text"] or ""
    fragments = [
        fragment
        for box in chunk.get("page_boxes") or []
        if (fragment := _fragment(box, text, options)) is not None
    ]
    markdown = page_markdown(fragments, options.include_headers_footers)
    return PageResult(number, float(rect.width), float(rect.height), markdown, fragments)


def _convert(doc: pymupdf.Document, indexes: list[int]) -> list[dict[str, Any]]:
    return _pymupdf4llm().to_markdown(doc, pages=indexes, **_TO_MARKDOWN_ARGS)


def parse_layout(
    doc: pymupdf.Document, indexes: list[int], options: ParseOptions
) -> list[PageResult]:
    """Parse pages `indexes` (0-based) of `doc` with the layout model."""
    try:
        chunks = _convert(doc, indexes)
        return [_page_result(doc, chunk, options) for chunk in chunks]
    except Exception:
        pass  # parse page by page below, to isolate the failing page(s)
    return per_page(doc, indexes, lambda i: _page_result(doc, _convert(doc, [i])[0], options))


def warm_up() -> None:
    """Load pymupdf4llm and the layout model now rather than at the first parse."""
    _pymupdf4llm()
