"""Markdown pipe tables to HTML (first row as header cells)."""

from __future__ import annotations

import html
import re

_RULE_CELL = re.compile(r"^:?-{1,}:?$")
_SPLIT = re.compile(r"(?<!\\)\|")
_BR = re.compile(r"&lt;br\s*/?&gt;", re.IGNORECASE)
_EMPHASIS = (
    (re.compile(r"\*\*(.+?)\*\*"), r"\1"),
    (re.compile(r"(?<!\w)__(.+?)__(?!\w)"), r"\1"),
    (re.compile(r"(?<![\w*])\*([^*]+?)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<!\w)_([^_]+?)_(?!\w)"), r"\1"),
    (re.compile(r"`([^`]*)`"), r"\1"),
)


def split_row(line: str) -> list[str] | None:
    """The cells of one `| a | b |` line, or None when the line is not a table row."""
    stripped = line.strip()
    if "|" not in stripped:
        return None
    if stripped.startswith("|"):
        stripped = stripped[1:]
    if stripped.endswith("|") and not stripped.endswith("\\|"):
        stripped = stripped[:-1]
    return [cell.strip().replace("\\|", "|") for cell in _SPLIT.split(stripped)]


def is_rule_row(cells: list[str]) -> bool:
    """Whether `cells` is the `|---|:--:|` line under a table's header."""
    return bool(cells) and all(_RULE_CELL.match(cell.replace(" ", "")) for cell in cells)


def _cell_html(text: str) -> str:
    for pattern, replacement in _EMPHASIS:
        text = pattern.sub(replacement, text)
    # Cells from pymupdf4llm carry <br> for line breaks inside a cell; keep those as markup.
    return _BR.sub("<br>", html.escape(text, quote=False))


def markdown_table_to_html(markdown: str) -> str | None:
    """HTML for the pipe table in `markdown`; None when it holds no table rows."""
    rows = [cells for line in markdown.splitlines() if (cells := split_row(line)) is not None]
    rows = [cells for cells in rows if not is_rule_row(cells)]
    if not rows:
        return None
    width = max(len(cells) for cells in rows)
    out = ["<table>"]
    for index, cells in enumerate(rows):
        tag = "th" if index == 0 else "td"
        padded = cells + [""] * (width - len(cells))
        out.append("<tr>" + "".join(f"<{tag}>{_cell_html(c)}</{tag}>" for c in padded) + "</tr>")
    out.append("</table>")
    return "".join(out)
