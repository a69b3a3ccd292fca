"""Nothing damaged passes silently; OCR is an enhancement, not a gate (issue 10, points 7, 8).

Real files: the repository's sample PDFs and odl-bench documents, cut short the way a failed
upload or copy cuts them, and PDFs built with PyMuPDF. "No Tesseract" is made real by pointing
TESSDATA_PREFIX (which `ocr.tessdata_for` and PyMuPDF read first) at an empty folder, or at one
whose `eng.traineddata` is garbage, so Tesseract itself fails to start.
"""

from __future__ import annotations

import json
from pathlib import Path

import pymupdf
import pytest
from click.testing import CliRunner

from docingest.errors import DocIngestError, ErrorCode
from docingest.models import ParseResult
from docingest.parsing import ParseOptions, parse_bytes
from pipelines.cli import main
from tests.conftest import LAYOUT, corpus_pdf

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "documents" / "error-codes.pdf"  # 110 KB, 3 pages
PARTLY = "01030000000074.pdf"  # odl-bench: a third of it keeps ~13% of its text
CHART_PAGE = "01030000000123.pdf"  # odl-bench: a full text layer and one chart image
ENGINES = [LAYOUT, "fast"]


def _parse(data: bytes, filename: str = "doc.pdf", **options: object) -> ParseResult:
    opts = ParseOptions(**options)  # type: ignore[arg-type]
    return parse_bytes(data, document_id="doc", source="mem", filename=filename, options=opts)


def _error(data: bytes, filename: str = "doc.pdf", **options: object) -> DocIngestError:
    with pytest.raises(DocIngestError) as info:
        _parse(data, filename, **options)
    return info.value


def _text_pages(count: int, lines: int = 20) -> bytes:
    doc = pymupdf.open()
    for number in range(1, count + 1):
        page = doc.new_page()
        for line in range(lines):
            text = f"Page {number} line {line}: wind turbines turn moving air into electricity."
            page.insert_text((72, 80 + line * 30), text, fontsize=11)
    return doc.tobytes(deflate=True)  # as most writers do: compressed page contents


# -- point 7: damaged, blank and text-less documents ----------------------------------------


@pytest.mark.parametrize(
    ("engine", "keep"),
    [
        pytest.param("layout", 5000, id="layout-5000-bytes", marks=pytest.mark.real_model),
        pytest.param("fast", 5000, id="fast-5000-bytes"),
        pytest.param("fast", 1 / 3, id="fast-a-third"),
    ],
)
def test_truncated_sample_is_corrupt_file(engine: str, keep: float) -> None:
    """The issue's file: MuPDF repairs the first 5,000 bytes (or a third) of a 110 KB PDF into
    3 pages without a character on them. It used to "succeed" with 3 pages and 0 chunks."""
    data = SAMPLE.read_bytes()
    cut = data[: int(keep if keep > 1 else len(data) * keep)]
    assert pymupdf.open(stream=cut, filetype="pdf").page_count == 3  # it does open
    error = _error(cut, engine=engine)
    assert error.code is ErrorCode.CORRUPT_FILE and error.retryable is False
    assert error.message.startswith("no readable text on any of its 3 pages: the file is damaged")
    assert "MuPDF had to repair it" in error.message and "startxref" in error.message


@pytest.mark.parametrize("engine", ENGINES)
def test_partly_truncated_pdf_is_flagged(engine: str) -> None:
    """A third of a real page keeps some of its text: parsed, and flagged as repaired."""
    data = corpus_pdf(PARTLY).read_bytes()
    whole = _parse(data, engine="fast")
    assert whole.usage["repaired"] is False and whole.usage["warnings"] == []
    assert whole.usage["empty_pages"] == [] and whole.usage["ocr_unavailable_pages"] == []

    result = _parse(data[: len(data) // 3], engine=engine)
    assert result.usage["repaired"] is True and result.metadata["repaired"] is True
    assert result.usage["warnings"][0].startswith("the file is damaged and MuPDF repaired it")
    assert 0 < len(result.markdown) < len(whole.markdown) / 2  # a fraction of the text
    assert [p.status for p in result.pages] == ["ok"]


@pytest.mark.parametrize("engine", ENGINES)
def test_pages_emptied_by_truncation_are_listed(engine: str) -> None:
    """Six pages of text cut in half: MuPDF finds all six pages, the text of the first ones."""
    data = _text_pages(6)
    for keep in (0.5, 0.45, 0.55, 0.4, 0.6):  # a cut inside a dictionary is beyond repair
        cut = data[: int(len(data) * keep)]
        try:
            pymupdf.open(stream=cut, filetype="pdf").close()
            break
        except pymupdf.FileDataError:
            continue
    result = _parse(cut, engine=engine)
    assert result.page_count == 6 and result.usage["repaired"] is True
    empty = result.usage["empty_pages"]
    assert empty and 1 not in empty
    for page in result.pages:
        assert page.status == "ok"
        assert (f"Page {page.page_number} line" in page.markdown) is (page.page_number not in empty)
    assert f"no readable text on page(s) {', '.join(map(str, empty))}" in result.usage["warnings"]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_blank_page_among_text_is_flagged_not_failed(engine: str) -> None:
    doc = pymupdf.open(stream=_text_pages(2, lines=5), filetype="pdf")
    doc.new_page(pno=1)  # a blank page 2 between two pages of text
    result = _parse(doc.tobytes(), engine=engine)
    assert result.usage["empty_pages"] == [2] and result.usage["repaired"] is False
    assert result.usage["warnings"] == ["no readable text on page(s) 2"]
    assert result.usage["pages"] == 3 and result.usage["failed_pages"] == 0


@pytest.mark.parametrize("engine", ENGINES)
def test_a_blank_document_is_corrupt_file(engine: str) -> None:
    """Decided: a blank document is refused (with a message saying it is blank), not indexed
    as a success that no search can ever find."""
    doc = pymupdf.open()
    doc.new_page()
    doc.new_page()
    error = _error(doc.tobytes(), engine=engine)
    assert error.code is ErrorCode.CORRUPT_FILE and not error.retryable
    assert error.message == (
        "no readable text on any of its 2 pages: the pages are blank (no text, images or drawings)"
    )


@pytest.mark.real_model
def test_only_images_with_ocr_off_is_corrupt_file() -> None:
    doc = pymupdf.open()
    pix = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 300, 200), False)
    pix.set_rect(pix.irect, (90, 120, 200))
    doc.new_page().insert_image(pymupdf.Rect(72, 72, 472, 372), pixmap=pix)
    for engine in ("layout", "fast"):
        error = _error(doc.tobytes(), engine=engine, ocr_mode="off")
        assert error.code is ErrorCode.CORRUPT_FILE
        assert "images or drawings and OCR is off" in error.message


def test_a_text_file_of_whitespace_is_corrupt_file() -> None:
    error = _error(b"  \n\n\t \n", "notes.txt")
    assert error.code is ErrorCode.CORRUPT_FILE and "no readable text" in error.message


def test_running_headers_alone_are_kept_as_text() -> None:
    """The same line at the top of every page is a running header, left out of chunks; when it
    is all the document holds, it is the content (else the file would have no text)."""
    doc = pymupdf.open()
    for _ in range(4):
        doc.new_page().insert_text((72, 60), "Potato", fontsize=12)
    result = _parse(doc.tobytes(), engine="fast")
    assert result.markdown.split() == ["Potato"] * 4 and result.usage["empty_pages"] == []


def test_parse_cli_refuses_a_truncated_file_and_warns_on_a_damaged_one(tmp_path: Path) -> None:
    """`docingest parse` used to write an empty .md and exit 0 for the 5,000-byte file."""
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes(SAMPLE.read_bytes()[:5000])
    partly = tmp_path / "partly.pdf"
    data = corpus_pdf(PARTLY).read_bytes()
    partly.write_bytes(data[: len(data) // 3])
    out = tmp_path / "out"
    args = ["parse", str(truncated), str(partly), "--out", str(out), "--engine", "fast"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert not (out / "truncated.md").exists()
    error = json.loads((out / "truncated.error.json").read_text())
    assert error["code"] == "CORRUPT_FILE" and error["retryable"] is False
    assert "no readable text on any of its 3 pages" in error["message"]
    assert (out / "partly.md").read_text().strip()
    assert "partly.pdf: warning: the file is damaged and MuPDF repaired it" in " ".join(
        result.output.split()
    )


# -- point 8: OCR is an enhancement, not a gate ---------------------------------------------


@pytest.fixture
def no_tesseract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tesseract without its language data, as on a machine without tesseract-ocr-eng."""
    empty = tmp_path / "tessdata"
    empty.mkdir()
    monkeypatch.setenv("TESSDATA_PREFIX", str(empty))


def _chart_pixmap() -> pymupdf.Pixmap:
    source = pymupdf.open()
    page = source.new_page(width=400, height=240)
    for index, height in enumerate([60, 120, 90, 160]):
        bar = pymupdf.Rect(40 + index * 80, 220 - height, 90 + index * 80, 220)
        page.draw_rect(bar, color=(0, 0, 0), fill=(0.2, 0.4, 0.8))
    page.insert_text((40, 30), "Sales by region, 2024", fontsize=16)
    for index, name in enumerate(["North", "South", "East", "West"]):
        page.insert_text((45 + index * 80, 236), name, fontsize=10)
    return page.get_pixmap(dpi=150)


@pytest.fixture(scope="module")
def text_and_chart() -> bytes:
    """A page of text with a chart image in it: pymupdf4llm wants OCR for the chart's words."""
    doc = pymupdf.open()
    page = doc.new_page()
    y = 72
    for line in range(12):
        page.insert_text((72, y), f"Paragraph line {line}: regional sales grew.", fontsize=10)
        y += 14
    page.insert_image(pymupdf.Rect(72, y + 10, 472, y + 250), pixmap=_chart_pixmap())
    page.insert_text((72, y + 280), "After the chart: the east recovered.", fontsize=10)
    return doc.tobytes()


@pytest.mark.parametrize("engine", ENGINES)
def test_text_layer_is_kept_when_tesseract_is_missing(
    engine: str, text_and_chart: bytes, no_tesseract: None
) -> None:
    result = _parse(text_and_chart, engine=engine)
    without_ocr = _parse(text_and_chart, engine=engine, ocr_mode="off")
    (page,) = result.pages
    assert page.status == "ok" and not page.ocr and result.usage["failed_pages"] == 0
    assert result.markdown == without_ocr.markdown
    assert "Paragraph line 0" in result.markdown and "After the chart" in result.markdown
    if engine == "layout":  # it wanted OCR for the chart: a warning, counted
        assert result.usage["ocr_unavailable_pages"] == [1]
        assert page.error is not None and page.error["code"] == "OCR_ERROR"
        assert "own text layer was kept" in page.error["message"]
        assert "tesseract-ocr-eng" in page.error["message"]  # what to install
        assert result.usage["warnings"] == [
            "OCR could not run on page(s) 1; their own text layer was kept"
        ]
    else:  # the fast engine OCRs only pages without usable text
        assert result.usage["ocr_unavailable_pages"] == [] and page.error is None


@pytest.mark.real_model
def test_corpus_page_with_a_chart_parses_without_tesseract(no_tesseract: None) -> None:
    """One of the benchmark pages that failed OCR_ERROR on a machine without Tesseract."""
    data = corpus_pdf(CHART_PAGE).read_bytes()
    result = _parse(data, engine="layout")  # ocr auto, the default: the layout model wants OCR
    assert result.usage["ocr_unavailable_pages"] == [1] and result.pages[0].status == "ok"
    assert result.markdown == _parse(data, engine="layout", ocr_mode="off").markdown


@pytest.mark.real_model
def test_tesseract_failing_to_start_keeps_the_text_layer(
    text_and_chart: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tesseract present but broken (unreadable language data): MuPDF raises its own error
    type, which used to escape as CORRUPT_FILE; now auto keeps the text, force fails OCR_ERROR."""
    folder = tmp_path / "tessdata"
    folder.mkdir()
    (folder / "eng.traineddata").write_bytes(b"not a traineddata file" * 100)
    monkeypatch.setenv("TESSDATA_PREFIX", str(folder))
    result = _parse(text_and_chart)
    assert result.usage["ocr_unavailable_pages"] == [1]
    assert "Tesseract failed" in (result.pages[0].error or {}).get("message", "")
    error = _error(text_and_chart, ocr_mode="force")
    assert error.code is ErrorCode.OCR_ERROR and "Tesseract failed" in error.message


@pytest.mark.parametrize("engine", ENGINES)
def test_force_ocr_still_fails_without_tesseract(
    engine: str, text_and_chart: bytes, no_tesseract: None
) -> None:
    error = _error(text_and_chart, engine=engine, ocr_mode="force")
    assert error.code is ErrorCode.OCR_ERROR and not error.retryable
    assert "tesseract-ocr-eng" in error.message
