"""Parse results built from real PDFs with PyMuPDF's layout markdown (the parser module is
written separately; this small adapter stands in for it)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pymupdf
import pytest

from docingest.models import BBox, Fragment, PageResult, ParseResult
from docingest.parsing.layout import pymupdf4llm_with_layout

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "odl-bench" / "pdfs"
CORPUS_IDS = ("01030000000001", "01030000000018", "01030000000083", "01030000000113")
_CLASSES = {
    "section-header": "section_header",
    "page-header": "page_header",
    "page-footer": "page_footer",
    "picture": "figure",
    "list-item": "list_item",
    "title": "title",
    "text": "text",
    "table": "table",
    "caption": "caption",
    "formula": "formula",
    "footnote": "footnote",
}
_LOREM = (
    "Chunking keeps related sentences together so that retrieval returns whole thoughts. "
    "Each paragraph talks about pipelines, parsers and vector stores in plain words. "
)


def _fragment(text: str, box: dict) -> Fragment:
    kind = _CLASSES.get(box["class"], "text")
    start, end = box["pos"]
    content = text[start:end].strip()
    level = None
    if kind == "section_header":
        marks = re.match(r"#+", content)
        level = len(marks.group(0)) if marks else 2
    elif kind == "title":
        level = 1
    return Fragment(kind, content, BBox(*map(float, box["bbox"])), level)


def parse_pdf(path: Path, document_id: str | None = None) -> ParseResult:
    """A ParseResult for `path` from pymupdf4llm's page chunks and page boxes."""
    doc = pymupdf.open(path)
    with contextlib.redirect_stdout(io.StringIO()):
        chunks = pymupdf4llm_with_layout().to_markdown(doc, page_chunks=True)
    pages = []
    for number, chunk in enumerate(chunks, start=1):
        rect = doc[number - 1].rect
        fragments = [_fragment(chunk["text"], box) for box in chunk["page_boxes"]]
        pages.append(PageResult(number, rect.width, rect.height, chunk["text"], fragments))
    return ParseResult(
        document_id=document_id or path.name,
        source=str(path),
        sha256="0" * 64,
        mime_type="application/pdf",
        page_count=len(pages),
        engine="pymupdf4llm-test",
        options_hash="test",
        markdown="\n\n".join(page.markdown for page in pages),
        pages=pages,
    )


def build_multipage_pdf(path: Path) -> Path:
    """Six pages of h1/h2/p/ul, two of them with an 18-row table."""
    doc = pymupdf.open()
    for n in range(1, 7):
        page = doc.new_page(width=612, height=792)
        html = f"<h1>Chapter {n}: Topic {n}</h1><p>{_LOREM * 3}</p>"
        html += f"<h2>Section {n}.1 Details</h2><p>{_LOREM * 2}</p><ul>"
        html += "".join(f"<li>Item {n}.{i} about ingestion step {i}</li>" for i in range(4))
        html += "</ul>"
        if n in (3, 5):
            rows = "".join(
                f"<tr><td>R{n}-{i}</td><td>{i * 7}</td><td>value {i} of table {n}</td></tr>"
                for i in range(18)
            )
            html += f"<h2>Section {n}.2 Table</h2><table border='1'>"
            html += f"<tr><th>Name</th><th>Count</th><th>Note</th></tr>{rows}</table>"
        else:
            html += f"<h2>Section {n}.2 More</h2><p>{_LOREM * 2}</p>"
        page.insert_htmlbox(pymupdf.Rect(50, 50, 562, 742), html)
    doc.save(path)
    return path


@pytest.fixture(scope="session")
def multipage(tmp_path_factory: pytest.TempPathFactory) -> ParseResult:
    path = build_multipage_pdf(tmp_path_factory.mktemp("pdf") / "multi.pdf")
    return parse_pdf(path, "synthetic/multi.pdf")


@pytest.fixture(scope="session")
def corpus_docs() -> list[ParseResult]:
    if not CORPUS.is_dir():
        pytest.skip("benchmark corpus not available")
    return [parse_pdf(CORPUS / f"{name}.pdf", f"odl/{name}.pdf") for name in CORPUS_IDS]


@pytest.fixture(scope="session")
def book(corpus_docs: list[ParseResult]) -> ParseResult:
    """The corpus pages bound into one multi-page document."""
    pages = [page for doc in corpus_docs for page in doc.pages]
    pages = [
        PageResult(n, p.width, p.height, p.markdown, p.fragments)
        for n, p in enumerate(pages, start=1)
    ]
    first = corpus_docs[0]
    return ParseResult(
        document_id="odl/book.pdf",
        source="book.pdf",
        sha256=first.sha256,
        mime_type=first.mime_type,
        page_count=len(pages),
        engine=first.engine,
        options_hash=first.options_hash,
        markdown="\n\n".join(page.markdown for page in pages),
        pages=pages,
    )


@pytest.fixture(scope="session")
def all_docs(
    multipage: ParseResult, corpus_docs: list[ParseResult], book: ParseResult
) -> list[ParseResult]:
    return [multipage, *corpus_docs, book]
