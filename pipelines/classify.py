"""Classifying from the command line: files on their own, or the ingested collection again."""

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import dagster as dg

from docingest.classify import (
    Classification,
    read_classification,
    read_page_vectors,
    write_page_vectors,
)
from docingest.errors import DocIngestError
from docingest.ids import sha256_file
from docingest.models import ParseResult
from docingest.parsing import parse_file
from pipelines.ingest import parsed_documents, run_documents
from resources import ClassifierResource, build_resources


def _summary(result: Classification) -> dict[str, Any]:
    return {
        "document_type": result.document_type,
        "score": result.score,
        "runner_up": result.runner_up,
        "runner_up_score": result.runner_up_score,
        "scores": result.scores,
        "evidence": result.evidence,
        "page_classes": result.page_classes,
        "excluded_pages": result.excluded_pages,
    }


def classify_files(paths: Sequence[Path], rules_path: Path) -> list[dict[str, Any]]:
    """Classify each file by the rules: {path, ...classification, parse_reused} or
    {path, error}. A parse of the same content with the configured options is reused (an
    ingested file is not parsed again); without page classes only the pages the document
    type is judged on are parsed. Page vectors are cached by content."""
    resources = build_resources(classifier=ClassifierResource(rules_path=str(rules_path)))
    classifier = resources["classifier"].classifier(resources["embedder"].embed)
    model = resources["embedder"].model
    store = resources["storage"].store
    options = resources["parser"].options()
    rules = classifier.rules
    if not rules.page_classes:
        pages = rules.target_pages or tuple(range(rules.max_pages))
        wanted = replace(options, target_pages=",".join(str(p + 1) for p in pages))
    else:
        wanted = options
    results: list[dict[str, Any]] = []
    for path in paths:
        try:
            parsed: ParseResult | None = store.find_parse(sha256_file(path), options.options_hash())
            reused = parsed is not None
            if parsed is None:
                parsed = parse_file(path, document_id=path.name, options=wanted)
        except DocIngestError as error:
            results.append({"path": str(path), "error": error.to_dict()})
            continue
        cached = read_page_vectors(store, parsed, model)
        vectors = classifier.page_vectors(parsed, cached)
        if set(vectors) - set(cached):
            write_page_vectors(store, parsed, model, {**cached, **vectors})
        result = classifier.classify(parsed, vectors)
        results.append({"path": str(path), **_summary(result), "parse_reused": reused})
    return results


def reclassify_all(
    instance: dg.DagsterInstance,
    rules_path: Path,
    *,
    overrides: dict[str, Any] | None = None,
    on_start: Callable[[int], None] | None = None,
    on_done: Callable[[str, bool], None] | None = None,
) -> list[dict[str, Any]]:
    """Run `classify_job` for every parsed document with the rules: classes recomputed from
    the stored parse and cached page vectors, indexed points updated with set_payload."""
    base = build_resources(
        **{"classifier": ClassifierResource(rules_path=str(rules_path)), **(overrides or {})}
    )
    digest = base["classifier"].ruleset().digest()  # invalid rules fail before any work
    store = base["storage"].store
    parsed = parsed_documents(instance, store)
    if on_start:
        on_start(len(parsed))
    resources = {**base, "qdrant": base["qdrant"].model_copy(update={"keep_open": True})}

    def done(document_id: str, _: bool) -> None:
        if on_done:
            result = read_classification(store, document_id)
            on_done(document_id, result is not None and result.rules_hash == digest)

    run_documents(instance, "classify_job", parsed, resources, {}, done)
    results = []
    for document_id in parsed:
        result = read_classification(store, document_id)
        if result is None or result.rules_hash != digest:
            results.append({"document_id": document_id, "error": "not classified (see the run)"})
        else:
            results.append({"document_id": document_id, **_summary(result)})
    return results
