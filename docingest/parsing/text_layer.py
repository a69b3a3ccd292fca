"""Text-layer hygiene: text a reader cannot see, slanted text and the page margins are taken out
of a PDF's pages before an engine reads them.

Hidden text is a known way to plant instructions in a retrieval index, so it goes by default
(`remove_hidden_text`): text in the invisible render mode, fully transparent text, text the
colour of what lies under it (white on white), and text covered by an opaque image or fill drawn
after it. Invisible text lying on an image is kept: that is how OCR'd scans carry their words.
`skip_diagonal_text` drops text running at a slant (watermarks, stamps; upright and vertical
text stay), and `bbox_top`/`bbox_bottom`/`bbox_left`/`bbox_right` drop what lies in the margins
(for pages that need OCR, the margins' pixels too).

The text is removed with MuPDF redactions on the in-memory document, glyph by glyph (a point at
each glyph's centre), so every engine, OCR and the raw-text fallback read the same clean page.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import pymupdf

from docingest.parsing.options import ParseOptions

_SLANT = 0.1  # |sin| and |cos| of the writing direction both above this: neither across nor up
_SAME_COLOUR = 0.06  # largest channel difference between text and background that hides text
_WHITE = (1.0, 1.0, 1.0)
_OPAQUE_FILLS = ("fill-path", "fill-image", "fill-shade")
_HALF = 0.05  # half the side of the redaction square put on a glyph, in points
_CELL = 24.0  # side of the grid cells that index the kept glyphs, in points
_PROBES = (0.5, 0.3, 0.7, 0.15, 0.85)  # where in a glyph's box to try a redaction point
# What MuPDF raises on a broken page: its own errors do not derive from RuntimeError.
_MUPDF_ERRORS = (RuntimeError, ValueError, pymupdf.mupdf.FzErrorBase)


@dataclass(frozen=True, slots=True)
class _Fill:
    """Something painted on the page: its place in the drawing order, area and colour."""

    seqno: int
    rect: pymupdf.Rect
    colour: tuple[float, ...] | None  # None: an image or shading (no single colour)
    opaque: bool


def _rgb(colour: tuple[float, ...] | None) -> tuple[float, ...] | None:
    if colour is None:
        return None
    if len(colour) == 1:
        return (colour[0],) * 3
    if len(colour) == 4:  # CMYK
        c, m, y, k = colour
        return ((1 - c) * (1 - k), (1 - m) * (1 - k), (1 - y) * (1 - k))
    return tuple(colour)


def _fills(page: pymupdf.Page) -> list[_Fill]:
    """Images, shadings and filled paths in drawing order (bbox log index = texttrace seqno)."""
    log = page.get_bboxlog()
    if not any(kind in _OPAQUE_FILLS for kind, _ in log):
        return []
    paths = {d["seqno"]: d for d in page.get_drawings() if d.get("fill") is not None}
    fills = []
    for seqno, (kind, rect) in enumerate(log):
        if kind == "fill-path" and seqno in paths:
            path = paths[seqno]
            opacity = path.get("fill_opacity")
            fills.append(
                _Fill(seqno, pymupdf.Rect(rect), _rgb(path["fill"]), opacity in (None, 1.0))
            )
        elif kind in ("fill-image", "fill-shade"):
            fills.append(_Fill(seqno, pymupdf.Rect(rect), None, True))
    return fills


def _same(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return max(abs(x - y) for x, y in zip(a, b, strict=True)) <= _SAME_COLOUR


def _unseen(
    point: pymupdf.Point, seqno: int, colour: tuple[float, ...], fills: list[_Fill]
) -> bool:
    """The glyph at `point` is covered by something opaque drawn after it, or has the colour of
    what lies under it (the white page where nothing does)."""
    under: _Fill | None = None
    for fill in fills:
        if point not in fill.rect:
            continue
        if fill.seqno > seqno and fill.opaque:
            return True
        if fill.seqno < seqno:
            under = fill
    background = _WHITE if under is None else under.colour
    return background is not None and _same(colour, background)


def _on_image(point: pymupdf.Point, seqno: int, fills: list[_Fill]) -> bool:
    return any(f.colour is None and f.seqno < seqno and point in f.rect for f in fills)


def _slanted(span: dict[str, Any]) -> bool:
    cos, sin = span["dir"]
    return abs(cos) > _SLANT and abs(sin) > _SLANT


def _kept_area(page: pymupdf.Page, options: ParseOptions) -> pymupdf.Rect:
    rect = page.rect
    return pymupdf.Rect(
        rect.x0 + rect.width * options.bbox_left,
        rect.y0 + rect.height * options.bbox_top,
        rect.x1 - rect.width * options.bbox_right,
        rect.y1 - rect.height * options.bbox_bottom,
    )


def _why_removed(
    span: dict[str, Any], point: pymupdf.Point, options: ParseOptions, fills: list[_Fill]
) -> str | None:
    seqno = span["seqno"]
    if options.remove_hidden_text:
        if span["type"] == 3 and not _on_image(point, seqno, fills):
            return "hidden"
        if span["opacity"] == 0:
            return "hidden"
        colour = _rgb(span["color"])
        if colour is not None and _unseen(point, seqno, colour, fills):
            return "hidden"
    if options.skip_diagonal_text and _slanted(span):
        return "diagonal"
    return None


class _Glyphs:
    """The boxes of the glyphs that stay, indexed by grid cell.

    MuPDF removes every glyph whose box touches a redaction, so each glyph to remove gets a
    point of its own box that no staying glyph's box holds (a slanted watermark's big boxes
    overlap the body text they cross).
    """

    def __init__(self) -> None:
        self.cells: dict[tuple[int, int], list[pymupdf.Rect]] = {}

    def add(self, box: pymupdf.Rect) -> None:
        for x in range(int(box.x0 // _CELL), int(box.x1 // _CELL) + 1):
            for y in range(int(box.y0 // _CELL), int(box.y1 // _CELL) + 1):
                self.cells.setdefault((x, y), []).append(box)

    def free_point(self, box: pymupdf.Rect) -> pymupdf.Point:
        """A point of `box` outside every staying glyph (the centre when there is none)."""
        for fy in _PROBES:
            for fx in _PROBES:
                point = pymupdf.Point(box.x0 + box.width * fx, box.y0 + box.height * fy)
                near = self.cells.get((int(point.x // _CELL), int(point.y // _CELL)), [])
                if not any(point in other for other in near):
                    return point
        return pymupdf.Point((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2)


def _clean_page(page: pymupdf.Page, options: ParseOptions) -> Counter[str]:
    removed: Counter[str] = Counter()
    kept, crop = _kept_area(page, options), options.crops_margins()
    fills = _fills(page) if options.remove_hidden_text else []
    staying, going = _Glyphs(), []
    for span in page.get_texttrace():
        for char in span["chars"]:
            box = pymupdf.Rect(char[3])
            point = pymupdf.Point((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2)
            if crop and point not in kept:
                removed["margin"] += 1
                continue
            reason = _why_removed(span, point, options, fills)
            if reason is None:
                staying.add(box)  # spaces too: the words they part must stay parted
            elif not chr(char[0]).isspace():
                removed[reason] += 1
                going.append(box)
    marks = []
    for box in going:
        point = staying.free_point(box)
        marks.append(
            pymupdf.Rect(point.x - _HALF, point.y - _HALF, point.x + _HALF, point.y + _HALF)
        )
    if marks:
        for mark in marks:
            page.add_redact_annot(mark)
        page.apply_redactions(
            images=pymupdf.mupdf.PDF_REDACT_IMAGE_NONE,
            graphics=pymupdf.mupdf.PDF_REDACT_LINE_ART_NONE,
            text=pymupdf.mupdf.PDF_REDACT_TEXT_REMOVE,
        )
    if crop:
        # The margins whole: their glyphs, and the pixels of images there (what OCR would read).
        for margin in _margins(page.rect, kept):
            page.add_redact_annot(margin)
        page.apply_redactions(
            images=pymupdf.mupdf.PDF_REDACT_IMAGE_PIXELS,
            graphics=pymupdf.mupdf.PDF_REDACT_LINE_ART_NONE,
            text=pymupdf.mupdf.PDF_REDACT_TEXT_REMOVE,
        )
    return removed


def _margins(page: pymupdf.Rect, kept: pymupdf.Rect) -> list[pymupdf.Rect]:
    sides = [
        pymupdf.Rect(page.x0, page.y0, page.x1, kept.y0),
        pymupdf.Rect(page.x0, kept.y1, page.x1, page.y1),
        pymupdf.Rect(page.x0, kept.y0, kept.x0, kept.y1),
        pymupdf.Rect(kept.x1, kept.y0, page.x1, kept.y1),
    ]
    return [side for side in sides if not side.is_empty]


def clean_text_layer(
    doc: pymupdf.Document, indexes: list[int], options: ParseOptions
) -> dict[str, Any]:
    """Remove hidden, slanted and margin text from pages `indexes` (0-based) of a PDF, as the
    options ask; what was removed, for the parse result's metadata (empty when nothing was)."""
    if not doc.is_pdf or not (
        options.remove_hidden_text or options.skip_diagonal_text or options.crops_margins()
    ):
        return {}
    totals: Counter[str] = Counter()
    pages: dict[str, list[int]] = {}
    failed: list[int] = []
    for index in indexes:
        try:
            removed = _clean_page(doc[index], options)
        except _MUPDF_ERRORS:
            failed.append(index + 1)  # a broken page: the engine reports it as it finds it
            continue
        totals.update(removed)
        for reason in removed:
            pages.setdefault(reason, []).append(index + 1)
    out: dict[str, Any] = {}
    if totals:
        out["removed_text"] = {
            reason: {"characters": totals[reason], "pages": pages[reason]}
            for reason in sorted(totals)
        }
    if failed:
        out["text_layer_unchecked_pages"] = failed
    return out
