"""A DOCX, an HTML page and a PDF ingested together through the real pipeline and searched:
office formats chunk, embed and cite like PDFs (heading breadcrumbs from styles, slides and
sheets as pages)."""

import shutil
from pathlib import Path

import dagster as dg

from docingest.search import search_points
from docingest.storage import DocumentStore
from pipelines.ingest import ingest_folder
from tests.conftest import CORPUS_QUERIES, corpus_pdf
from tests.parsing.test_office_formats import corpus

PDF = "01030000000001.pdf"


def test_ingest_docx_html_and_pdf_then_search(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    folder = tmp_path / "uploads"
    folder.mkdir()
    shutil.copyfile(corpus("docx/docling-unit_test_headers_numbered.docx"), folder / "spec.docx")
    shutil.copyfile(corpus("html/readability-mercurial.html"), folder / "evolve.html")
    shutil.copyfile(corpus_pdf(PDF), folder / PDF)

    summary = ingest_folder(instance, folder)
    assert (summary.succeeded, summary.failed) == (3, 0)
    assert summary.points == summary.chunks > 0

    store = DocumentStore(home)
    chunks = store.read_chunks("spec.docx")
    breadcrumbs = [chunk.headings for chunk in chunks]
    assert ["Test Document", "2. Section 2", "2.1. Section 2.1"] in breadcrumbs  # from styles
    assert {chunk.page_start for chunk in chunks} == {1, 2}  # Word's page breaks

    hits = search_points("sharing mutable history between repositories with evolve", top_k=3)
    assert hits[0]["document_id"] == "evolve.html"
    hits = search_points(CORPUS_QUERIES[PDF], top_k=3)
    assert hits[0]["document_id"] == PDF
