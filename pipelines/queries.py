"""Read-side helpers for the CLI: search and status."""

from typing import Any

import dagster as dg

from assets.partitions import DOCUMENTS
from docingest.errors import DocIngestError
from docingest.metadata import RESERVED_KEYS
from docingest.state import summarize
from resources import build_resources


def search_points(
    query: str, *, top_k: int = 5, filters: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Embed the query and return the nearest chunks, in the `docingest search --json` shape."""
    resources = build_resources()
    vector = resources["embedder"].embed_query(query)
    with resources["qdrant"].open() as store:
        hits = store.search(vector, top_k=top_k, filters=filters or None)
    return [
        {
            "document_id": hit.payload.get("document_id"),
            "chunk_id": hit.payload.get("chunk_id"),
            "score": hit.score,
            "text": hit.payload.get("text", ""),
            "page_start": hit.payload.get("page_start"),
            "page_end": hit.payload.get("page_end"),
            "headings": hit.payload.get("headings", []),
            "source": hit.payload.get("source"),
            "metadata": {k: v for k, v in hit.payload.items() if k not in RESERVED_KEYS},
        }
        for hit in hits
    ]


def collect_status(instance: dg.DagsterInstance) -> dict[str, Any]:
    """Counts over the registered partitions, plus the live point count when the store opens."""
    resources = build_resources()
    partitions = instance.get_dynamic_partitions(DOCUMENTS)
    report = summarize(resources["storage"].store, partitions)
    try:
        with resources["qdrant"].open() as store:
            report["points"] = store.count()
    except DocIngestError as error:
        report["points_note"] = f"{error.code.value}: counted from state, store not readable"
    return report
