"""DOCX/DOCM from WordprocessingML: headings from styles and outline levels, numbered lists,
tables with merged cells, footnotes, comments, images, hyperlinks, and Word's own page breaks.

Pages: Word records where it last broke pages (`w:lastRenderedPageBreak`); when a file has
them, they are the page boundaries, else explicit page breaks are. Macros are never run: the
VBA part is not read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from docingest.errors import DocIngestError, ErrorCode
from docingest.parsing.office.blocks import Cell, PageBuilder, clean_inline
from docingest.parsing.office.numbering import format_number
from docingest.parsing.office.package import Package
from docingest.parsing.options import ParseOptions

_TRANSITIONAL = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_STRICT = "http://purl.oclc.org/ooxml/wordprocessingml/main"
_WP = "http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"
_MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
_HEADING_NAME = re.compile(r"^(?:heading|titre|überschrift|encabezado|título|titolo)\s*(\d)$", re.I)
_BODY_LEVEL = 9  # outline level 9 is body text
# Elements whose children are read as if they stood in the element's place.
_TRANSPARENT = frozenset(
    {"sdt", "sdtContent", "customXml", "smartTag", "ins", "moveTo", "fldSimple", "dir", "bdo"}
)
_SKIPPED = frozenset({"del", "moveFrom", "rPr", "pPr", "instrText", "delText", "fldData"})


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _attr(el: etree._Element, name: str) -> str | None:
    """An attribute by local name, whatever its namespace (transitional or strict)."""
    for key, value in el.attrib.items():
        if _local(key) == name:
            return str(value)
    return None


@dataclass
class _Style:
    name: str = ""
    based_on: str | None = None
    outline: int | None = None
    num_id: str | None = None
    ilvl: int = 0


@dataclass
class _Numbering:
    # numId -> abstractNumId; abstract -> level -> (format, text, start)
    nums: dict[str, str] = field(default_factory=dict)
    levels: dict[str, dict[int, tuple[str, str, int]]] = field(default_factory=dict)
    counters: dict[str, list[int]] = field(default_factory=dict)

    def next(self, num_id: str, ilvl: int) -> tuple[str, str]:
        """(marker for a list item, label for a numbered heading) of the next item."""
        abstract = self.nums.get(num_id)
        levels = self.levels.get(abstract or "", {})
        fmt, text, _ = levels.get(ilvl, ("bullet", "", 1))
        if fmt in ("bullet", "none", ""):
            return "-", ""
        counts = self.counters.setdefault(abstract or num_id, [0] * 10)
        ilvl = min(ilvl, 9)
        if counts[ilvl] == 0:
            counts[ilvl] = levels.get(ilvl, ("", "", 1))[2] - 1
        counts[ilvl] += 1
        for deeper in range(ilvl + 1, 10):
            counts[deeper] = 0

        def value(match: re.Match[str]) -> str:
            level = int(match.group(1)) - 1
            level_fmt = levels.get(level, ("decimal", "", 1))[0]
            return format_number(max(1, counts[level] if 0 <= level < 10 else 1), level_fmt)

        label = re.sub(r"%(\d)", value, text).strip()
        return f"{counts[ilvl]}.", label


class _Reader:
    def __init__(self, package: Package, options: ParseOptions, out: PageBuilder) -> None:
        self.package = package
        self.options = options
        self.out = out
        self.part = package.main_part("word/document.xml")
        root = package.xml(self.part)
        if root is None:
            raise DocIngestError(ErrorCode.CORRUPT_FILE, "the Word package has no document part")
        ns = etree.QName(root).namespace
        if ns not in (_TRANSITIONAL, _STRICT):
            raise DocIngestError(
                ErrorCode.CORRUPT_FILE, f"the document part is not WordprocessingML ({ns})"
            )
        self.w = f"{{{ns}}}"
        self.root = root
        self.rels = package.relationships(self.part)
        self._deferred: list[etree._Element] = []
        self.styles = self._styles()
        self.numbering = self._numbering()
        self.pending_notes: list[str] = []
        self.pending_break = False
        self.footnotes: dict[str, str] = {}
        self.comments: dict[str, str] = {}
        self.rendered_breaks = any(True for _ in root.iter(f"{self.w}lastRenderedPageBreak"))
        self.footnotes = self._notes("footnotes", "footnote")
        self.comments = (
            self._notes("comments", "comment") if options.office_include_comments else {}
        )
        self.pending_break = False  # reading the notes above may have set it
        self.pending_notes = []
        self.has_title = any(
            self._style_chain(_attr(el, "val") or "")[0] == "title"
            for el in root.iter(f"{self.w}pStyle")
        )

    # --- package parts -------------------------------------------------------------------
    def _part_for(self, kind: str) -> str | None:
        for rel_kind, target, external in self.rels.values():
            if rel_kind == kind and not external:
                return target
        return None

    def _styles(self) -> dict[str, _Style]:
        part = self._part_for("styles")
        root = self.package.xml(part) if part else None
        styles: dict[str, _Style] = {}
        if root is None:
            return styles
        w = self.w
        for el in root.iter(f"{w}style"):
            style = _Style()
            for child in el:
                name = _local(child.tag)
                if name == "name":
                    style.name = (_attr(child, "val") or "").strip().lower()
                elif name == "basedOn":
                    style.based_on = _attr(child, "val")
                elif name == "pPr":
                    outline = child.find(f"{w}outlineLvl")
                    if outline is not None:
                        style.outline = int(_attr(outline, "val") or _BODY_LEVEL)
                    num = child.find(f"{w}numPr")
                    if num is not None:
                        style.num_id, style.ilvl = self._num_pr(num)
            styles[_attr(el, "styleId") or ""] = style
        return styles

    def _num_pr(self, num_pr: etree._Element) -> tuple[str | None, int]:
        num = num_pr.find(f"{self.w}numId")
        lvl = num_pr.find(f"{self.w}ilvl")
        num_id = _attr(num, "val") if num is not None else None
        return num_id, int(_attr(lvl, "val") or 0) if lvl is not None else 0

    def _numbering(self) -> _Numbering:
        numbering = _Numbering()
        part = self._part_for("numbering")
        root = self.package.xml(part) if part else None
        if root is None:
            return numbering
        w = self.w
        for abstract in root.iter(f"{w}abstractNum"):
            levels: dict[int, tuple[str, str, int]] = {}
            for lvl in abstract.iter(f"{w}lvl"):
                fmt = lvl.find(f"{w}numFmt")
                text = lvl.find(f"{w}lvlText")
                start = lvl.find(f"{w}start")
                levels[int(_attr(lvl, "ilvl") or 0)] = (
                    _attr(fmt, "val") or "decimal" if fmt is not None else "decimal",
                    _attr(text, "val") or "" if text is not None else "",
                    int(_attr(start, "val") or 1) if start is not None else 1,
                )
            numbering.levels[_attr(abstract, "abstractNumId") or ""] = levels
        for num in root.iter(f"{w}num"):
            ref = num.find(f"{w}abstractNumId")
            if ref is not None:
                numbering.nums[_attr(num, "numId") or ""] = _attr(ref, "val") or ""
        return numbering

    def _notes(self, kind: str, tag: str) -> dict[str, str]:
        part = self._part_for(kind)
        root = self.package.xml(part) if part else None
        notes: dict[str, str] = {}
        if root is None:
            return notes
        for note in root.iter(f"{self.w}{tag}"):
            text = " ".join(self._runs_text(p) for p in note.iter(f"{self.w}p")).strip()
            if text:
                author = _attr(note, "author") if tag == "comment" else None
                notes[_attr(note, "id") or ""] = f"{author}: {text}" if author else text
        return notes

    # --- styles --------------------------------------------------------------------------
    def _style_chain(self, style_id: str) -> tuple[str, int | None, str | None, int]:
        """(style name, outline level, numId, ilvl) following basedOn links."""
        name, outline, num_id, ilvl = "", None, None, 0
        seen: set[str] = set()
        current: str | None = style_id
        while current and current not in seen:
            seen.add(current)
            style = self.styles.get(current)
            if style is None:
                break
            name = name or style.name
            outline = outline if outline is not None else style.outline
            if num_id is None and style.num_id is not None:
                num_id, ilvl = style.num_id, style.ilvl
            current = style.based_on
        return name or style_id.lower(), outline, num_id, ilvl

    # --- text ----------------------------------------------------------------------------
    def _runs_text(self, el: etree._Element) -> str:
        """The text of `el`'s runs, with hyperlinks as markdown links; notes collected."""
        parts: list[str] = []
        self._collect(el, parts)
        return clean_inline("".join(parts))

    def _collect(self, el: etree._Element, parts: list[str]) -> None:
        for child in el:
            name = _local(child.tag)
            if name in _SKIPPED:
                continue
            if name == "t":
                parts.append(child.text or "")
            elif name in ("tab", "ptab"):
                parts.append(" ")
            elif name in ("br", "cr"):
                if _attr(child, "type") == "page" and not self.rendered_breaks:
                    self.pending_break = True
                else:
                    parts.append(" ")
            elif name == "lastRenderedPageBreak":
                self.pending_break = True
            elif name == "noBreakHyphen":
                parts.append("-")
            elif name == "sym":
                parts.append(chr(int(_attr(child, "char") or "20", 16) % 0x110000))
            elif name == "hyperlink":
                inner: list[str] = []
                self._collect(child, inner)
                text = clean_inline("".join(inner))
                rel = self.rels.get(_attr(child, "id") or "")
                if text and rel and rel[2]:
                    parts.append(f"[{text}]({rel[1]})")
                else:
                    parts.append(text)
            elif name == "footnoteReference":
                note_id = _attr(child, "id") or ""
                if self.options.office_include_footnotes and note_id in self.footnotes:
                    parts.append(f"[^{note_id}]")
                    self.pending_notes.append(f"[^{note_id}]: {self.footnotes[note_id]}")
            elif name == "commentReference":
                note_id = _attr(child, "id") or ""
                if note_id in self.comments:
                    self.pending_notes.append(f"Comment {self.comments[note_id]}")
            elif name == "drawing" or name == "pict":
                self._drawing(child)
            elif name == "AlternateContent":
                choice = child.find(f"{{{_MC}}}Choice")
                self._collect(choice if choice is not None else child, parts)
            elif name in ("txbxContent", "endnoteReference"):
                continue  # text boxes are read as blocks by _drawing
            else:
                self._collect(child, parts)

    def _drawing(self, el: etree._Element) -> None:
        """An image (alt text from docPr) or a text box, whose paragraphs become blocks."""
        self._deferred.append(el)

    # --- blocks --------------------------------------------------------------------------
    def read(self) -> None:
        body = self.root.find(f"{self.w}body")
        if body is None:
            raise DocIngestError(ErrorCode.CORRUPT_FILE, "the Word document has no body")
        self._deferred = []
        self.out.new_page()
        self._blocks(body)
        self._flush_notes()

    def _blocks(self, el: etree._Element) -> None:
        for child in el:
            name = _local(child.tag)
            if name == "p":
                self._paragraph(child)
            elif name == "tbl":
                self._table(child)
            elif name in _TRANSPARENT:
                self._blocks(child)
            if self.pending_break:
                self._flush_notes()
                self.out.new_page()
                self.pending_break = False

    def _flush_notes(self) -> None:
        for note in self.pending_notes:
            self.out.text(note, kind="footnote")
        self.pending_notes = []

    def _paragraph(self, p: etree._Element) -> None:
        w = self.w
        ppr = p.find(f"{w}pPr")
        style_id, outline, num_id, ilvl = "", None, None, 0
        if ppr is not None:
            if ppr.find(f"{w}pageBreakBefore") is not None and not self.rendered_breaks:
                self.out.new_page()
            style_el = ppr.find(f"{w}pStyle")
            style_id = _attr(style_el, "val") or "" if style_el is not None else ""
            outline_el = ppr.find(f"{w}outlineLvl")
            if outline_el is not None:
                outline = int(_attr(outline_el, "val") or _BODY_LEVEL)
            num_el = ppr.find(f"{w}numPr")
            if num_el is not None:
                num_id, ilvl = self._num_pr(num_el)
        name, style_outline, style_num, style_ilvl = self._style_chain(style_id)
        if outline is None:
            outline = style_outline
        if num_id is None and style_num is not None:
            num_id, ilvl = style_num, style_ilvl
        text = self._runs_text(p)
        deferred, self._deferred = self._deferred, []
        level = self._heading_level(name, outline)
        if text and level is not None:
            label = ""
            if num_id and num_id != "0":
                _, label = self.numbering.next(num_id, ilvl)
            heading = f"{label} {text}" if label else text
            self.out.heading(level, heading, title=name == "title")
        elif text and num_id and num_id != "0":
            marker, _ = self.numbering.next(num_id, ilvl)
            self.out.list_item(text, depth=ilvl, marker=marker)
        elif text:
            kind = "caption" if name == "caption" else "text"
            self.out.text(text, kind=kind)
        for drawing in deferred:
            self._read_drawing(drawing)

    def _heading_level(self, style_name: str, outline: int | None) -> int | None:
        shift = 1 if self.has_title else 0
        if style_name == "title":
            return 1
        if style_name == "subtitle":
            return 2
        if style_name == "heading":  # LibreOffice's unnumbered heading (its Heading N's parent)
            return 1 + shift
        if outline is not None and 0 <= outline < _BODY_LEVEL:
            return outline + 1 + shift
        match = _HEADING_NAME.match(style_name)
        if match:
            return int(match.group(1)) + shift
        return None

    def _read_drawing(self, el: etree._Element) -> None:
        boxes = [b for b in el.iter() if _local(b.tag) == "txbxContent"]
        for box in boxes:
            self._blocks(box)
        for doc_pr in el.iter(f"{{{_WP}}}docPr"):
            alt = _attr(doc_pr, "descr") or _attr(doc_pr, "title") or ""
            if not boxes:
                self.out.figure(alt, "")

    def _table(self, tbl: etree._Element) -> None:
        """Rows of cells; gridSpan is colspan, vMerge runs become rowspan."""
        rows: list[list[tuple[str, int, str | None]]] = []  # (text, colspan, vmerge)
        for tr in self._children(tbl, "tr"):
            row = []
            for tc in self._children(tr, "tc"):
                span, vmerge = 1, None
                tcpr = tc.find(f"{self.w}tcPr")
                if tcpr is not None:
                    grid = tcpr.find(f"{self.w}gridSpan")
                    if grid is not None:
                        span = max(1, int(_attr(grid, "val") or 1))
                    merge = tcpr.find(f"{self.w}vMerge")
                    if merge is not None:
                        vmerge = _attr(merge, "val") or "continue"
                row.append((self._cell_text(tc), span, vmerge))
            rows.append(row)
        self.out.table(_resolve_vmerge(rows))

    def _children(self, el: etree._Element, tag: str) -> list[etree._Element]:
        out = []
        for child in el:
            name = _local(child.tag)
            if name == tag:
                out.append(child)
            elif name in _TRANSPARENT:
                out.extend(self._children(child, tag))
        return out

    def _cell_text(self, tc: etree._Element) -> str:
        parts = []
        for p in tc.iter(f"{self.w}p"):
            text = self._runs_text(p)
            if text:
                parts.append(text)
        self._deferred = []
        return " ".join(parts)


def _resolve_vmerge(rows: list[list[tuple[str, int, str | None]]]) -> list[list[Cell]]:
    """Turn vMerge restart/continue cells into rowspans over the grid columns."""
    out: list[list[Cell]] = []
    open_cells: dict[int, Cell] = {}  # grid column -> the cell a vertical merge started
    for row in rows:
        cells: list[Cell] = []
        column = 0
        for text, span, vmerge in row:
            if vmerge == "continue" and column in open_cells:
                open_cells[column].rowspan += 1
            else:
                cell = Cell(text, span)
                cells.append(cell)
                if vmerge == "restart":
                    open_cells[column] = cell
                else:
                    open_cells.pop(column, None)
            column += span
        out.append(cells)
    return out


def parse_docx(data: bytes, options: ParseOptions, out: PageBuilder) -> dict:
    package = Package(data, "the Word document")
    try:
        reader = _Reader(package, options, out)
        reader.read()
    finally:
        package.close()
    return {"page_breaks": "rendered" if reader.rendered_breaks else "explicit"}
