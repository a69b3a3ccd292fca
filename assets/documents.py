"""source_documents: the files in the upload folder, one partition each."""

from pathlib import Path

import dagster as dg

from assets.partitions import documents_partitions
from assets.results import StageResult
from docingest.errors import DocIngestError, ErrorCode
from docingest.ids import sha256_file
from docingest.option_files import overrides_digest
from docingest.state import record_stage
from docingest.storage import DocumentStore
from resources import SourceResource

# Bump when what registration records changes.
SOURCE_CODE_VERSION = "source-2"

source_documents = dg.AssetSpec(
    "source_documents",
    partitions_def=documents_partitions,
    group_name="ingestion",
    kinds={"file"},
    skippable=True,
    description=(
        "A document file as registered for ingestion: its path, size, content hash and the "
        "vector_store_metadata (source configuration merged with the file's sidecar) that "
        "every point of the document carries, and the parse options its folder's option files "
        "set."
    ),
)


def _locate(document_id: str, source: SourceResource, store: DocumentStore) -> Path:
    """The file behind a document id: under the configured root, else where it was registered.

    A partition key that would leave the root (`..`, an absolute path, a NUL byte) or a link
    that points outside it (FILE_OUTSIDE_SOURCE_ROOT), a pipe or a device
    (FILE_TYPE_NOT_SUPPORTED) is refused for good, never read: the same rule as the folder
    listing. A missing file may still arrive (retryable).
    """
    try:
        candidate = source.path_for(document_id)
    except ValueError as error:
        raise DocIngestError(ErrorCode.FILE_OUTSIDE_SOURCE_ROOT, f"{error}; not read") from None
    if candidate.exists():
        if not candidate.resolve().is_relative_to(source.root_path().resolve()):
            raise DocIngestError(
                ErrorCode.FILE_OUTSIDE_SOURCE_ROOT,
                f"{candidate} links outside the source root (the upload folder); not read",
            )
        if candidate.is_file():
            return candidate
        raise DocIngestError(
            ErrorCode.FILE_TYPE_NOT_SUPPORTED,
            f"{candidate} is not a regular file (a folder, pipe or device); not read",
        )
    registered = store.read_json("sources", document_id)
    if registered and Path(registered["path"]).is_file():
        return Path(registered["path"])
    raise DocIngestError(
        ErrorCode.UNABLE_TO_DOWNLOAD_FILE, f"{candidate} is missing or not a readable file"
    )


def register_document(
    document_id: str, source: SourceResource, store: DocumentStore
) -> StageResult:
    """Hash the file, merge its metadata and record where it is."""
    try:
        path = _locate(document_id, source, store)
        sha256 = sha256_file(path)
        size = path.stat().st_size
    except OSError as error:
        raise DocIngestError(ErrorCode.UNABLE_TO_DOWNLOAD_FILE, str(error)) from error
    metadata = source.document_metadata(path)
    parse_options = source.parse_options_for(path)
    store.write_json(
        "sources",
        document_id,
        {
            "document_id": document_id,
            "path": str(path),
            "sha256": sha256,
            "size": size,
            "vector_store_metadata": metadata,
            "parse_options": parse_options,  # set by the folder's option files
        },
    )
    record_stage(store, document_id, "source", sha256=sha256, source=str(path))
    return StageResult(
        code_version=SOURCE_CODE_VERSION,
        # The option files are part of what was registered: changing them changes the version.
        data_version="-".join(filter(None, (sha256, overrides_digest(parse_options)))),
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "size_bytes": size,
            "sha256": sha256,
            "vector_store_metadata": dg.MetadataValue.json(metadata),
            "parse_options": dg.MetadataValue.json(parse_options),
        },
    )
