"""The layout engine lays out a long document a window of pages at a time (memory bounded by
the window, not the document) and gives the same pages as laying it out whole."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from docingest.parsing import layout
from docingest.parsing.ocr import OcrRecorder
from docingest.parsing.options import ParseOptions

RETRIEVAL = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "retrieval"
# A real paper: its title's font on the first page only, section headings after it, so a window
# without the first page ranks its headings' sizes differently from the whole document.
PAPER = RETRIEVAL / "mmlongbench" / "pdfs" / "2303.05039v2.pdf"
PAGES = list(range(6))
OPTIONS = ParseOptions(engine="layout")


@pytest.fixture
def paper() -> Path:
    if not PAPER.exists():
        pytest.fail(f"the shared corpus is missing {PAPER}")
    return PAPER


def _parse(path: Path) -> list[dict]:
    # A fresh document each time: OCR writes its text into the open document's pages.
    with pymupdf.open(path) as doc:
        return [page.to_dict() for page in layout.parse_layout(doc, PAGES, OPTIONS)]


def _marks(path: Path, windows: list[list[int]]) -> dict[tuple[int, int], int]:
    ocr = OcrRecorder(OPTIONS.ocr_languages, OPTIONS.ocr_mode)
    marks = {}
    with pymupdf.open(path) as doc:
        for window in windows:
            marks |= _heading_marks(layout._convert(doc, window, OPTIONS, ocr))
    return marks


def _heading_marks(chunks: list[dict]) -> dict[tuple[int, int], int]:
    """The `#` count pymupdf4llm wrote for each heading box, by (page number, box index)."""
    marks = {}
    for chunk in chunks:
        for box in chunk["page_boxes"]:
            if "font_size" in box:
                start, stop = box["pos"]
                raw = chunk["text"][start:stop].lstrip()
                marks[chunk["metadata"]["page_number"], box["index"]] = len(raw) - len(
                    raw.lstrip("#")
                )
    return marks


@pytest.mark.real_model
def test_windows_give_the_pages_of_the_whole_document(
    paper: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(layout, "LAYOUT_WINDOW", len(PAGES))
    whole = _parse(paper)
    monkeypatch.setattr(layout, "LAYOUT_WINDOW", 2)
    windowed = _parse(paper)
    assert [page["page_number"] for page in windowed] == [1, 2, 3, 4, 5, 6]
    assert sum(len(page["fragments"]) for page in windowed) > 6 * 5
    assert windowed == whole

    # After each window the worker hands what the window freed back to the system.
    released: list[int] = []
    monkeypatch.setattr(layout, "release_free_memory", lambda: released.append(1) or True)
    _parse(paper)
    assert len(released) == len(PAGES) // 2

    # The rank of a heading's font size within its window differs from its rank in the whole
    # document for some heading here: without the document-wide rank the levels would change.
    by_window = _marks(paper, [PAGES[start : start + 2] for start in range(0, len(PAGES), 2)])
    at_once = _marks(paper, [PAGES])
    assert by_window.keys() == at_once.keys()
    assert any(by_window[key] != at_once[key] for key in at_once)


@pytest.mark.real_model
def test_a_failing_window_is_laid_out_page_by_page(
    paper: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One page the model cannot lay out fails only itself, not its window's other pages."""
    real_convert = layout._convert

    def convert(doc: pymupdf.Document, indexes: list[int], *args: object) -> list[dict]:
        if 3 in indexes:
            raise ValueError("model failure")
        return real_convert(doc, indexes, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(layout, "LAYOUT_WINDOW", 3)
    monkeypatch.setattr(layout, "_convert", convert)
    with pymupdf.open(paper) as doc:
        pages = layout.parse_layout(doc, PAGES, OPTIONS)
    assert [page.status for page in pages] == ["ok", "ok", "ok", "error", "ok", "ok"]
    failed = pages[3].error
    assert failed is not None and failed["code"] == "INTERNAL_ERROR"
    assert "model failure" in failed["message"]
    assert all(page.fragments for page in pages if page.status == "ok")
