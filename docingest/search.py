"""Search: a query's dense and BM25 vectors against the store, hits as citable records.

Pure code (no Dagster): `docingest search` and `bench/retrieval_bench.py` both call `search`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from docingest.errors import ConfigError
from docingest.filters import Filter
from docingest.sparse import Bm25Encoder
from docingest.vectorstore import DEFAULT_MODE, DEFAULT_RRF_K, Query, SearchHit, VectorStore

# Payload keys the pipeline writes; the rest is the document's vector_store_metadata.
CITATION_KEYS = ("page_start", "page_end", "headings", "bboxes", "fragment_types", "source")


def hit_record(hit: SearchHit, reserved: frozenset[str]) -> dict[str, Any]:
    """One hit in the `docingest search --json` shape: text, pages, boxes, breadcrumb."""
    p = hit.payload
    return {
        "document_id": p.get("document_id"),
        "chunk_id": p.get("chunk_id"),
        "chunk_index": p.get("chunk_index"),
        "score": hit.score,
        "text": p.get("text", ""),
        "page_start": p.get("page_start"),
        "page_end": p.get("page_end"),
        "headings": p.get("headings", []),
        "bboxes": p.get("bboxes", []),
        "fragment_types": p.get("fragment_types", []),
        "source": p.get("source"),
        "document_type": p.get("document_type"),
        "page_class": p.get("page_class", []),
        "metadata": {k: v for k, v in p.items() if k not in reserved},
    }


def widen(store: VectorStore, record: dict[str, Any], context: int) -> None:
    """Add the `context` chunks before and after the hit (`search --context N`): their text
    joined with the hit's in `context_text`, the page range they span in `context_pages`."""
    index, document = record.get("chunk_index"), record.get("document_id")
    if context <= 0 or not isinstance(index, int) or not isinstance(document, str):
        return
    around = store.document_chunks(document, max(0, index - context), index + context)
    if not around:
        return
    record["context_text"] = "\n\n".join(str(p.get("text", "")) for p in around)
    record["context_pages"] = [
        min(int(p.get("page_start", 0)) for p in around),
        max(int(p.get("page_end", 0)) for p in around),
    ]
    record["context_chunks"] = [p.get("chunk_index") for p in around]


def search(
    store: VectorStore,
    embed_query: Callable[[str], Sequence[float]],
    text: str,
    *,
    mode: str = DEFAULT_MODE,
    top_k: int = 5,
    filters: Filter = (),
    rrf_k: int = DEFAULT_RRF_K,
    context: int = 0,
    reserved: frozenset[str] = frozenset(),
    encoder: Bm25Encoder | None = None,
) -> list[dict[str, Any]]:
    """The `top_k` best chunks for `text` by `mode` (dense, sparse or hybrid RRF)."""
    if not text.strip():
        raise ConfigError("the query is empty")
    if top_k < 1:
        raise ConfigError(f"top_k must be >= 1, got {top_k}")
    if context < 0:
        raise ConfigError(f"context must be >= 0, got {context}")
    dense = embed_query(text) if mode != "sparse" else None
    sparse = (encoder or Bm25Encoder()).query(text) if mode != "dense" else None
    query = Query(dense=dense, sparse=sparse, mode=mode, rrf_k=rrf_k)
    hits = store.search(query, top_k=top_k, filters=filters)
    records = [hit_record(hit, reserved) for hit in hits]
    for record in records:
        widen(store, record, context)
    return records
