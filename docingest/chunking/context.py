"""What to embed for a chunk: its text, or with `contextual_prefix` its breadcrumb first.

The chunk text stays the exact document text (citations, highlighting and coverage rely on it);
only the embedding input changes, so a chunk from deep inside a section still carries the
section's name into its vector.
"""

from __future__ import annotations

from docingest.models import Chunk

BREADCRUMB_SEPARATOR = " > "


def embedding_text(chunk: Chunk, contextual_prefix: bool) -> str:
    """The text to embed: `chunk.text`, or with `contextual_prefix` the heading breadcrumb
    joined by " > ", a blank line, then `chunk.text` (the text alone when there is no
    breadcrumb)."""
    breadcrumb = BREADCRUMB_SEPARATOR.join(h for h in chunk.headings if h.strip())
    if not contextual_prefix or not breadcrumb:
        return chunk.text
    return f"{breadcrumb}\n\n{chunk.text}"
