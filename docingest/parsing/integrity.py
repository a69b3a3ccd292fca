"""Nothing damaged passes silently: repaired files, pages without text, documents without any.

A truncated or corrupted PDF often still opens: MuPDF rebuilds its cross-reference table
(`doc.is_repaired`) and hands back pages whose content is gone. Such a parse is flagged in
`usage` (`repaired`, `empty_pages`, `ocr_unavailable_pages`, `warnings`), and a document
that yields no readable text at all is refused with CORRUPT_FILE, whatever the reason
(damaged, blank, images that OCR could not or was not allowed to read): indexing it would
"succeed" with nothing searchable.
"""

from __future__ import annotations

import re

import pymupdf

from docingest.errors import DocIngestError, ErrorCode
from docingest.models import PageResult
from docingest.parsing.pages import FIGURE_PLACEHOLDER, HEADER_FOOTER

_IMAGE_REF = re.compile(r"!\[[^\]]*\]\([^)]*\)")  # what image_mode placeholder/save writes
_MAX_NOTES = 3  # MuPDF warning lines kept to say what it repaired
# Lines that only say a repair happened, which the flag already does.
_SAID_BY_THE_FLAG = ("... repeated", "trying to repair", "repairing pdf document")


def readable(text: str) -> bool:
    """Holds at least one letter or digit (of any script)."""
    return any(c.isalnum() for c in text)


def page_has_text(page: PageResult) -> bool:
    """The page has readable text that chunks would carry: page headers and footers (left out
    of chunks) and image placeholders or references do not count; a page without fragments
    counts by its markdown, as the chunker reads it."""
    for fragment in page.fragments:
        if fragment.type in HEADER_FOOTER:
            continue
        content = fragment.content
        if fragment.type == "figure":
            content = _IMAGE_REF.sub("", content.replace(FIGURE_PLACEHOLDER, ""))
        if readable(content):
            return True
    return not page.fragments and readable(page.markdown)


def empty_pages(pages: list[PageResult]) -> list[int]:
    """Page numbers of the pages parsed "ok" that hold no readable text."""
    return [p.page_number for p in pages if p.status == "ok" and not page_has_text(p)]


def ocr_unavailable_pages(pages: list[PageResult]) -> list[int]:
    """Page numbers of the "ok" pages that kept their text layer because OCR could not run."""
    return [
        p.page_number
        for p in pages
        if p.status == "ok" and p.error and p.error.get("code") == ErrorCode.OCR_ERROR.value
    ]


def mupdf_notes() -> list[str]:
    """What MuPDF warned about since `open_pdf` opened the file (and cleared its process-wide
    warning store): the first few distinct lines, those that only announce a repair left out."""
    notes: list[str] = []
    for line in pymupdf.TOOLS.mupdf_warnings().splitlines():
        line = line.strip()
        if line and not line.lower().startswith(_SAID_BY_THE_FLAG) and line not in notes:
            notes.append(line)
    return notes[:_MAX_NOTES]


def _has_marks(doc: pymupdf.Document, page_number: int) -> bool:
    """The page draws something (an image or vector paths), even if it holds no text."""
    try:
        page = doc[page_number - 1]
        return bool(page.get_image_info() or page.get_drawings())
    except Exception:  # a page MuPDF cannot read draws nothing we can see
        return False


def _reason(
    doc: pymupdf.Document,
    pages: list[PageResult],
    repaired: bool,
    notes: list[str],
    ocr_mode: str,
) -> str:
    said = f" ({'; '.join(notes)})" if notes else ""
    if repaired:
        return f"the file is damaged: MuPDF had to repair it{said}; it is probably truncated"
    if any(_has_marks(doc, p.page_number) for p in pages):
        if ocr_mode == "off":
            return (
                "its pages hold only images or drawings and OCR is off (ocr_mode 'auto' reads them)"
            )
        return "its pages hold images or drawings but no text, read or OCR'd"
    if notes:
        return f"MuPDF could not read the pages' content{said}"
    return "the pages are blank (no text, images or drawings)"


def require_text(
    doc: pymupdf.Document | None,
    pages: list[PageResult],
    *,
    page_count: int,
    repaired: bool,
    notes: list[str],
    ocr_mode: str,
    failed_page_mode: str,
) -> None:
    """Refuse (CORRUPT_FILE, not retryable) a document none of whose parsed pages yields text.

    A genuinely blank document is refused too, with a message that says so: an upload indexed
    as "succeeded" with nothing searchable is what this guards against, and the person who
    dropped it learns from `docingest status` why it is not found rather than never.
    """
    parsed = [p for p in pages if p.status != "skipped"]
    if not parsed:
        return
    for page in parsed:
        if page.status == "ok" and page_has_text(page):
            return
        if page.status == "error" and failed_page_mode == "raw_text" and readable(page.markdown):
            return
    count = f"any of its {len(parsed)} pages" if len(parsed) > 1 else "its only page"
    if len(parsed) < page_count:
        count = f"any of the {len(parsed)} of its {page_count} pages parsed"
    if doc is None:
        raise DocIngestError(ErrorCode.CORRUPT_FILE, "no readable text: the file holds none")
    reason = _reason(doc, parsed, repaired, notes, ocr_mode)
    failed = sum(1 for p in parsed if p.status == "error")
    if failed:
        reason += f"; {failed} page(s) failed"
    raise DocIngestError(ErrorCode.CORRUPT_FILE, f"no readable text on {count}: {reason}")


def usage_flags(pages: list[PageResult], repaired: bool, notes: list[str]) -> dict[str, object]:
    """What `usage` says about the document's integrity: `repaired`, `empty_pages`,
    `ocr_unavailable_pages` (lists of 1-based page numbers) and human-readable `warnings`."""
    empty = empty_pages(pages)
    no_ocr = ocr_unavailable_pages(pages)
    warnings = []
    if repaired:
        said = f": {'; '.join(notes)}" if notes else ""
        warnings.append(f"the file is damaged and MuPDF repaired it{said}; text may be missing")
    if empty:
        warnings.append(f"no readable text on page(s) {_numbers(empty)}")
    if no_ocr:
        warnings.append(
            f"OCR could not run on page(s) {_numbers(no_ocr)}; their own text layer was kept"
        )
    return {
        "repaired": repaired,
        "empty_pages": empty,
        "ocr_unavailable_pages": no_ocr,
        "warnings": warnings,
    }


def _numbers(numbers: list[int], shown: int = 20) -> str:
    text = ", ".join(str(n) for n in numbers[:shown])
    return text + (f" and {len(numbers) - shown} more" if len(numbers) > shown else "")
