"""Word 97-2003 (DOC) and PowerPoint 97-2003 (PPT): converted by LibreOffice to DOCX/PPTX and
read like those; password-protected Office packages refused."""

from __future__ import annotations

from typing import Any

from docingest.errors import DocIngestError, ErrorCode
from docingest.parsing import detect
from docingest.parsing.office.blocks import PageBuilder
from docingest.parsing.office.convert import convert
from docingest.parsing.office.dispatch import Reader
from docingest.parsing.office.safety import encrypted
from docingest.parsing.options import ParseOptions

# A conversion gets at most this share of the document's time limit; reading takes the rest.
_CONVERT_SHARE = 0.8


def _word(data: bytes, options: ParseOptions, out: PageBuilder) -> dict[str, Any]:
    from docingest.parsing.office.docx import parse_docx

    docx = convert(
        data, detect.DOC_MIME, "docx", options.timeout_s * _CONVERT_SHARE, _unsupported(data)
    )
    return {**parse_docx(docx, options, out), "converted_from": "doc"}


def _powerpoint(data: bytes, options: ParseOptions, out: PageBuilder) -> dict[str, Any]:
    from docingest.parsing.office.pptx import parse_pptx

    pptx = convert(
        data, detect.PPT_MIME, "pptx", options.timeout_s * _CONVERT_SHARE, _unsupported(data)
    )
    return {**parse_pptx(pptx, options, out), "converted_from": "ppt"}


def _unsupported(data: bytes) -> ErrorCode:
    """Without LibreOffice a legacy file cannot be read at all; with it, a failure is the
    file's (an encrypted or broken DOC/PPT)."""
    from docingest.parsing.office.convert import soffice

    return ErrorCode.CORRUPT_FILE if soffice() else ErrorCode.FILE_TYPE_NOT_SUPPORTED


def _encrypted(data: bytes, options: ParseOptions, out: PageBuilder) -> dict[str, Any]:
    raise encrypted("the Office document")


def parse_legacy(mime: str) -> Reader:
    if mime == detect.DOC_MIME:
        return _word
    if mime == detect.PPT_MIME:
        return _powerpoint
    if mime == detect.ENCRYPTED_OOXML_MIME:
        return _encrypted
    raise DocIngestError(
        ErrorCode.FILE_TYPE_NOT_SUPPORTED, f"no reader for {detect.describe_mime(mime)}"
    )
