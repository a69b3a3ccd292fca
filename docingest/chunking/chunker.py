"""chunk_document: a parse result in, chunk records with provenance out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from docingest.chunking.blocks import block_pieces, variable_pieces, whole_pieces
from docingest.chunking.document import DocText, Piece, Span, build_document
from docingest.chunking.params import chunking_hash, validate_params
from docingest.chunking.splitters import (
    move_trailing_headings,
    page_pieces,
    page_section_pieces,
    recursive_pieces,
    section_pieces,
    strip_pieces,
)
from docingest.chunking.token_size import token_pieces
from docingest.ids import chunk_id_for
from docingest.models import Chunk, ParseResult
from docingest.tokenizer import get_encoding


def _pieces(
    doc: DocText, parsed: ParseResult, strategy: str, params: dict[str, Any]
) -> list[Piece]:
    if strategy == "token_size":
        return token_pieces(
            doc, params["chunk_size"], params["chunk_overlap"], params["encoding_name"]
        )
    if strategy == "recursive":
        pieces = recursive_pieces(
            doc,
            params["chunk_size"],
            params["chunk_overlap"],
            params["separators"],
            params["keep_separator"],
        )
        return move_trailing_headings(doc, strip_pieces(doc, pieces))
    if strategy == "by_page":
        numbers = [page.page_number for page in parsed.pages]
        return strip_pieces(doc, page_pieces(doc, numbers, params["pages_per_chunk"]))
    if strategy == "block":
        return block_pieces(doc, params["max_tokens"], params["encoding_name"])
    if strategy == "variable":
        return variable_pieces(
            doc, params["chunk_size"], params["min_size"], params["encoding_name"]
        )
    if strategy == "disabled":
        return whole_pieces(doc)
    levels, include = params["section_headers"], params["include_header_in_chunk"]
    if strategy == "page_sections":
        return page_section_pieces(doc, levels, include)
    return move_trailing_headings(doc, strip_pieces(doc, section_pieces(doc, levels, include)))


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
    normalized = validate_params(strategy, params)
    params_hash = chunking_hash(strategy, normalized)
    encoding = get_encoding(normalized["encoding_name"])
    doc = build_document(parsed)
    labels = {page.page_number: page.label for page in parsed.pages}
    labelled = any(labels.values())
    chunks: list[Chunk] = []
    for piece in _pieces(doc, parsed, strategy, normalized):
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
