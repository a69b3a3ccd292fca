"""Plain text and markdown files: one page of fragments split at markdown block boundaries."""

from __future__ import annotations

import re

from docingest.models import BBox, Fragment
from docingest.parsing.tables import is_rule_row, markdown_table_to_html, split_row

ZERO_BOX = BBox(0.0, 0.0, 0.0, 0.0)
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•▪‣◦]|\d{1,9}[.)])\s+\S")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_THEMATIC = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_QUOTE = re.compile(r"^ {0,3}>")


def _is_table_start(lines: list[str], i: int) -> bool:
    if i + 1 >= len(lines):
        return False
    head, rule = split_row(lines[i]), split_row(lines[i + 1])
    return head is not None and rule is not None and is_rule_row(rule)


def _starts_block(lines: list[str], i: int) -> bool:
    line = lines[i]
    return bool(
        _ATX.match(line)
        or _FENCE.match(line)
        or _LIST_ITEM.match(line)
        or _QUOTE.match(line)
        or _THEMATIC.match(line)
        or _is_table_start(lines, i)
    )


class _Builder:
    def __init__(self) -> None:
        self.fragments: list[Fragment] = []
        self._seen_title = False

    def heading(self, level: int, text: str) -> None:
        text = text.strip()
        if not text:
            return
        kind = "section_header"
        if level == 1 and not self._seen_title:
            kind, self._seen_title = "title", True
        self.fragments.append(Fragment(kind, f"{'#' * level} {text}", ZERO_BOX, level=level))

    def add(self, kind: str, content: str, html: str | None = None) -> None:
        content = content.strip("\n")
        if content.strip():
            self.fragments.append(Fragment(kind, content, ZERO_BOX, html=html))


def markdown_fragments(text: str, table_format: str = "markdown") -> list[Fragment]:
    """Fragments of a markdown (or plain text) document, in order."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out = _Builder()
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        if fence := _FENCE.match(line):
            marker, start = fence.group(1), i
            i += 1
            while i < n and not lines[i].strip().startswith(marker):
                i += 1
            i = min(i + 1, n)
            out.add("text", "\n".join(lines[start:i]))
        elif heading := _ATX.match(line):
            out.heading(len(heading.group(1)), heading.group(2) or "")
            i += 1
        elif _is_table_start(lines, i):
            start = i
            while i < n and lines[i].strip() and split_row(lines[i]) is not None:
                i += 1
            table = "\n".join(lines[start:i])
            html = markdown_table_to_html(table)
            out.add("table", html if html and table_format == "html" else table, html=html)
        elif _THEMATIC.match(line):
            i += 1
        elif _LIST_ITEM.match(line) or _QUOTE.match(line):
            quote = not _LIST_ITEM.match(line)
            start = i
            i += 1
            while i < n and lines[i].strip():
                if _starts_block(lines, i) and not (quote and _QUOTE.match(lines[i])):
                    break
                i += 1
            kind = "text" if quote else "list_item"
            out.add(kind, "\n".join(lines[start:i]))
        else:
            start = i
            i += 1
            while i < n and lines[i].strip() and not _starts_block(lines, i):
                if _SETEXT.match(lines[i]):
                    break
                i += 1
            if i < n and lines[i].strip() and _SETEXT.match(lines[i]):
                level = 1 if lines[i].strip().startswith("=") else 2
                out.heading(level, " ".join(s.strip() for s in lines[start:i]))
                i += 1
            else:
                out.add("text", "\n".join(lines[start:i]))
    return out.fragments
