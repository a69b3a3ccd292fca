"""Figures in the markdown: left out, a placeholder with the caption, or a saved image file
(in a folder, or under an object-store prefix when `image_dir` is an `s3://` URL)."""

from __future__ import annotations

from pathlib import Path

import pymupdf

from docingest.ids import file_stem_for
from docingest.locations import Location, is_url, location, write_bytes_atomic
from docingest.models import Fragment, PageResult
from docingest.parsing.options import ParseOptions
from docingest.parsing.pages import FIGURE_PLACEHOLDER

IMAGE_DPI = 150
_CAPTION_GAP = 60.0  # points between a figure and its caption, at most


def _caption(figure: Fragment, fragments: list[Fragment]) -> str:
    best, best_gap = "", _CAPTION_GAP
    for fragment in fragments:
        if fragment.type != "caption":
            continue
        gap = max(fragment.bbox.y0 - figure.bbox.y1, figure.bbox.y0 - fragment.bbox.y1, 0.0)
        if gap <= best_gap:
            best, best_gap = " ".join(fragment.content.split()), gap
    return best.replace("[", "(").replace("]", ")")


def _save(doc: pymupdf.Document, page: PageResult, figure: Fragment, path: Location) -> None:
    box = figure.bbox
    clip = pymupdf.Rect(box.x0, box.y0, box.x1, box.y1) & doc[page.page_number - 1].rect
    pixmap = doc[page.page_number - 1].get_pixmap(clip=clip, dpi=IMAGE_DPI)
    write_bytes_atomic(path, pixmap.tobytes("png"))


def render_figures(
    doc: pymupdf.Document, page: PageResult, options: ParseOptions, document_id: str
) -> list[str]:
    """Rewrite the page's figure fragments for `options.image_mode`; the image files saved."""
    if options.image_mode == "skip":
        return []
    saved: list[str] = []
    folder = options.image_dir or ""
    # A local folder stays as given (a relative one gives relative links in the markdown).
    images: Location = location(folder) if is_url(folder) else Path(folder)
    figures = [f for f in page.fragments if f.type == "figure"]
    for number, figure in enumerate(figures, start=1):
        text = "" if figure.content == FIGURE_PLACEHOLDER else figure.content
        caption = _caption(figure, page.fragments) or "figure"
        target = ""
        if options.image_mode == "save" and options.image_dir:
            name = f"page-{page.page_number}-figure-{number}.png"
            path = images / file_stem_for(document_id) / name
            _save(doc, page, figure, path)
            target = str(path)
            saved.append(target)
        figure.content = f"![{caption}]({target})" + (f"\n\n{text}" if text else "")
    return saved
