"""parse_bytes / parse_file: detection, limits, engine dispatch and the ParseResult."""

from __future__ import annotations

import time
from pathlib import Path

from docingest.errors import DocIngestError, ErrorCode
from docingest.ids import sha256_bytes
from docingest.models import PageResult, ParseResult
from docingest.parsing.detect import PDF_MIME, check_input, check_size
from docingest.parsing.options import ParseOptions
from docingest.parsing.pages import page_markdown, skipped_page
from docingest.parsing.pdf_open import open_pdf, pdf_metadata
from docingest.parsing.text import markdown_fragments


def _parse_pdf(
    data: bytes, options: ParseOptions
) -> tuple[int, list[PageResult], dict[str, float], dict]:
    started = time.perf_counter()
    doc = open_pdf(data, options.password)
    try:
        opened = time.perf_counter()
        page_count = doc.page_count
        limit = page_count if options.max_pages is None else min(page_count, options.max_pages)
        indexes = list(range(limit))
        if options.engine == "layout":
            # Imported here: loading the layout model costs seconds the fast engine never needs.
            from docingest.parsing.layout import parse_layout

            pages = parse_layout(doc, indexes, options)
        else:
            from docingest.parsing.fast import parse_fast

            pages = parse_fast(doc, indexes, options.include_headers_footers)
        if pages and all(page.status == "error" for page in pages):
            first = pages[0].error or {}
            raise DocIngestError(
                ErrorCode.CORRUPT_FILE, f"no page could be parsed; {first.get('message', '')}"
            )
        pages.extend(skipped_page(doc, index) for index in range(limit, page_count))
        metadata = pdf_metadata(doc)
    finally:
        doc.close()
    timings = {
        "open_s": round(opened - started, 4),
        "parse_s": round(time.perf_counter() - opened, 4),
    }
    return page_count, pages, timings, metadata


def _parse_text(data: bytes, options: ParseOptions) -> tuple[list[PageResult], dict[str, float]]:
    started = time.perf_counter()
    text = data.decode("utf-8", errors="replace").lstrip("\ufeff")
    fragments = markdown_fragments(text)
    markdown = page_markdown(fragments, options.include_headers_footers)
    page = PageResult(1, 0.0, 0.0, markdown, fragments)
    return [page], {"open_s": 0.0, "parse_s": round(time.perf_counter() - started, 4)}


def parse_bytes(
    data: bytes,
    *,
    document_id: str,
    source: str,
    filename: str,
    options: ParseOptions = ParseOptions(),  # noqa: B008 - frozen, so a shared default is safe
) -> ParseResult:
    """Parse one document's bytes; every failure is a DocIngestError with a code."""
    try:
        mime = check_input(data, filename, options.max_file_size_bytes)
        metadata: dict = {}
        if mime == PDF_MIME:
            page_count, pages, timings, metadata = _parse_pdf(data, options)
        else:
            pages, timings = _parse_text(data, options)
            page_count = 1
    except DocIngestError:
        raise
    except Exception as exc:
        raise DocIngestError(
            ErrorCode.INTERNAL_ERROR, f"unexpected {type(exc).__name__}: {exc}"
        ) from exc
    markdown = "\n\n".join(page.markdown for page in pages if page.markdown.strip())
    return ParseResult(
        document_id=document_id,
        source=source,
        sha256=sha256_bytes(data),
        mime_type=mime,
        page_count=page_count,
        engine=options.engine_label,
        options_hash=options.options_hash(),
        markdown=markdown,
        pages=pages,
        usage={
            "pages": sum(1 for page in pages if page.status == "ok"),
            "ocr_pages": sum(1 for page in pages if page.ocr),
            "timings": timings,
        },
        metadata=metadata,
    )


def parse_file(
    path: Path,
    *,
    document_id: str | None = None,
    options: ParseOptions = ParseOptions(),  # noqa: B008 - frozen, so a shared default is safe
) -> ParseResult:
    """Parse the file at `path`; the document id defaults to the file name."""
    path = Path(path)
    try:
        # Refuse an oversize file before reading it into memory.
        check_size(path.stat().st_size, options.max_file_size_bytes)
        data = path.read_bytes()
    except DocIngestError:
        raise
    except OSError as exc:
        raise DocIngestError(
            ErrorCode.UNABLE_TO_DOWNLOAD_FILE, f"cannot read {path}: {exc.strerror or exc}"
        ) from exc
    return parse_bytes(
        data,
        document_id=document_id if document_id is not None else path.name,
        source=str(path),
        filename=path.name,
        options=options,
    )
