"""Printed page labels: the PDF's own /PageLabels, else page numbers printed in the footers
when they run in step with the pages; carried into chunks, payloads and search hits."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from docingest.chunking import chunk_document
from docingest.ids import point_id_for
from docingest.models import BBox, Fragment, PageResult, ParseResult
from docingest.parsing import ParseOptions, parse_bytes, parse_file
from docingest.parsing.furniture import printed_labels
from docingest.payload import point_payload
from docingest.search import cited_pages, search
from docingest.sparse import Bm25Encoder
from docingest.vectorstore import PointData, VectorStore, close_local_clients
from tests.conftest import LAYOUT

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"


def _page(number: int, footer: str | None) -> PageResult:
    body = Fragment("text", f"Body of page {number}.", BBox(72, 200, 500, 220))
    fragments = [body]
    if footer is not None:
        fragments.append(Fragment("page_footer", footer, BBox(290, 805, 320, 815)))
    return PageResult(number, 612, 842, "", fragments)


@pytest.mark.parametrize(
    ("footers", "expected"),
    [
        # Front matter in roman numerals, then arabic from 1; the cover has none.
        (
            [None, "i", "ii", "iii", "1", "2", "3", "4"],
            {2: "i", 3: "ii", 4: "iii", 5: "1", 6: "2", 7: "3", 8: "4"},
        ),
        # A chapter opener without a footer between numbered pages gets its number.
        (["11", "12", None, "14", "15"], {1: "11", 2: "12", 3: "13", 4: "14", 5: "15"}),
        # One misread number among many: the offset most pages agree on wins.
        (["1", "2", "3", "9", "5", "6"], {n: str(n) for n in range(1, 7)}),
        # "Page N of M" and upper-case roman numerals.
        (["Page 7 of 12", "Page 8 of 12", "Page 9 of 12"], {1: "7", 2: "8", 3: "9"}),
        (["IV", "V", "VI"], {1: "IV", 2: "V", 3: "VI"}),
        # Numbers out of step with the pages: no labels rather than wrong ones.
        (["3", "1", "7", "2", "9"], {}),
        (["5", "5", "5", "5"], {}),  # the same number everywhere (a year, an issue)
        (["1", "2"], {}),  # too few pages to trust
        (["iiii", "v", "vi"], {}),  # not well-formed numerals
    ],
)
def test_printed_labels_only_when_in_step(
    footers: list[str | None], expected: dict[int, str]
) -> None:
    pages = [_page(n, footer) for n, footer in enumerate(footers, 1)]
    assert printed_labels(pages) == expected


def _labelled_pdf() -> bytes:
    """Six pages: a cover, roman front matter, then arabic from 1 (the PDF's /PageLabels)."""
    doc = pymupdf.open()
    for number in range(1, 7):
        doc.new_page().insert_text((72, 200), f"Harbour tariffs, section {number}.", fontsize=11)
    doc.set_page_labels(
        [
            {"startpage": 0, "prefix": "Cover", "style": "", "firstpagenum": 1},
            {"startpage": 1, "prefix": "", "style": "r", "firstpagenum": 1},
            {"startpage": 3, "prefix": "", "style": "D", "firstpagenum": 1},
        ]
    )
    return doc.tobytes()


def _footer_pdf(numbers: list[int]) -> bytes:
    doc = pymupdf.open()
    for index, number in enumerate(numbers):
        page = doc.new_page()
        page.insert_text((72, 40), "Harbour Authority quarterly report", fontsize=9)
        page.insert_text((72, 200), f"Body text of page {index + 1} goes here.", fontsize=11)
        page.insert_text((300, 815), str(number), fontsize=9)
    return doc.tobytes()


def _parse(data: bytes, engine: str) -> ParseResult:
    options = ParseOptions(engine=engine)  # type: ignore[arg-type]
    return parse_bytes(
        data, document_id="doc.pdf", source="mem", filename="doc.pdf", options=options
    )


@pytest.mark.parametrize("engine", [LAYOUT, "fast", "auto"])
def test_pdf_page_labels_win(engine: str) -> None:
    result = _parse(_labelled_pdf(), engine)
    assert [p.label for p in result.pages] == ["Cover", "i", "ii", "1", "2", "3"]
    again = ParseResult.from_dict(result.to_dict())
    assert [p.label for p in again.pages] == ["Cover", "i", "ii", "1", "2", "3"]


@pytest.mark.parametrize("engine", [LAYOUT, "fast", "auto"])
def test_printed_footer_numbers_become_labels(engine: str) -> None:
    result = _parse(_footer_pdf([41, 42, 43, 44]), engine)
    assert [p.label for p in result.pages] == ["41", "42", "43", "44"]
    shuffled = _parse(_footer_pdf([41, 7, 43, 12]), engine)
    assert [p.label for p in shuffled.pages] == [None] * 4


def test_real_corpus_pdfs() -> None:
    fast = ParseOptions(engine="fast", max_pages=6)  # type: ignore[arg-type]
    # A manual whose /PageLabels number the cover 1, the front matter i-iii, then 1, 2.
    manual = parse_file(CORPUS / "retrieval/mmlongbench/pdfs/honor_watch_gs_pro.pdf", options=fast)
    assert [p.label for p in manual.pages[:6]] == ["1", "i", "ii", "iii", "1", "2"]
    # A 10-Q without labels: the footers number the pages from the third on.
    filing = parse_file(
        CORPUS / "retrieval/docugami-sec10q/pdfs/2023 Q1 INTC.pdf",
        options=ParseOptions(engine="fast"),  # type: ignore[arg-type]
    )
    labels = {p.page_number: p.label for p in filing.pages}
    assert labels[1] is None and labels[3] == "1" and labels[43] == "41"


def test_labels_reach_chunks_payloads_and_hits(tmp_path: Path) -> None:
    parsed = _parse(_labelled_pdf(), "fast")
    chunks = chunk_document(parsed, "by_page", {})
    assert [c.page_labels for c in chunks] == [["Cover"], ["i"], ["ii"], ["1"], ["2"], ["3"]]
    encoder = Bm25Encoder()
    try:
        with VectorStore(path=str(tmp_path / "qdrant")) as store:
            store.ensure_collection(vector_size=2, model_name="m")
            points = [
                PointData(
                    point_id_for("doc.pdf", c.chunk_index, c.params_hash),
                    [1.0, float(c.chunk_index)],
                    point_payload(c, {"path": "doc.pdf"}, "m"),
                    encoder.document(c.text),
                )
                for c in chunks
            ]
            store.replace_document("doc.pdf", points)
            (hit,) = search(
                store, lambda _: [1.0, 0.0], "section 2", mode="sparse", top_k=1, context=1
            )
    finally:
        close_local_clients()
    assert (hit["page_start"], hit["page_labels"]) == (2, ["i"])
    assert cited_pages(hit) == "2-2 (p. i)"
    assert cited_pages({"page_start": 3, "page_end": 5, "page_labels": []}) == "3-5"
    assert cited_pages({"page_start": 3, "page_end": 5, "page_labels": ["ii", None, "2"]}) == (
        "3-5 (p. ii-2)"
    )
