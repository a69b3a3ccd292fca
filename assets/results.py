"""What one stage returns for one document: its materialization metadata and check outcomes."""

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from assets.partitions import documents_partitions


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
