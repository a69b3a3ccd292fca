"""chunk_document: a parse result in, chunk records with provenance out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from docingest.chunking.document import DocText, Piece, Span, build_document, skip_space
from docingest.chunking.params import chunking_hash, validate_params
from docingest.chunking.splitters import (
    move_trailing_headings,
    page_pieces,
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
    pieces = section_pieces(doc, params["section_headers"], params["include_header_in_chunk"])
    return move_trailing_headings(doc, strip_pieces(doc, pieces))


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
    chunks: list[Chunk] = []
    for piece in _pieces(doc, parsed, strategy, normalized):
        text = piece.prefix + doc.text[piece.start : piece.end]
        spans = doc.overlapping(piece.start, piece.end)
        if not text.strip() or not spans:
            continue
        index = len(chunks)
        count = piece.tokens
        if count is None:
            count = len(encoding.encode(text, disallowed_special=()))
        chunks.append(
            Chunk(
                chunk_id=chunk_id_for(parsed.document_id, index, params_hash),
                document_id=parsed.document_id,
                chunk_index=index,
                text=text,
                token_count=count,
                page_start=min(span.page for span in spans),
                page_end=max(span.page for span in spans),
                bboxes=_boxes(spans),
                headings=list(spans[0].headings),
                fragment_types=list(dict.fromkeys(span.type for span in spans)),
                strategy=strategy,
                params_hash=params_hash,
            )
        )
    return chunks


def _place(text: str, body: str, low: int, reach: int) -> int:
    """Where `body` sits in `text`: its last occurrence starting in [low, reach] (the most
    progress without a gap), else its first one from `low`; -1 if none."""
    found = text.find(body, low)
    best = -1
    while 0 <= found <= reach:
        best = found
        found = text.find(body, found + 1)
    return best if best >= 0 else text.find(body, low)


def coverage(text: str, chunks: Sequence[Chunk | str]) -> float:
    """Share of the text's non-whitespace characters that some chunk reproduces.

    Chunks are placed in order, each after the previous one's start and as close after the
    previous one's end as possible (overlaps count once); a chunk that starts with repeated
    table header rows is placed by its remainder after those rows.
    """
    covered = bytearray(len(text))
    previous_start, previous_end = -1, 0
    for chunk in chunks:
        body = chunk if isinstance(chunk, str) else chunk.text
        found = -1
        reach = skip_space(text, previous_end)
        for _ in range(3):
            low = max(previous_start + 1, 0)
            found = _place(text, body, low, reach)
            if found >= 0 or "\n" not in body:
                break
            body = body.split("\n", 1)[1]
        if found < 0:
            continue
        covered[found : found + len(body)] = b"\x01" * len(body)
        previous_start, previous_end = found, max(previous_end, found + len(body))
    total = hit = 0
    for char, flag in zip(text, covered, strict=True):
        if not char.isspace():
            total += 1
            hit += flag
    return 1.0 if total == 0 else hit / total
