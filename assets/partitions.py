"""One dynamic partition per document, and what every per-document asset shares."""

import dagster as dg

from docingest.errors import DocIngestError
from docingest.state import record_failure
from docingest.storage import DocumentStore

documents_partitions = dg.DynamicPartitionsDefinition(name="documents")

# Retryable errors (timeouts, an unavailable store) back off exponentially with jitter;
# non-retryable ones raise Failure(allow_retries=False) and never reach this policy.
document_retry_policy = dg.RetryPolicy(
    max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


def document_failure(
    context: dg.AssetExecutionContext, store: DocumentStore, stage: str, error: DocIngestError
) -> dg.Failure:
    """Record a classified document error and turn it into the Failure Dagster should see."""
    record_failure(store, context.partition_key, stage, error, run_id=context.run_id)
    context.log.error(f"{context.partition_key}: {error.code.value}: {error.message}")
    return dg.Failure(
        description=f"{error.code.value}: {error.message}",
        metadata={
            "error_code": error.code.value,
            "retryable": error.retryable,
            "document_id": context.partition_key,
            "stage": stage,
        },
        allow_retries=error.retryable,
    )
