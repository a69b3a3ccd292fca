"""document_classes: each parsed document's type and its pages' classes, by the configured rules."""

import time
from collections.abc import Callable

import dagster as dg

from assets.parsing import parsed_pages, stored_parse
from assets.partitions import documents_partitions
from assets.results import StageResult
from docingest.classify import (
    Classification,
    Classifier,
    read_classification,
    read_page_vectors,
    write_classification,
    write_page_vectors,
)
from docingest.storage import DocumentStore

# Brings a document's indexed points in line with a new classification: (document, earlier
# classification or None) -> what it did, as metadata.
Restamp = Callable[[str, Classification | None], dict[str, int]]

document_classes = dg.AssetSpec(
    "document_classes",
    deps=[parsed_pages],
    partitions_def=documents_partitions,
    group_name="ingestion",
    kinds={"python"},
    skippable=True,
    description=(
        "The document's type (best rule, score, runner-up; 'unknown' under the threshold) and "
        "its pages' classes (class -> pages), from the classifier's rules: similarity of the "
        "rules' descriptions and examples to the stored parse's pages with the embedding model, "
        "plus keyword and pattern hits. Re-classifying reads the stored parse and the cached "
        "page vectors: nothing is parsed or embedded again but the rules."
    ),
)


def classify_document(
    document_id: str,
    classifier: Classifier,
    model: str,
    store: DocumentStore,
    restamp: Restamp | None = None,
) -> StageResult:
    """Classify the stored parse (never the file); with `restamp`, update the indexed points."""
    parsed = stored_parse(store, document_id)
    started = time.perf_counter()
    cached = read_page_vectors(store, parsed, model)
    vectors = classifier.page_vectors(parsed, cached)
    embedded = len(set(vectors) - set(cached))
    if embedded:
        write_page_vectors(store, parsed, model, {**cached, **vectors})
    result = classifier.classify(parsed, vectors)
    previous = read_classification(store, document_id)
    write_classification(store, document_id, result)
    seconds = time.perf_counter() - started
    restamped = restamp(document_id, previous) if restamp else {}
    return StageResult(
        code_version=result.rules_hash,
        data_version=f"{parsed.sha256[:16]}-{parsed.options_hash}-{result.rules_hash}",
        metadata={
            "document_type": result.document_type or "(no rules)",
            "score": result.score if result.score is not None else 0.0,
            "runner_up": result.runner_up or "",
            "runner_up_score": result.runner_up_score or 0.0,
            "scores": dg.MetadataValue.json(result.scores),
            "evidence": dg.MetadataValue.json(result.evidence),
            "page_classes": dg.MetadataValue.json(result.page_classes),
            "excluded_pages": len(result.excluded_pages),
            "pages_embedded": embedded,
            "pages_reused": len(vectors) - embedded,
            "rules_hash": result.rules_hash,
            "classify_seconds": round(seconds, 3),
            **restamped,
        },
    )


def webhook_fields(store: DocumentStore, document_id: str) -> dict[str, object]:
    """What classify.success tells a receiver: the type, its score, the runner-up, the pages'
    classes."""
    result = read_classification(store, document_id)
    if result is None:
        return {}
    return {
        "document_type": result.document_type,
        "score": result.score,
        "runner_up": result.runner_up,
        "runner_up_score": result.runner_up_score,
        "page_classes": result.page_classes,
    }
