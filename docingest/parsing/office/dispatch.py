"""parse_office: one office or web document's bytes to pages, by its detected type."""

from __future__ import annotations

import time
from collections.abc import Callable
from importlib import import_module
from typing import Any

from docingest.models import PageResult
from docingest.parsing import detect
from docingest.parsing.office.blocks import PageBuilder
from docingest.parsing.options import ParseOptions

Reader = Callable[[bytes, ParseOptions, PageBuilder], dict[str, Any]]


# Type -> (module, reader function) under docingest.parsing.office; imported on demand, so each
# library loads only when a document needs it. Anything else goes to `legacy`.
_READERS: dict[str, tuple[str, str]] = {
    detect.DOCX_MIME: ("docx", "parse_docx"),
    detect.PPTX_MIME: ("pptx", "parse_pptx"),
    detect.XLSX_MIME: ("xlsx", "parse_xlsx"),
    detect.XLS_MIME: ("xls", "parse_xls"),
    detect.ODT_MIME: ("odf", "parse_odf"),
    detect.ODS_MIME: ("odf", "parse_odf"),
    detect.ODP_MIME: ("odf", "parse_odf"),
    detect.HTML_MIME: ("html", "parse_html"),
    detect.CSV_MIME: ("delimited", "parse_csv"),
    detect.TSV_MIME: ("delimited", "parse_tsv"),
    detect.EML_MIME: ("mail", "parse_eml"),
    detect.RTF_MIME: ("rtf", "parse_rtf"),
}


def _reader(mime: str) -> Reader:
    """The function that reads `mime`."""
    if mime in _READERS:
        module, name = _READERS[mime]
        reader: Reader = getattr(import_module(f"docingest.parsing.office.{module}"), name)
        return reader
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
