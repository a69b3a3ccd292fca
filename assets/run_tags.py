"""Run tags the pipeline reads and the CLI, sensor and schedule write: the caller's correlation
id of a batch, and Dagster's own priority tag.

`dagster/priority` is honoured by Dagster itself: the QueuedRunCoordinator's daemon dequeues
higher priorities first (FIFO among equals), and a run waiting for a pool slot (the
`qdrant_writer` pool) claims it ahead of lower priorities, in-process CLI runs included.
"""

import dagster as dg

from docingest.errors import ConfigError

CORRELATION_TAG = "docingest/correlation_id"
PRIORITY_TAG = "dagster/priority"
_MAX_CORRELATION_ID = 200


def check_correlation_id(correlation_id: str) -> str:
    """A caller's id: one line of printable text, at most 200 characters; else ConfigError."""
    if not correlation_id.strip() or len(correlation_id) > _MAX_CORRELATION_ID:
        raise ConfigError(f"a correlation id is 1 to {_MAX_CORRELATION_ID} characters")
    if not correlation_id.isprintable():
        raise ConfigError("a correlation id is one line of printable text")
    return correlation_id


def run_tags(correlation_id: str | None = None, priority: int | None = None) -> dict[str, str]:
    """The tags for runs of one batch (checked; ConfigError for a bad correlation id)."""
    tags: dict[str, str] = {}
    if correlation_id is not None:
        tags[CORRELATION_TAG] = check_correlation_id(correlation_id)
    if priority is not None:
        tags[PRIORITY_TAG] = str(priority)
    return tags


def correlation_id_of(run: dg.DagsterRun) -> str | None:
    return run.tags.get(CORRELATION_TAG)
