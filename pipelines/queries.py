"""Read-side helpers for the CLI: search and status."""

from typing import Any

import dagster as dg

from assets.partitions import DOCUMENTS
from docingest.errors import DocIngestError
from docingest.filters import Filter, equality_filter
from docingest.metadata import RESERVED_KEYS
from docingest.search import search
from docingest.state import summarize
from docingest.vectorstore import DEFAULT_MODE, DEFAULT_RRF_K
from resources import build_resources


def search_points(
    query: str,
    *,
    top_k: int = 5,
    filters: dict[str, Any] | Filter | None = None,
    mode: str = DEFAULT_MODE,
    rrf_k: int = DEFAULT_RRF_K,
    context: int = 0,
) -> list[dict[str, Any]]:
    """The best chunks for the query, in the `docingest search --json` shape (see
    `docingest.search`): dense, BM25 or both fused, with citations."""
    resources = build_resources()
    embedder = resources["embedder"]
    with resources["qdrant"].open() as store:
        return search(
            store,
            embedder.embed_query,
            query,
            mode=mode,
            top_k=top_k,
            filters=equality_filter(filters),
            rrf_k=rrf_k,
            context=context,
            reserved=RESERVED_KEYS,
        )


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
