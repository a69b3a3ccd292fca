"""Ingesting a folder from the command line: register partitions, run the graph, summarize.

Documents run in batches: each run of `ingest_job` covers a range of adjacent partitions in the
shared instance, and every document keeps its own partition status (the UI shows exactly which
failed). Runs execute in this process, so the embedding model and the Qdrant store are opened
once for the whole folder.
"""

import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote

import dagster as dg

from assets.partitions import DOCUMENTS
from assets.pipeline import expected_options
from docingest.ids import document_id_for, sha256_file
from docingest.locations import Location, check_reachable, is_local
from docingest.reconcile import orphaned
from docingest.source import SourceFile
from docingest.state import (
    DocumentState,
    Expected,
    Freshness,
    Status,
    freshness,
    read_state,
    record_cancelled,
)
from docingest.storage import DocumentStore
from pipelines.batching import RANGE_END, RANGE_START, contiguous_batches
from pipelines.definitions import build_definitions
from pipelines.recovery import OPERATION_TAG, PROCESS_TAG, process_tag, release_stale_runs
from resources import ChunkerResource, QdrantResource, SourceResource, build_resources
from resources.source import BATCH_SIZE


@dataclass
class IngestSummary:
    """What one `ingest` did. The counts (pages, chunks, points) cover the documents this run
    processed; documents skipped as current or as failed for good are only counted."""

    documents: int = 0
    succeeded: int = 0
    skipped: int = 0
    failed: int = 0
    cancelled: int = 0  # their run was cancelled (docingest cancel): the next ingest runs them
    errors: Counter[str] = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)
    # Failed earlier for a reason a re-run cannot fix, unchanged since: code -> documents.
    not_retried: Counter[str] = field(default_factory=Counter)
    # Documents that succeeded with a flag from the parse (repaired, empty_pages, ...).
    flagged: dict[str, list[str]] = field(default_factory=dict)
    pruned: list[str] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # file -> why it got no document
    pages: int = 0
    chunks: int = 0
    points: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "succeeded": self.succeeded,
            "skipped": self.skipped,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "errors": dict(sorted(self.errors.items())),
            "failures": dict(sorted(self.failures.items())),
            "not_retried": dict(sorted(self.not_retried.items())),
            "flagged": dict(sorted(self.flagged.items())),
            "pruned": self.pruned,
            "refused": dict(sorted(self.refused.items())),
            "pages": self.pages,
            "chunks": self.chunks,
            "points": self.points,
            "seconds": round(self.seconds, 3),
        }


def chunking_run_config(strategy: str | None, params: dict[str, str]) -> dict[str, Any]:
    if not strategy and not params:
        return {}
    config: dict[str, Any] = {"params": params}
    if strategy:
        config["strategy"] = strategy
    return {"ops": {"document_pipeline": {"config": config}}}


@contextmanager
def sigterm_kept() -> Iterator[None]:
    """An in-process run leaves SIGTERM as it found it. Dagster's interrupt handling points
    SIGTERM at SIGINT's handler when a run ends (`dagster._utils.interrupts`); in a process
    started with SIGINT ignored (from a background shell, `nohup ... &`, some CI runners) that
    made SIGTERM ignored too: `kill` no longer stopped `docingest ingest`, and every process it
    started afterwards ignored SIGTERM as well (Dagster's compute-log `tail`s then took 2 x 30 s
    to clean up after each run, and stayed behind)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # Dagster changes no handler outside the main thread
        return
    before = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGTERM) is not before and before is not None:
            signal.signal(signal.SIGTERM, before)


def run_documents(
    instance: dg.DagsterInstance,
    job_name: str,
    document_ids: Sequence[str],
    resources: dict[str, Any],
    run_config: dict[str, Any],
    on_done: Callable[[str, bool], None] | None = None,
    batch_size: int = BATCH_SIZE,
    tags: dict[str, str] | None = None,
) -> dict[str, bool]:
    """Runs over partition ranges, in this process; a failed document never stops the others.
    `tags` go on every run (correlation id, priority: `run_tags`)."""
    job = build_definitions(**resources).resolve_job_def(job_name)
    # Step logs stay in the instance (the UI shows them); the terminal shows the progress bar.
    run_config = {**run_config, "loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
    ordered = instance.get_dynamic_partitions(DOCUMENTS)
    store = resources["storage"].store
    outcome: dict[str, bool] = {}
    batches = contiguous_batches(ordered, document_ids, batch_size)
    for position, batch in enumerate(batches):
        # A killed CLI run, or one that ended while the database was down (this process's
        # previous batch too), may still hold the qdrant_writer slot: the run would wait forever.
        release_stale_runs(instance)
        run_tags = {**(tags or {}), OPERATION_TAG: "cli", PROCESS_TAG: process_tag()}
        if len(batch) > 1:
            run_tags.update({RANGE_START: batch[0], RANGE_END: batch[-1]})
        with sigterm_kept():
            result = job.execute_in_process(
                instance=instance,
                partition_key=batch[0] if len(batch) == 1 else None,
                run_config=run_config,
                resources=resources,
                raise_on_error=False,
                tags=run_tags,
            )
        for document_id in batch:
            state = read_state(store, document_id)
            success = state.status is Status.SUCCEEDED and state.run_id == result.run_id
            outcome[document_id] = success
            if on_done:
                on_done(document_id, success)
        if result.dagster_run.status == dg.DagsterRunStatus.CANCELED:
            # The batch was cancelled (docingest cancel): the rest of it never starts.
            rest = [d for later in batches[position + 1 :] for d in later]
            outcome.update(cancel_documents(store, rest, result.run_id, on_done))
            break
    return outcome


def cancel_documents(
    store: DocumentStore,
    document_ids: Sequence[str],
    run_id: str,
    on_done: Callable[[str, bool], None] | None = None,
) -> dict[str, bool]:
    """Mark documents whose batch was cancelled (by `run_id`) before their run started."""
    for document_id in document_ids:
        record_cancelled(store, document_id, run_id)
        if on_done:
            on_done(document_id, False)
    return dict.fromkeys(document_ids, False)


def cancelled_by(
    instance: dg.DagsterInstance, store: DocumentStore, outcome: dict[str, bool]
) -> str | None:
    """The run of this process that was cancelled with any of these documents, if one was (a
    document may still say cancelled from an earlier batch whose run never reached it)."""
    for document_id, success in outcome.items():
        state = read_state(store, document_id)
        if success or state.status is not Status.CANCELLED or not state.run_id:
            continue
        run = instance.get_run_by_id(state.run_id)
        if run is not None and run.tags.get(PROCESS_TAG) == process_tag():
            return state.run_id
    return None


@dataclass(frozen=True)
class _Candidate:
    file: SourceFile
    document_id: str
    id_root: Location  # the folder the id is relative to: `SourceResource.root` for its run


def _registered_by_path(store: DocumentStore) -> dict[str, str]:
    return {str(r["path"]): r["document_id"] for r in store.iter_json("sources") if "path" in r}


def _root_of(path: Path, document_id: str) -> Path:
    """The folder a registered id is relative to (the path minus the id's parts)."""
    relative = PurePosixPath(unquote(document_id, errors="surrogateescape"))
    return Path(*path.parts[: len(path.parts) - len(relative.parts)])


def assign_document_ids(
    root: Location, files: Sequence[SourceFile], store: DocumentStore
) -> tuple[list[_Candidate], dict[str, str]]:
    """The id of each file under `root`: the id it was registered with before, else its path
    relative to `root`; where that id already belongs to another file that still exists (two
    folders that both hold notes.txt), the path relative to the folder's parent, so the folder's
    name tells them apart. A file whose ids are both taken is refused, with the reason.
    Under an object-store prefix every id is the key relative to the prefix."""
    if not is_local(root):
        return [_Candidate(file, file.document_id, root) for file in files], {}
    by_path = _registered_by_path(store)
    owner = {document_id: Path(path) for path, document_id in by_path.items()}
    candidates: list[_Candidate] = []
    refused: dict[str, str] = {}
    for file in files:
        assert is_local(file.path)  # listed under a local root
        known = by_path.get(str(file.path))
        if known is not None:
            candidates.append(_Candidate(file, known, _root_of(file.path, known)))
            continue
        for id_root in (root, root.parent):
            document_id = document_id_for(file.path, id_root)
            other = owner.get(document_id)
            if other is None or other == file.path or not other.exists():
                candidates.append(_Candidate(file, document_id, id_root.absolute()))
                owner[document_id] = file.path
                break
        else:
            refused[str(file.path)] = (
                f"its document ids are taken by {owner[document_id_for(file.path, root)]} and "
                f"{owner[document_id_for(file.path, root.parent)]}; ingest it from a folder "
                "with another name"
            )
    return candidates, refused


def ingest_reason(
    candidate: _Candidate, state: DocumentState, registered: bool, expected: Expected
) -> Freshness:
    """Why `ingest` would run a file's document (`state.freshness` on the file as it is now)."""
    if not registered:
        return Freshness.NEW
    try:
        sha256 = sha256_file(candidate.file.path)
    except OSError:  # unreadable now: its run records UNABLE_TO_DOWNLOAD_FILE
        return Freshness.CONTENT_CHANGED
    return freshness(state, replace(expected, sha256=sha256))


def delete_documents(
    instance: dg.DagsterInstance, document_ids: Sequence[str], resources: dict[str, Any]
) -> bool:
    """Run `delete_documents_job` in this process: points, Parquet files and partitions."""
    if not document_ids:
        return True
    release_stale_runs(instance)
    job = build_definitions(**resources).resolve_job_def("delete_documents_job")
    with sigterm_kept():
        result = job.execute_in_process(
            instance=instance,
            run_config={
                "ops": {"delete_documents": {"config": {"document_ids": list(document_ids)}}},
                "loggers": {"console": {"config": {"log_level": "CRITICAL"}}},
            },
            resources={k: resources[k] for k in ("qdrant", "storage")},
            raise_on_error=False,
            tags={OPERATION_TAG: "cli-prune", PROCESS_TAG: process_tag()},
        )
    return result.success


def ingest_folder(
    instance: dg.DagsterInstance,
    root: Location,
    *,
    strategy: str | None = None,
    params: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
    retry_failed: bool = False,
    prune: bool = False,
    tags: dict[str, str] | None = None,
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[str, bool], None] | None = None,
) -> IngestSummary:
    """Ingest every file under `root`; `overrides` replaces resources by key, `tags` go on
    every run (`run_tags`: correlation id, priority).

    A document is run when `state.freshness` says so: new, changed content or options,
    half-way, or failed for a retryable reason; one that failed for good stays put until its
    content or options change (or `retry_failed`). `prune` removes the documents whose files
    left `root`.
    """
    started = time.perf_counter()
    params = params or {}
    base = build_resources(**(overrides or {}))
    chunker: ChunkerResource = base["chunker"]
    # Invalid chunking options fail here, before any work.
    expected = expected_options(base["parser"], chunker, base["embedder"], strategy, params)
    qdrant: QdrantResource = base["qdrant"]
    base = {**base, "qdrant": qdrant.model_copy(update={"keep_open": True})}
    store = base["storage"].store
    check_reachable(store.base_dir)  # a missing data bucket: a ConfigError before any work
    listed = SourceResource(root=str(root), settle_seconds=0).list_files(settle=False)
    candidates, refused = assign_document_ids(root, listed, store)
    summary = IngestSummary(documents=len(candidates) + len(refused), refused=refused)
    existing = set(instance.get_dynamic_partitions(DOCUMENTS))
    todo: dict[Location, list[str]] = {}  # id root -> documents to run
    for candidate in candidates:
        state = read_state(store, candidate.document_id)
        # The parse options a run would use for this file: its folder's option files too.
        planned = base["parser"].planned_options_hash(candidate.id_root, candidate.file.path)
        reason = ingest_reason(
            candidate, state, candidate.document_id in existing,
            replace(expected, parse_options_hash=planned),
        )  # fmt: skip
        if reason.needs_run(retry_failed=retry_failed):
            todo.setdefault(candidate.id_root, []).append(candidate.document_id)
        elif reason is Freshness.FAILED_PERMANENTLY:
            summary.not_retried[state.error.code if state.error else "INTERNAL_ERROR"] += 1
        else:
            summary.skipped += 1
    new = [d for ids in todo.values() for d in ids if d not in existing]
    if new:
        instance.add_dynamic_partitions(DOCUMENTS, new)
    if on_start:
        on_start(sum(len(ids) for ids in todo.values()))
    outcome: dict[str, bool] = {}
    cancelled_run: str | None = None
    for id_root, document_ids in todo.items():
        if cancelled_run:
            outcome.update(cancel_documents(store, document_ids, cancelled_run, on_done))
            continue
        resources = {**base, "source": SourceResource(root=str(id_root), settle_seconds=0)}
        config = chunking_run_config(strategy, params)
        ran = run_documents(
            instance, "ingest_job", document_ids, resources, config, on_done, tags=tags
        )
        outcome.update(ran)
        cancelled_run = cancelled_by(instance, store, ran)
    for document_id, success in outcome.items():
        state = read_state(store, document_id)
        if success:
            summary.succeeded += 1
            if state.flags:
                summary.flagged[document_id] = state.flags
            summary.pages += state.pages
            summary.chunks += state.chunks
            summary.points += state.points
        elif state.status is Status.CANCELLED:
            summary.cancelled += 1
        else:
            summary.failed += 1
            code, message = (
                (state.error.code, state.error.message) if state.error
                else ("INTERNAL_ERROR", "see the run")
            )  # fmt: skip
            summary.errors[code] += 1
            summary.failures[document_id] = f"{code}: {message}"
    if prune:
        present = {c.document_id for c in candidates}
        gone = orphaned(store.iter_json("sources", present), root, present)
        if gone and delete_documents(instance, gone, base):
            summary.pruned = gone
    summary.seconds = time.perf_counter() - started
    return summary


def parsed_documents(instance: dg.DagsterInstance, store: DocumentStore) -> list[str]:
    """The registered documents that have a stored parse, in partition order: what re-chunking
    and re-classifying work on."""
    partitions = instance.get_dynamic_partitions(DOCUMENTS)
    return [d for d in partitions if store.parsed_path(d).exists()]


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
    parsed = parsed_documents(instance, base["storage"].store)
    if on_start:
        on_start(len(parsed))
    resources = {**base, "qdrant": base["qdrant"].model_copy(update={"keep_open": True})}
    return run_documents(
        instance, "rechunk_job", parsed, resources, chunking_run_config(strategy, params), on_done
    )
