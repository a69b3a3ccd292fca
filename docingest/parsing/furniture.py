"""Page furniture: headers and footers repeated across pages, printed page numbers and the
page labels a citation shows ("p. iv", "p. 12")."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Any

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
_ROMAN_VALUES = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100, "d": 500, "m": 1000}
_ROMAN_DIGITS = (
    (1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
    (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i"),
)  # fmt: skip
_AGREEING = 0.8  # share of a numbering's pages that must agree on one offset


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


def _roman(value: int) -> str:
    out = []
    for amount, digits in _ROMAN_DIGITS:
        count, value = divmod(value, amount)
        out.append(digits * count)
    return "".join(out)


def _numbering(printed: str) -> tuple[str, int] | None:
    """("arabic", 12) for "12"; ("roman", 4) / ("ROMAN", 4) for "iv" / "IV"; else None."""
    if printed.isdigit():
        return "arabic", int(printed)
    lower = printed.lower()
    if not lower or any(c not in _ROMAN_VALUES for c in lower):
        return None
    value = 0
    for c, after in zip(lower, [*lower[1:], ""], strict=True):
        v = _ROMAN_VALUES[c]
        value += -v if after and _ROMAN_VALUES[after] > v else v
    if _roman(value) != lower:  # not a well-formed numeral ("iiii", "vx")
        return None
    return ("roman" if printed.islower() else "ROMAN"), value


def printed_labels(pages: list[PageResult]) -> dict[int, str]:
    """{page number: printed label} from the numbers in headers and footers, only where they
    run in step with the pages: per numbering (arabic, roman), one offset (printed - page)
    agreed by at least 3 pages and 80% of that numbering's pages; the pages between its first
    and last agreeing page get page + offset (a chapter opener without a footer included).
    Roman front matter must end before the arabic pages begin. Anything else: no labels."""
    runs: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for number, printed in printed_page_numbers(pages).items():
        numbering = _numbering(printed)
        if numbering is not None:
            kind, value = numbering
            runs[kind][value - int(number)].append(int(number))
    spans: dict[str, tuple[int, int, int]] = {}  # kind -> (first page, last page, offset)
    for kind, by_offset in runs.items():
        offset, agreeing = max(by_offset.items(), key=lambda item: len(item[1]))
        total = sum(len(found) for found in by_offset.values())
        if len(agreeing) >= MIN_REPEAT_PAGES and len(agreeing) >= _AGREEING * total:
            spans[kind] = (min(agreeing), max(agreeing), offset)
    arabic = spans.get("arabic")
    romans = [kind for kind in spans if kind != "arabic"]
    present = {p.page_number for p in pages}
    labels: dict[int, str] = {}
    for kind, (first, last, offset) in spans.items():
        if kind != "arabic" and (len(romans) > 1 or (arabic and last >= arabic[0])):
            continue  # two roman numberings, or roman pages among the arabic ones
        for page in range(first, last + 1):
            if page in present and page + offset > 0:
                value = page + offset
                label = str(value) if kind == "arabic" else _roman(value)
                labels[page] = label.upper() if kind == "ROMAN" else label
    return labels


def label_pages(doc: Any, pages: list[PageResult]) -> None:
    """Set each page's printed label: the PDF's own page labels where it defines them
    (`/PageLabels`), else the printed page numbers that run in step (`printed_labels`)."""
    if doc.is_pdf and doc.get_page_labels():
        for page in pages:
            page.label = doc[page.page_number - 1].get_label() or None
        return
    labels = printed_labels(pages)
    for page in pages:
        page.label = labels.get(page.page_number)
