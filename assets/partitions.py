"""One dynamic partition per document, and what every stage of the graph shares."""

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

DOCUMENTS = "documents"
documents_partitions = dg.DynamicPartitionsDefinition(name=DOCUMENTS)

# Retryable errors (timeouts, an unavailable store) back off exponentially with jitter; a run
# whose failures are all non-retryable raises Failure(allow_retries=False) and is not retried.
document_retry_policy = dg.RetryPolicy(
    max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)

# Documents per run in backfills: runs cost a second or more each, documents a fraction of it.
BATCH_SIZE = 50


@dataclass
class CheckOutcome:
    name: str
    passed: bool
    metadata: Mapping[str, Any] = field(default_factory=dict)
    severity: str = "ERROR"  # or "WARN": dg.AssetCheckSeverity's values


@dataclass
class StageResult:
    """What one stage produced for one document: materialization metadata and check outcomes."""

    metadata: Mapping[str, Any]
    checks: list[CheckOutcome] = field(default_factory=list)
    # What the stage ran with (parse options hash, chunking hash, model) and what it produced
    # (content hash chain): recorded on the materialization so the UI can tell staleness.
    code_version: str | None = None
    data_version: str | None = None


def check_spec(name: str, asset: str, description: str) -> dg.AssetCheckSpec:
    """A check evaluated per document partition."""
    with warnings.catch_warnings():
        # Partitioned asset checks are a Dagster preview; they are what per-document checks are.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.AssetCheckSpec(
            name, asset=asset, partitions_def=documents_partitions, description=description
        )


# Dagster's table metadata keys (TableMetadataSet, not exported by dagster 1.13).
ROW_COUNT = "dagster/row_count"
PARTITION_ROW_COUNT = "dagster/partition_row_count"
COLUMN_SCHEMA = "dagster/column_schema"


def column_schema(schema: pa.Schema, descriptions: Mapping[str, str]) -> dg.TableSchema:
    """A Parquet schema as Dagster's column schema (the UI's Columns table)."""
    return dg.TableSchema(
        columns=[dg.TableColumn(f.name, str(f.type), descriptions.get(f.name)) for f in schema]
    )


def parquet_metadata(path: Path, schema: dg.TableSchema) -> dict[str, Any]:
    """Row count of one partition's Parquet file and the schema it is written with, under the
    keys the UI reads."""
    rows = pq.read_metadata(path).num_rows
    return {ROW_COUNT: rows, PARTITION_ROW_COUNT: rows, COLUMN_SCHEMA: schema}
