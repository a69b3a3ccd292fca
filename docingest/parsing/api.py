"""parse_bytes / parse_file: detection, limits, engine dispatch and the ParseResult."""

from __future__ import annotations

import time
from typing import Any

import pymupdf

from docingest.errors import DocIngestError, ErrorCode
from docingest.ids import sha256_bytes
from docingest.models import PageResult, ParseResult
from docingest.parsing.clean import plain_quotes
from docingest.parsing.detect import MUPDF_TYPES, OFFICE_TYPES, PDF_MIME, check_input
from docingest.parsing.figures import render_figures
from docingest.parsing.furniture import (
    MIN_REPEAT_PAGES,
    label_pages,
    mark_repeated,
    printed_page_numbers,
)
from docingest.parsing.integrity import mupdf_notes, page_has_text, require_text, usage_flags
from docingest.parsing.options import ParseOptions
from docingest.parsing.pages import (
    HEADER_FOOTER,
    fill_failed_page,
    page_markdown,
    skipped_page,
)
from docingest.parsing.pdf_open import open_document, pdf_metadata
from docingest.parsing.tables import compact_tables, merge_continued_tables
from docingest.parsing.text import markdown_fragments
from docingest.parsing.text_layer import clean_text_layer


def _engine(
    doc: pymupdf.Document, indexes: list[int], options: ParseOptions
) -> tuple[list[PageResult], dict[str, Any]]:
    """The parsed pages, and which engine read how many of them (auto: which pages went to the
    layout model, by the trigger that fired; every other page is the fast path's)."""
    if options.engine == "auto":
        from docingest.parsing.auto import parse_auto

        pages, triggers = parse_auto(doc, indexes, options)
        by_trigger: dict[str, list[int]] = {}
        for number, trigger in triggers.items():
            by_trigger.setdefault(trigger, []).append(number)
        counts = {"fast": len(pages) - len(triggers), "layout": len(triggers)}
        return pages, {"engine_pages": counts, "layout_triggers": by_trigger}
    if options.engine == "layout":
        # Imported here: loading the layout model costs seconds the fast engine never needs.
        from docingest.parsing.layout import parse_layout

        pages = parse_layout(doc, indexes, options)
    else:
        from docingest.parsing.fast import parse_fast

        pages = parse_fast(doc, indexes, options)
    return pages, {"engine_pages": {options.engine: len(pages)}}


def _check_failures(pages: list[PageResult], options: ParseOptions) -> None:
    """Fail the document when more than `page_error_tolerance` of its parsed pages failed."""
    failed = [page for page in pages if page.status == "error"]
    if not failed or not pages:
        return
    if len(failed) == len(pages) or len(failed) / len(pages) > options.page_error_tolerance:
        first = failed[0].error or {}
        code = ErrorCode(first.get("code", ErrorCode.CORRUPT_FILE.value))
        raise DocIngestError(
            code,
            f"{len(failed)} of {len(pages)} pages failed (tolerance "
            f"{options.page_error_tolerance:.0%}); {first.get('message', '')}",
        )


def _keep_lone_furniture(pages: list[PageResult]) -> None:
    """A page of a short document whose only text the model calls header/footer keeps it.

    With fewer pages than repetition needs, the model's call is all there is; a one-line page
    would otherwise come out empty and index nothing. A document whose only text is furniture
    (the same line on every page) keeps all of it: that line is its content.
    """
    if not any(page.status == "ok" and page_has_text(page) for page in pages):
        for page in pages:
            for fragment in page.fragments:
                if fragment.type in HEADER_FOOTER:
                    fragment.type = "text"
        return
    if len(pages) >= MIN_REPEAT_PAGES:
        return
    for page in pages:
        if page.fragments and all(f.type in HEADER_FOOTER for f in page.fragments):
            for fragment in page.fragments:
                fragment.type = "text"


def _finish_pages(
    doc: pymupdf.Document, pages: list[PageResult], options: ParseOptions, document_id: str
) -> dict[str, Any]:
    """Furniture, figures, tables across pages, failed-page text and markdown; metadata."""
    mark_repeated(pages)
    _keep_lone_furniture(pages)
    for page in pages:
        for fragment in page.fragments:
            fragment.content = plain_quotes(fragment.content)
            if fragment.html:
                fragment.html = plain_quotes(fragment.html)
    images: list[str] = []
    numbers = printed_page_numbers(pages)
    label_pages(doc, pages)
    for page in pages:
        if page.status != "ok":
            fill_failed_page(
                doc,
                page,
                options.failed_page_mode,
                options.replace_failed_page_with_error_message_prefix,
                options.replace_failed_page_with_error_message_suffix,
            )
            continue
        images.extend(render_figures(doc, page, options, document_id))
    if options.merge_tables_across_pages:
        merge_continued_tables(pages, options.table_format)
    for page in pages:
        if page.status == "ok":
            page.markdown = page_markdown(page.fragments, options.include_headers_footers)
    metadata: dict[str, Any] = {}
    if numbers:
        metadata["printed_page_numbers"] = numbers
    if images:
        metadata["images"] = images
    return metadata


def _parse_document(
    data: bytes, mime: str, options: ParseOptions, document_id: str
) -> tuple[int, list[PageResult], dict[str, Any], dict, bool, list[str]]:
    """Page count, pages, usage (timings, engine_pages), metadata, whether MuPDF repaired the
    file, its warnings."""
    started = time.perf_counter()
    doc = open_document(data, MUPDF_TYPES[mime], options.password)
    try:
        opened = time.perf_counter()
        page_count = doc.page_count
        indexes = options.page_indexes(page_count)
        cleaned = clean_text_layer(doc, indexes, options)
        pages, engines = _engine(doc, indexes, options) if indexes else ([], {})
        _check_failures(pages, options)
        metadata = pdf_metadata(doc) | cleaned | _finish_pages(doc, pages, options, document_id)
        notes = mupdf_notes()
        repaired = bool(doc.is_repaired)
        require_text(
            doc,
            pages,
            page_count=page_count,
            repaired=repaired,
            notes=notes,
            ocr_mode=options.ocr_mode,
            failed_page_mode=options.failed_page_mode,
        )
        parsed = {page.page_number for page in pages}
        pages.extend(skipped_page(doc, i) for i in range(page_count) if i + 1 not in parsed)
        pages.sort(key=lambda page: page.page_number)
    finally:
        doc.close()
    timings = {
        "open_s": round(opened - started, 4),
        "parse_s": round(time.perf_counter() - opened, 4),
    }
    return page_count, pages, {**engines, "timings": timings}, metadata, repaired, notes


def _parse_office(
    data: bytes, mime: str, options: ParseOptions, document_id: str
) -> tuple[int, list[PageResult], dict[str, Any], dict, bool, list[str]]:
    """Office and web documents: read natively, or (office_mode=convert, word processing and
    presentations) converted to PDF by LibreOffice and parsed as a PDF, with real pages."""
    # Imported here: the office readers' libraries load only when such a file comes.
    from docingest.parsing.office.convert import converts_to_pdf, to_pdf
    from docingest.parsing.office.dispatch import parse_office

    if options.office_mode == "convert" and converts_to_pdf(mime):
        started = time.perf_counter()
        pdf = to_pdf(data, mime, options.timeout_s)
        converted = time.perf_counter() - started
        page_count, pages, usage, metadata, repaired, notes = _parse_document(
            pdf, PDF_MIME, options, document_id
        )
        usage["timings"]["convert_s"] = round(converted, 4)
        metadata = {**metadata, "converted_to_pdf": True}
        return page_count, pages, usage, metadata, repaired, notes
    pages, timings, metadata = parse_office(data, mime, options)
    # As for PDFs and text: a document with nothing to find is reported, not indexed empty.
    require_text(
        None,
        pages,
        page_count=len(pages),
        repaired=False,
        notes=[],
        ocr_mode=options.ocr_mode,
        failed_page_mode="",
    )
    return len(pages), pages, {"timings": timings}, metadata, False, []


def _parse_text(data: bytes, options: ParseOptions) -> tuple[list[PageResult], dict[str, float]]:
    started = time.perf_counter()
    text = data.decode("utf-8", errors="replace").lstrip("\ufeff")
    fragments = markdown_fragments(text, options.table_format)
    markdown = page_markdown(fragments, options.include_headers_footers)
    page = PageResult(1, 0.0, 0.0, markdown, fragments)
    require_text(
        None,
        [page],
        page_count=1,
        repaired=False,
        notes=[],
        ocr_mode=options.ocr_mode,
        failed_page_mode="",
    )
    return [page], {"open_s": 0.0, "parse_s": round(time.perf_counter() - started, 4)}


def _join_pages(pages: list[PageResult], separator: str | None) -> str:
    parts = [page for page in pages if page.markdown.strip()]
    if separator is None:
        return "\n\n".join(page.markdown for page in parts)
    out = ""
    for index, page in enumerate(parts):
        if index:
            out += separator.replace("{page_number}", str(page.page_number))
        out += page.markdown
    return out


def parse_bytes(
    data: bytes,
    *,
    document_id: str,
    source: str,
    filename: str,
    options: ParseOptions = ParseOptions(),  # noqa: B008 - frozen, so a shared default is safe
) -> ParseResult:
    """Parse one document's bytes in this process; every failure is a DocIngestError."""
    try:
        mime = check_input(data, filename, options.max_file_size_bytes)
        metadata: dict = {}
        repaired = False
        notes: list[str] = []
        if mime in MUPDF_TYPES:
            page_count, pages, usage, metadata, repaired, notes = _parse_document(
                data, mime, options, document_id
            )
        elif mime in OFFICE_TYPES:
            page_count, pages, usage, metadata, repaired, notes = _parse_office(
                data, mime, options, document_id
            )
        else:
            pages, timings = _parse_text(data, options)
            page_count, usage = 1, {"timings": timings}
        if options.compact_markdown_table:
            compact_tables(pages)
    except DocIngestError:
        raise
    except Exception as exc:
        raise DocIngestError(
            ErrorCode.INTERNAL_ERROR, f"unexpected {type(exc).__name__}: {exc}"
        ) from exc
    return ParseResult(
        document_id=document_id,
        source=source,
        sha256=sha256_bytes(data),
        mime_type=mime,
        page_count=page_count,
        engine=options.engine_label,
        options_hash=options.options_hash(),
        options=options.to_dict(),
        markdown=_join_pages(pages, options.page_separator),
        pages=pages,
        usage={
            "pages": sum(1 for page in pages if page.status == "ok"),
            "ocr_pages": sum(1 for page in pages if page.ocr),
            "failed_pages": sum(1 for page in pages if page.status == "error"),
            # repaired, empty_pages, ocr_unavailable_pages, warnings (see integrity.py)
            **usage_flags(pages, repaired, notes),
            # timings; PDF engines: engine_pages (and layout_triggers for engine=auto)
            **usage,
        },
        metadata=metadata,
    )
