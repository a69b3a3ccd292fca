"""How the pipeline step is retried: only while some failure of the run is retryable."""

import dagster as dg

# Retryable errors (timeouts, an unavailable store) back off exponentially with jitter; a run
# whose failures are all non-retryable raises Failure(allow_retries=False) and is not retried.
document_retry_policy = dg.RetryPolicy(
    max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)
