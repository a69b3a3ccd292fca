"""The upload folder documents come from, and the metadata its documents carry."""

import os
from pathlib import Path
from typing import Any, Literal

import dagster as dg
from pydantic import Field

from docingest.ids import path_for_document_id, sha256_file
from docingest.metadata import load_sidecar, merge_metadata
from docingest.option_files import OptionFileReader, parse_option_overrides
from docingest.paths import docingest_home
from docingest.source import SourceFile, iter_source_files, settled

# Documents per run (sensor, schedule, backfills, `docingest ingest`): runs cost a second or
# more each, documents a fraction of it.
BATCH_SIZE = 50


class SourceResource(dg.ConfigurableResource):
    """A folder of documents; each file's id is its path relative to the folder."""

    root: str = Field(
        default="",
        description="Upload folder; empty means $DOCINGEST_SOURCE_DIR or $DOCINGEST_HOME/uploads.",
    )
    metadata: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "vector_store_metadata for every document of this source; a file's sidecar "
            "<file>.metadata.json adds to and overrides it."
        ),
    )
    settle_seconds: float = Field(
        default=2.0, description="Files modified more recently than this are left for later."
    )
    on_delete: Literal["delete", "keep"] = Field(
        default="delete",
        description=(
            "When a file leaves the folder: 'delete' removes its points, Parquet files and "
            "partition; 'keep' leaves everything as it was (an archive that only grows)."
        ),
    )
    batch_size: int = Field(
        default=BATCH_SIZE,
        description=(
            "Documents per run when the sensor or the reconcile schedule requests work: 1,000 "
            "new files become 20 runs, each document keeping its own partition status."
        ),
    )
    hash_budget_s: float = Field(
        default=30.0,
        description=(
            "Seconds one sensor tick may spend hashing new and changed files; the others wait "
            "for the next tick. Dagster gives a sensor evaluation 60 s: 100,000 new files are "
            "taken in over several ticks instead of timing out on every one."
        ),
    )
    run_priority: int = Field(
        default=0,
        description=(
            "dagster/priority of the runs the sensor and the reconcile schedule request: "
            "higher runs leave the run queue and take the qdrant_writer slot first."
        ),
    )

    def root_path(self) -> Path:
        configured = self.root or os.environ.get("DOCINGEST_SOURCE_DIR", "")
        return Path(configured).absolute() if configured else docingest_home() / "uploads"

    def list_files(self, *, settle: bool = True) -> list[SourceFile]:
        """The folder's documents; with `settle`, only those not modified in the last
        `settle_seconds` (the sensor, the schedule and the CLI all list through here)."""
        return list(
            iter_source_files(self.root_path(), settle_seconds=self.settle_seconds if settle else 0)
        )

    def settled(self, file: SourceFile, now_ns: int) -> bool:
        """Whether `file`, listed with `settle=False`, would be listed with `settle` at `now_ns`
        (one listing serves both questions: the sensor's)."""
        return settled(file.mtime_ns, now_ns, self.settle_seconds)

    def content_hash(self, file: SourceFile) -> str:
        """The file's sha256 as it is now (OSError when it vanished or cannot be read)."""
        return sha256_file(file.path)

    def path_for(self, document_id: str) -> Path:
        return path_for_document_id(document_id, self.root_path())

    def parse_options_for(self, path: Path) -> dict[str, Any]:
        """The parse options the folder's option files set for the document at `path`
        (docingest.option_files); raises DocIngestError (CORRUPT_FILE) for an invalid one."""
        return parse_option_overrides(self.root_path(), path)

    def parse_options_reader(self) -> OptionFileReader:
        """`parse_options_for` of many documents at once, each folder's option files read once."""
        return OptionFileReader(self.root_path())

    def document_metadata(self, path: Path) -> dict[str, Any]:
        """The document's vector_store_metadata: source config merged with its sidecar."""
        return merge_metadata(self.metadata, load_sidecar(path))
