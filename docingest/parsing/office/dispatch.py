"""parse_office: one office or web document's bytes to pages, by its detected type."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from docingest.models import PageResult
from docingest.parsing import detect
from docingest.parsing.office.blocks import PageBuilder
from docingest.parsing.options import ParseOptions

Reader = Callable[[bytes, ParseOptions, PageBuilder], dict[str, Any]]


def _reader(mime: str) -> Reader:
    """The module that reads `mime` (imported on demand: each library loads only if needed)."""
    if mime == detect.DOCX_MIME:
        from docingest.parsing.office.docx import parse_docx

        return parse_docx
    if mime == detect.PPTX_MIME:
        from docingest.parsing.office.pptx import parse_pptx

        return parse_pptx
    if mime == detect.XLSX_MIME:
        from docingest.parsing.office.xlsx import parse_xlsx

        return parse_xlsx
    if mime == detect.XLS_MIME:
        from docingest.parsing.office.xls import parse_xls

        return parse_xls
    if mime in (detect.ODT_MIME, detect.ODS_MIME, detect.ODP_MIME):
        from docingest.parsing.office.odf import parse_odf

        return parse_odf
    if mime == detect.HTML_MIME:
        from docingest.parsing.office.html import parse_html

        return parse_html
    if mime in (detect.CSV_MIME, detect.TSV_MIME):
        from docingest.parsing.office.delimited import parse_csv, parse_tsv

        return parse_csv if mime == detect.CSV_MIME else parse_tsv
    if mime == detect.EML_MIME:
        from docingest.parsing.office.mail import parse_eml

        return parse_eml
    if mime == detect.RTF_MIME:
        from docingest.parsing.office.rtf import parse_rtf

        return parse_rtf
    from docingest.parsing.office.legacy import parse_legacy

    return parse_legacy(mime)


def parse_office(
    data: bytes, mime: str, options: ParseOptions
) -> tuple[list[PageResult], dict[str, float], dict[str, Any]]:
    """Pages (parsed or skipped by target_pages/max_pages), timings and document metadata."""
    started = time.perf_counter()
    out = PageBuilder(options.table_format, options.include_headers_footers)
    metadata = _reader(mime)(data, options, out)
    pages = out.finish()
    wanted = set(options.page_indexes(len(pages)))
    for index, page in enumerate(pages):
        if index not in wanted:
            page.fragments, page.markdown, page.status = [], "", "skipped"
    metadata = {**metadata, "tables": out.tables}
    return pages, {"open_s": 0.0, "parse_s": round(time.perf_counter() - started, 4)}, metadata
