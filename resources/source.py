"""The upload folder or object-store prefix documents come from, and their metadata."""

import os
from typing import Any, Literal

import dagster as dg
from pydantic import Field, PrivateAttr

from docingest.ids import path_for_document_id, sha256_file
from docingest.locations import Location, check_reachable, is_local
from docingest.metadata import load_sidecar, merge_metadata
from docingest.option_files import OptionFileReader
from docingest.paths import docingest_home
from docingest.source import Scan, SourceFile, listed_option_files, settled
from docingest.source import scan as scan_folder
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
    hash_budget_s: float = Field(
        default=30.0,
        description=(
            "Seconds one sensor tick may spend hashing new and changed files; the others wait "
            "for the next tick. Dagster gives a sensor evaluation 60 s: 100,000 new files are "
            "taken in over several ticks instead of timing out on every one."
        ),
    )
    reconcile_budget_s: float = Field(
        default=30.0,
        description=(
            "Seconds one reconcile evaluation may spend checking files (hashing those whose "
            "size, mtime or ctime moved, reading their state), after listing the folder; the "
            "others are checked by the next evaluation, which goes on where this one stopped."
        ),
    )
    run_priority: int = Field(
        default=0,
        description=(
            "dagster/priority of the runs the sensor and the reconcile schedule request: "
            "higher runs leave the run queue and take the qdrant_writer slot first."
        ),
    )

    # The option files as a run or a tick found them, on the copy Dagster sets up for it: a
    # resource object that lives longer (a definitions' own) never answers from old contents.
    _in_execution: bool = PrivateAttr(default=False)
    _options: OptionFileReader | None = PrivateAttr(default=None)

    def root_path(self) -> Location:
        configured = self.root or os.environ.get("DOCINGEST_SOURCE_DIR", "")
        return self.location(configured) if configured else docingest_home() / "uploads"

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # A missing bucket or refused credentials: one ConfigError when the run or tick
        # starts, not a failure per document.
        check_reachable(self.root_path())
        # Dagster sets up a copy for each run or tick and drops it afterwards: the reader
        # built from here on lives as long as that copy (no teardown needed, and none kept:
        # a teardown would make every sensor context a context manager).
        self._in_execution, self._options = True, None

    def list_files(self, *, settle: bool = True) -> list[SourceFile]:
        """The folder's documents; with `settle`, only those not modified in the last
        `settle_seconds` (the sensor, the schedule and the CLI all list through here)."""
        return self.scan(settle=settle).files

    def scan(self, *, settle: bool = True) -> Scan:
        """`list_files`, and the option files the same walk (LIST) saw: what
        `parse_options_reader(scan)` needs to look nothing up per document."""
        return scan_folder(self.root_path(), settle_seconds=self.settle_seconds if settle else 0)

    def settled(self, file: SourceFile, now_ns: int) -> bool:
        """Whether `file`, listed with `settle=False`, would be listed with `settle` at `now_ns`
        (one listing serves both questions: the sensor's). An object needs no settling: it
        appears only once its upload is complete."""
        return bool(file.etag) or settled(file.mtime_ns, now_ns, self.settle_seconds)

    def content_hash(self, file: SourceFile) -> str:
        """The file's sha256 as it is now (OSError when it vanished or cannot be read); an
        object is read once, streamed."""
        return sha256_file(file.path)

    def path_for(self, document_id: str) -> Location:
        return path_for_document_id(document_id, self.root_path())

    def parse_options_for(self, path: Location) -> dict[str, Any]:
        """The parse options the folder's option files set for the document at `path`
        (docingest.option_files); raises DocIngestError (CORRUPT_FILE) for an invalid one.

        Within a run or a tick (between setup and teardown) one reader answers for every
        document, each folder's files read once (on an object store, one listing); outside of
        one, each call reads the files as they are now."""
        if not self._in_execution:
            return self.parse_options_reader().overrides(path)
        if self._options is None:
            self._options = self.parse_options_reader()
        return self._options.overrides(path)

    def parse_options_reader(self, listed: Scan | None = None) -> OptionFileReader:
        """A reader of the option files as they are now, for many documents at once (a tick, a
        reconcile evaluation): each folder's files read once. `listed`: a scan of the folder
        that saw which option files exist; otherwise a local folder's are looked up where
        they may be, and an object store's come from one listing."""
        root = self.root_path()
        if listed is not None:
            return OptionFileReader(root, listed.option_files)
        return OptionFileReader(root, None if is_local(root) else listed_option_files(root))

    def document_metadata(self, path: Location) -> dict[str, Any]:
        """The document's vector_store_metadata: source config merged with its sidecar."""
        return merge_metadata(self.metadata, load_sidecar(path))
