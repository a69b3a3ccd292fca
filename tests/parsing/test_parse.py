"""Parsing real and built PDFs, text files, and every classified failure."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from docingest.errors import DocIngestError, ErrorCode
from docingest.ids import sha256_bytes
from docingest.models import FRAGMENT_TYPES, ParseResult
from docingest.parsing import ParseOptions, parse_bytes, parse_file
from tests.conftest import LAYOUT

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "odl-bench" / "pdfs"
CORPUS_PDF = CORPUS / "01030000000001.pdf"
needs_corpus = pytest.mark.skipif(not CORPUS_PDF.exists(), reason="benchmark corpus not present")
FAST = ParseOptions(engine="fast")


def _report_pdf() -> bytes:
    """Two pages: a title, a paragraph, a bulleted list, a ruled table, footers."""
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 90), "Quarterly Report", fontsize=22, fontname="hebo")
    page.insert_text((72, 122), "Revenue grew in every region this quarter.", fontsize=11)
    for n, item in enumerate(["Revenue grew by twelve percent.", "Costs stayed flat."]):
        page.insert_text((90, 146 + 16 * n), f"\u2022 {item}", fontsize=11)
    rows = [["Region", "Revenue", "Growth"], ["North", "120", "10%"], ["South", "95", "14%"]]
    for r, row in enumerate(rows):
        for c, cell in enumerate(row):
            rect = pymupdf.Rect(72 + c * 120, 190 + r * 22, 192 + c * 120, 212 + r * 22)
            page.draw_rect(rect, color=(0, 0, 0), width=0.8)
            page.insert_text((rect.x0 + 4, rect.y1 - 7), cell, fontsize=10)
    page.insert_text((72, 300), "The table lists revenue in millions of euros.", fontsize=11)
    second = doc.new_page()
    second.insert_text((72, 90), "Outlook", fontsize=16, fontname="hebo")
    second.insert_text((72, 120), "We expect steady growth next year.", fontsize=11)
    for number, pg in enumerate(doc, start=1):
        pg.insert_text((72, 820), f"Page {number} of 2", fontsize=8)
    doc.set_metadata({"title": "Quarterly", "author": "Finance"})
    return doc.tobytes()


@pytest.fixture(scope="module")
def report_pdf() -> bytes:
    return _report_pdf()


def _parse(data: bytes, filename: str = "doc.pdf", **options: object) -> ParseResult:
    opts = ParseOptions(**options)  # type: ignore[arg-type]
    return parse_bytes(data, document_id="doc", source="mem", filename=filename, options=opts)


def _check_shape(result: ParseResult) -> None:
    assert [p.page_number for p in result.pages] == list(range(1, result.page_count + 1))
    for page in result.pages:
        assert page.width > 0 and page.height > 0
        for frag in page.fragments:
            assert frag.type in FRAGMENT_TYPES
            box = frag.bbox
            assert 0 <= box.x0 <= box.x1 <= page.width + 1
            assert 0 <= box.y0 <= box.y1 <= page.height + 1
            assert (frag.level is not None) == (frag.type in ("title", "section_header"))


@pytest.mark.parametrize("engine", [LAYOUT, "fast"])
def test_built_report(report_pdf: bytes, engine: str) -> None:
    result = _parse(report_pdf, engine=engine)
    _check_shape(result)
    assert result.engine == f"pymupdf-{engine}"
    assert result.mime_type == "application/pdf"
    assert result.sha256 == sha256_bytes(report_pdf)
    assert result.page_count == 2 and result.usage["pages"] == 2
    assert result.usage["ocr_pages"] == 0 and set(result.usage["timings"]) == {"open_s", "parse_s"}
    assert result.metadata["title"] == "Quarterly" and result.metadata["author"] == "Finance"
    first = result.pages[0]
    types = [f.type for f in first.fragments]
    heading = next(f for f in first.fragments if "Quarterly Report" in f.content)
    assert heading.type in ("title", "section_header") and heading.level == 1
    assert 60 < heading.bbox.y0 < 90 <= heading.bbox.y1 + 2  # baseline at y=90
    assert types.count("list_item") == 2
    assert "page_footer" in types
    assert "Page 1 of 2" not in first.markdown  # footers are fragments, not page markdown
    assert "Quarterly Report" in result.markdown and "Outlook" in result.markdown
    if engine == "layout":
        table = next(f for f in first.fragments if f.type == "table")
        assert table.html is not None and "<th>Region</th>" in table.html
        assert table.content == table.html  # tables are HTML in the markdown by default
        assert 180 < table.bbox.y0 < table.bbox.y1 < 270
    assert result.to_dict()["pages"][0]["fragments"]


@pytest.mark.real_model
def test_layout_options(report_pdf: bytes) -> None:
    result = _parse(report_pdf, table_format="markdown", include_headers_footers=True, max_pages=1)
    assert [p.status for p in result.pages] == ["ok", "skipped"]
    assert result.page_count == 2 and result.usage["pages"] == 1
    table = next(f for f in result.pages[0].fragments if f.type == "table")
    assert table.content.startswith("| Region") and table.html and "<table>" in table.html
    assert "Page 1 of 2" in result.pages[0].markdown
    assert "Outlook" not in result.markdown


@needs_corpus
@pytest.mark.parametrize("engine", [LAYOUT, "fast"])
def test_corpus_pdf(engine: str) -> None:
    result = parse_file(CORPUS_PDF, options=ParseOptions(engine=engine))
    _check_shape(result)
    assert result.document_id == CORPUS_PDF.name and result.source == str(CORPUS_PDF)
    assert result.pages[0].fragments and result.markdown.strip()
    assert result.options_hash == ParseOptions(engine=engine).options_hash()


def test_text_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_bytes(b"# Notes\n\nSome text \xff here.\n\n- item\n")
    result = parse_file(path, document_id="notes")
    assert result.mime_type == "text/markdown" and result.page_count == 1
    page = result.pages[0]
    assert (page.width, page.height) == (0.0, 0.0)
    assert [f.type for f in page.fragments] == ["title", "text", "list_item"]
    assert "\ufffd" in result.markdown and result.markdown.startswith("# Notes")


def _assert_error(code: ErrorCode, data: bytes, filename: str = "x.pdf", **opts: object) -> str:
    with pytest.raises(DocIngestError) as info:
        _parse(data, filename, **opts)
    assert info.value.code == code
    assert info.value.retryable is code.retryable
    assert info.value.to_dict()["retryable"] is code.retryable
    return info.value.message


@needs_corpus
@pytest.mark.parametrize("fraction", [0.4, None])
def test_truncated_pdf(fraction: float | None) -> None:
    data = CORPUS_PDF.read_bytes()
    if fraction is None:
        _assert_error(ErrorCode.CORRUPT_FILE, data[:200], engine="fast")
        return
    cut = data[: int(len(data) * fraction)]
    try:
        result = _parse(cut, engine="fast")
    except DocIngestError as exc:
        assert exc.code == ErrorCode.CORRUPT_FILE and not exc.retryable
    else:  # MuPDF repaired it: the pages it could read are there, and the repair is recorded
        assert result.metadata.get("repaired") is True
        assert all(p.status in ("ok", "error") for p in result.pages)


def test_encrypted_pdf() -> None:
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "Top secret content", fontsize=12)
    data = doc.tobytes(encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="u", owner_pw="o")
    assert "password" in _assert_error(ErrorCode.PASSWORD_PROTECTED_FILE, data, engine="fast")
    message = _assert_error(ErrorCode.PASSWORD_PROTECTED_FILE, data, password="wr0ng-pw")
    assert "wr0ng-pw" not in message
    result = _parse(data, engine="fast", password="u")
    assert "Top secret content" in result.markdown
    assert result.metadata.get("encrypted") is True


def test_bad_inputs() -> None:
    assert "GIF" in _assert_error(ErrorCode.FILE_TYPE_NOT_SUPPORTED, b"GIF89a\x01\x00")
    assert ".pdf" in _assert_error(ErrorCode.FILE_TYPE_NOT_SUPPORTED, b"just some text\n")
    assert "empty" in _assert_error(ErrorCode.CORRUPT_FILE, b"")
    big = b"%PDF-1.4\n" + b"0" * 4096
    _assert_error(ErrorCode.FILE_SIZE_TOO_LARGE, big, max_file_size_mb=0.001)
    _assert_error(ErrorCode.CORRUPT_FILE, b"%PDF-1.4\n% nothing else here\n")


def test_parse_file_oversize_and_missing(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"a" * 4096)
    with pytest.raises(DocIngestError) as info:
        parse_file(path, options=ParseOptions(max_file_size_mb=0.001))
    assert info.value.code == ErrorCode.FILE_SIZE_TOO_LARGE
    with pytest.raises(DocIngestError) as info:
        parse_file(tmp_path / "missing.pdf")
    assert info.value.code == ErrorCode.UNABLE_TO_DOWNLOAD_FILE


@pytest.mark.real_model
def test_failing_page_is_isolated(report_pdf: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    from docingest.parsing import fast, layout

    real_extract, real_convert = fast._extract, layout._convert

    def extract(page: pymupdf.Page) -> object:
        if page.number == 1:
            raise RuntimeError("damaged content stream")
        return real_extract(page)

    def convert(doc: pymupdf.Document, indexes: list[int], *args: object) -> list[dict]:
        if 1 in indexes:
            raise ValueError("model failure")
        return real_convert(doc, indexes, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(fast, "_extract", extract)
    monkeypatch.setattr(layout, "_convert", convert)
    for engine, code in (("fast", "CORRUPT_FILE"), ("layout", "INTERNAL_ERROR")):
        result = _parse(
            report_pdf, engine=engine, page_error_tolerance=0.5, failed_page_mode="blank_page"
        )
        ok, bad = result.pages
        assert ok.status == "ok" and "Quarterly Report" in ok.markdown
        assert bad.status == "error" and bad.markdown == "" and bad.width > 0
        assert bad.error is not None and bad.error["code"] == code
        assert bad.error["retryable"] is ErrorCode(code).retryable
        assert result.usage["pages"] == 1 and result.usage["failed_pages"] == 1
        assert "Outlook" in _parse(report_pdf, engine=engine, page_error_tolerance=0.5).markdown
        shown = _parse(
            report_pdf, engine=engine, page_error_tolerance=0.5, failed_page_mode="error_message"
        )
        assert f"[page 2 failed: {code}]" in shown.markdown
        wrapped = _parse(
            report_pdf,
            engine=engine,
            page_error_tolerance=0.5,
            failed_page_mode="error_message",
            replace_failed_page_with_error_message_prefix="<!-- ",
            replace_failed_page_with_error_message_suffix=" -->",
        )
        assert f"<!-- [page 2 failed: {code}] -->" in wrapped.markdown
        # one page of two failing is over the default tolerance (5 %): the document fails
        assert "1 of 2 pages failed" in _assert_error(ErrorCode(code), report_pdf, engine=engine)


def test_all_pages_failing_is_corrupt(report_pdf: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    from docingest.parsing import fast

    def extract(page: pymupdf.Page) -> object:
        raise RuntimeError("damaged content stream")

    monkeypatch.setattr(fast, "_extract", extract)
    assert "damaged" in _assert_error(ErrorCode.CORRUPT_FILE, report_pdf, engine="fast")


def test_unexpected_failure_is_internal(monkeypatch: pytest.MonkeyPatch) -> None:
    from docingest.parsing import api

    def boom(*args: object) -> list:
        raise KeyError("bug")

    monkeypatch.setattr(api, "markdown_fragments", boom)
    message = _assert_error(ErrorCode.INTERNAL_ERROR, b"# hi\n", filename="a.md")
    assert "KeyError" in message
