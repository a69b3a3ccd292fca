"""Text-layer hygiene: text a reader cannot see, slanted text and the page margins are taken out
of a PDF's pages before an engine reads them.

Hidden text is a known way to plant instructions in a retrieval index, so it goes by default
(`remove_hidden_text`): text in the invisible render mode, fully transparent text, text the
colour of the fill under it (white on white), and text covered by an image drawn after it.
Invisible text lying on an image is kept: that is how OCR'd scans carry their words.
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
_FILLS = ("fill-path", "fill-image")
_HALF = 0.05  # half the side of the redaction square put on a glyph, in points
_CELL = 24.0  # side of the grid cells that index the kept glyphs, in points
_PROBES = (0.5, 0.3, 0.7, 0.15, 0.85)  # where in a glyph's box to try a redaction point
# What MuPDF raises on a broken page: its own errors do not derive from RuntimeError.
_MUPDF_ERRORS = (RuntimeError, ValueError, pymupdf.mupdf.FzErrorBase)


Box = tuple[float, float, float, float]  # x0, y0, x1, y1 (plain tuples: this runs per glyph)


@dataclass(frozen=True, slots=True)
class _Fill:
    """Something painted on the page: its place in the drawing order, area and colour."""

    seqno: int
    box: Box
    colour: tuple[float, ...] | None  # None: an image (no single colour)
    opaque: bool


def _box(rect: pymupdf.Rect) -> Box:
    return (rect.x0, rect.y0, rect.x1, rect.y1)


def _inside(x: float, y: float, box: Box) -> bool:
    return box[0] <= x <= box[2] and box[1] <= y <= box[3]


def _overlap(a: Box, b: Box) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]


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
    """Images and filled paths on the page, in drawing order (bbox log index = texttrace
    seqno). Shadings are left out: the log gives them the infinite box of their clip."""
    log = page.get_bboxlog()
    if not any(kind in _FILLS for kind, _ in log):
        return []
    paths = {d["seqno"]: d for d in page.get_drawings() if d.get("fill") is not None}
    fills = []
    for seqno, (kind, box) in enumerate(log):
        rect = pymupdf.Rect(box) & page.rect
        if rect.is_empty or kind not in _FILLS:
            continue
        if kind == "fill-image":
            fills.append(_Fill(seqno, _box(rect), None, True))
        elif seqno in paths:
            fills.extend(_filled_rects(seqno, paths[seqno]))
    return fills


def _filled_rects(seqno: int, path: dict[str, Any]) -> list[_Fill]:
    """The rectangles a filled path paints. A path with lines or curves counts for nothing:
    its box is not its shape (a table's rules drawn as one path span the whole table)."""
    rects = []
    for item in path["items"]:
        if item[0] == "re":
            rects.append(pymupdf.Rect(item[1]))
        elif item[0] == "qu":
            rects.append(pymupdf.Quad(item[1]).rect)
        else:
            return []
    opaque = path.get("fill_opacity") in (None, 1.0)
    return [_Fill(seqno, _box(rect), _rgb(path["fill"]), opaque) for rect in rects]


def _same(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return max(abs(x - y) for x, y in zip(a, b, strict=True)) <= _SAME_COLOUR


def _unseen(x: float, y: float, seqno: int, colour: tuple[float, ...], fills: list[_Fill]) -> bool:
    """The glyph at (x, y) is covered by an image drawn after it, or has the colour of the
    opaque fill under it (the white page where there is none). A filled path drawn after text
    is not taken to cover it: on real pages such paths are blended or grouped (odl-bench
    01030000000079/80 draw a page-sized fill after a title that shows)."""
    under: _Fill | None = None
    for fill in fills:
        if not _inside(x, y, fill.box):
            continue
        if fill.seqno > seqno and fill.colour is None:
            return True
        if fill.seqno < seqno and fill.opaque:
            under = fill
    background = _WHITE if under is None else under.colour
    return background is not None and _same(colour, background)


def _slanted(span: dict[str, Any]) -> bool:
    cos, sin = span["dir"]
    return abs(cos) > _SLANT and abs(sin) > _SLANT


def _kept_area(page: pymupdf.Page, options: ParseOptions) -> Box:
    rect = page.rect
    return (
        rect.x0 + rect.width * options.bbox_left,
        rect.y0 + rect.height * options.bbox_top,
        rect.x1 - rect.width * options.bbox_right,
        rect.y1 - rect.height * options.bbox_bottom,
    )


def _span_reason(span: dict[str, Any], options: ParseOptions, fills: list[_Fill]) -> str | None:
    """Why the whole span goes, whatever lies where (None: it stays, or it depends on where
    each glyph is: see `_glyph_reason`)."""
    if options.remove_hidden_text:
        if span["type"] == 3 and not any(f.colour is None for f in fills):
            return "hidden"  # invisible, and no image on the span that it could be the words of
        if span["opacity"] == 0:
            return "hidden"
        colour = _rgb(span["color"])
        if not fills and colour is not None and _same(colour, _WHITE):
            return "hidden"  # white on the white page
    if options.skip_diagonal_text and _slanted(span):
        return "diagonal"
    return None


def _glyph_reason(span: dict[str, Any], x: float, y: float, fills: list[_Fill]) -> str | None:
    seqno = span["seqno"]
    if span["type"] == 3:  # over an image drawn before it: an OCR layer, the picture's words
        on_image = any(f.colour is None and f.seqno < seqno and _inside(x, y, f.box) for f in fills)
        return None if on_image else "hidden"
    colour = _rgb(span["color"])
    return "hidden" if colour is not None and _unseen(x, y, seqno, colour, fills) else None


class _Glyphs:
    """The boxes of the glyphs that stay, indexed by grid cell.

    MuPDF removes every glyph whose box touches a redaction, so each glyph to remove gets a
    point of its own box that no staying glyph's box holds (a slanted watermark's big boxes
    overlap the body text they cross).
    """

    def __init__(self, boxes: list[Box]) -> None:
        self.cells: dict[tuple[int, int], list[Box]] = {}
        for box in boxes:
            for x in range(int(box[0] // _CELL), int(box[2] // _CELL) + 1):
                for y in range(int(box[1] // _CELL), int(box[3] // _CELL) + 1):
                    self.cells.setdefault((x, y), []).append(box)

    def free_point(self, box: Box) -> tuple[float, float]:
        """A point of `box` outside every staying glyph (the centre when there is none)."""
        x0, y0, x1, y1 = box
        for fy in _PROBES:
            for fx in _PROBES:
                x, y = x0 + (x1 - x0) * fx, y0 + (y1 - y0) * fy
                near = self.cells.get((int(x // _CELL), int(y // _CELL)), [])
                if not any(_inside(x, y, other) for other in near):
                    return x, y
        return (x0 + x1) / 2, (y0 + y1) / 2


def _sort_glyphs(
    page: pymupdf.Page, options: ParseOptions, kept: Box | None, removed: Counter[str]
) -> tuple[list[Box], list[Box]]:
    """The boxes of the glyphs that stay and of those that go (counted in `removed`)."""
    fills = _fills(page) if options.remove_hidden_text else []
    staying: list[Box] = []
    going: list[Box] = []
    for span in page.get_texttrace():
        near = [f for f in fills if _overlap(f.box, span["bbox"])]
        whole = _span_reason(span, options, near)
        check = options.remove_hidden_text and (near or span["type"] == 3)
        for char in span["chars"]:
            box = char[3]
            x, y = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
            if kept is not None and not _inside(x, y, kept):
                removed["margin"] += 1
                continue
            reason = whole or (_glyph_reason(span, x, y, near) if check else None)
            if reason is None:
                staying.append(box)  # spaces too: the words they part must stay parted
            elif not chr(char[0]).isspace():
                removed[reason] += 1
                going.append(box)
    return staying, going


def _clean_page(page: pymupdf.Page, options: ParseOptions) -> Counter[str]:
    removed: Counter[str] = Counter()
    kept = _kept_area(page, options) if options.crops_margins() else None
    staying, going = _sort_glyphs(page, options, kept, removed)
    if going:
        index = _Glyphs(staying)
        for box in going:
            x, y = index.free_point(box)
            page.add_redact_annot(pymupdf.Rect(x - _HALF, y - _HALF, x + _HALF, y + _HALF))
        page.apply_redactions(
            images=pymupdf.mupdf.PDF_REDACT_IMAGE_NONE,
            graphics=pymupdf.mupdf.PDF_REDACT_LINE_ART_NONE,
            text=pymupdf.mupdf.PDF_REDACT_TEXT_REMOVE,
        )
    if kept is not None:
        # The margins whole: their glyphs, and the pixels of images there (what OCR would read).
        for margin in _margins(page.rect, pymupdf.Rect(kept)):
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
