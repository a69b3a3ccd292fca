"""What one Dagster event costs on the embedded SQLite instance: Dagster's storage and ours.

Run from the repository root:

    .venv/bin/python -m bench.event_log_bench [--documents 100] [--repeat 3]

One run of a partitioned multi-asset that logs, per document partition, one asset check
evaluation and one materialization (the pipeline logs six and five), on a fresh temporary
instance whose event log is Dagster's `ConsolidatedSqliteEventLogStorage` or this project's
`PooledSqliteEventLogStorage` (pipelines/sqlite_storage.py), alternating, best of `--repeat`.
"""

import argparse
import statistics
import tempfile
import time
import warnings
from collections.abc import Iterator

import dagster as dg

from assets.run_tags import CORRELATION_TAG
from pipelines.batching import RANGE_END, RANGE_START

STORAGES = {
    "dagster ConsolidatedSqliteEventLogStorage": (
        "dagster._core.storage.event_log",
        "ConsolidatedSqliteEventLogStorage",
    ),
    "docingest PooledSqliteEventLogStorage": (
        "pipelines.sqlite_storage",
        "PooledSqliteEventLogStorage",
    ),
}
PARTITIONS = dg.DynamicPartitionsDefinition(name="bench_documents")
with warnings.catch_warnings():
    warnings.simplefilter("ignore", dg.PreviewWarning)  # partitioned checks, as the pipeline's
    CHECK = dg.AssetCheckSpec("probe_ok", asset="probe", partitions_def=PARTITIONS)


@dg.multi_asset(
    specs=[dg.AssetSpec("probe", partitions_def=PARTITIONS)],
    check_specs=[CHECK],
    partitions_def=PARTITIONS,
    can_subset=True,
)
def probe(context: dg.AssetExecutionContext) -> Iterator[dg.AssetMaterialization]:
    """One check evaluation and one materialization per partition of the run."""
    for key in context.partition_keys:
        context.log_event(
            dg.AssetCheckEvaluation(
                asset_key=dg.AssetKey("probe"), check_name="probe_ok", passed=True, partition=key
            )
        )
        yield dg.AssetMaterialization(asset_key="probe", partition=key, metadata={"n": 1})


def one_run(module: str, class_name: str, documents: int) -> float:
    """Seconds of one run writing 2 x `documents` events, on a fresh instance."""
    with tempfile.TemporaryDirectory() as folder:
        overrides = {
            "event_log_storage": {
                "module": module,
                "class": class_name,
                "config": {"base_dir": f"{folder}/events"},
            },
            "telemetry": {"enabled": False},
        }
        with dg.instance_for_test(overrides=overrides, temp_dir=folder) as instance:
            keys = [f"doc-{n:05d}" for n in range(documents)]
            instance.add_dynamic_partitions(PARTITIONS.name, keys)
            clock = time.perf_counter()
            result = dg.materialize(
                [probe],
                instance=instance,
                tags={RANGE_START: keys[0], RANGE_END: keys[-1], CORRELATION_TAG: "bench"},
                run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
            )
            seconds = time.perf_counter() - clock
            assert result.success
            return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--documents", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    seconds: dict[str, list[float]] = {name: [] for name in STORAGES}
    for _ in range(args.repeat):
        for name, (module, class_name) in STORAGES.items():
            seconds[name].append(one_run(module, class_name, args.documents))
    events = 2 * args.documents
    for name, runs in seconds.items():
        best, median = min(runs), statistics.median(runs)
        print(
            f"{name}: {events} events, best {best:.2f} s ({1000 * best / events:.1f} ms/event), "
            f"median {median:.2f} s ({1000 * median / events:.1f} ms/event)"
        )


if __name__ == "__main__":
    main()
