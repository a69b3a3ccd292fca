"""The rules that fix layout-model output: headings, drop caps, captions, header bands."""

from __future__ import annotations

import pymupdf
import pytest

from docingest.models import BBox, Fragment
from docingest.parsing import ParseOptions, parse_bytes
from docingest.parsing.clean import is_title_line, numbering_depth, plain_quotes, refine_headings
from docingest.parsing.layout import _in_margin
from docingest.parsing.styles import PageStyles, split_leading_titles
from docingest.parsing.tables import table_of_contents_lines
from tests.conftest import LAYOUT


def _heading(text: str, bbox: tuple[float, float, float, float], level: int = 1) -> Fragment:
    return Fragment("section_header", f"{'#' * level} {text}", BBox(*bbox), level=level)


def _text(text: str, bbox: tuple[float, float, float, float]) -> Fragment:
    return Fragment("text", text, BBox(*bbox))


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("3.2.1 Methods", 3),
        ("4 Results", 1),
        ("III. Findings", 1),
        ("B. Appendix", 2),
        ("B.1 Large Language Models", 2),
        ("A.2.3 Details", 3),
        ("Results", None),
    ],
)
def test_numbering_depth(text: str, depth: int | None) -> None:
    assert numbering_depth(text) == depth


def test_drop_cap_is_joined_to_its_paragraph() -> None:
    fragments = [
        _heading("Executive Summary", (100, 100, 250, 170), level=2),
        _heading("I", (303, 99, 336, 155)),
        _text("ndia suffers from a problem getting in I the way.", (306, 114, 500, 267)),
    ]
    out = refine_headings(fragments)
    assert [f.type for f in out] == ["section_header", "text"]
    assert out[1].content == "India suffers from a problem getting in the way."
    assert out[1].bbox == BBox(303, 99, 500, 267)


def test_a_one_letter_heading_before_a_capitalised_paragraph_stays() -> None:
    fragments = [_heading("A", (50, 50, 70, 70)), _text("Apples are red.", (50, 80, 300, 100))]
    assert [f.type for f in refine_headings(fragments)] == ["section_header", "text"]


def test_heading_broken_over_two_boxes_is_joined() -> None:
    # Two columns: each title's second line comes after the other column's first line.
    fragments = [
        _heading("Model E2E performance", (37, 121, 288, 133), level=2),
        _heading("Model performance details: Document", (361, 121, 687, 133), level=2),
        _heading("evaluation", (37, 142, 94, 153), level=2),
        _heading("criteria", (361, 143, 398, 153), level=2),
        _text("Body.", (37, 170, 687, 300)),
    ]
    out = refine_headings(fragments)
    assert [f.content for f in out] == [
        "## Model E2E performance evaluation",
        "## Model performance details: Document criteria",
        "Body.",
    ]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("Chapter title", 1), ("Subtitle set smaller", 2)),  # different size ranks
        (("B Related Works", 1), ("B.1 Language Models", 1)),  # the next one is numbered
        (("Summary:", 1), ("Details", 1)),  # the first one ends like a run-in head
    ],
)
def test_distinct_headings_stay_apart(first: tuple[str, int], second: tuple[str, int]) -> None:
    fragments = [
        _heading(first[0], (50, 100, 300, 112), level=first[1]),
        _heading(second[0], (50, 116, 300, 128), level=second[1]),
    ]
    assert len(refine_headings(fragments)) == 2


@pytest.mark.parametrize(
    ("caption", "is_caption"),
    [
        ("Table 2: Results by region", True),
        ("Figure 4 Distribution of content (2019-2020)", True),
        ("Diagram 4 Distribution of Instagram content", True),
        ("Fig. 3. Overview", True),
        ("Tables and their uses", False),
        ("Figure skating in Canada", False),
    ],
)
def test_numbered_captions_are_not_headings(caption: str, is_caption: bool) -> None:
    (out,) = refine_headings([_heading(caption, (50, 50, 400, 62))])
    assert (out.type == "caption") is is_caption


@pytest.mark.parametrize(
    ("kind", "y0", "y1", "kept"),
    [
        ("page_header", 30, 45, True),
        ("page_header", 380, 395, False),  # mid-page: body text the model mislabelled
        ("page_footer", 760, 780, True),
        ("page_footer", 500, 520, False),
    ],
)
def test_headers_and_footers_must_sit_in_the_margins(
    kind: str, y0: float, y1: float, kept: bool
) -> None:
    assert _in_margin(kind, BBox(50, y0, 500, y1), 842.0) is kept


def _styled_page(title_size: float, body: list[str]) -> tuple[pymupdf.Page, Fragment]:
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 100), "Comparison with Commerce Models", fontsize=title_size)
    for index, line in enumerate(body):
        page.insert_text((72, 120 + index * 12), line, fontsize=10)
    content = " ".join(["Comparison with Commerce Models", *body])
    return page, Fragment("text", content, BBox(60, 80, 500, 130 + len(body) * 12))


def test_a_title_glued_to_its_paragraph_is_split_off() -> None:
    body = ["Hit ratio of the recommendation models compared", "on three public data sets."]
    page, fragment = _styled_page(12.5, body)
    out = split_leading_titles([fragment], PageStyles(page))
    assert [(f.type, f.content) for f in out] == [
        ("section_header", "## Comparison with Commerce Models"),
        ("text", " ".join(body)),
    ]


@pytest.mark.parametrize(
    ("title_size", "body"),
    [
        (10, ["Hit ratio of the recommendation models compared", "on three sets."]),  # same size
        (12.5, ["K+", "Na+", "Ca2+"]),  # a column of table cells, not prose
    ],
)
def test_text_without_a_distinct_title_stays_whole(title_size: float, body: list[str]) -> None:
    page, fragment = _styled_page(title_size, body)
    assert split_leading_titles([fragment], PageStyles(page)) == [fragment]


@pytest.mark.parametrize(
    ("raw", "bold_only", "title"),
    [
        ("CHAPTER  7.", False, True),
        ("Part IV", False, True),
        ("Chapter 7 explains the method in detail.", False, False),
        ("**Mitosis and Meiosis**", True, True),
        ("**Figure 3: Results**", True, False),  # a numbered caption stays a caption
        ("**Source: survey 2022**", True, False),
        ("A step by step guide to growing a", True, False),  # not bold
        ("**Similar processes with very different results!**", True, False),
    ],
)
def test_title_lines_the_model_missed(raw: str, bold_only: bool, title: bool) -> None:
    assert is_title_line(raw, bold_only=bold_only) is title


@pytest.mark.parametrize(
    ("grid", "lines"),
    [
        (  # entry and page number in their own columns, roman front matter first
            [
                ["Preface", "vii"],
                ["About this book", "ix"],
                ["Introduction", "1"],
                ["Methods", "5"],
            ],
            ["Preface vii", "About this book ix", "Introduction 1", "Methods 5"],
        ),
        (  # number column beside entries that hold dot leaders and the page number
            [
                ["1.", "A Fountain . . . . 1"],
                ["2.", "The Homeland . . . 5"],
                ["3.", "Steinkirche .13"],
            ],
            ["1. A Fountain . . . . 1", "2. The Homeland . . . 5", "3. Steinkirche .13"],
        ),
    ],
)
def test_a_table_of_contents_is_read_as_lines(grid: list[list[str]], lines: list[str]) -> None:
    assert table_of_contents_lines(grid) == lines


@pytest.mark.parametrize(
    "grid",
    [
        [["Region", "2021"], ["North", "1200"], ["South", "800"], ["East", "950"]],  # goes down
        [
            ["Item", "Q1", "Q2", "Q3"],
            ["A", "1", "2", "3"],
            ["B", "4", "5", "6"],
            ["C", "7", "8", "9"],
        ],
        [["1", "2"], ["3", "4"], ["5", "6"]],  # no entries, only numbers
        [["Intro", "1"], ["Body", "2"]],  # too short to tell
    ],
)
def test_real_tables_stay_tables(grid: list[list[str]]) -> None:
    assert table_of_contents_lines(grid) is None


def test_prices_are_not_page_numbers() -> None:
    grid = [["Item", "Qty", "Price"]] + [[f"item {i}", str(i), f"{i}.00"] for i in range(1, 6)]
    assert table_of_contents_lines(grid) is None


def test_typographic_quotes_become_ascii() -> None:
    assert (
        plain_quotes("\u201cvery often\u201d, it\u2019s \u2018fine\u2019")
        == "\"very often\", it's 'fine'"
    )


@pytest.mark.parametrize("engine", [LAYOUT, "fast"])
def test_a_one_line_page_is_not_all_furniture(engine: str) -> None:
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 60), "Quarterly report draft", fontsize=11)
    result = parse_bytes(
        doc.tobytes(),
        document_id="one-line",
        source="one-line.pdf",
        filename="one-line.pdf",
        options=ParseOptions(engine=engine),
    )
    assert result.markdown == "Quarterly report draft"
