"""engine=auto: which pages go to the layout model and why, the options, and one result shape."""

from __future__ import annotations

import json
from pathlib import Path

import pymupdf
import pytest
from click.testing import CliRunner

from docingest.errors import ConfigError
from docingest.models import FRAGMENT_TYPES, ParseResult
from docingest.parsing import ParseOptions, parse_bytes, parse_file
from pipelines.cli import main
from resources.parser import ParserResource

SHARED = Path(__file__).resolve().parents[3] / "shared" / "corpus"
ODL = SHARED / "odl-bench" / "pdfs"
FILING = SHARED / "retrieval" / "docugami-sec10q" / "pdfs" / "2023 Q1 AAPL.pdf"
needs_corpus = pytest.mark.skipif(not FILING.exists(), reason="benchmark corpora not present")
_PROSE = (
    "The committee met on Tuesday to review the annual budget and the plans for the next "
    "year. Members discussed staffing, travel and the cost of the new building in detail. "
)


def _grid(page: pymupdf.Page, top: float, rows: list[list[str]], merge_head: bool) -> None:
    """A ruled table; `merge_head`: no rule between the header's first two cells (a span)."""
    for r, row in enumerate(rows):
        y0, y1 = top + r * 22, top + (r + 1) * 22
        for c, cell in enumerate(row):
            x0, x1 = 72 + c * 120, 192 + c * 120
            page.draw_line((x0, y0), (x1, y0))
            page.draw_line((x0, y1), (x1, y1))
            if c == 0 or not (merge_head and r == 0 and c == 1):
                page.draw_line((x0, y0), (x0, y1))
            page.insert_text((x0 + 4, y1 - 7), cell, fontsize=10)
        page.draw_line((72 + len(row) * 120, y0), (72 + len(row) * 120, y1))


def _mixed_pdf() -> bytes:
    """Seven pages, one per route: prose, a clean ruled table, a picture, aligned columns under a
    heading, a keyword, a scan, a ruled table with a spanning header cell."""
    doc = pymupdf.open()
    page = doc.new_page()  # 1: a 20 pt title, a 14 pt bold heading, prose
    page.insert_text((72, 80), "Annual Review", fontsize=20, fontname="hebo")
    page.insert_text((72, 120), "Budget Overview", fontsize=14, fontname="hebo")
    page.insert_textbox(pymupdf.Rect(72, 135, 520, 400), _PROSE * 4, fontsize=11)
    page = doc.new_page()  # 2: a ruled table the fast path reads itself
    page.insert_text((72, 80), "Teams and their offices.", fontsize=11)
    rows = [["Team", "Lead", "Office"]] + [[f"Team {i}", f"Lead {i}", "Berlin"] for i in range(6)]
    _grid(page, 100, rows, merge_head=False)
    page = doc.new_page()  # 3: a picture over half the page
    page.insert_text((72, 80), "The new building, seen from the south.", fontsize=11)
    pix = pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 200, 150), 0)
    pix.set_rect(pix.irect, (120, 160, 200))
    page.insert_image(pymupdf.Rect(72, 100, 520, 500), pixmap=pix)
    page = doc.new_page()  # 4: a 14 pt heading over a table without rules: 12 rows of 4 cells
    page.insert_text((72, 80), "Travel Costs", fontsize=14, fontname="hebo")
    for r in range(12):
        for c, x in enumerate((72, 250, 350, 450)):
            page.insert_text((x, 110 + r * 16), f"Route {r}" if c == 0 else f"{r}.{c}", fontsize=10)
    page = doc.new_page()  # 5: prose with a keyword
    page.insert_textbox(pymupdf.Rect(72, 72, 520, 400), "CONFIDENTIAL. " + _PROSE * 3, fontsize=11)
    page = doc.new_page()  # 6: a scan: the words are pixels, no text layer
    scan = pymupdf.open()
    scan.new_page(width=300, height=100).insert_text((10, 50), "Scanned minutes", fontsize=24)
    picture = scan[0].get_pixmap(dpi=200)
    page.insert_image(pymupdf.Rect(72, 72, 522, 222), pixmap=picture)
    page = doc.new_page()  # 7: a ruled table whose header cell spans two columns
    page.insert_text((72, 80), "Offices by region.", fontsize=11)
    rows = [["Region and city", "", "Room"]] + [
        ["North", f"City {i}", f"Room {i}A"] for i in range(6)
    ]
    _grid(page, 100, rows, merge_head=True)
    return doc.tobytes()


@pytest.fixture(scope="module")
def mixed() -> bytes:
    return _mixed_pdf()


def _parse(data: bytes, **options: object) -> ParseResult:
    opts = ParseOptions(**options)  # type: ignore[arg-type]
    return parse_bytes(data, document_id="doc", source="mem", filename="doc.pdf", options=opts)


def _shape(result: ParseResult) -> None:
    """What every engine's result holds (as test_parse.py checks for layout and fast)."""
    assert [p.page_number for p in result.pages] == list(range(1, result.page_count + 1))
    for page in result.pages:
        assert page.width > 0 and page.height > 0 and page.status in ("ok", "skipped")
        for fragment in page.fragments:
            assert fragment.type in FRAGMENT_TYPES
            box = fragment.bbox
            assert 0 <= box.x0 <= box.x1 <= page.width + 1
            assert 0 <= box.y0 <= box.y1 <= page.height + 1
            assert (fragment.level is not None) == (fragment.type in ("title", "section_header"))


def _headings(result: ParseResult) -> dict[str, int | None]:
    return {
        f.content.lstrip("# "): f.level
        for page in result.pages
        for f in page.fragments
        if f.type in ("title", "section_header")
    }


@pytest.mark.real_model
def test_routes_each_page_by_what_it_holds(mixed: bytes) -> None:
    result = _parse(mixed, engine="auto")
    _shape(result)
    assert result.engine == "pymupdf-auto"
    assert result.usage["engine_pages"] == {"fast": 3, "layout": 4}
    assert result.usage["layout_triggers"] == {"ocr": [6], "table": [4, 7], "image": [3]}
    fast = _parse(mixed, engine="fast")
    for number in (1, 2, 5):  # the fast path's pages read as the fast engine reads them
        assert [f.content for f in result.pages[number - 1].fragments if f.type == "text"] == [
            f.content for f in fast.pages[number - 1].fragments if f.type == "text"
        ]
    # The layout model's work on the pages it got: the borderless table as a table, the
    # scan OCR'd (Tesseract is installed here; without it the page would carry OCR_ERROR).
    assert any(
        f.type == "table" and "Route 11" in (f.html or "") for f in result.pages[3].fragments
    )
    assert result.pages[5].ocr and "Scanned minutes" in result.pages[5].markdown
    assert result.usage["ocr_pages"] == 1
    clean = next(f for f in result.pages[1].fragments if f.type == "table")  # the fast path's
    assert clean.html and "<th>Team</th>" in clean.html and "span" not in clean.html
    spanning = next(f for f in result.pages[6].fragments if f.type == "table")
    assert spanning.html and "City 5" in spanning.html
    assert json.loads(json.dumps(result.to_dict()))["usage"]["layout_triggers"]["table"] == [4, 7]


@pytest.mark.real_model
def test_heading_levels_agree_across_engines(mixed: bytes) -> None:
    """A 14 pt heading on a fast page and one on a layout page get the same level: the ranks
    come from the whole document's heading sizes (20 pt, 14 pt, ...), not from the pages one
    engine happened to read (alone, the layout model ranks "Travel Costs" first on its pages)."""
    auto = _headings(_parse(mixed, engine="auto"))
    assert auto["Annual Review"] == 1
    assert auto["Budget Overview"] == auto["Travel Costs"] == 2
    alone = _headings(_parse(mixed, engine="layout", target_pages="3,4,6,7"))
    assert alone["Travel Costs"] == 1


@pytest.mark.real_model
def test_trigger_options(mixed: bytes) -> None:
    keyword = _parse(mixed, engine="auto", auto_mode_trigger_on_text_in_page="CONFIDENTIAL")
    assert keyword.usage["layout_triggers"]["text"] == [5]
    pattern = _parse(mixed, engine="auto", auto_mode_trigger_on_regexp_in_page=r"Annual\s+Rev")
    assert pattern.usage["layout_triggers"]["regexp"] == [1]
    off = _parse(
        mixed,
        engine="auto",
        auto_mode_trigger_on_table_in_page=False,
        auto_mode_trigger_on_image_in_page=False,
    )
    assert off.usage["layout_triggers"] == {"ocr": [6]}  # unusable text still goes
    assert off.usage["engine_pages"] == {"fast": 6, "layout": 1}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("auto_mode_trigger_on_regexp_in_page", "(unclosed"),
        ("auto_mode_trigger_on_regexp_in_page", ""),
        ("auto_mode_trigger_on_text_in_page", ""),
        ("auto_mode_trigger_on_table_in_page", "yes"),
    ],
)
def test_bad_trigger_options(name: str, value: object) -> None:
    with pytest.raises(ConfigError, match=name):
        ParseOptions(engine="auto", **{name: value})  # type: ignore[arg-type]


def test_options_hash() -> None:
    """The triggers are part of auto's identity only: earlier layout/fast parses stay cached."""
    for engine in ("layout", "fast"):
        base = ParseOptions(engine=engine)
        other = ParseOptions(engine=engine, auto_mode_trigger_on_text_in_page="x")
        assert base.options_hash() == other.options_hash()
    auto = ParseOptions(engine="auto")
    assert auto.options_hash() != ParseOptions(engine="layout").options_hash()
    assert (
        auto.options_hash()
        != ParseOptions(engine="auto", auto_mode_trigger_on_text_in_page="x").options_hash()
    )


def test_engines_report_their_pages(mixed: bytes) -> None:
    assert _parse(mixed, engine="fast").usage["engine_pages"] == {"fast": 7}
    assert "layout_triggers" not in _parse(mixed, engine="fast").usage


@pytest.mark.real_model
def test_cli_and_resource(tmp_path: Path, mixed: bytes) -> None:
    pdf = tmp_path / "mixed.pdf"
    pdf.write_bytes(mixed)
    args = ["parse", str(pdf), "--out", str(tmp_path / "out"), "--format", "json"]
    args += ["--engine", "auto", "--no-isolate", "--no-auto-mode-trigger-on-image-in-page"]
    args += ["--auto-mode-trigger-on-text-in-page", "CONFIDENTIAL"]
    run = CliRunner().invoke(main, args)
    assert run.exit_code == 0, run.output
    usage = json.loads((tmp_path / "out" / "mixed.json").read_text())["usage"]
    assert usage["layout_triggers"] == {"ocr": [6], "table": [4, 7], "text": [5]}
    resource = ParserResource(engine="auto", auto_mode_trigger_on_regexp_in_page="x+")
    options = resource.options()
    assert options.engine == "auto" and options.auto_mode_trigger_on_regexp_in_page == "x+"


@needs_corpus
@pytest.mark.real_model
def test_real_pages() -> None:
    """Real pages: an odl-bench article page stays on the fast path, a table page does not,
    and a 10-Q's cover and balance sheet pages split the same way."""
    prose = parse_file(ODL / "01030000000001.pdf", options=ParseOptions(engine="auto"))
    assert prose.usage["engine_pages"] == {"fast": 1, "layout": 0}
    table = parse_file(ODL / "01030000000170.pdf", options=ParseOptions(engine="auto"))
    assert table.usage["layout_triggers"] == {"table": [1]}
    filing = parse_file(FILING, options=ParseOptions(engine="auto", target_pages="2,4"))
    _shape(filing)
    assert [p.page_number for p in filing.pages if p.status == "ok"] == [2, 4]
    assert filing.usage["layout_triggers"] == {"table": [4]}
    assert filing.usage["engine_pages"] == {"fast": 1, "layout": 1}


def _columns_pdf() -> bytes:
    """Two columns of short lines with a full-width line across the middle: no vertical gap
    runs through the whole page, so XY-cut cannot split the columns."""
    doc = pymupdf.open()
    page = doc.new_page()
    for row in range(14):
        y = 100 + row * 16 + (20 if row >= 7 else 0)
        page.insert_text((72, y), f"Left column line {row} of the text", fontsize=10)
        page.insert_text((320, y), f"Right column line {row} of the text", fontsize=10)
    page.insert_text((72, 100 + 7 * 16 + 2), "A note set across both columns " * 3, fontsize=10)
    return doc.tobytes()


@pytest.mark.real_model
def test_columns_the_fast_order_cannot_settle() -> None:
    result = _parse(_columns_pdf(), engine="auto")
    assert result.usage["layout_triggers"] == {"columns": [1]}
    _shape(result)
