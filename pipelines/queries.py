"""Read-side helpers for the CLI's status (search is `docingest.search.search_points`).

It reads the instance's partitions, the state records and the store; it imports neither the
asset graph nor the resources (parser, chunker), which `docingest status` does not need (the
status of one document, `document_status`, imports them when it is asked).
"""

from dataclasses import replace
from pathlib import Path
from typing import Any

import dagster as dg

from assets.partitions import DOCUMENTS
from docingest.errors import DocIngestError
from docingest.search import StoreSettings
from docingest.state import Freshness, Status, freshness, read_state, summarize
from docingest.storage import default_store


def failed_documents(instance: dg.DagsterInstance) -> list[dict[str, Any]]:
    """The registered documents whose latest outcome is a failure, for `status --failed`."""
    store = default_store()
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
    would run it (judged on its file's content now); None for a document never registered.
    Only this question needs the configured options: it imports the resources, when asked."""
    from assets.pipeline import expected_options
    from docingest.ids import sha256_file
    from resources import build_resources

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
    partitions = instance.get_dynamic_partitions(DOCUMENTS)
    report = summarize(default_store(), partitions)
    try:
        with StoreSettings.from_env().open() as store:
            report["points"] = store.count()
    except DocIngestError as error:
        report["points_note"] = f"{error.code.value}: counted from state, store not readable"
    return report
