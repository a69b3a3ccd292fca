"""source_documents: the files in the upload folder, one partition each."""

from pathlib import Path

import dagster as dg

from assets.partitions import document_failure, document_retry_policy, documents_partitions
from docingest.errors import DocIngestError, ErrorCode
from docingest.ids import sha256_file
from docingest.state import record_stage
from resources import SourceResource, StorageResource


def _locate(document_id: str, source: SourceResource, storage: StorageResource) -> Path:
    """The file behind a document id: under the configured root, else where it was registered."""
    candidate = source.path_for(document_id)
    if candidate.is_file():
        return candidate
    registered = storage.store.read_json("sources", document_id)
    if registered and Path(registered["path"]).is_file():
        return Path(registered["path"])
    raise DocIngestError(
        ErrorCode.UNABLE_TO_DOWNLOAD_FILE, f"{candidate} is missing or not a readable file"
    )


@dg.asset(
    partitions_def=documents_partitions,
    group_name="sources",
    kinds={"file"},
    retry_policy=document_retry_policy,
)
def source_documents(
    context: dg.AssetExecutionContext, source: SourceResource, storage: StorageResource
) -> dg.MaterializeResult:
    """A document file as registered for ingestion: its path, size, content hash and the
    vector_store_metadata (source configuration merged with the file's sidecar) that every
    point of the document will carry. Its data version is the content hash, so a changed file
    makes everything downstream stale."""
    store = storage.store
    document_id = context.partition_key
    try:
        path = _locate(document_id, source, storage)
        sha256 = sha256_file(path)
        metadata = source.document_metadata(path)
    except DocIngestError as error:
        raise document_failure(context, store, "source", error) from error
    except OSError as error:
        wrapped = DocIngestError(ErrorCode.UNABLE_TO_DOWNLOAD_FILE, str(error))
        raise document_failure(context, store, "source", wrapped) from error
    size = path.stat().st_size
    store.write_json(
        "sources",
        document_id,
        {
            "document_id": document_id,
            "path": str(path),
            "sha256": sha256,
            "size": size,
            "vector_store_metadata": metadata,
        },
    )
    record_stage(store, document_id, "source", sha256=sha256, source=str(path))
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "size_bytes": size,
            "sha256": sha256,
            "vector_store_metadata": dg.MetadataValue.json(metadata),
        },
        data_version=dg.DataVersion(sha256),
    )
