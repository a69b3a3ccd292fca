"""Many documents per run: partition ranges over the dynamic `documents` partitions."""

from collections.abc import Sequence

import dagster as dg

from docingest.ids import short_digest

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def contiguous_batches(
    ordered: Sequence[str], wanted: Sequence[str], batch_size: int
) -> list[list[str]]:
    """Split `wanted` into runs of adjacent partitions (in the partitions' own order), since a
    run covers a partition range; each run holds at most `batch_size` documents."""
    wanted_set = set(wanted)
    batches: list[list[str]] = []
    current: list[str] = []
    for key in ordered:
        if key in wanted_set and len(current) < batch_size:
            current.append(key)
            continue
        if current:
            batches.append(current)
        current = [key] if key in wanted_set else []
    if current:
        batches.append(current)
    return batches


def batch_run_request(
    batch: Sequence[str], *, job_name: str | None = None, key: str | None = None,
    tags: dict[str, str] | None = None,
) -> dg.RunRequest:  # fmt: skip
    """One run for the batch: a single partition, or the range from its first to its last."""
    run_key = None
    if key is not None:
        run_key = f"{key}:{short_digest('|'.join(batch))}"
    if len(batch) == 1:
        return dg.RunRequest(
            partition_key=batch[0], job_name=job_name, run_key=run_key, tags=tags or {}
        )
    return dg.RunRequest(
        job_name=job_name,
        run_key=run_key,
        tags={**(tags or {}), RANGE_START: batch[0], RANGE_END: batch[-1]},
    )
