"""Page furniture: headers and footers repeated across pages, and printed page numbers."""

from __future__ import annotations

import re
from collections import Counter

from docingest.models import PageResult
from docingest.parsing.pages import HEADER_FOOTER, MARGIN_BAND

_BAND = MARGIN_BAND
MIN_REPEAT_PAGES = 3  # pages a document needs before repetition marks furniture
_MIN_PAGES = MIN_REPEAT_PAGES
_REPEAT_RATIO = 0.5
_DIGITS = re.compile(r"\d+")
_PAGE_NUMBER = re.compile(
    r"^(?:page\s+)?(\d{1,4}|[ivxlcdm]{1,7})(?:\s*(?:of|/)\s*\d{1,4})?$", re.IGNORECASE
)
_SEP = r"[|\u00b7\u2022\-\u2013]"
_EDGE_NUMBER = re.compile(rf"^(\d{{1,4}})\s*{_SEP}\s+\S|\S\s+{_SEP}?\s*(\d{{1,4}})$")


def _key(text: str) -> str:
    return _DIGITS.sub("#", " ".join(text.lower().split()))


def _band(page: PageResult, y0: float, y1: float) -> str | None:
    if page.height <= 0:
        return None
    if y1 <= page.height * _BAND:
        return "page_header"
    if y0 >= page.height * (1 - _BAND):
        return "page_footer"
    return None


def mark_repeated(pages: list[PageResult]) -> None:
    """Fragments whose text (digits aside) recurs in the same band on many pages."""
    ok = [p for p in pages if p.status == "ok"]
    if len(ok) < _MIN_PAGES:
        return
    seen: Counter[tuple[str, str]] = Counter()
    for page in ok:
        keys = set()
        for fragment in page.fragments:
            band = _band(page, fragment.bbox.y0, fragment.bbox.y1)
            if band and fragment.content.strip():
                keys.add((band, _key(fragment.content)))
        seen.update(keys)
    needed = max(_MIN_PAGES, int(len(ok) * _REPEAT_RATIO))
    for page in ok:
        for fragment in page.fragments:
            band = _band(page, fragment.bbox.y0, fragment.bbox.y1)
            if band and seen[(band, _key(fragment.content))] >= needed:
                fragment.type = band
                fragment.level = None


def _candidates(page: PageResult) -> list[str]:
    """Numbers in the page's headers/footers: whole-fragment numbers first, then edge ones."""
    texts = [
        " ".join(f.content.replace("#", " ").split())
        for f in page.fragments
        if f.type in HEADER_FOOTER
    ]
    whole = [m.group(1) for t in texts if (m := _PAGE_NUMBER.match(t))]
    edge = [m.group(1) or m.group(2) for t in texts if (m := _EDGE_NUMBER.search(t))]
    return whole + edge


def printed_page_numbers(pages: list[PageResult]) -> dict[str, str]:
    """{page number: the number printed on it}; a value printed on every page (a year) is not."""
    found = {p.page_number: _candidates(p) for p in pages if p.status == "ok"}
    counts = Counter(value for values in found.values() for value in set(values))
    out: dict[str, str] = {}
    for number, values in found.items():
        varying = [v for v in values if len(found) == 1 or counts[v] == 1]
        if varying:
            out[str(number)] = varying[0]
    return out
