"""Webhook notifications of the pipeline step: which events a document's outcome raises, sent
through the WebhookResource's dispatcher (not an asset: the pipeline step calls it).

Delivery failures are logged (with the URL stripped of credentials and query, never a secret)
and otherwise ignored: a receiver that is down must not fail or retry the ingestion.
"""

from collections.abc import Collection, Mapping
from typing import Any

import dagster as dg

from docingest.errors import DocIngestError
from docingest.webhooks import DeliveryResult, WebhookDispatcher

# The pipeline's stages in order (the values of assets.pipeline.STAGES).
PIPELINE_STAGES = ("source", "parse", "classify", "chunk", "index")
_PARSE = PIPELINE_STAGES.index("parse")
_CLASSIFY = PIPELINE_STAGES.index("classify")
# Materialization metadata worth a receiver's attention, as plain integers.
COUNT_KEYS = ("pages", "ocr_pages", "failed_pages", "tables", "chunks", "tokens_total", "points")


def stage_counts(metadata: Mapping[str, Any]) -> dict[str, int]:
    """The integer counts among a stage's materialization metadata (pages, chunks, points...)."""
    return {
        key: int(value)
        for key, value in metadata.items()
        if key in COUNT_KEYS and isinstance(value, int) and not isinstance(value, bool)
    }


def _log_failures(results: list[DeliveryResult]) -> list[DeliveryResult]:
    logger = dg.get_dagster_logger()
    for result in results:
        if not result.ok:
            logger.warning(
                f"webhook {result.event} to {result.url} not delivered "
                f"({result.attempts} attempt(s)): {result.error}"
            )
    return results


def document_events(
    stage_failed: str | None, stages: Collection[str], *, failed_pages: int = 0
) -> list[str]:
    """The events of one document's outcome, in order. `stages` are the stages this run
    selected: parse.* only when parse was among them (a failure before it counts as a parse
    failure), classify.* only when classify was (classify.error when it failed there),
    ingest.success only when the document went all the way through indexing. A parse with
    `failed_pages` (replaced per failed_page_mode) is parse.partial_success."""
    unknown = sorted({*stages, *([stage_failed] if stage_failed else [])} - set(PIPELINE_STAGES))
    if unknown:
        raise ValueError(f"unknown pipeline stage(s) {unknown}; known: {PIPELINE_STAGES}")
    parse_ran, classify_ran = "parse" in stages, "classify" in stages
    parsed = "parse.partial_success" if failed_pages else "parse.success"
    if stage_failed is None:
        return [
            *([parsed] if parse_ran else []),
            *(["classify.success"] if classify_ran else []),
            *(["ingest.success"] if "index" in stages else []),
        ]
    failed_at = PIPELINE_STAGES.index(stage_failed)
    failed_by_parse = failed_at <= _PARSE
    return [
        *(["parse.error"] if parse_ran and failed_by_parse else []),
        *([parsed] if parse_ran and not failed_by_parse else []),
        *(["classify.error"] if classify_ran and failed_at == _CLASSIFY else []),
        *(["classify.success"] if classify_ran and failed_at > _CLASSIFY else []),
        # A re-classification (classify_job) that fails is a classify error, not an ingest one.
        *([] if set(stages) == {"classify"} else ["ingest.error"]),
    ]


def notify_document(
    dispatcher: WebhookDispatcher,
    *,
    stage_failed: str | None,
    document_id: str,
    error: DocIngestError | None,
    run_id: str,
    counts: Mapping[str, Any],
    stages: Collection[str] = PIPELINE_STAGES,
    correlation_id: str | None = None,
    classification: Mapping[str, Any] | None = None,
) -> list[DeliveryResult]:
    """Send the events of one document's outcome: `stage_failed` is the stage it failed at
    (None = every selected stage succeeded), `error` its classified error; classify.success
    carries the `classification` (document_type, score, runner_up, page_classes)."""
    results: list[DeliveryResult] = []
    events = document_events(stage_failed, stages, failed_pages=counts.get("failed_pages", 0))
    for event in events:
        failed = event.endswith(".error")
        partial = event == "parse.partial_success"
        results += dispatcher.emit(
            event,
            document_id=document_id,
            status="failed" if failed else ("partial" if partial else "succeeded"),
            error_code=error.code.value if failed and error else None,
            error_message=error.message if failed and error else None,
            counts=counts,
            run_id=run_id,
            correlation_id=correlation_id,
            extra={
                "stage": stage_failed if failed else None,
                "retryable": error.retryable if failed and error else None,
                **((classification or {}) if event == "classify.success" else {}),
            },
        )
    return _log_failures(results)


def notify_progress(
    dispatcher: WebhookDispatcher,
    event: str,
    document_ids: Collection[str],
    *,
    run_id: str,
    correlation_id: str | None = None,
) -> list[DeliveryResult]:
    """Send a status event without an outcome for each document: parse.pending (the run has
    it, waiting its turn), parse.running (its parse started) or parse.cancelled (its run was
    cancelled before it finished)."""
    status = {"parse.pending": "pending", "parse.running": "running"}.get(event, "cancelled")
    results: list[DeliveryResult] = []
    for document_id in document_ids:
        results += dispatcher.emit(
            event,
            document_id=document_id,
            status=status,
            run_id=run_id,
            correlation_id=correlation_id,
        )
    return _log_failures(results)


def notify_batch(
    dispatcher: WebhookDispatcher,
    *,
    run_id: str,
    counts: Mapping[str, int],
    error_codes: Mapping[str, int],
    correlation_id: str | None = None,
) -> list[DeliveryResult]:
    """Send `batch.completed` for the run's documents: counts {documents, succeeded, failed,
    cancelled}; status cancelled (any was), else succeeded (none failed), failed (none
    succeeded) or partial."""
    failed, succeeded = counts.get("failed", 0), counts.get("succeeded", 0)
    status = "succeeded" if not failed else ("failed" if not succeeded else "partial")
    if counts.get("cancelled", 0):
        status = "cancelled"
    return _log_failures(
        dispatcher.emit(
            "batch.completed",
            status=status,
            counts=dict(counts),
            run_id=run_id,
            correlation_id=correlation_id,
            extra={"error_codes": dict(error_codes)},
        )
    )
