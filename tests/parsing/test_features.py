"""OCR, figures, page selection and separators, furniture, merged tables, other formats."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from docingest.errors import ConfigError, DocIngestError, ErrorCode
from docingest.models import ParseResult
from docingest.parsing import ParseOptions, parse_bytes
from docingest.parsing.ocr import tessdata_for
from tests.conftest import LAYOUT

try:
    tessdata_for("eng")
    HAVE_TESSERACT = True
except DocIngestError:
    HAVE_TESSERACT = False
needs_tesseract = pytest.mark.skipif(not HAVE_TESSERACT, reason="tesseract-ocr not installed")
SCANNED_TEXT = "Scanned invoice total"


def _parse(data: bytes, filename: str = "doc.pdf", **options: object) -> ParseResult:
    opts = ParseOptions(**options)  # type: ignore[arg-type]
    return parse_bytes(data, document_id="doc", source="mem", filename=filename, options=opts)


def _scanned_pixmap() -> pymupdf.Pixmap:
    source = pymupdf.open()
    page = source.new_page(width=420, height=160)
    page.insert_text((20, 50), SCANNED_TEXT, fontsize=20)
    page.insert_text((20, 90), "Please pay within thirty days of receipt.", fontsize=14)
    page.insert_text((20, 120), "Thank you for your business with us.", fontsize=14)
    return page.get_pixmap(dpi=200)


@pytest.fixture(scope="module")
def scanned_pdf() -> bytes:
    """Page 1: real text; page 2: only a picture of text (no text layer)."""
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 300), "Typed cover page", fontsize=14)
    doc.new_page().insert_image(pymupdf.Rect(60, 250, 480, 410), pixmap=_scanned_pixmap())
    return doc.tobytes()


@needs_tesseract
@pytest.mark.parametrize("engine", [LAYOUT, "fast"])
def test_ocr_modes(scanned_pdf: bytes, engine: str) -> None:
    auto = _parse(scanned_pdf, engine=engine)
    assert [p.ocr for p in auto.pages] == [False, True] and auto.usage["ocr_pages"] == 1
    assert "invoice" in auto.pages[1].markdown.lower()
    off = _parse(scanned_pdf, engine=engine, ocr_mode="off")
    assert off.usage["ocr_pages"] == 0 and "invoice" not in off.markdown.lower()
    forced = _parse(scanned_pdf, engine="fast", ocr_mode="force")
    assert forced.usage["ocr_pages"] == 2 and "typed cover page" in forced.markdown.lower()


@pytest.mark.parametrize("engine", [LAYOUT, "fast"])
def test_ocr_missing_is_an_ocr_error(
    scanned_pdf: bytes, engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path))  # an empty tessdata: no Tesseract
    result = _parse(scanned_pdf, engine=engine, page_error_tolerance=0.5)
    typed, scanned = result.pages
    assert typed.status == "ok" and scanned.status == "error"
    assert scanned.error is not None and scanned.error["code"] == "OCR_ERROR"
    assert "apt-get install" in scanned.error["message"]
    with pytest.raises(DocIngestError) as info:
        _parse(scanned_pdf, engine=engine)
    assert info.value.code == ErrorCode.OCR_ERROR


@needs_tesseract
def test_missing_language_names_the_package() -> None:
    """A language Tesseract has no data for is refused with the options, before any work."""
    with pytest.raises(ConfigError, match="tesseract-ocr-xyz"):
        ParseOptions(engine="fast", ocr_languages="xyz")
    assert ParseOptions(ocr_languages="xyz", ocr_mode="off").ocr_languages == "xyz"


@needs_tesseract
def test_png_is_ocrd() -> None:
    result = _parse(_scanned_pixmap().tobytes("png"), filename="scan.png", engine="fast")
    assert result.mime_type == "image/png" and result.pages[0].ocr
    assert "invoice" in result.markdown.lower()


def _figure_pdf() -> bytes:
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 80), "A page with a chart below.", fontsize=11)
    pix = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 200, 120), False)
    pix.set_rect(pix.irect, (200, 30, 30))
    page.insert_image(pymupdf.Rect(72, 100, 372, 280), pixmap=pix)
    page.insert_text((72, 300), "Figure 1: Sales by region.", fontsize=9)
    return doc.tobytes()


@pytest.mark.parametrize("engine", [LAYOUT, "fast"])
def test_image_modes(engine: str, tmp_path: Path) -> None:
    data = _figure_pdf()
    assert "![" not in _parse(data, engine=engine).markdown
    placeholder = _parse(data, engine=engine, image_mode="placeholder").markdown
    assert "![" in placeholder
    saved = _parse(data, engine=engine, image_mode="save", image_dir=str(tmp_path))
    files = saved.metadata["images"]
    assert files and all(Path(f).is_file() for f in files)
    assert f"]({files[0]})" in saved.markdown


def _numbered_pdf(pages: int) -> bytes:
    doc = pymupdf.open()
    for number in range(1, pages + 1):
        page = doc.new_page()
        page.insert_text((72, 40), "ACME Corp annual report 2024", fontsize=9)
        page.insert_text((72, 200), f"Body text of page {number} goes here.", fontsize=11)
        page.insert_text((300, 815), str(number + 10), fontsize=9)
    return doc.tobytes()


@pytest.mark.parametrize("engine", [LAYOUT, "fast"])
def test_headers_footers_and_printed_numbers(engine: str) -> None:
    result = _parse(_numbered_pdf(4), engine=engine)
    assert "ACME" not in result.markdown and "Body text of page 3" in result.markdown
    assert all(
        any(f.type == "page_header" and "ACME" in f.content for f in p.fragments)
        for p in result.pages
    )
    assert result.metadata["printed_page_numbers"] == {"1": "11", "2": "12", "3": "13", "4": "14"}
    kept = _parse(_numbered_pdf(4), engine=engine, include_headers_footers=True)
    assert "ACME" in kept.markdown


def test_target_pages_and_separator() -> None:
    result = _parse(
        _numbered_pdf(5),
        engine="fast",
        target_pages="2,4-5",
        page_separator="\n\n---{page_number}\n\n",
    )
    assert [p.status for p in result.pages] == ["skipped", "ok", "skipped", "ok", "ok"]
    assert result.usage["pages"] == 3
    assert "page 2 goes" in result.markdown and "page 3" not in result.markdown
    assert "---4" in result.markdown and "---5" in result.markdown and "---2" not in result.markdown


def _table_page(doc: pymupdf.Document, rows: list[list[str]], top: float) -> None:
    page = doc.new_page()
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            rect = pymupdf.Rect(72 + c * 150, top + r * 24, 222 + c * 150, top + 24 + r * 24)
            page.draw_rect(rect, color=(0, 0, 0), width=0.8)
            page.insert_text((rect.x0 + 4, rect.y1 - 8), cell, fontsize=10)


@pytest.mark.real_model
def test_merge_tables_across_pages() -> None:
    doc = pymupdf.open()
    header = ["Item", "Count", "Price"]
    first = [header] + [[f"item {i}", str(i), f"{i}.00"] for i in range(1, 24)]
    _table_page(doc, first, 200)
    _table_page(doc, [header] + [[f"item {i}", str(i), f"{i}.00"] for i in range(24, 30)], 72)
    data = doc.tobytes()
    separate = _parse(data, page_error_tolerance=1.0)
    tables = [f for p in separate.pages for f in p.fragments if f.type == "table"]
    assert len(tables) == 2
    merged = _parse(data, merge_tables_across_pages=True)
    tables = [f for p in merged.pages for f in p.fragments if f.type == "table"]
    assert len(tables) == 1 and tables[0].html is not None
    assert "item 29" in tables[0].html and tables[0].html.count("Price") == 1


def test_svg_is_parsed() -> None:
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="400" height="200">'
        b'<text x="20" y="50" font-size="20">Vector drawing label</text></svg>'
    )
    result = _parse(svg, filename="drawing.svg", engine="fast")
    assert result.mime_type == "image/svg+xml" and "Vector drawing label" in result.markdown


@needs_tesseract
def test_high_res_ocr_reads_at_300_dpi(scanned_pdf: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """The resolution reaches Tesseract (the real call, watched), and the scan is still read."""
    real = pymupdf.Page.get_textpage_ocr
    seen: list[int] = []

    def watched(page: pymupdf.Page, *args: object, **kwargs: object) -> pymupdf.TextPage:
        seen.append(int(kwargs["dpi"]))  # type: ignore[call-overload]
        return real(page, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pymupdf.Page, "get_textpage_ocr", watched)
    for high_res, dpi in ((False, 150), (True, 300)):
        result = _parse(scanned_pdf, engine="fast", high_res_ocr=high_res)
        assert seen.pop() == dpi and "invoice" in result.pages[1].markdown.lower()
