"""Read-side helpers for the CLI: search and status."""

from typing import Any

import dagster as dg

from assets.partitions import DOCUMENTS
from docingest.errors import DocIngestError
from docingest.filters import PATH_PREFIXES_KEY, Filter, equality_filter
from docingest.metadata import RESERVED_KEYS
from docingest.search import search
from docingest.state import read_state, summarize
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


def embedding_model_ready() -> bool:
    """Whether the default model's ONNX export is already under the home (the first search
    or ingest in a new home builds it, which takes a while)."""
    from docingest.embedding import DEFAULT_MODEL
    from docingest.onnx_model import cache_key
    from docingest.paths import docingest_home

    resources = build_resources()
    if resources["embedder"].model != DEFAULT_MODEL:
        return True
    return (docingest_home() / "models" / DEFAULT_MODEL / cache_key()).is_dir()


def why_no_hits(filters: dict[str, Any] | Filter | None) -> str:
    """Why a search found nothing: an empty collection, or filter keys no document has."""
    resources = build_resources()
    registered = list(resources["storage"].store.iter_json("sources"))
    try:
        with resources["qdrant"].open() as store:
            points = store.count()
    except DocIngestError:
        points = -1
    if points == 0:
        return "the collection is empty: ingest documents first (docingest ingest DIR)"
    keys = set(RESERVED_KEYS)
    for record in registered:
        keys.update((record.get("vector_store_metadata") or {}).keys())
    keys.add(PATH_PREFIXES_KEY)
    unknown = sorted({c.key for c in equality_filter(filters)} - keys)
    if unknown:
        return f"no document has the metadata key(s) {', '.join(unknown)}"
    return "no chunk matched" + (" these filters" if filters else "")


def failed_documents(instance: dg.DagsterInstance) -> list[dict[str, Any]]:
    """The registered documents whose latest outcome is a failure, for `status --failed`."""
    store = build_resources()["storage"].store
    rows = []
    for document_id in instance.get_dynamic_partitions(DOCUMENTS):
        state = read_state(store, document_id)
        if state.get("status") != "failed":
            continue
        error = state.get("error") or {}
        rows.append(
            {
                "document_id": document_id,
                "code": error.get("code", "INTERNAL_ERROR"),
                "message": error.get("message", ""),
                "retryable": bool(error.get("retryable", False)),
                "stage": state.get("stage"),
                "attempts": int(state.get("attempts") or 1),
                "run_id": state.get("run_id"),
                "updated_at": state.get("updated_at"),
            }
        )
    return rows


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
