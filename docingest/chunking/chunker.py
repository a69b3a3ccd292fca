"""chunk_document: a parse result in, chunk records with provenance out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from docingest.chunking.document import Span, build_document
from docingest.chunking.params import ChunkingSettings, settings_for
from docingest.chunking.registry import get_strategy
from docingest.ids import chunk_id_for
from docingest.models import Chunk, ParseResult
from docingest.tokenizer import get_encoding


def _boxes(spans: Sequence[Span]) -> list[dict[str, float]]:
    return [
        {
            "page": span.page,
            "x0": span.bbox.x0,
            "y0": span.bbox.y0,
            "x1": span.bbox.x1,
            "y1": span.bbox.y1,
        }
        for span in spans
    ]


def chunk_document(parsed: ParseResult, strategy: str, params: Mapping[str, object]) -> list[Chunk]:
    """Chunk a parse result with `strategy`; every chunk carries its pages, boxes and headings.

    Raises ConfigError for invalid params before doing any work.
    """
    return chunk_with(parsed, settings_for(strategy, params))


def chunk_with(parsed: ParseResult, settings: ChunkingSettings) -> list[Chunk]:
    """Chunk a parse result with settings validated beforehand (once per run, not per document)."""
    strategy, normalized, params_hash = settings
    encoding = get_encoding(normalized["encoding_name"])
    doc = build_document(parsed)
    labels = {page.page_number: page.label for page in parsed.pages}
    labelled = any(labels.values())
    chunks: list[Chunk] = []
    for piece in get_strategy(strategy).pieces(doc, parsed, normalized):
        text = piece.prefix + doc.text[piece.start : piece.end]
        spans = doc.overlapping(piece.start, piece.end)
        if not text.strip() or not spans:
            continue
        index = len(chunks)
        count = piece.tokens
        if count is None:
            count = len(encoding.encode_ordinary(text))
        first, last = min(span.page for span in spans), max(span.page for span in spans)
        chunks.append(
            Chunk(
                chunk_id=chunk_id_for(parsed.document_id, index, params_hash),
                document_id=parsed.document_id,
                chunk_index=index,
                text=text,
                token_count=count,
                page_start=first,
                page_end=last,
                bboxes=_boxes(spans),
                headings=list(spans[0].headings),
                fragment_types=list(dict.fromkeys(span.type for span in spans)),
                strategy=strategy,
                params_hash=params_hash,
                page_labels=[labels.get(n) for n in range(first, last + 1)] if labelled else [],
            )
        )
    return chunks
