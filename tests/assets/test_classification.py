"""The classify stage in the pipeline: classes in the payloads, filtered searches, pages kept out
of the index, and re-classifying with new rules without parsing or embedding the documents."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from assets.pipeline import document_pipeline
from docingest.classify import read_classification
from docingest.models import ParseResult
from docingest.storage import DocumentStore
from docingest.vectorstore import VectorStore
from resources import (
    ChunkerResource,
    ClassifierResource,
    EmbedderResource,
    ParserResource,
    QdrantResource,
    SourceResource,
    StorageResource,
    WebhookResource,
)
from tests.conftest import build_pdf
from tests.test_classify import BODY, INVOICE, SAMPLE_RULES, TOC

EMBEDDED: list[str] = []
NEW_RULES = """
threshold: 0.15
rules:
  - type: operating_manual
    description: A manual that explains how equipment is installed, operated and maintained.
    keywords: [manual, maintained]
  - type: bill
    description: A bill asking a customer to pay an amount for goods or services.
    keywords: [invoice, amount due]
page_classes:
  - type: table_of_contents
    description: A table of contents listing sections with their page numbers.
    keywords: [contents]
    patterns: ['^.{3,80}?\\s\\d{1,3}\\s*$']
exclude_page_classes: [%s]
"""


class CountingEmbedder(EmbedderResource):
    """The real model; every text it embeds is recorded."""

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        EMBEDDED.extend(texts)
        return super().embed(texts)


class NoParser(ParserResource):
    """Re-classifying must never parse."""

    def parse(
        self, path: Path, document_id: str, overrides: dict[str, Any] | None = None
    ) -> ParseResult:
        raise AssertionError(f"parsed {document_id} during a re-classification")


@pytest.fixture
def uploads(tmp_path: Path) -> Path:
    folder = tmp_path / "uploads"
    folder.mkdir()
    build_pdf(folder / "invoice.pdf", [INVOICE])
    # A table of contents, a blank page, then the manual itself.
    build_pdf(folder / "manual.pdf", [TOC, "", BODY, BODY.replace("Introduction", "Operation")])
    return folder


def _resources(uploads: Path, rules: Path, **overrides: object) -> dict[str, object]:
    return {
        "source": SourceResource(root=str(uploads)),
        "parser": ParserResource(engine="fast"),
        "chunker": ChunkerResource(strategy="by_page"),
        "classifier": ClassifierResource(rules_path=str(rules)),
        "embedder": CountingEmbedder(),
        "qdrant": QdrantResource(keep_open=True),
        "storage": StorageResource(),
        "webhooks": WebhookResource(),
        **overrides,
    }


def _materialize(
    instance: dg.DagsterInstance, resources: dict, selection: list[str] | None = None
) -> dict[tuple[str, str], dict]:
    metadata = {}
    for document in ("invoice.pdf", "manual.pdf"):
        result = dg.materialize(
            [document_pipeline], partition_key=document, instance=instance,
            resources=resources, selection=selection,
        )  # fmt: skip
        assert result.success
        for event in result.get_asset_materialization_events():
            values = {k: v.value for k, v in event.materialization.metadata.items()}
            metadata[event.asset_key.to_user_string(), document] = values
    return metadata


def _points(home: Path) -> dict[str, tuple[dict, list[float] | None]]:
    store = VectorStore(collection="documents", path=str(home / "qdrant"))
    try:
        return {pid: (payload, vector) for pid, payload, vector in store.all_points(True)}
    finally:
        store.close()


@pytest.mark.real_model  # which classes the pages get is the real model's answer
def test_classes_reach_the_payloads_and_filter_searches(
    home: Path, instance: dg.DagsterInstance, uploads: Path
) -> None:
    instance.add_dynamic_partitions("documents", ["invoice.pdf", "manual.pdf"])
    metadata = _materialize(instance, _resources(uploads, SAMPLE_RULES))

    invoice = metadata["document_classes", "invoice.pdf"]
    assert invoice["document_type"] == "invoice" and invoice["score"] > invoice["runner_up_score"]
    manual = metadata["document_classes", "manual.pdf"]
    assert manual["page_classes"] == {"table_of_contents": [1], "blank": [2]}
    # The blank page makes no chunk; the table of contents' chunk is kept out.
    assert metadata["vector_store_entries", "manual.pdf"]["excluded_chunks"] == 1

    points = [payload for payload, _ in _points(home).values()]
    by_document = {p["document_id"]: p for p in points}
    assert by_document["invoice.pdf"]["document_type"] == "invoice"
    # The excluded pages (table of contents, blank) have no points; the others no class.
    manual_pages = sorted(p["page_start"] for p in points if p["document_id"] == "manual.pdf")
    assert manual_pages == [3, 4]
    assert all(p["page_class"] == [] for p in points if p["document_id"] == "manual.pdf")

    store = VectorStore(collection="documents", path=str(home / "qdrant"))
    try:
        query = EmbedderResource().embed_query("total amount to pay")
        hits = store.search(query, top_k=10, filters={"document_type": "invoice"})
        assert hits and {h.payload["document_id"] for h in hits} == {"invoice.pdf"}
        assert store.count(filters={"document_type": "invoice"}) == store.count("invoice.pdf")
    finally:
        store.close()


@pytest.mark.real_model  # which classes the pages get is the real model's answer
def test_reclassifying_neither_parses_nor_embeds_the_documents(
    home: Path, instance: dg.DagsterInstance, uploads: Path, tmp_path: Path
) -> None:
    instance.add_dynamic_partitions("documents", ["invoice.pdf", "manual.pdf"])
    _materialize(instance, _resources(uploads, SAMPLE_RULES))
    store = DocumentStore(home)
    parsed_mtimes = {
        d: store.parsed_path(d).stat().st_mtime_ns for d in ("invoice.pdf", "manual.pdf")
    }
    before = _points(home)

    rules = tmp_path / "new_rules.yaml"
    rules.write_text(NEW_RULES % "table_of_contents, blank")
    EMBEDDED.clear()
    metadata = _materialize(
        instance, _resources(uploads, rules, parser=NoParser(engine="fast")), ["document_classes"]
    )
    # Only the new rules' descriptions were embedded (once per run): no page, no chunk.
    assert set(EMBEDDED) == {
        "operating manual: A manual that explains how equipment is installed, operated and "
        "maintained.",
        "bill: A bill asking a customer to pay an amount for goods or services.",
        "table of contents: A table of contents listing sections with their page numbers.",
    }, EMBEDDED
    assert metadata["document_classes", "manual.pdf"]["pages_embedded"] == 0
    assert metadata["document_classes", "manual.pdf"]["points_restamped"] == 2
    assert {d: store.parsed_path(d).stat().st_mtime_ns for d in parsed_mtimes} == parsed_mtimes
    after = _points(home)
    assert set(after) == set(before)
    assert all(after[pid][1] == before[pid][1] for pid in before)  # the same vectors
    types = {p["document_id"]: p["document_type"] for p, _ in after.values()}
    assert types == {"invoice.pdf": "bill", "manual.pdf": "operating_manual"}
    assert read_classification(store, "manual.pdf").document_type == "operating_manual"

    # Letting the table of contents in: only its chunk is embedded, the rest reused.
    rules.write_text(NEW_RULES % "blank")
    EMBEDDED.clear()
    metadata = _materialize(
        instance, _resources(uploads, rules, parser=NoParser(engine="fast")), ["document_classes"]
    )
    assert metadata["document_classes", "manual.pdf"]["embeddings_computed"] == 1
    toc = [p for p, _ in _points(home).values() if p["page_class"] == ["table_of_contents"]]
    assert [p["page_start"] for p in toc] == [1]
    assert json.dumps(EMBEDDED).count("Getting started") == 1


def test_invalid_rules_fail_the_run_without_retries(
    home: Path, instance: dg.DagsterInstance, uploads: Path, tmp_path: Path
) -> None:
    rules = tmp_path / "bad.yaml"
    rules.write_text("rules:\n  - type: invoice\n")
    instance.add_dynamic_partitions("documents", ["invoice.pdf"])
    context = dg.build_asset_context(partition_key="invoice.pdf", instance=instance)
    from assets.pipeline import ChunkingConfig

    with pytest.raises(dg.Failure, match="invalid classification rules") as raised:
        list(document_pipeline(context, config=ChunkingConfig(), **_resources(uploads, rules)))
    assert raised.value.allow_retries is False
