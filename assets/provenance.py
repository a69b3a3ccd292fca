"""Dagster's provenance tags for the pipeline's materializations, without a query per document.

A materialization of `chunks` for a document names the `parsed_pages` materialization it was
made from (its data version and storage id, Dagster's `dagster/input_*` tags); the UI compares
them with the parent's latest materialization to mark the partition stale. The parent is the
partition's latest materialization when the child is recorded: made earlier in this step, or
by an earlier run (a re-chunk reads the parse of the ingest before it).
"""

from collections.abc import Iterable
from dataclasses import dataclass

import dagster as dg

# Dagster's tags for the versions a materialization was made with (see dg.DataVersion).
CODE_VERSION_TAG = "dagster/code_version"
DATA_VERSION_TAG = "dagster/data_version"
INPUT_DATA_VERSION_PREFIX = "dagster/input_data_version"
INPUT_EVENT_POINTER_PREFIX = "dagster/input_event_pointer"
PARENTS = {
    "parsed_pages": "source_documents",
    "document_classes": "parsed_pages",
    "chunks": "parsed_pages",
    "vector_store_entries": "chunks",
}


@dataclass
class _Parent:
    data_version: str | None
    storage_id: int | None  # None: logged in this step, its storage id not read yet


class Lineage:
    """The parent materialization of each (asset, document) a step records.

    Parents made by earlier runs (or an earlier attempt of this run) are read once for the
    whole batch, two queries per parent asset. A parent made in this step is remembered as it
    is logged: its data version is the one the step gave it; its storage id exists only once
    Dagster has stored the event, and the event log hands it to nobody, so it is read then,
    ids only, once for all the children of that parent (chunks and document_classes share
    theirs). Dagster's own provenance for outputs reads one record per input and partition.
    """

    def __init__(
        self, instance: dg.DagsterInstance, selected: Iterable[str], document_ids: Iterable[str]
    ) -> None:
        self.instance = instance
        self.parents: dict[tuple[str, str], _Parent] = {}
        documents = set(document_ids)
        for parent in sorted({PARENTS[a] for a in selected if a in PARENTS}):
            self._read_latest(parent, documents)

    def _read_latest(self, parent: str, documents: set[str]) -> None:
        if not documents:
            return
        key = dg.AssetKey(parent)
        latest = self.instance.get_latest_storage_id_by_partition(
            key, dg.DagsterEventType.ASSET_MATERIALIZATION, documents
        )
        if not latest:
            return
        records = self.instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key, storage_ids=list(latest.values())),
            limit=len(latest),
        ).records
        for record in records:
            materialization = record.asset_materialization
            if materialization is None or materialization.partition is None:
                continue
            version = (materialization.tags or {}).get(DATA_VERSION_TAG)
            self.parents[parent, materialization.partition] = _Parent(version, record.storage_id)

    def made(self, asset: str, document_id: str, data_version: str | None) -> None:
        """The step is logging this materialization: the parent its children will name."""
        self.parents[asset, document_id] = _Parent(data_version or None, None)

    def tags(self, asset: str, document_id: str) -> dict[str, str]:
        """The provenance tags naming the partition's latest parent materialization."""
        parent = PARENTS.get(asset)
        if parent is None:
            return {}
        known = self.parents.get((parent, document_id))
        if known is None or known.data_version is None:
            return {}
        if known.storage_id is None:
            latest = self.instance.get_latest_storage_id_by_partition(
                dg.AssetKey(parent), dg.DagsterEventType.ASSET_MATERIALIZATION, {document_id}
            )
            if document_id not in latest:  # not stored (a run whose assets Dagster does not own)
                return {}
            known.storage_id = latest[document_id]
        return {
            f"{INPUT_DATA_VERSION_PREFIX}/{parent}": known.data_version,
            f"{INPUT_EVENT_POINTER_PREFIX}/{parent}": str(known.storage_id),
        }
