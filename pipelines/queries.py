"""Read-side helpers for the CLI: search and status."""

from dataclasses import replace
from pathlib import Path
from typing import Any

import dagster as dg

from assets.partitions import DOCUMENTS
from docingest.errors import DocIngestError
from docingest.filters import PATH_PREFIXES_KEY, Filter, equality_filter
from docingest.metadata import RESERVED_KEYS
from docingest.search import search
from docingest.state import Freshness, Status, freshness, read_state, summarize
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
        if state.status is not Status.FAILED:
            continue
        error = state.error
        rows.append(
            {
                "document_id": document_id,
                "code": error.code if error else "INTERNAL_ERROR",
                "message": error.message if error else "",
                "retryable": bool(error and error.retryable),
                "stage": state.stage,
                "attempts": state.attempts or 1,
                "run_id": state.run_id,
                "correlation_id": state.correlation_id,
                "updated_at": state.updated_at,
            }
        )
    return rows


def document_status(instance: dg.DagsterInstance, document_id: str) -> dict[str, Any] | None:
    """One document's state (`docingest status DOC_ID --json`): the record, with its status
    history and correlation id, and `freshness`, whether and why the next ingest or reconcile
    would run it (judged on its file's content now); None for a document never registered."""
    from assets.pipeline import expected_options
    from docingest.ids import sha256_file

    resources = build_resources()
    store = resources["storage"].store
    registered = store.read_json("sources", document_id)
    if registered is None and not instance.has_dynamic_partition(DOCUMENTS, document_id):
        return None
    state = read_state(store, document_id)
    expected = expected_options(resources["parser"], resources["chunker"], resources["embedder"])
    path = (registered or {}).get("path")
    try:
        sha256 = sha256_file(Path(path)) if path else None
    except OSError:
        sha256 = None
    reason = freshness(state, replace(expected, sha256=sha256))
    if path and sha256 is None and reason is not Freshness.NEW:
        reason = Freshness.CONTENT_CHANGED  # the file is gone or unreadable: as ingest judges
    return {**state.to_dict(), "freshness": reason.value, "path": path}


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
