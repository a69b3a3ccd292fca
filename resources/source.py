"""The upload folder or object-store prefix documents come from, and their metadata."""

import os
from typing import Any, Literal

import dagster as dg
from pydantic import Field, PrivateAttr

from docingest.ids import path_for_document_id, sha256_file
from docingest.locations import Location, check_reachable, is_local
from docingest.metadata import load_sidecar, merge_metadata
from docingest.option_files import parse_option_overrides
from docingest.paths import docingest_home
from docingest.source import SourceFile, iter_source_files, listed_option_files
from resources.object_store import ObjectStoreFields

# Documents per run (sensor, schedule, backfills, `docingest ingest`): runs cost a second or
# more each, documents a fraction of it.
BATCH_SIZE = 50


class SourceResource(dg.ConfigurableResource, ObjectStoreFields):
    """A folder of documents, or an object-store prefix (`s3://bucket/uploads`); each file's
    id is its path (key) relative to the folder (prefix)."""

    root: str = Field(
        default="",
        description=(
            "Upload folder or object-store URL (s3://bucket/prefix); empty means "
            "$DOCINGEST_SOURCE_DIR or $DOCINGEST_HOME/uploads."
        ),
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
    run_priority: int = Field(
        default=0,
        description=(
            "dagster/priority of the runs the sensor and the reconcile schedule request: "
            "higher runs leave the run queue and take the qdrant_writer slot first."
        ),
    )

    _option_files: frozenset[str] | None = PrivateAttr(default=None)

    def root_path(self) -> Location:
        configured = self.root or os.environ.get("DOCINGEST_SOURCE_DIR", "")
        return self.location(configured) if configured else docingest_home() / "uploads"

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # A missing bucket or refused credentials: one ConfigError when the run or tick
        # starts, not a failure per document.
        check_reachable(self.root_path())

    def list_files(self, *, settle: bool = True) -> list[SourceFile]:
        """The folder's documents; with `settle`, only those not modified in the last
        `settle_seconds` (the sensor, the schedule and the CLI all list through here)."""
        return list(
            iter_source_files(self.root_path(), settle_seconds=self.settle_seconds if settle else 0)
        )

    def content_hash(self, file: SourceFile) -> str:
        """The file's sha256 as it is now (OSError when it vanished or cannot be read); an
        object is read once, streamed."""
        return sha256_file(file.path)

    def path_for(self, document_id: str) -> Location:
        return path_for_document_id(document_id, self.root_path())

    def parse_options_for(self, path: Location) -> dict[str, Any]:
        """The parse options the folder's option files set for the document at `path`
        (docingest.option_files); raises DocIngestError (CORRUPT_FILE) for an invalid one."""
        root = self.root_path()
        if is_local(root):
            return parse_option_overrides(root, path)
        # On an object store the option files come from one listing per resource setup (a
        # sensor tick, a run): looking each candidate name up would cost a HEAD and a LIST per
        # folder level per document on every tick.
        if self._option_files is None:
            self._option_files = listed_option_files(root)
        return parse_option_overrides(root, path, present=self._option_files)

    def document_metadata(self, path: Location) -> dict[str, Any]:
        """The document's vector_store_metadata: source config merged with its sidecar."""
        return merge_metadata(self.metadata, load_sidecar(path))
