"""Read-side helpers for the CLI's status (search is `docingest.search.search_points`).

It reads the instance's partitions, the state records and the store; it imports neither the
asset graph nor the resources (parser, chunker), which `docingest status` does not need.
"""

from typing import Any

import dagster as dg

from assets.partitions import DOCUMENTS
from docingest.errors import DocIngestError
from docingest.paths import docingest_home
from docingest.search import StoreSettings
from docingest.state import read_state, summarize
from docingest.storage import DocumentStore


def failed_documents(instance: dg.DagsterInstance) -> list[dict[str, Any]]:
    """The registered documents whose latest outcome is a failure, for `status --failed`."""
    store = DocumentStore(docingest_home())
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
    partitions = instance.get_dynamic_partitions(DOCUMENTS)
    report = summarize(DocumentStore(docingest_home()), partitions)
    try:
        with StoreSettings.from_env().open() as store:
            report["points"] = store.count()
    except DocIngestError as error:
        report["points_note"] = f"{error.code.value}: counted from state, store not readable"
    return report
