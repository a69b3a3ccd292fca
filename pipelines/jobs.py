"""Jobs: the whole graph per document, re-chunking, re-classifying, and removing deleted
documents."""

import dagster as dg
from pydantic import Field

from assets.partitions import DOCUMENTS
from assets.pipeline import document_pipeline
from assets.vector_store import QDRANT_POOL
from docingest.errors import DocIngestError
from resources import QdrantResource, StorageResource

# The jobs select the assets without their checks: the pipeline records each document's check
# results itself, on that document's partition, as the document finishes. Selected checks
# would be planned for every partition of the run, so a document that failed before a stage
# would show that stage's checks as "execution failed", and every run would log that the step
# "did not yield expected outputs" (a per-partition result is an event, not an output).
ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.assets(document_pipeline).without_checks(),
    description="Parse, chunk, embed and index documents (one partition per document).",
)

rechunk_job = dg.define_asset_job(
    "rechunk_job",
    selection=dg.AssetSelection.assets("chunks", "vector_store_entries").without_checks(),
    description="Re-chunk and re-index from the stored parse, without re-parsing.",
)

classify_job = dg.define_asset_job(
    "classify_job",
    selection=dg.AssetSelection.assets("document_classes").without_checks(),
    description=(
        "Re-classify from the stored parse with the classifier's rules and update the indexed "
        "points' payloads; nothing is parsed or re-embedded."
    ),
)


class DeleteDocumentsConfig(dg.Config):
    document_ids: list[str] = Field(description="Documents whose file left the upload folder.")


@dg.op(pool=QDRANT_POOL)
def delete_documents(
    context: dg.OpExecutionContext,
    config: DeleteDocumentsConfig,
    qdrant: QdrantResource,
    storage: StorageResource,
) -> None:
    """Remove each document's points, then its outputs, then its partition.

    In that order, a crash half-way leaves the partition in place, so the reconcile schedule
    sees the document again and finishes the removal.
    """
    removed_points = 0
    try:
        for document_id in config.document_ids:
            removed_points += qdrant.delete_document(document_id)
            storage.store.delete_document(document_id)
            if context.instance.has_dynamic_partition(DOCUMENTS, document_id):
                context.instance.delete_dynamic_partition(DOCUMENTS, document_id)
            context.log.info(f"removed {document_id}")
    except DocIngestError as error:
        raise dg.Failure(
            description=f"{error.code.value}: {error.message}", allow_retries=error.retryable
        ) from error
    # The counts are the step's output metadata; the output holds no value (nothing is stored
    # between steps, see NothingStoredIOManager).
    context.add_output_metadata(
        {"documents": len(config.document_ids), "points_deleted": removed_points}
    )


@dg.job(description="Remove documents whose files were deleted: points, Parquet, partition.")
def delete_documents_job() -> None:
    delete_documents()
