"""HTML and XHTML: the main content in reading order, boilerplate removed by default.

Headings from h1-h6, nested lists, tables with colspan/rowspan, images as figures with alt
text and figcaption, links kept as markdown links. Navigation, headers, footers, asides,
scripts, cookie banners and hidden elements go (`html_remove_navigation_elements`), as do
elements fixed or sticky on screen (`html_remove_fixed_elements`). Parsed by libxml2 (lxml)
without network access, within its default depth limit; deeper nesting is read as text.
"""

from __future__ import annotations

import re
from typing import Any

import lxml.html
from lxml import etree

from docingest.errors import DocIngestError, ErrorCode
from docingest.parsing.office.blocks import Cell, PageBuilder, clean_inline
from docingest.parsing.office.encoding import decode_text
from docingest.parsing.options import ParseOptions

_DROP_ALWAYS = frozenset(
    {"script", "style", "noscript", "template", "iframe", "object", "embed", "canvas", "svg",
     "select", "option", "input", "textarea", "button", "head", "title", "meta", "link",
     "map", "audio", "video", "source", "track", "dialog"}
)  # fmt: skip
_BOILERPLATE_TAGS = frozenset({"nav", "header", "footer", "aside", "form", "menu"})
_BOILERPLATE_ROLES = frozenset(
    {"navigation", "banner", "contentinfo", "complementary", "search", "dialog", "alertdialog",
     "menu", "menubar", "toolbar"}
)  # fmt: skip
# After Mozilla Readability's "unlikely candidates": class/id words of page furniture.
_UNLIKELY = re.compile(
    r"-ad-|ai2html|banner|breadcrumb|combx|comment|community|cookie|consent|cover-wrap|disqus|"
    r"extra|footer|gdpr|header|legends|menu|navbar|related|remark|replies|rss|shoutbox|sidebar|"
    r"skyscraper|social|sponsor|supplemental|ad-break|agegate|pagination|pager|popup|newsletter|"
    r"skip-link|subscribe",
    re.IGNORECASE,
)
_MAYBE_CONTENT = re.compile(r"and|article|body|column|content|main|shadow", re.IGNORECASE)
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_FIXED_STYLE = re.compile(r"position\s*:\s*(?:fixed|sticky)", re.IGNORECASE)
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_BLOCKS = frozenset(
    {"p", "div", "section", "article", "main", "body", "html", "ul", "ol", "dl", "table",
     "blockquote", "pre", "figure", "figcaption", "hr", "address", "center", "details",
     "summary", "fieldset", "li", "dd", "dt", "tr", "td", "th", "tbody", "thead", "tfoot",
     "caption", "header", "footer", "nav", "aside", "form", "img", "hgroup", "picture", "br",
     *_HEADINGS}
)  # fmt: skip
_MAX_DEPTH = 180  # below libxml2's own limit; anything deeper is read as plain text
_MIN_MAIN_SHARE = 0.3  # a <main>/<article> holding less of the page's text is not the content
_MAX_BOILERPLATE_SHARE = 0.5  # a "boilerplate" element holding more of the text is the page
_LAYOUT_ROW_WORDS = 40  # a one-row table with more words than this is a layout box


def _classes(el: etree._Element) -> str:
    return f"{el.get('class') or ''} {el.get('id') or ''}"


def _is_boilerplate(el: etree._Element, options: ParseOptions) -> bool:
    tag = el.tag if isinstance(el.tag, str) else ""
    if tag in _DROP_ALWAYS:
        return True
    if el.get("hidden") is not None or el.get("aria-hidden") == "true":
        return True
    style = el.get("style") or ""
    if _HIDDEN_STYLE.search(style):
        return True
    if options.html_remove_fixed_elements and _FIXED_STYLE.search(style):
        return True
    if not options.html_remove_navigation_elements or tag in ("body", "html", "a", "main"):
        return False
    if tag == "header" and any(a.tag in ("main", "article") for a in el.iterancestors()):
        return False  # an article's own header holds its title
    if tag in _BOILERPLATE_TAGS or (el.get("role") or "").lower() in _BOILERPLATE_ROLES:
        return True
    if tag in _HEADINGS or tag in ("table", "tr", "td", "th", "pre", "code", "article"):
        return False
    names = _classes(el)
    return bool(_UNLIKELY.search(names)) and not _MAYBE_CONTENT.search(names)


def _strip(root: etree._Element, options: ParseOptions) -> None:
    total = max(1, _text_length(root))
    doomed = []
    for el in root.iter():
        if not isinstance(el.tag, str) or _is_boilerplate(el, options):
            # A "boilerplate" container holding most of the page is the page (a wrapper
            # misnamed "header" or "menu-layout"), not furniture.
            if (
                isinstance(el.tag, str)
                and el.tag in _BLOCKS
                and el.tag not in _BOILERPLATE_TAGS
                and _text_length(el) > _MAX_BOILERPLATE_SHARE * total
            ):
                continue
            doomed.append(el)
    for el in doomed:
        parent = el.getparent()
        if parent is None:
            continue
        # Keep the text that follows the removed element.
        if el.tail and el.tail.strip():
            previous = el.getprevious()
            if previous is not None:
                previous.tail = (previous.tail or "") + el.tail
            else:
                parent.text = (parent.text or "") + el.tail
        parent.remove(el)


def _text_length(el: etree._Element) -> int:
    return len("".join(el.itertext()).split())


def _main_content(root: etree._Element) -> etree._Element:
    """The page's <main> / role=main / single <article> when it holds most of the text."""
    body = root.find("body")
    body = body if body is not None else root
    total = max(1, _text_length(body))
    candidates = root.xpath("//main | //*[@role='main']")
    articles = root.xpath("//article")
    if len(articles) == 1:
        candidates.append(articles[0])
    best = max(candidates, key=_text_length, default=None)
    if best is not None and _text_length(best) >= _MIN_MAIN_SHARE * total:
        return best
    return body


class _Walker:
    def __init__(self, out: PageBuilder) -> None:
        self.out = out
        self.inline: list[str] = []

    def flush(self, kind: str = "text") -> None:
        text = clean_inline("".join(self.inline))
        self.inline = []
        if text:
            self.out.text(text, kind=kind)

    def block(self, el: etree._Element, depth: int = 0) -> None:
        """Read `el`'s content: inline runs become paragraphs, blocks their fragments."""
        if el.text:
            self.inline.append(el.text)
        for child in el:
            self.element(child, depth + 1)
            if child.tail:
                self.inline.append(child.tail)

    def element(self, el: etree._Element, depth: int) -> None:
        tag = el.tag if isinstance(el.tag, str) else ""
        if depth > _MAX_DEPTH:
            self.inline.append(" " + " ".join(el.itertext()) + " ")
            return
        if tag not in _BLOCKS:
            self.inline.append(self.inline_text(el))
            return
        if tag == "br":
            self.inline.append(" ")
            return
        self.flush()
        if tag in _HEADINGS:
            self.out.heading(_HEADINGS[tag], self.inline_text(el))
        elif tag in ("ul", "ol"):
            self.list(el, 0)
        elif tag == "table":
            self.table(el, depth)
        elif tag == "pre":
            code = "".join(el.itertext()).strip("\n")
            if code.strip():
                self.out.text(f"```\n{code}\n```")
        elif tag == "img":
            self.out.figure(el.get("alt") or "", el.get("src") or "")
        elif tag == "figcaption" or tag == "caption":
            self.out.text(self.inline_text(el), kind="caption")
        elif tag == "blockquote":
            text = clean_inline(" ".join(el.itertext()))
            if text:
                self.out.text(f"> {text}")
        elif tag == "hr":
            pass
        else:
            self.block(el, depth)
            self.flush()

    def inline_text(self, el: etree._Element) -> str:
        """The text of an inline element, links as [text](href), images as their alt text."""
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag == "img":
            return f" {el.get('alt') or ''} "
        if tag == "br":
            return " "
        parts = [el.text or ""]
        for child in el:
            parts.append(self.inline_text(child))
            parts.append(child.tail or "")
        text = "".join(parts)
        if tag == "a":
            href = (el.get("href") or "").strip()
            label = clean_inline(text)
            if label and href and not href.lower().startswith("javascript:"):
                return f" [{label}]({href}) "
        if tag in ("td", "th", "li", "p", "div", "dt", "dd"):
            return f" {text} "
        return text

    def list(self, el: etree._Element, depth: int) -> None:
        number = int(el.get("start") or 1) if (el.get("start") or "1").isdigit() else 1
        ordered = el.tag == "ol"
        for item in el:
            if item.tag != "li":
                if item.tag in ("ul", "ol"):
                    self.list(item, depth + 1)
                continue
            nested = [c for c in item if c.tag in ("ul", "ol")]
            parts = [item.text or ""]
            for child in item:
                if child.tag not in ("ul", "ol"):
                    parts.append(self.inline_text(child))
                parts.append(child.tail or "")
            marker = f"{number}." if ordered else "-"
            self.out.list_item("".join(parts), depth, marker)
            number += 1
            for sub in nested:
                if depth < _MAX_DEPTH // 4:
                    self.list(sub, depth + 1)

    def table(self, el: etree._Element, depth: int) -> None:
        if _is_layout_table(el):
            # A table used for page layout: its cells are read as blocks, in order.
            for cell in el.iter("td", "th"):
                if next(iter(cell.iterancestors("table")), None) is el:
                    self.block(cell, depth)
                    self.flush()
            return
        rows: list[list[Cell]] = []
        for tr in el.iter("tr"):
            # Rows of this table only, not of tables nested in its cells.
            if next(iter(tr.iterancestors("table")), None) is not el:
                continue
            row = []
            for cell in tr:
                if cell.tag not in ("td", "th"):
                    continue
                row.append(
                    Cell(
                        clean_inline(self.inline_text(cell)),
                        _span(cell.get("colspan")),
                        _span(cell.get("rowspan")),
                    )
                )
            rows.append(row)
        caption = el.find("caption")
        if caption is not None:
            self.out.text(clean_inline(caption.text_content()), kind="caption")
        self.out.table(rows)


def _is_layout_table(el: etree._Element) -> bool:
    """A single column, or a single row holding long text: page layout, not data."""
    rows = [tr for tr in el.iter("tr") if next(iter(tr.iterancestors("table")), None) is el]
    if all(sum(1 for c in tr if c.tag in ("td", "th")) <= 1 for tr in rows):
        return True
    return len(rows) == 1 and _text_length(rows[0]) > _LAYOUT_ROW_WORDS


def _span(value: str | None) -> int:
    try:
        return max(1, min(1000, int(value or 1)))
    except ValueError:
        return 1


def read_html(text: str, options: ParseOptions, out: PageBuilder) -> None:
    """Append the HTML document's content to `out` (also used for e-mail bodies)."""
    parser = lxml.html.HTMLParser(
        remove_comments=True, remove_pis=True, no_network=True, huge_tree=False
    )
    text = re.sub(r"^\s*<\?xml[^>]*>", "", text)
    try:
        root = lxml.html.document_fromstring(text, parser=parser)
    except (etree.ParserError, ValueError) as exc:
        raise DocIngestError(ErrorCode.CORRUPT_FILE, f"unreadable HTML: {exc}") from exc
    for el in root.iter():  # XHTML: drop namespaces so tags compare by their plain names
        if isinstance(el.tag, str) and el.tag.startswith("{"):
            el.tag = etree.QName(el).localname
    _strip(root, options)
    walker = _Walker(out)
    if options.html_remove_navigation_elements:
        content = _main_content(root)
    else:
        body = root.find("body")
        content = body if body is not None else root
    walker.block(content)
    walker.flush()


def parse_html(data: bytes, options: ParseOptions, out: PageBuilder) -> dict[str, Any]:
    text, encoding = decode_text(data, html=True)
    out.new_page()
    read_html(text, options, out)
    return {"encoding": encoding}
