"""The fast engine's structure without a layout model: ruled tables, columns, headings."""

from __future__ import annotations

import re
from pathlib import Path

import pymupdf
import pytest

from docingest.parsing import ParseOptions, parse_bytes, parse_file
from docingest.parsing.grid import find_grid_tables
from docingest.parsing.order import reading_order
from docingest.parsing.tables import compact_pipe_table


def _ruled_table(page: pymupdf.Page, merge_header: bool = False) -> None:
    """A 3x3 ruled table at (72, 100)-(372, 190); the header's first two cells merged."""
    xs, ys = [72, 172, 272, 372], [100, 130, 160, 190]
    for y in ys:
        page.draw_line((xs[0], y), (xs[-1], y))
    for index, x in enumerate(xs):
        top = ys[1] if merge_header and index == 1 else ys[0]
        page.draw_line((x, top), (x, ys[-1]))
    header = ["Region", "", "Share"] if merge_header else ["Region", "Year", "Share"]
    rows = [header, ["North", "2021", "40%"], ["South", "2022", "60%"]]
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            if text:
                page.insert_text((xs[c] + 5, ys[r] + 20), text, fontsize=10)


def _pdf(draw) -> bytes:
    doc = pymupdf.open()
    page = doc.new_page()
    draw(page)
    return doc.tobytes()


def test_ruled_table_cells_and_header() -> None:
    doc = pymupdf.open("pdf", _pdf(_ruled_table))
    (table,) = find_grid_tables(doc[0])
    assert table.html == (
        "<table><tr><th>Region</th><th>Year</th><th>Share</th></tr>"
        "<tr><td>North</td><td>2021</td><td>40%</td></tr>"
        "<tr><td>South</td><td>2022</td><td>60%</td></tr></table>"
    )
    assert table.markdown.splitlines()[:2] == ["| Region | Year | Share |", "|---|---|---|"]
    assert table.bbox.x0 == pytest.approx(72, abs=1) and table.bbox.y1 == pytest.approx(190, abs=1)


def test_a_missing_rule_makes_a_spanning_cell() -> None:
    doc = pymupdf.open("pdf", _pdf(lambda page: _ruled_table(page, merge_header=True)))
    (table,) = find_grid_tables(doc[0])
    assert table.html.startswith('<table><tr><th colspan="2">Region</th><th>Share</th></tr>')


def test_an_empty_grid_is_a_chart_not_a_table() -> None:
    def grid_lines(page: pymupdf.Page) -> None:
        for i in range(5):
            page.draw_line((72, 100 + 30 * i), (372, 100 + 30 * i))
            page.draw_line((72 + 75 * i, 100), (72 + 75 * i, 220))
        page.insert_text((72, 240), "Figure 1: sales by quarter", fontsize=10)

    assert find_grid_tables(pymupdf.open("pdf", _pdf(grid_lines))[0]) == []


@pytest.mark.parametrize("table_format", ["markdown", "html"])
def test_fast_engine_emits_the_table(table_format: str) -> None:
    def page_with_table(page: pymupdf.Page) -> None:
        page.insert_text((72, 80), "Results by region are below.", fontsize=11)
        _ruled_table(page)
        page.insert_text((72, 230), "The south grew faster.", fontsize=11)

    result = parse_bytes(
        _pdf(page_with_table),
        document_id="t",
        source="t.pdf",
        filename="t.pdf",
        options=ParseOptions(engine="fast", table_format=table_format),
    )
    types = [f.type for f in result.pages[0].fragments]
    assert types == ["text", "table", "text"]
    table = result.pages[0].fragments[1]
    assert table.html is not None and "<td>2022</td>" in table.html
    assert ("<table>" in table.content) is (table_format == "html")
    assert "North" not in result.pages[0].fragments[0].content  # cell words only in the table


def test_two_columns_are_read_one_after_the_other() -> None:
    title = (72, 50, 540, 70)
    left = [(72, 100, 300, 200), (72, 210, 300, 400)]
    right = [(312, 100, 540, 300), (312, 310, 540, 400)]
    footer = (72, 700, 540, 720)
    boxes = [title, left[0], right[0], left[1], right[1], footer]
    assert reading_order(boxes) == [0, 1, 3, 2, 4, 5]


def test_labels_beside_values_are_read_row_by_row() -> None:
    # A narrow label column beside its values: no column cut, rows in order.
    boxes = [(72, 100, 150, 112), (200, 100, 500, 112), (72, 120, 150, 132), (200, 120, 500, 132)]
    boxes += [(72, 300, 500, 600)]  # a tall paragraph below, full width
    assert reading_order(boxes) == [0, 1, 2, 3, 4]


def test_fast_engine_reads_a_bold_numbered_title_inside_a_block() -> None:
    def page_with_title(page: pymupdf.Page) -> None:
        text = "4. Entropy\nThe entropy of the ensemble grows with the number of states it can\n"
        text += "reach, and we measure it in bits throughout this chapter."
        page.insert_text((72, 80), "Some earlier paragraph text of the chapter.", fontsize=10)
        writer = pymupdf.TextWriter(page.rect)
        bold = pymupdf.Font("hebo")
        regular = pymupdf.Font("helv")
        writer.append((72, 120), "4. Entropy", font=bold, fontsize=10)
        writer.append((72, 133), text.splitlines()[1], font=regular, fontsize=10)
        writer.append((72, 146), text.splitlines()[2], font=regular, fontsize=10)
        writer.write_text(page)

    result = parse_bytes(
        _pdf(page_with_title),
        document_id="t",
        source="t.pdf",
        filename="t.pdf",
        options=ParseOptions(engine="fast"),
    )
    headings = [
        f.content for f in result.pages[0].fragments if f.type in ("section_header", "title")
    ]
    assert headings == ["# 4. Entropy"]


def test_compact_markdown_table() -> None:
    """compact_markdown_table: pipe tables without padding, in the fragment and the page."""

    def page_with_table(page: pymupdf.Page) -> None:
        page.insert_text((72, 80), "Results by region are below.", fontsize=11)
        _ruled_table(page)

    options = {"engine": "fast", "table_format": "markdown", "isolate": False}
    padded, compact = (
        parse_bytes(
            _pdf(page_with_table), document_id="t", source="t.pdf", filename="t.pdf",
            options=ParseOptions(**options, compact_markdown_table=flag),  # type: ignore[arg-type]
        )
        for flag in (False, True)
    )  # fmt: skip
    assert "| Region | Year | Share |" in padded.markdown
    table = compact.pages[0].fragments[1]
    assert table.content.splitlines()[:2] == ["|Region|Year|Share|", "|-|-|-|"]
    assert table.content in compact.markdown and len(compact.markdown) < len(padded.markdown)


@pytest.mark.parametrize(
    ("table", "compact"),
    [
        ("| a | b |\n|:---:|---|\n| 1 \\| 2 | x |", "|a|b|\n|:-:|-|\n|1 \\| 2|x|"),
        ("<table><tr><td>a</td></tr></table>", "<table><tr><td>a</td></tr></table>"),
    ],
)
def test_compact_pipe_table(table: str, compact: str) -> None:
    assert compact_pipe_table(table) == compact


FILING = (
    Path(__file__).resolve().parents[3]
    / "shared/corpus/retrieval/docugami-sec10q/pdfs/2022 Q3 AAPL.pdf"
)


@pytest.mark.skipif(not FILING.exists(), reason="benchmark corpora not present")
def test_side_by_side_grids_keep_every_figure() -> None:
    """A 10-Q's gross margin table, its four column groups ruled apart (four grids in one row
    of text lines): every figure on the page is in the fast engine's markdown."""
    page = pymupdf.open(FILING)[19]
    figures = {w[4] for w in page.get_text("words") if re.fullmatch(r"[\d,.]+\d", w[4])}
    assert {"23,049", "90,157", "117,662", "69.5"} <= figures
    result = parse_file(FILING, options=ParseOptions(engine="fast", target_pages="20"))
    assert not {f for f in figures if f not in result.markdown}
    (read,) = [p for p in result.pages if p.page_number == 20]
    assert sum(f.type == "table" for f in read.fragments) == 8
