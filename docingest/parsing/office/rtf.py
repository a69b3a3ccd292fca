"""RTF: text with striprtf (destinations, code pages, unicode escapes), tables rebuilt from the
\\trowd / \\cell / \\row control words, which are marked before the text is extracted."""

from __future__ import annotations

import re
from typing import Any

from docingest.errors import DocIngestError, ErrorCode
from docingest.parsing.office.blocks import Cell, PageBuilder, clean_inline
from docingest.parsing.options import ParseOptions

_CODE_PAGE = re.compile(rb"\\ansicpg(\d+)")
_ROW_START, _CELL, _ROW_END = "\x01RTFROWSTART\x01", "\x01RTFCELL\x01", "\x01RTFROWEND\x01"
_MARKS = re.compile("(\x01RTF(?:ROWSTART|CELL|ROWEND)\x01)")
_LIST_MARKER = re.compile(r"^\s*(?:[\u2022\u25cf\u25aa\u00b7o\-*]|\d+[.)]|[a-z][.)])\s+", re.I)


def _mark(text: str) -> str:
    # Plain-text markers after the control words; striprtf passes them through as text.
    text = re.sub(r"\\trowd(?![a-z])", lambda _: "\\trowd " + _ROW_START, text)
    text = re.sub(r"\\(?:nest)?cell(?![a-z])", lambda _: "\\cell " + _CELL, text)
    return re.sub(r"\\(?:nest)?row(?![a-z])", lambda _: "\\row " + _ROW_END, text)


def parse_rtf(data: bytes, options: ParseOptions, out: PageBuilder) -> dict[str, Any]:
    from striprtf.striprtf import rtf_to_text

    match = _CODE_PAGE.search(data[:4096])
    encoding = f"cp{match.group(1).decode()}" if match else "cp1252"
    try:
        "".encode(encoding)
    except LookupError:
        encoding = "cp1252"
    raw = data.decode("latin-1")
    try:
        text = rtf_to_text(_mark(raw), encoding=encoding, errors="replace")
    except (ValueError, IndexError, RecursionError) as exc:
        raise DocIngestError(ErrorCode.CORRUPT_FILE, f"unreadable RTF: {exc}") from exc
    out.new_page()
    rows: list[list[Cell]] = []
    row: list[Cell] | None = None
    buffer = ""

    def paragraphs(chunk: str) -> None:
        for line in chunk.split("\n"):
            line = line.replace("|", " ") if rows or row is not None else line
            if not line.strip():
                continue
            if _LIST_MARKER.match(line):
                marker = line.strip().split(None, 1)
                out.list_item(marker[1] if len(marker) > 1 else "", 0, "-")
            else:
                out.text(clean_inline(line))

    for token in _MARKS.split(text):
        if token == _ROW_START:
            if row is None:
                if not rows:
                    paragraphs(buffer)
                elif buffer.strip():
                    out.table(rows)
                    rows = []
                    paragraphs(buffer)
                buffer, row = "", []
        elif token == _CELL:
            if row is None:
                row = []
            row.append(Cell(clean_inline(buffer.strip().strip("|"))))
            buffer = ""
        elif token == _ROW_END:
            if row:
                rows.append(row)
            row, buffer = None, buffer.lstrip("|\n")
        else:
            buffer += token
    if rows:
        out.table(rows)
    paragraphs(buffer)
    return {"encoding": encoding}
