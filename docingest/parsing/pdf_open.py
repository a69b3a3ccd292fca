"""Opening documents with MuPDF: corrupt and encrypted files become classified errors.

Every format MuPDF reads (XPS, EPUB, MOBI, FB2, CBZ, SVG, images) is converted to PDF first,
so both engines, OCR included, see one kind of document.
"""

from __future__ import annotations

from typing import Any

import pymupdf

from docingest.errors import DocIngestError, ErrorCode

_METADATA_KEYS = {
    "title": "title",
    "author": "author",
    "producer": "producer",
    "creationDate": "creation_date",
}


def open_pdf(data: bytes, password: str | None) -> pymupdf.Document:
    """Open `data` as a PDF, unlocking it with `password` when it needs one."""
    # MuPDF keeps its warnings in a process-wide store: clear it so it says why *this* file
    # failed (and does not grow without bound over thousands of documents).
    pymupdf.TOOLS.reset_mupdf_warnings()
    try:
        doc = pymupdf.open(stream=data, filetype="pdf")
    except Exception as exc:  # MuPDF raises FileDataError/RuntimeError subclasses for bad input
        detail = pymupdf.TOOLS.mupdf_warnings().split("\n")[0].strip()
        message = f"cannot open PDF: {exc}" + (f" ({detail})" if detail else "")
        raise DocIngestError(ErrorCode.CORRUPT_FILE, message) from None
    if doc.needs_pass:
        if password is None:
            doc.close()
            raise DocIngestError(
                ErrorCode.PASSWORD_PROTECTED_FILE, "PDF is encrypted and no password was given"
            )
        if not doc.authenticate(password):
            doc.close()
            raise DocIngestError(
                ErrorCode.PASSWORD_PROTECTED_FILE, "PDF is encrypted and the password is wrong"
            )
    try:
        page_count = doc.page_count
    except Exception as exc:
        doc.close()
        raise DocIngestError(ErrorCode.CORRUPT_FILE, f"cannot read PDF pages: {exc}") from None
    if page_count < 1:
        doc.close()
        raise DocIngestError(ErrorCode.CORRUPT_FILE, "PDF has no pages")
    return doc


def open_document(data: bytes, filetype: str, password: str | None) -> pymupdf.Document:
    """Open `data` (of MuPDF `filetype`) as a PDF document."""
    if filetype == "pdf":
        return open_pdf(data, password)
    try:
        with pymupdf.open(stream=data, filetype=filetype) as source:
            if source.page_count < 1:
                raise DocIngestError(ErrorCode.CORRUPT_FILE, f"{filetype} document has no pages")
            converted = source.convert_to_pdf()
    except DocIngestError:
        raise
    except Exception as exc:  # MuPDF's errors for unreadable input
        raise DocIngestError(
            ErrorCode.FAILED_TO_CONVERT_TO_PDF, f"cannot convert {filetype} to PDF: {exc}"
        ) from None
    return open_pdf(converted, None)


def pdf_metadata(doc: pymupdf.Document) -> dict[str, Any]:
    """The non-empty title/author/producer/creation date, plus repair and encryption flags."""
    raw = doc.metadata or {}
    out: dict[str, Any] = {}
    for key, name in _METADATA_KEYS.items():
        value = raw.get(key)
        if isinstance(value, str) and value.strip():
            out[name] = value.strip()
    if getattr(doc, "is_repaired", False):
        out["repaired"] = True
    if doc.is_encrypted or raw.get("encryption"):
        out["encrypted"] = True
    return out
