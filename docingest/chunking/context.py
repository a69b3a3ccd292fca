"""What to embed for a chunk: its text as a reader sees it, with its context first.

The chunk text stays the exact document text (citations, highlighting and coverage rely on it);
only the embedding input changes:

- HTML tables (the parser's default table format) are read as rows of cells separated by " | ":
  the markup means nothing to the model and, at half of a table's tokens, pushes the cells
  out of the model's window;
- with `contextual_prefix`, the document's title (its file name, as people name documents)
  and the heading breadcrumb come first, so a chunk from deep inside a section still carries
  which document and section it belongs to into its vector and its BM25 terms.
"""

from __future__ import annotations

import html
import re
from pathlib import PurePosixPath

from docingest.models import Chunk

BREADCRUMB_SEPARATOR = " > "
_CELL_END = re.compile(r"\s*</t[dh]>\s*", re.IGNORECASE)
_ROW_END = re.compile(r"\s*</tr>\s*", re.IGNORECASE)
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_TABLE = re.compile(r"<table\b.*?</table>", re.IGNORECASE | re.DOTALL)
_SPACES = re.compile(r"[ \t]+")


def _table_rows(table: str) -> str:
    text = _BREAK.sub(" ", table)
    text = _CELL_END.sub(" | ", text)
    text = _ROW_END.sub("\n", text)
    text = html.unescape(_TAG.sub("", text))
    rows = (_SPACES.sub(" ", row).strip(" |") for row in text.splitlines())
    return "\n".join(row for row in rows if row)


def readable_text(text: str) -> str:
    """`text` with every HTML table read as lines of " | "-separated cells."""
    if "<table" not in text.lower():
        return text
    return _TABLE.sub(lambda m: _table_rows(m.group(0)), text)


def document_title(document_id: str) -> str:
    """A document's title for its chunks' context: its file name without the extension."""
    stem = PurePosixPath(document_id).stem or document_id
    return _SPACES.sub(" ", re.sub(r"[_]+", " ", stem)).strip()


def embedding_text(chunk: Chunk, contextual_prefix: bool, title: str | None = None) -> str:
    """The text to embed: the readable chunk text; with `contextual_prefix`, first the title
    (default: from the document id; "" for none) and the heading breadcrumb joined by " > ",
    each on its own line, then a blank line."""
    body = readable_text(chunk.text)
    if not contextual_prefix:
        return body
    breadcrumb = BREADCRUMB_SEPARATOR.join(h.strip() for h in chunk.headings if h.strip())
    if title is None:
        title = document_title(chunk.document_id)
    head = [line for line in (title, breadcrumb) if line]
    return "\n".join(head) + "\n\n" + body if head else body
