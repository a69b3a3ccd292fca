"""Shared page assembly: fragment lists to page markdown, failed pages, skipped pages."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pymupdf

from docingest.errors import DocIngestError, ErrorCode
from docingest.models import Fragment, PageResult

HEADER_FOOTER = frozenset({"page_header", "page_footer"})
# Of the page height: where running headers (top) and footers (bottom) live.
MARGIN_BAND = 0.12
# Figure fragments without text carry this in `content`; it is left out of page markdown.
FIGURE_PLACEHOLDER = "<!-- image -->"


def page_markdown(fragments: Iterable[Fragment], include_headers_footers: bool) -> str:
    """The page's markdown: its fragments' contents in order, blank-line separated."""
    parts = []
    for fragment in fragments:
        if fragment.type in HEADER_FOOTER and not include_headers_footers:
            continue
        if fragment.type == "figure" and fragment.content == FIGURE_PLACEHOLDER:
            continue
        if fragment.content.strip():
            parts.append(fragment.content.strip())
    return "\n\n".join(parts)


def page_size(doc: pymupdf.Document, index: int) -> tuple[float, float]:
    """Width and height in points of page `index`, (0, 0) when even that cannot be read."""
    try:
        rect = doc[index].rect
        return float(rect.width), float(rect.height)
    except Exception:
        return 0.0, 0.0


def _failed(doc: pymupdf.Document, index: int, code: ErrorCode, message: str) -> PageResult:
    width, height = page_size(doc, index)
    return PageResult(
        page_number=index + 1,
        width=width,
        height=height,
        markdown="",
        status="error",
        error={"code": code.value, "message": message, "retryable": code.retryable},
    )


def _raised_by_mupdf(exc: Exception) -> bool:
    """MuPDF's errors (FzErrorFormat "cycle in page tree", FzErrorLimit, ... derive from
    FzErrorBase, not RuntimeError), and what PyMuPDF or pymupdf4llm raise from their own code
    on data MuPDF read (ValueError "bad image data" for an image bomb)."""
    if isinstance(exc, RuntimeError | pymupdf.mupdf.FzErrorBase):
        return True
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and str(tb.tb_frame.f_globals.get("__name__", "")).startswith("pymupdf")


def error_page(doc: pymupdf.Document, index: int, exc: Exception) -> PageResult:
    """A page whose extraction failed: status error, empty markdown."""
    # MuPDF errors describe the file, anything else is on our side and may pass on a retry.
    code = ErrorCode.CORRUPT_FILE if _raised_by_mupdf(exc) else ErrorCode.INTERNAL_ERROR
    return _failed(doc, index, code, f"page {index + 1}: {type(exc).__name__}: {exc}")


def ocr_error_page(doc: pymupdf.Document, index: int, error: DocIngestError) -> PageResult:
    """A page that needed OCR which could not run: status error with OCR_ERROR."""
    return _failed(doc, index, error.code, f"page {index + 1}: {error.message}")


def keep_text_without_ocr(page: PageResult, error: DocIngestError) -> None:
    """OCR could not run on a page whose own text layer is usable (auto mode): the page keeps
    that text and stays "ok", and its `error` says what OCR lacked (a warning, not a failure;
    `usage["ocr_unavailable_pages"]` lists such pages)."""
    page.error = {
        "code": error.code.value,
        "message": f"page {page.page_number}: OCR could not run, so the page's own text layer "
        f"was kept: {error.message}",
        "retryable": error.code.retryable,
    }


def fill_failed_page(
    doc: pymupdf.Document, page: PageResult, mode: str, prefix: str = "", suffix: str = ""
) -> None:
    """Give a failed page the markdown `mode` asks for: raw text, nothing, or the error (between
    `prefix` and `suffix`)."""
    error = page.error or {}
    if mode == "error_message":
        page.markdown = f"{prefix}[page {page.page_number} failed: {error.get('code')}]{suffix}"
        return
    if mode == "raw_text":
        try:
            page.markdown = doc[page.page_number - 1].get_text("text").strip()
        except Exception:  # the page is broken: a blank page is the most we can say
            page.markdown = ""


def skipped_page(doc: pymupdf.Document, index: int) -> PageResult:
    """A page not parsed: beyond max_pages or outside target_pages."""
    width, height = page_size(doc, index)
    return PageResult(index + 1, width, height, "", status="skipped")


def per_page(
    doc: pymupdf.Document,
    indexes: list[int],
    parse_one: Callable[[int], PageResult],
) -> list[PageResult]:
    """Run `parse_one` per page, turning a page's exception into an error page."""
    results = []
    for index in indexes:
        try:
            results.append(parse_one(index))
        except Exception as exc:
            results.append(error_page(doc, index, exc))
    return results
