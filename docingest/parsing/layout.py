"""The layout engine: PyMuPDF's layout model (through pymupdf4llm), one fragment per layout box.

Tables come from the layout model's table boxes as HTML with colspan/rowspan; pages without a
usable text layer are OCR'd with Tesseract (see `ocr.py`); each box's markdown is made plain
(`clean.py`) and headings get levels from their numbering, else from their font size rank.

pymupdf4llm keeps every page's text dictionary (spans, fonts, boxes; 137 KiB of Python objects
a page on the retrieval corpus's filings) and each box's text lines until the whole document is
laid out: memory that grows with the document. Pages are laid out `LAYOUT_WINDOW` at a time
instead, and only each page's markdown and boxes are kept; the font-size rank of the headings,
which pymupdf4llm takes over the whole document, is taken over the whole document here too
(`_font_levels`), so the pages are the same (tests/parsing/test_layout_windows.py).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from functools import cache
from types import ModuleType
from typing import Any

import pymupdf

from docingest import allow_layout_model
from docingest.heap import release_free_memory
from docingest.models import BBox, Fragment, PageResult
from docingest.parsing.clean import (
    clean_block,
    heading_level,
    heading_text,
    is_title_line,
    refine_headings,
)
from docingest.parsing.grid import find_grid_tables
from docingest.parsing.ocr import OcrRecorder
from docingest.parsing.options import ParseOptions
from docingest.parsing.pages import (
    FIGURE_PLACEHOLDER,
    HEADER_FOOTER,
    MARGIN_BAND,
    error_page,
    keep_text_without_ocr,
    ocr_error_page,
    per_page,
)
from docingest.parsing.styles import PageStyles, split_leading_titles
from docingest.parsing.tables import (
    html_table_grid,
    html_table_to_markdown,
    markdown_table_to_html,
    table_of_contents_lines,
)

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
# What `pymupdf4llm.to_markdown(doc, page_chunks=True, header=True, footer=True,
# table_output="html", write_images=False, embed_images=False, show_progress=False)` hands to
# `document_layout.parse_document` and `ParsedDocument.to_markdown` (its `_layout_to_markdown`;
# tests/parsing/test_third_party_guards.py checks the two give the same pages). Called directly
# so that each heading box's font size can be read before the parsed pages are let go.
_PARSE_ARGS: dict[str, Any] = {
    "filename": "",
    "image_dpi": 150,
    "image_format": "png",
    "image_path": "",
    "write_images": False,
    "embed_images": False,
    "show_progress": False,
    "force_text": True,
    "render_html_tables": True,
    "edge_threshold": None,
}
_RENDER_ARGS: dict[str, Any] = {
    "header": True,  # headers/footers are always fragments; page_markdown() drops them
    "footer": True,
    "write_images": False,
    "embed_images": False,
    "ignore_code": False,
    "show_progress": False,
    "page_separators": False,
    "page_chunks": True,
}
_HEADING_CLASSES = frozenset({"title", "section-header"})
_MAX_FONT_LEVELS = 6  # pymupdf4llm ranks the six largest heading font sizes, the rest are 6
LAYOUT_WINDOW = 16  # pages laid out at a time: the parse holds this many pages' text in full


_RULED_PATHS = 16  # vector paths on a page from which it may hold a ruled table


def _may_have_table(page: pymupdf.Page) -> bool:
    """The layout model saw a table, or the page's rules form a grid (a table it missed)."""
    boxes = getattr(page, "layout_information", None) or []
    if any(isinstance(b, dict) and b.get("class_name") == "table" for b in boxes):
        return True
    paths = page.get_cdrawings()
    return len(paths) >= _RULED_PATHS and bool(find_grid_tables(page, paths=paths))


def pymupdf4llm_with_layout() -> ModuleType:
    """pymupdf4llm as it comes, on its layout path: PyMuPDF's layout model loaded (under
    docingest, `import pymupdf` does not load it: see docingest/__init__.py). Both chatter on
    stdout/stderr at import; loading the model takes about a second, once per process."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        allow_layout_model()
        import pymupdf4llm

        # PyMuPDF imported pymupdf4llm at its own import, when the layout package was not to be
        # found: pymupdf4llm chose its layout-less path then. Choose again (loads the model).
        pymupdf4llm.use_layout(True)
    return pymupdf4llm


@cache
def load_layout_model() -> ModuleType:
    """pymupdf4llm on its layout path as the layout engine runs it (the table pass guarded)."""
    engine = pymupdf4llm_with_layout()
    from pymupdf4llm.helpers import table_html

    # The HTML table pass runs PyMuPDF's table finder on every page, about a quarter of the
    # parse time; skip it on pages with no table box and no grid of rules.
    render = table_html.page_html_tables
    if not getattr(render, "_docingest_guard", False):

        def guarded(page: pymupdf.Page) -> list:
            return render(page) if _may_have_table(page) else []

        guarded._docingest_guard = True  # type: ignore[attr-defined]
        table_html.page_html_tables = guarded
    return engine


def _font_level(content: str) -> int:
    stripped = content.lstrip()
    return len(stripped) - len(stripped.lstrip("#")) or 1


def _table(content: str, bbox: BBox, options: ParseOptions) -> Fragment:
    if "<table" in content:
        html = content[content.index("<table") :]
        markdown = html_table_to_markdown(html)
    else:
        markdown = clean_block(content)
        html = markdown_table_to_html(markdown) or ""
    contents = table_of_contents_lines(html_table_grid(html)) if html else None
    if contents is not None:
        return Fragment("text", "\n".join(contents), bbox)
    shown = html if options.table_format == "html" else markdown
    return Fragment("table", shown or markdown, bbox, html=html or None)


def _in_margin(kind: str, bbox: BBox, height: float) -> bool:
    """A header starts in the top band of the page, a footer ends in the bottom one."""
    if kind == "page_header":
        return bbox.y0 <= height * MARGIN_BAND
    return bbox.y1 >= height * (1 - MARGIN_BAND)


def _fragment(
    box: dict[str, Any], text: str, options: ParseOptions, height: float
) -> Fragment | None:
    start, stop = box["pos"]
    raw = text[start:stop].strip()
    kind = _CLASS_TO_TYPE.get(box["class"], "text")
    bbox = BBox(*(float(v) for v in box["bbox"]))
    if kind in HEADER_FOOTER and not _in_margin(kind, bbox, height):
        kind = "text"  # the model's header/footer class far from the page's edges
    elif kind in ("caption", "text") and is_title_line(raw, bold_only=kind == "caption"):
        kind = "section_header"  # "Chapter 7" alone, or a bold unnumbered title by a picture
    if kind == "table" and raw:
        return _table(raw, bbox, options)
    if kind in ("title", "section_header"):
        words = heading_text(raw)
        if not words:
            return None
        font_level = box.get("font_level") or _font_level(raw)
        level = 1 if kind == "title" else heading_level(words, font_level)
        return Fragment(kind, f"{'#' * level} {words}", bbox, level=level)
    content = clean_block(raw)
    if kind == "figure":
        return Fragment(kind, content or FIGURE_PLACEHOLDER, bbox)
    return Fragment(kind, content, bbox) if content else None


def _page_result(
    doc: pymupdf.Document, chunk: dict[str, Any], options: ParseOptions, ocr: OcrRecorder
) -> PageResult:
    number = int(chunk["metadata"]["page_number"])
    if number - 1 in ocr.failed:
        return ocr_error_page(doc, number - 1, ocr.failed[number - 1])
    rect = doc[number - 1].rect
    text = chunk["text"] or ""
    fragments = [
        fragment
        for box in chunk.get("page_boxes") or []
        if (fragment := _fragment(box, text, options, float(rect.height))) is not None
    ]
    if number - 1 not in ocr.done:  # OCR'd text carries no font information
        fragments = split_leading_titles(fragments, PageStyles(doc[number - 1]))
    fragments = refine_headings(fragments)
    page = PageResult(number, float(rect.width), float(rect.height), "", fragments)
    page.ocr = number - 1 in ocr.done
    if number - 1 in ocr.kept:
        keep_text_without_ocr(page, ocr.kept[number - 1])
    return page


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence pymupdf4llm: it reports OCR runs on stdout/stderr and through pymupdf.message."""
    sink = io.StringIO()
    # pymupdf.set_messages() can redirect but not restore; the attribute it sets is read by
    # pymupdf.message() (tests/parsing/test_third_party_guards.py fails if that changes).
    saved = pymupdf._g_out_message
    pymupdf._g_out_message = sink
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            yield
    finally:
        pymupdf._g_out_message = saved


def ocr_args(options: ParseOptions, ocr: OcrRecorder) -> dict[str, Any]:
    """pymupdf4llm's OCR arguments for `options` (the same for its parts and `to_markdown`)."""
    return {
        "use_ocr": options.ocr_mode != "off",
        "force_ocr": options.ocr_mode == "force",
        "ocr_language": options.ocr_languages,
        "ocr_dpi": options.ocr_dpi,
        "ocr_function": ocr,
    }


def _convert(
    doc: pymupdf.Document, indexes: list[int], options: ParseOptions, ocr: OcrRecorder
) -> list[dict[str, Any]]:
    """pymupdf4llm's page chunks for pages `indexes` (0-based), each title and section-header
    box with the largest font size of its text (`font_size`)."""
    layout = load_layout_model().helpers.document_layout
    with _quiet():
        parsed = layout.parse_document(doc, pages=indexes, **ocr_args(options, ocr), **_PARSE_ARGS)
        chunks: list[dict[str, Any]] = parsed.to_markdown(**_RENDER_ARGS)
    for chunk, page in zip(chunks, parsed.pages, strict=True):
        for box, layout_box in zip(chunk["page_boxes"], page.boxes, strict=True):
            if layout_box.boxclass in _HEADING_CLASSES:
                box["font_size"] = layout_box.max_fontsize
    return chunks


def _font_levels(chunks: list[dict[str, Any]]) -> None:
    """Give every heading box its font-size rank in the whole document (`font_level`), as
    pymupdf4llm does when it lays out all pages at once: the largest heading size is 1, the
    sixth largest 6, anything smaller 6."""
    boxes = [box for chunk in chunks for box in chunk["page_boxes"] if "font_size" in box]
    sizes = sorted({box["font_size"] for box in boxes}, reverse=True)[:_MAX_FONT_LEVELS]
    for box in boxes:
        size = box["font_size"]
        box["font_level"] = sizes.index(size) + 1 if size >= sizes[-1] else _MAX_FONT_LEVELS


def parse_layout(
    doc: pymupdf.Document, indexes: list[int], options: ParseOptions
) -> list[PageResult]:
    """Parse pages `indexes` (0-based) of `doc` with the layout model (markdown left empty),
    `LAYOUT_WINDOW` pages at a time."""
    ocr = OcrRecorder(options.ocr_languages, options.ocr_mode)
    # Per page: its chunk, or its error page (made at once: an exception's traceback would keep
    # the window's parse alive).
    read: dict[int, dict[str, Any] | PageResult] = {}
    for start in range(0, len(indexes), LAYOUT_WINDOW):
        window = indexes[start : start + LAYOUT_WINDOW]
        try:
            chunks = _convert(doc, window, options, ocr)
        except Exception:
            chunks = []  # lay out page by page, to isolate the failing page(s)
            for index in window:
                try:
                    chunks.extend(_convert(doc, [index], options, ocr))
                except Exception as exc:
                    read[index] = error_page(doc, index, exc)
        for chunk in chunks:
            read[int(chunk["metadata"]["page_number"]) - 1] = chunk
        del chunks
        release_free_memory()  # what the window's layout freed (docingest/heap.py)
    _font_levels([chunk for chunk in read.values() if isinstance(chunk, dict)])

    def build(index: int) -> PageResult:
        chunk = read[index]
        if isinstance(chunk, PageResult):
            return chunk
        return _page_result(doc, chunk, options, ocr)

    return per_page(doc, indexes, build)
