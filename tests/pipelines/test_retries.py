"""Retryable failures go through the RetryPolicy; the retried step skips finished documents."""

from collections.abc import Sequence
from pathlib import Path

import dagster as dg

from docingest.errors import DocIngestError, ErrorCode
from docingest.state import read_state
from docingest.storage import DocumentStore
from pipelines.ingest import ingest_folder
from resources import EmbedderResource
from tests.conftest import CORPUS_QUERIES

_CALLS: list[int] = []


class FlakyEmbedder(EmbedderResource):
    """Fails its first two calls (a transient model error), then embeds for real: the call
    for both small documents, then doc 1's own call (assets/embed_span.py makes a failed
    shared call again per document)."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        _CALLS.append(len(texts))
        if len(_CALLS) <= 2:
            raise DocIngestError(ErrorCode.EMBEDDING_ERROR, "transient: out of memory")
        return super().embed(texts)


def test_retryable_failure_is_retried_with_backoff(
    home: Path, instance: dg.DagsterInstance, docs: Path
) -> None:
    _CALLS.clear()
    summary = ingest_folder(instance, docs, overrides={"embedder": FlakyEmbedder()})
    assert (summary.succeeded, summary.failed) == (2, 0)

    (run,) = instance.get_runs()
    kinds = [e.dagster_event.event_type_value for e in instance.all_logs(run.run_id)
             if e.dagster_event]  # fmt: skip
    assert kinds.count("STEP_UP_FOR_RETRY") == 1 and kinds.count("STEP_RESTARTED") == 1
    assert run.status == dg.DagsterRunStatus.SUCCESS
    # First attempt: the shared call and doc 1's own call failed, doc 2 was indexed. The
    # retry redid only doc 1.
    assert len(_CALLS) == 4
    assert _CALLS[0] == _CALLS[1] + _CALLS[2] and _CALLS[3] == _CALLS[1]
    for document_id in CORPUS_QUERIES:
        assert read_state(DocumentStore(home), document_id).status == "succeeded"
    materialized = instance.get_materialized_partitions(dg.AssetKey("vector_store_entries"))
    assert materialized == set(CORPUS_QUERIES)
