"""The Parquet outputs' row counts and column schemas, under the metadata keys the UI reads."""

from collections.abc import Mapping
from typing import Any

import dagster as dg
import pyarrow as pa

from docingest.locations import Location, read_parquet_metadata

# Dagster's table metadata keys (TableMetadataSet, not exported by dagster 1.13).
ROW_COUNT = "dagster/row_count"
PARTITION_ROW_COUNT = "dagster/partition_row_count"
COLUMN_SCHEMA = "dagster/column_schema"


def column_schema(schema: pa.Schema, descriptions: Mapping[str, str]) -> dg.TableSchema:
    """A Parquet schema as Dagster's column schema (the UI's Columns table)."""
    return dg.TableSchema(
        columns=[dg.TableColumn(f.name, str(f.type), descriptions.get(f.name)) for f in schema]
    )


def parquet_metadata(path: Location, schema: dg.TableSchema) -> dict[str, Any]:
    """Row count of one partition's Parquet file and the schema it is written with, under the
    keys the UI reads."""
    rows = read_parquet_metadata(path).num_rows
    return {ROW_COUNT: rows, PARTITION_ROW_COUNT: rows, COLUMN_SCHEMA: schema}
