"""Ingesting a folder from the command line: register partitions, run the graph, summarize.

Documents run in batches: each run of `ingest_job` covers a range of adjacent partitions in the
shared instance, and every document keeps its own partition status (the UI shows exactly which
failed). Runs execute in this process, so the embedding model and the Qdrant store are opened
once for the whole folder.
"""

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg

from assets.partitions import BATCH_SIZE, DOCUMENTS
from docingest.ids import sha256_file
from docingest.source import iter_source_files
from docingest.state import is_current, read_state
from pipelines.batching import RANGE_END, RANGE_START, contiguous_batches
from pipelines.definitions import defs
from pipelines.recovery import OPERATION_TAG, PROCESS_TAG, process_tag, release_stale_runs
from resources import ChunkerResource, QdrantResource, SourceResource, build_resources


@dataclass
class IngestSummary:
    documents: int = 0
    succeeded: int = 0
    skipped: int = 0
    failed: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)
    pages: int = 0
    chunks: int = 0
    points: int = 0
    seconds: float = 0.0


def chunking_run_config(strategy: str | None, params: dict[str, str]) -> dict[str, Any]:
    if not strategy and not params:
        return {}
    config: dict[str, Any] = {"params": params}
    if strategy:
        config["strategy"] = strategy
    return {"ops": {"document_pipeline": {"config": config}}}


def run_documents(
    instance: dg.DagsterInstance,
    job_name: str,
    document_ids: Sequence[str],
    resources: dict[str, Any],
    run_config: dict[str, Any],
    on_done: Callable[[str, bool], None] | None = None,
    batch_size: int = BATCH_SIZE,
) -> dict[str, bool]:
    """Runs over partition ranges, in this process; a failed document never stops the others."""
    job = defs.resolve_job_def(job_name)
    # Step logs stay in the instance (the UI shows them); the terminal shows the progress bar.
    run_config = {**run_config, "loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    ordered = instance.get_dynamic_partitions(DOCUMENTS)
    store = resources["storage"].store
    outcome: dict[str, bool] = {}
    for batch in contiguous_batches(ordered, document_ids, batch_size):
        # A killed CLI run, or one that ended while the database was down (this process's
        # previous batch too), may still hold the qdrant_writer slot: the run would wait forever.
        release_stale_runs(instance)
        tags = {OPERATION_TAG: "cli", PROCESS_TAG: process_tag()}
        if len(batch) > 1:
            tags.update({RANGE_START: batch[0], RANGE_END: batch[-1]})
        result = job.execute_in_process(
            instance=instance,
            partition_key=batch[0] if len(batch) == 1 else None,
            run_config=run_config,
            resources=resources,
            raise_on_error=False,
            tags=tags,
        )
        for document_id in batch:
            state = read_state(store, document_id)
            success = state.get("status") == "succeeded" and state.get("run_id") == result.run_id
            outcome[document_id] = success
            if on_done:
                on_done(document_id, success)
    return outcome


def ingest_folder(
    instance: dg.DagsterInstance,
    root: Path,
    *,
    strategy: str | None = None,
    params: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[str, bool], None] | None = None,
) -> IngestSummary:
    """Ingest every file under `root`; `overrides` replaces resources by key."""
    started = time.perf_counter()
    params = params or {}
    base = build_resources(**(overrides or {}))
    chunker: ChunkerResource = base["chunker"]
    _, _, chunk_hash = chunker.resolve(strategy, params)  # invalid options fail before any work
    parse_hash = base["parser"].options().options_hash()
    model = base["embedder"].model
    qdrant: QdrantResource = base["qdrant"]
    resources = {
        **base,
        "source": SourceResource(root=str(root.absolute()), settle_seconds=0),
        "qdrant": qdrant.model_copy(update={"keep_open": True}),
    }
    store = base["storage"].store
    files = list(iter_source_files(root))
    summary = IngestSummary(documents=len(files))
    existing = set(instance.get_dynamic_partitions(DOCUMENTS))
    todo: list[str] = []
    for file in files:
        state = read_state(store, file.document_id)
        try:
            sha256 = sha256_file(file.path)
        except OSError:
            sha256 = None  # unreadable now: its run records UNABLE_TO_DOWNLOAD_FILE
        current = file.document_id in existing and is_current(
            state,
            sha256=sha256,
            parse_options_hash=parse_hash,
            chunking_hash=chunk_hash,
            embedding_model=model,
        )
        if current:
            summary.skipped += 1
        else:
            todo.append(file.document_id)
    new = [document_id for document_id in todo if document_id not in existing]
    if new:
        instance.add_dynamic_partitions(DOCUMENTS, new)
    if on_start:
        on_start(len(todo))
    outcome = run_documents(
        instance, "ingest_job", todo, resources, chunking_run_config(strategy, params), on_done
    )
    for document_id, success in outcome.items():
        state = read_state(store, document_id)
        if success:
            summary.succeeded += 1
        else:
            summary.failed += 1
            error = state.get("error") or {"code": "INTERNAL_ERROR", "message": "see the run"}
            summary.errors[error["code"]] += 1
            summary.failures[document_id] = f"{error['code']}: {error['message']}"
    for file in files:
        state = read_state(store, file.document_id)
        if state.get("status") == "succeeded":
            summary.pages += int(state.get("pages") or 0)
            summary.chunks += int(state.get("chunks") or 0)
            summary.points += int(state.get("points") or 0)
    summary.seconds = time.perf_counter() - started
    return summary


def rechunk_all(
    instance: dg.DagsterInstance,
    strategy: str | None,
    params: dict[str, str],
    *,
    overrides: dict[str, Any] | None = None,
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[str, bool], None] | None = None,
) -> dict[str, bool]:
    """Run `rechunk_job` (chunks + vector_store_entries) for every parsed document."""
    base = build_resources(**(overrides or {}))
    base["chunker"].resolve(strategy, params)  # invalid options fail before any work
    store = base["storage"].store
    partitions = instance.get_dynamic_partitions(DOCUMENTS)
    parsed = [d for d in partitions if store.parsed_path(d).exists()]
    if on_start:
        on_start(len(parsed))
    resources = {**base, "qdrant": base["qdrant"].model_copy(update={"keep_open": True})}
    return run_documents(
        instance, "rechunk_job", parsed, resources, chunking_run_config(strategy, params), on_done
    )
