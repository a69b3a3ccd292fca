"""Provenance tags from `assets.provenance.Lineage` equal what a query per document returned.

The pipeline used to ask the instance, before recording each child, for the parent partition's
latest materialization. The oracle here asks the same after the fact: the parent's latest
materialization stored before the child's.
"""

from pathlib import Path

import dagster as dg

from assets.provenance import (
    DATA_VERSION_TAG,
    INPUT_DATA_VERSION_PREFIX,
    INPUT_EVENT_POINTER_PREFIX,
    PARENTS,
)
from pipelines.ingest import ingest_folder, rechunk_all
from tests.conftest import CORPUS_QUERIES


def _latest(
    instance: dg.DagsterInstance, asset: str, document_id: str, before: int | None = None
) -> dg.EventLogRecord:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=dg.AssetKey(asset), asset_partitions=[document_id], before_storage_id=before
        ),
        limit=1,
    ).records
    assert records, f"no materialization of {asset} for {document_id}"
    return records[0]


def _recorded_and_queried(
    instance: dg.DagsterInstance, asset: str, document_id: str
) -> tuple[dict[str, str], dict[str, str]]:
    """The provenance tags on the child's latest materialization, and the old query's answer."""
    child = _latest(instance, asset, document_id)
    parent = _latest(instance, PARENTS[asset], document_id, before=child.storage_id)
    materialization = child.asset_materialization
    parent_materialization = parent.asset_materialization
    assert materialization is not None and parent_materialization is not None
    tags = materialization.tags or {}
    recorded = {k: v for k, v in tags.items() if k.startswith("dagster/input_")}
    queried = {
        f"{INPUT_DATA_VERSION_PREFIX}/{PARENTS[asset]}": (parent_materialization.tags or {})[
            DATA_VERSION_TAG
        ],
        f"{INPUT_EVENT_POINTER_PREFIX}/{PARENTS[asset]}": str(parent.storage_id),
    }
    return recorded, queried


def test_parents_made_in_the_same_run(instance: dg.DagsterInstance, docs: Path) -> None:
    summary = ingest_folder(instance, docs)
    assert summary.succeeded == len(CORPUS_QUERIES)
    for document_id in CORPUS_QUERIES:
        for asset in PARENTS:
            recorded, queried = _recorded_and_queried(instance, asset, document_id)
            assert recorded == queried, (asset, document_id)


def test_parents_made_by_an_earlier_run(instance: dg.DagsterInstance, docs: Path) -> None:
    ingest_folder(instance, docs)
    parses = {d: _latest(instance, "parsed_pages", d).storage_id for d in CORPUS_QUERIES}

    # A re-chunk makes chunks and vector_store_entries only: the parse is the ingest's.
    assert rechunk_all(instance, "by_page", {}) == dict.fromkeys(CORPUS_QUERIES, True)
    for document_id in CORPUS_QUERIES:
        chunk_run = _latest(instance, "chunks", document_id).run_id
        assert chunk_run != _latest(instance, "parsed_pages", document_id).run_id
        for asset in ("chunks", "vector_store_entries"):
            recorded, queried = _recorded_and_queried(instance, asset, document_id)
            assert recorded == queried, (asset, document_id)
        pointer = f"{INPUT_EVENT_POINTER_PREFIX}/parsed_pages"
        recorded, _ = _recorded_and_queried(instance, "chunks", document_id)
        assert recorded[pointer] == str(parses[document_id])
