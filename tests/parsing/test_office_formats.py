"""Office and web formats on real files from ../shared/corpus/office: per format, headings,
a table's cells (with spans) and reading order, through the same parse result as PDFs."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from docingest.errors import DocIngestError, ErrorCode
from docingest.models import ParseResult
from docingest.parsing import ParseOptions, detect_mime, parse_bytes
from docingest.parsing.office.convert import soffice

OFFICE = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "office"


def corpus(name: str) -> Path:
    path = OFFICE / name
    if not path.exists():
        pytest.fail(f"the shared corpus is missing {path}")
    return path


def parse(name: str, **options: object) -> ParseResult:
    path = corpus(name)
    return parse_bytes(
        path.read_bytes(),
        document_id=path.name,
        source=str(path),
        filename=path.name,
        options=ParseOptions(**options),  # type: ignore[arg-type]
    )


def headings(result: ParseResult) -> list[tuple[int | None, str]]:
    return [
        (f.level, f.content.lstrip("# "))
        for page in result.pages
        for f in page.fragments
        if f.type in ("title", "section_header")
    ]


def tables(result: ParseResult) -> list[str]:
    return [f.html or "" for page in result.pages for f in page.fragments if f.type == "table"]


def in_order(text: str, *parts: str) -> bool:
    positions = [text.find(part) for part in parts]
    return -1 not in positions and positions == sorted(positions)


@pytest.mark.parametrize(
    ("name", "mime"),
    [
        ("docx/mk-test.docx", "wordprocessingml"),
        ("docx/poi-45690.docm", "wordprocessingml"),
        ("pptx/mk-test.pptx", "presentationml"),
        ("xlsx/poi-mv-calculator-final-2-20-2013.xlsm", "spreadsheetml"),
        ("xlsx/poi-49609.xlsx", "spreadsheetml"),  # backslash part names
        ("odt/pandoc-tableWithSpans.odt", "opendocument.text"),
        ("ods/docling-odf_table_with_title_01.ods", "opendocument.spreadsheet"),
        ("odp/docling-odf_presentation_01.odp", "opendocument.presentation"),
        ("doc/docling-legacy_sample.doc", "msword"),
        ("xls/docling-legacy_sample.xls", "ms-excel"),
        ("ppt/docling-legacy_sample.ppt", "ms-powerpoint"),
        ("rtf/pandoc-table_error_codes.rtf", "rtf"),
        ("html/mk-test_blog.html", "text/html"),  # inline <svg> icons in its head
        ("html/uns-example-10k-1p.html", "text/html"),  # XHTML behind an XML declaration
        ("csv/mk-test_mskanji.csv", "text/csv"),
        ("eml/tika-testRFC822_multipart_attachments.eml", "message/rfc822"),
        ("docx/tika-testWORD_protected_passtika.docx", "ooxml-encrypted"),
    ],
)
def test_detected_by_content(name: str, mime: str) -> None:
    data = corpus(name).read_bytes()
    assert mime in detect_mime(data, Path(name).name)
    if mime != "text/csv":  # CSV is plain text: its name says which text it is
        assert mime in detect_mime(data, "renamed.bin")  # the name does not decide


def test_docx_heading_levels_numbering_and_order() -> None:
    result = parse("docx/docling-unit_test_headers_numbered.docx")
    found = headings(result)
    assert found[0] == (1, "Test Document")
    assert (2, "1. Section 1") in found and (3, "1.1. Section 1.1") in found
    assert (4, "1.2.1. Section 1.2.3") in found
    assert result.pages[0].fragments[0].type == "title"
    assert in_order(result.markdown, "## 1. Section 1", "### 1.1. Section 1.1", "## 2. Section 2")
    assert "    1. Section A.1" in result.markdown  # nested numbered list, one level down
    assert result.page_count == 2  # Word's own page breaks


def test_docx_tables_with_merged_cells_links_and_nesting() -> None:
    result = parse("docx/uns-docx-tables.docx")
    merged = tables(result)[-1]
    assert '<td rowspan="2">a</td><td colspan="2">b</td>' in merged
    assert '<td colspan="2">e</td>' in merged
    assert "[A link example](https://tabul.com/)" in result.markdown
    assert in_order(result.markdown, "Simple uniform table", "Table with merged cells")


def test_docx_content_controls_and_text_boxes() -> None:
    rich = parse("docx/docling-docx_rich_tables_01.docx")
    assert len(tables(rich)) == 2  # tables inside w:sdt content controls
    boxes = parse("docx/docling-textbox.docx")
    assert "Infectious Disease Reporting Procedure" in boxes.markdown


def test_pptx_slides_are_pages_with_titles_tables_notes_and_boxes() -> None:
    result = parse("pptx/pandoc-basic.pptx")
    assert result.page_count == 4
    assert [text for _, text in headings(result)][:2] == ["LLMs", "Everworker venn diagram"]
    table = next(t for t in tables(result))
    assert "<td>Name</td><td>Anton</td><td>Antich</td>" in table
    page = result.pages[0]
    assert page.width > 0 and page.fragments[0].bbox.x1 > page.fragments[0].bbox.x0
    notes = parse("pptx/poi-2411-Performance_Up.pptx")
    assert "Speaker notes: Hello crowd" in notes.pages[0].markdown
    quiet = parse("pptx/poi-2411-Performance_Up.pptx", presentation_include_notes=False)
    assert "Speaker notes" not in quiet.markdown
    charts = parse("pptx/mk-test.pptx", presentation_skip_embedded_data=False)
    assert "a3f6004b-6f4f-4ea8-bee3-3741f4dc385f" in charts.pages[3].markdown  # chart title
    assert "<td></td><td>Series 1</td>" in charts.pages[3].markdown
    assert "Series 1" not in parse("pptx/mk-test.pptx").markdown


def test_xlsx_sheets_are_pages_with_merged_title_rows() -> None:
    result = parse("xlsx/uns-stanley-cups.xlsx")
    assert result.page_count == 2
    assert [s["name"] for s in result.metadata["sheets"]] == [
        "Stanley Cups",
        "Stanley Cups Since 67",
    ]
    first = tables(result)[0]
    assert first.startswith('<table><tr><td colspan="3">Stanley Cups</td></tr>')
    assert "<td>Maple Leafs</td><td>TOR</td><td>13</td>" in first
    assert headings(result)[0][1] == "Stanley Cups"


def test_xlsx_displayed_numbers_sub_tables_and_inflated_range() -> None:
    result = parse("xlsx/poi-AverageTaxRates.xlsx")
    assert "<td>6,000</td>" in tables(result)[0] and "6.2%" in tables(result)[0]
    inflated = parse("xlsx/docling-xlsx_04_inflated.xlsx")  # claims 1,048,496 rows
    assert "<td>first</td><td>second</td><td>third</td>" in inflated.markdown
    budget = parse("xlsx/poi-simple-monthly-budget.xlsx")
    assert len(tables(budget)) >= 2  # blocks separated by empty rows/columns
    whole = parse("xlsx/poi-simple-monthly-budget.xlsx", spreadsheet_extract_sub_tables=False)
    assert len(tables(whole)) == 1


def test_xls_legacy_workbook() -> None:
    result = parse("xls/docling-legacy_sample.xls")
    assert "Number of freshwater ducks per year" in result.markdown
    assert "<td>2019</td><td>120</td>" in tables(result)[0]


def test_html_structure_and_boilerplate() -> None:
    result = parse("html/docling-html_rich_table_cells.html")
    assert headings(result)[0] == (1, "Rich Table Cells in HTML")
    assert "<td>Goose (not a duck!)</td><td>Water &amp; wetlands</td>" in tables(result)[0]
    assert "Evolve: Shared Mutable History" in parse("html/readability-mercurial.html").markdown
    wiki = parse("html/docling-wiki_duck.html")
    assert "Jump to content" not in wiki.markdown  # navigation removed by default
    kept = parse("html/docling-wiki_duck.html", html_remove_navigation_elements=False)
    assert "Jump to content" in kept.markdown
    assert headings(wiki)[0] == (1, "Duck")
    assert in_order(wiki.markdown, "## Etymology", "## Taxonomy", "## Morphology")


def test_csv_encoding_and_cells() -> None:
    result = parse("csv/mk-test_mskanji.csv")
    assert "<td>佐藤太郎</td><td>30</td><td>東京</td>" in tables(result)[0]
    ragged = parse("csv/docling-csv-too-many-columns.csv")
    assert "<td>e</td>" in tables(ragged)[0]


def test_odt_spans_headings_and_pages() -> None:
    spans = tables(parse("odt/pandoc-tableWithSpans.odt"))[0]
    assert '<td rowspan="2">H1 Rowspan 2</td>' in spans
    assert '<td colspan="2" rowspan="2">Columnspan &amp; Rowspan 2</td>' in spans
    result = parse("odt/docling-text_document_03.odt")
    found = [text for _, text in headings(result)]
    assert found.index("Table with rich cells") < found.index("Table with nested table")


def test_ods_and_odp() -> None:
    sheet = parse("ods/docling-odf_table_with_title_01.ods")
    assert "<td>2023</td><td>160</td>" in tables(sheet)[0]
    slides = parse("odp/docling-odf_presentation_01.odp")
    assert headings(slides)[0][1] == "Test Table Slide"
    assert '<td colspan="2">A merged with B</td>' in tables(slides)[0]
    assert slides.page_count == 3


def test_rtf_table_and_code_page() -> None:
    result = parse("rtf/pandoc-table_error_codes.rtf")
    assert "<td>3</td><td>PandocFailOnWarningError</td>" in tables(result)[0]
    japanese = parse("rtf/tika-testRTFJapanese.rtf")
    assert "ゾルゲと尾崎" in japanese.markdown


def test_eml_headers_body_and_listed_attachments() -> None:
    result = parse("eml/tika-testRFC822_multipart_attachments.eml")
    assert headings(result)[0][1] == "EML 1"
    assert "This is the html body of the main msg." in result.markdown
    assert [a["name"] for a in result.metadata["attachments"]] == ["Test TxtA.txt", "Test TxtB.txt"]


def test_outlook_msg_is_refused_with_what_to_do() -> None:
    with pytest.raises(DocIngestError) as info:
        parse("msg/mk-test_outlook_msg.msg")
    assert info.value.code == ErrorCode.FILE_TYPE_NOT_SUPPORTED and ".eml" in info.value.message


@pytest.mark.skipif(soffice() is None, reason="LibreOffice is not installed")
def test_legacy_doc_and_ppt_through_libreoffice() -> None:
    doc = parse("doc/docling-legacy_sample.doc")
    assert doc.markdown.strip() and tables(doc)
    ppt = parse("ppt/docling-legacy_sample.ppt")
    assert headings(ppt)[0][1] == "Test Table Slide" and ppt.page_count == 3


@pytest.mark.skipif(soffice() is None, reason="LibreOffice is not installed")
def test_convert_mode_gives_pdf_pages_and_boxes() -> None:
    result = parse("docx/mk-test.docx", office_mode="convert", engine="fast")
    assert result.page_count >= 2 and result.metadata["converted_to_pdf"]
    box = result.pages[0].fragments[0].bbox
    assert box.x1 > box.x0 > 0 and result.pages[0].width > 500
    assert "AutoGen" in result.markdown


def test_pages_expected_from_conversion_for_the_time_limit() -> None:
    from docingest.parsing.office.convert import expected_pages

    assert expected_pages(corpus("docx/mk-test.docx").read_bytes()) == 2
    assert expected_pages(corpus("odt/odft-OpenDocument-v1.2-os-part1.odt").read_bytes()) == 846
    assert expected_pages(b"not a zip") == 0


def test_legacy_without_libreoffice_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(DocIngestError) as info:
        parse("doc/docling-legacy_sample.doc")
    assert info.value.code == ErrorCode.FILE_TYPE_NOT_SUPPORTED
    assert "libreoffice-writer" in info.value.message
    with pytest.raises(DocIngestError) as converting:
        parse("docx/mk-test.docx", office_mode="convert")
    assert converting.value.code == ErrorCode.FAILED_TO_CONVERT_TO_PDF


def test_hidden_sheets_skipped_unless_asked() -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.title = "Shown"
    book.active["A1"], book.active["B1"] = "visible", 1
    hidden = book.create_sheet("Secret")
    hidden["A1"], hidden["B1"] = "hidden text", 2
    hidden.sheet_state = "hidden"
    buffer = io.BytesIO()
    book.save(buffer)
    data = buffer.getvalue()
    default = parse_bytes(data, document_id="b", source="b", filename="b.xlsx")
    assert "hidden text" not in default.markdown and default.page_count == 1
    asked = parse_bytes(
        data, document_id="b", source="b", filename="b.xlsx",
        options=ParseOptions(spreadsheet_include_hidden_sheets=True),
    )  # fmt: skip
    assert "hidden text" in asked.markdown and asked.page_count == 2


def test_every_fragment_has_a_known_type_and_page_markdown() -> None:
    for name in ("docx/mk-test.docx", "pptx/mk-test.pptx", "html/mk-test_blog.html"):
        result = parse(name)
        assert result.pages and all(
            re.sub(r"\s", "", p.markdown) or not p.fragments for p in result.pages
        )
        assert {f.type for p in result.pages for f in p.fragments} <= {
            "title", "section_header", "text", "list_item", "table", "figure", "caption",
            "footnote", "page_header", "page_footer", "formula",
        }  # fmt: skip
