"""document_pipeline: the four assets computed together, many documents per run.

One step runs the selected stages (source -> parse -> chunk -> index) for every document
partition of the run, logging each document's materializations and check results as it
finishes; the parses of the next documents run ahead meanwhile, in the parser's worker
processes (assets/parse_ahead.py), and small documents' index stages share one embedding call
(assets/embed_span.py). A failing document is recorded with its error code and
skipped; its neighbours go on. At the end the step fails if any document failed, so exactly
the failed partitions show as failed in the UI, and retries happen only when some failure is
retryable.
"""

import time
import traceback
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterator
from contextlib import ExitStack
from functools import partial
from itertools import islice
from typing import Any, Literal, TypeVar

import dagster as dg
from pydantic import Field

from assets.chunking import chunk_parsed_document, chunks, chunks_checks
from assets.classification import classify_document, document_classes, webhook_fields
from assets.documents import SOURCE_CODE_VERSION, register_document, source_documents
from assets.embed_span import DocumentSteps, Emit, Reply, SpanningIndex, WaitForVectors
from assets.parse_ahead import ParseAhead
from assets.parsing import parse_document, parsed_pages, parsed_pages_checks
from assets.partitions import documents_partitions
from assets.provenance import CODE_VERSION_TAG, DATA_VERSION_TAG, Lineage
from assets.results import StageResult
from assets.retries import document_retry_policy
from assets.run_tags import correlation_id_of
from assets.vector_store import (
    QDRANT_POOL,
    DocumentIndexer,
    Embedded,
    restamp_classes,
    vector_store_checks,
    vector_store_entries,
)
from docingest.chunking import ChunkingSettings
from docingest.classify import Classifier
from docingest.errors import ConfigError, DocIngestError, ErrorCode
from docingest.heap import release_free_memory
from docingest.state import (
    DocumentState,
    Expected,
    Freshness,
    Step,
    freshness,
    note_run,
    read_state,
    record_cancelled,
    record_failure,
    record_steps,
    utc_now,
)
from docingest.storage import DocumentStore
from docingest.vectorstore import VectorStore
from docingest.webhooks import WebhookDispatcher
from resources import (
    ChunkerResource,
    ClassifierResource,
    EmbedderResource,
    ParserResource,
    QdrantResource,
    SourceResource,
    StorageResource,
    WebhookResource,
)
from resources.chunker import PARAMS_DESCRIPTION, STRATEGY_DESCRIPTION, ChunkingStrategy
from resources.notify import notify_batch, notify_document, notify_progress, stage_counts
from resources.source import BATCH_SIZE

_CANCELLING = (dg.DagsterRunStatus.CANCELING, dg.DagsterRunStatus.CANCELED)
CANCEL_CHECK_INTERVAL_S = 1.0

STAGES = {
    "source_documents": "source",
    "parsed_pages": "parse",
    "document_classes": "classify",
    "chunks": "chunk",
    "vector_store_entries": "index",
}


class ChunkingConfig(dg.Config):
    """Per-run chunking override: leave empty to use the chunker resource's settings."""

    strategy: ChunkingStrategy | None = Field(  # type: ignore[valid-type]
        default=None,
        description=(
            f"{STRATEGY_DESCRIPTION} Empty: the chunker resource's. Another strategy than the "
            "resource's starts from its own defaults: the resource's params are not used."
        ),
    )
    params: dict[str, str] = Field(default_factory=dict, description=PARAMS_DESCRIPTION)


def _finished_in_this_run(state: DocumentState, run_id: str) -> bool:
    """On a step retry, documents this run already finished (or refused for good) are skipped:
    recorded by this run, and current or failed for good as far as the record goes."""
    return state.run_id == run_id and freshness(state, Expected()) in (
        Freshness.CURRENT,
        Freshness.FAILED_PERMANENTLY,
    )


def _materialized_in_this_run(context: dg.AssetExecutionContext) -> dict[tuple[str, str], dict]:
    """On a step retry: what this run already materialized, (asset, document) -> metadata.

    Those outputs are on disk; the retry neither redoes them nor records them twice (a document
    whose index failed, or whose events could not be written, resumes at the stage it lost).
    """
    if context.retry_number == 0:
        return {}
    done: dict[tuple[str, str], dict] = {}
    events = context.instance.all_logs(
        context.run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
    )
    for event in events:
        materialization = event.asset_materialization
        if materialization is not None and materialization.partition is not None:
            key = (materialization.asset_key.to_user_string(), materialization.partition)
            done[key] = {k: v.value for k, v in materialization.metadata.items()}
    return done


def _record(
    context: dg.AssetExecutionContext,
    lineage: Lineage,
    asset: str,
    document_id: str,
    result: StageResult,
) -> dg.AssetMaterialization:
    """Log the document's check results; return its materialization event to yield."""
    for check in result.checks:
        context.log_event(
            dg.AssetCheckEvaluation(
                asset_key=dg.AssetKey(asset),
                check_name=check.name,
                passed=check.passed,
                metadata=dict(check.metadata),
                partition=document_id,
                severity=dg.AssetCheckSeverity(check.severity),
            )
        )
    tags = lineage.tags(asset, document_id)
    lineage.made(asset, document_id, result.data_version)
    if result.code_version:
        tags[CODE_VERSION_TAG] = result.code_version
    if result.data_version:
        tags[DATA_VERSION_TAG] = result.data_version
    return dg.AssetMaterialization(
        asset_key=asset, partition=document_id, metadata=result.metadata, tags=tags
    )


def failure_observation(
    asset: str, document_id: str, error: DocIngestError, state: DocumentState, *, run_id: str
) -> dg.AssetObservation:
    """What the partition page shows for a failed document: the code, the message, whether a
    retry can help and the stage that failed, on the asset of that stage."""
    return dg.AssetObservation(
        asset_key=asset,
        partition=document_id,
        description=f"{error.code.value}: {error.message}",
        metadata={
            "status": "failed",
            "error_code": error.code.value,
            "error_message": error.message,
            "retryable": error.retryable,
            "stage": STAGES[asset],
            "attempts": state.attempts or 1,
            "run_id": run_id,
        },
        tags={"docingest/status": "failed", "docingest/error_code": error.code.value},
    )


T = TypeVar("T")


def _attempt(
    context: dg.AssetExecutionContext, runner: Callable[[str], T], document_id: str
) -> T | DocIngestError:
    """One stage for one document; every failure comes back classified."""
    try:
        return runner(document_id)
    except DocIngestError as error:
        return error
    except ConfigError as error:
        # A configuration problem (e.g. the collection holds another model's vectors) is the
        # same for every document: stop the run, and do not retry it.
        raise dg.Failure(description=str(error), allow_retries=False) from error
    except Exception as error:  # a bug must not take the rest of the batch with it
        trace = traceback.format_exc()
        context.log.error(f"{document_id}: {trace}")
        internal = DocIngestError(ErrorCode.INTERNAL_ERROR, f"{type(error).__name__}: {error}")
        internal.trace = trace  # kept in the document's state: `docingest ingest` logs it
        return internal


Outcome = Literal["succeeded", "cancelled"] | DocIngestError


class _DocumentRun:
    """One document at a time through the selected stages: its materializations and checks,
    its state and status history, its webhooks; stops between stages once the run is being
    cancelled. A document's records are yielded as `Emit`s, which the step emits in document
    order (assets/embed_span.py); its index stage waits for vectors (`WaitForVectors`)."""

    def __init__(
        self,
        context: dg.AssetExecutionContext,
        store: DocumentStore,
        hooks: WebhookDispatcher,
        runners: dict[str, Callable[[str], StageResult]],
        indexer: DocumentIndexer,
        selected: list[str],
        ran_with: dict[str, str],
        own_options: Callable[[str], dict[str, str]],
    ) -> None:
        self.context, self.store, self.hooks = context, store, hooks
        self.runners, self.indexer = runners, indexer
        self.selected, self.ran_with = selected, ran_with
        self.own_options = own_options
        self.stages = [STAGES[asset] for asset in selected]
        self.ids: dict[str, Any] = {
            "run_id": context.run.run_id,
            "correlation_id": correlation_id_of(context.run),
        }
        self.earlier = _materialized_in_this_run(context)
        self.lineage = Lineage(context.instance, selected, context.partition_keys)
        self._checked_at = -CANCEL_CHECK_INTERVAL_S

    def _cancel_requested(self) -> bool:
        """Whether the run is being cancelled; asked of the instance at most once a second
        (one read of the run costs ~10 ms on SQLite here, a stage often less)."""
        now = time.monotonic()
        if now - self._checked_at < CANCEL_CHECK_INTERVAL_S:
            return False
        self._checked_at = now
        run = self.context.instance.get_run_by_id(self.context.run.run_id)
        return run is not None and run.status in _CANCELLING

    def document(self, document_id: str) -> DocumentSteps[Outcome]:
        """Runs the document's stages; its steps go to its history once it is done with."""
        steps: list[Step] = []
        try:
            return (yield from self._stages(document_id, steps))
        finally:
            record_steps(self.store, document_id, steps, correlation_id=self.ids["correlation_id"])

    def _stages(self, document_id: str, steps: list[Step]) -> DocumentSteps[Outcome]:
        counts: dict[str, int] = {}
        for asset in self.selected:
            if (asset, document_id) in self.earlier:
                counts.update(stage_counts(self.earlier[asset, document_id]))
                continue
            if self._cancel_requested():
                return "cancelled"
            if asset == "parsed_pages":
                yield partial(self._progress, "parse.running", document_id)
            started_at, clock = utc_now(), time.perf_counter()
            waited = 0.0
            if asset == "vector_store_entries":
                outcome, waited = yield from self._index(document_id)
            else:
                outcome = _attempt(self.context, self.runners[asset], document_id)
            failed = isinstance(outcome, DocIngestError)
            # Its own time: not the time it waited for the documents after it.
            steps.append(
                Step(
                    STAGES[asset], "failed" if failed else "succeeded", started_at, utc_now(),
                    round(time.perf_counter() - clock - waited, 3), self.context.run.run_id,
                )
            )  # fmt: skip
            if isinstance(outcome, DocIngestError):
                # With the options this run used: a permanent failure is not run again
                # until the content or one of these changes (state.freshness).
                record_failure(
                    self.store, document_id, STAGES[asset], outcome, run_id=self.context.run.run_id,
                    trace=outcome.trace, **{**self.ran_with, **self.own_options(document_id)},
                )  # fmt: skip
                observation = failure_observation(
                    asset, document_id, outcome, read_state(self.store, document_id),
                    run_id=self.context.run.run_id,
                )  # fmt: skip
                hook = webhook_fields(self.store, document_id)
                yield partial(self._failed, asset, document_id, outcome, observation, counts, hook)
                return outcome
            counts.update(stage_counts(outcome.metadata))
            yield partial(self._materialized, asset, document_id, outcome)
        note_run(self.store, document_id, self.context.run.run_id)
        yield partial(self._succeeded, document_id, counts, webhook_fields(self.store, document_id))
        return "succeeded"

    def _index(
        self, document_id: str
    ) -> Generator[Emit | WaitForVectors, Reply, tuple[StageResult | DocIngestError, float]]:
        """The index stage: read the document's chunks, wait for their vectors (computed with
        the next documents' when they are small), write its points. Also returns how long it
        waited, less its share of the embedding call."""
        prepared = _attempt(self.context, self.indexer.prepare, document_id)
        if isinstance(prepared, DocIngestError):
            return prepared, 0.0
        clock = time.perf_counter()
        reply = yield WaitForVectors(prepared)
        waited = time.perf_counter() - clock - (reply.seconds if isinstance(reply, Embedded) else 0)
        write = partial(self.indexer.write, prepared, reply)
        return _attempt(self.context, lambda _: write(), document_id), waited

    # What a document records in the run, emitted in document order (assets/embed_span.py).

    def _progress(self, event: str, document_id: str) -> list[dg.AssetMaterialization]:
        notify_progress(self.hooks, event, [document_id], **self.ids)
        return []

    def _materialized(
        self, asset: str, document_id: str, outcome: StageResult
    ) -> list[dg.AssetMaterialization]:
        return [_record(self.context, self.lineage, asset, document_id, outcome)]

    def _failed(
        self,
        asset: str,
        document_id: str,
        error: DocIngestError,
        observation: dg.AssetObservation,
        counts: dict[str, int],
        classification: dict[str, Any],
    ) -> list[dg.AssetMaterialization]:
        self.context.log.error(f"{document_id}: {asset}: {error.code.value}: {error.message}")
        self.context.log_event(observation)
        notify_document(
            self.hooks, stage_failed=STAGES[asset], document_id=document_id, error=error,
            counts=counts, stages=self.stages, **self.ids, classification=classification,
        )  # fmt: skip
        return []

    def _succeeded(
        self, document_id: str, counts: dict[str, int], classification: dict[str, Any]
    ) -> list[dg.AssetMaterialization]:
        notify_document(
            self.hooks, stage_failed=None, document_id=document_id, error=None, counts=counts,
            stages=self.stages, **self.ids, classification=classification,
        )  # fmt: skip
        return []

    def cancel(self, document_ids: list[str]) -> None:
        """Mark the documents the run will not finish as cancelled (not failed)."""
        for document_id in document_ids:
            record_cancelled(self.store, document_id, self.context.run.run_id)
        if document_ids:
            self.context.log.warning(f"run cancelled: {len(document_ids)} documents not finished")
        if document_ids and "parse" in self.stages:
            notify_progress(self.hooks, "parse.cancelled", document_ids, **self.ids)


@dg.multi_asset(
    name="document_pipeline",
    specs=[source_documents, parsed_pages, document_classes, chunks, vector_store_entries],
    check_specs=[*parsed_pages_checks, *chunks_checks, *vector_store_checks],
    partitions_def=documents_partitions,
    can_subset=True,
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=BATCH_SIZE),
    retry_policy=document_retry_policy,
    # Qdrant local mode admits one process per store: runs that write queue on a pool of one.
    pool=QDRANT_POOL,
)
def document_pipeline(
    context: dg.AssetExecutionContext,
    config: ChunkingConfig,
    source: SourceResource,
    parser: ParserResource,
    chunker: ChunkerResource,
    classifier: ClassifierResource,
    embedder: EmbedderResource,
    qdrant: QdrantResource,
    storage: StorageResource,
    webhooks: WebhookResource,
) -> Iterator[dg.AssetMaterialization]:
    """Runs the selected stages for each document of the run, in order."""
    store = storage.store
    selected = [a for a in STAGES if dg.AssetKey(a) in context.selected_asset_keys]
    stages = [STAGES[a] for a in selected]
    try:
        hooks = webhooks.dispatcher()
    except ConfigError as error:
        raise dg.Failure(
            description=f"invalid webhook configuration: {error}", allow_retries=False
        ) from error
    settings = ChunkingSettings("", {}, "")
    if "chunks" in selected:
        try:
            settings = chunker.resolve(config.strategy, config.params)
        except ConfigError as error:
            raise dg.Failure(
                description=f"invalid chunking options: {error}", allow_retries=False
            ) from error
        if chunker.params_source(config.strategy) == "run" and chunker.params:
            context.log.info(
                f"run config picks strategy {settings.strategy!r}: the chunker resource's params "
                f"for {chunker.strategy!s} ({', '.join(sorted(chunker.params))}) are not used"
            )

    if "document_classes" in selected:
        try:
            classifier.ruleset()
        except ConfigError as error:
            raise dg.Failure(
                description=f"invalid classification rules: {error}", allow_retries=False
            ) from error

    ran_with: dict[str, str] = {}
    if "parsed_pages" in selected:
        ran_with["parse_options_hash"] = parser.options().options_hash()
    if "chunks" in selected:
        ran_with["chunking_hash"] = settings.params_hash
    if "vector_store_entries" in selected:
        ran_with["embedding_model"] = embedder.model

    def own_options(document_id: str) -> dict[str, str]:
        """The parse options hash planning expects for the document (its folder's option files
        applied, docingest.option_files), so a permanent failure stays put until they change."""
        if "parsed_pages" not in selected:
            return {}
        try:
            path = source.path_for(document_id)
        except ValueError:
            return {}
        return {"parse_options_hash": parser.planned_options_hash(source.root_path(), path)}

    with ExitStack() as stack:
        ahead = stack.enter_context(ParseAhead(parser, source, store))
        opened: list[VectorStore] = []

        def vectors() -> VectorStore:
            if not opened:  # opened on first use: parse-only runs never take the store's lock
                opened.append(stack.enter_context(qdrant.open()))
            return opened[0]

        built: list[Classifier] = []

        def classify(document_id: str) -> StageResult:
            if not built:  # built once per run: the rules' prototypes are embedded once
                built.append(classifier.classifier(embedder.embed))
            # A run that classifies without indexing (classify_job) brings the indexed points
            # in line; in a full run the index stage writes the classes with the points.
            restamp = (
                None
                if "vector_store_entries" in selected
                else lambda d, before: restamp_classes(d, before, embedder, vectors(), store)
            )
            return classify_document(document_id, built[0], embedder.model, store, restamp)

        runners: dict[str, Callable[[str], StageResult]] = {
            "source_documents": lambda d: register_document(d, source, store),
            "parsed_pages": lambda d: parse_document(d, parser, store, source, ahead),
            "document_classes": classify,
            "chunks": lambda d: chunk_parsed_document(d, chunker, settings, store),
        }  # and the index stage: `indexer`, in two halves
        indexer = DocumentIndexer(embedder, vectors, store)
        run = _DocumentRun(context, store, hooks, runners, indexer, selected, ran_with, own_options)
        spans: SpanningIndex[Outcome] = SpanningIndex(indexer.embed)
        failures: dict[str, DocIngestError] = {}
        cancelled: list[str] = []
        succeeded = 0
        todo = [
            document_id
            for document_id in context.partition_keys
            if not _finished_in_this_run(read_state(store, document_id), context.run.run_id)
        ]
        if "parse" in stages:
            notify_progress(hooks, "parse.pending", todo, **run.ids)
        # The parses this run still makes (a step retry resumes past those it made).
        to_parse = {d for d in todo if "parse" in stages and ("parsed_pages", d) not in run.earlier}
        remaining = deque(todo)  # taken from near its front: no shifting of a long run's list
        try:
            while remaining:
                # The next documents' parses run in the parser's workers while the step goes
                # through one document's stages: the first of them whose parse is made.
                window = list(islice(remaining, 1 + ahead.depth))
                ahead.submit(d for d in window if d in to_parse)
                document_id = ahead.next_ready(window)
                remaining.remove(document_id)
                outcome = yield from spans.begin(document_id, run.document(document_id))
                ahead.forget(document_id)
                release_free_memory()  # a long document's pages and chunks (docingest/heap.py)
                if outcome == "cancelled":
                    cancelled = [document_id, *remaining]
                    break
            # Documents still waiting for their vectors are written (a stage begun finishes).
            yield from spans.finish()
        except (KeyboardInterrupt, dg.DagsterExecutionInterruptedError):
            # Terminated by the run launcher (docingest cancel, the UI): the documents in hand
            # and those after them are cancelled, not failed.
            unfinished = spans.unfinished(todo)
            spans.close()  # their history first, as a document interrupted in hand
            run.cancel(unfinished)
            raise
        finally:
            spans.close()
        for document_id, outcome in spans.finished:
            if isinstance(outcome, DocIngestError):
                failures[document_id] = outcome
            elif outcome == "succeeded":
                succeeded += 1
        run.cancel(cancelled)
    notify_batch(
        hooks,
        run_id=context.run.run_id,
        correlation_id=run.ids["correlation_id"],
        counts={
            "documents": len(context.partition_keys),
            "succeeded": succeeded,
            "failed": len(failures),
            "cancelled": len(cancelled),
        },
        error_codes=dict(Counter(error.code.value for error in failures.values())),
    )
    if cancelled:
        # The run is CANCELING: Dagster ends a run whose step fails now as CANCELED.
        raise dg.Failure(
            description=f"cancelled: {len(cancelled)} of {len(context.partition_keys)} "
            "documents not finished; the next ingest or reconcile runs them",
            metadata={"cancelled_documents": dg.MetadataValue.json(cancelled)},
            allow_retries=False,
        )
    if failures:
        codes = Counter(error.code.value for error in failures.values())
        summary = ", ".join(f"{code} x{n}" for code, n in sorted(codes.items()))
        total = len(context.partition_keys)
        raise dg.Failure(
            description=f"{len(failures)} of {total} documents failed: {summary}",
            metadata={
                "failed_documents": dg.MetadataValue.json(
                    {d: error.to_dict() for d, error in sorted(failures.items())}
                ),
                "error_codes": dg.MetadataValue.json(dict(codes)),
            },
            allow_retries=any(error.retryable for error in failures.values()),
        )


def expected_options(
    parser: ParserResource,
    chunker: ChunkerResource,
    embedder: EmbedderResource,
    strategy: str | None = None,
    params: dict[str, str] | None = None,
) -> Expected:
    """What a run with these resources (and a run's chunking override) would use now: what the
    CLI, the schedule and the UI's code versions compare each document with."""
    return Expected(
        parse_options_hash=parser.options().options_hash(),
        chunking_hash=chunker.resolve(strategy, params).params_hash,
        embedding_model=embedder.model,
    )


def with_code_versions(
    pipeline: dg.AssetsDefinition,
    parser: ParserResource,
    chunker: ChunkerResource,
    embedder: EmbedderResource,
    classifier: ClassifierResource | None = None,
) -> dg.AssetsDefinition:
    """The pipeline with code versions from the configured resources (`expected_options`, the
    options `state.freshness` compares): change the parse options, the rules, the chunking
    configuration or the model, and the UI shows the affected partitions (and everything
    downstream of them) as stale, as `docingest ingest` and the schedule see them."""
    expected = expected_options(parser, chunker, embedder)
    chunking = expected.chunking_hash
    try:
        rules = (classifier or ClassifierResource()).ruleset().digest()
    except ConfigError:
        rules = "invalid-rules"  # the run refuses them and says why; the UI must still load
    versions = {
        "source_documents": SOURCE_CODE_VERSION,
        "parsed_pages": expected.parse_options_hash,
        "document_classes": rules,
        "chunks": chunking,
        # The index is made from the chunks: a new chunking configuration makes it stale too.
        "vector_store_entries": f"{chunking}-{expected.embedding_model}",
    }
    return pipeline.map_asset_specs(
        lambda spec: spec.replace_attributes(
            code_version=versions.get(spec.key.to_user_string(), spec.code_version)
        )
    )
