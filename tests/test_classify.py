"""Classification rules and their judgement, on real documents with the real embedding model."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from docingest.classify import (
    BLANK,
    UNKNOWN,
    Classifier,
    Rule,
    load_rules,
    parse_rules,
    read_page_vectors,
    write_page_vectors,
)
from docingest.embedding import get_embedder
from docingest.errors import ConfigError
from docingest.models import ParseResult
from docingest.parsing import parse_file
from docingest.parsing.options import ParseOptions
from docingest.storage import DocumentStore
from tests.conftest import build_pdf

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_RULES = ROOT / "samples" / "classify_rules.yaml"
RETRIEVAL = ROOT.parent / "shared" / "corpus" / "retrieval"
FAST = ParseOptions(engine="fast")

INVOICE = (
    "<h1>INVOICE</h1><p>Invoice number 2024-0117. Date: 3 March 2024.</p>"
    "<p>Bill to: Example Ltd, 12 High Street.</p><table><tr><th>Item</th><th>Qty</th>"
    "<th>Price</th></tr><tr><td>Consulting hours</td><td>12</td><td>1,200.00</td></tr></table>"
    "<p>Subtotal 1,200.00. VAT 20% 240.00. Total amount due: 1,440.00 within 30 days.</p>"
)
RECIPE = (
    "<h1>Grandma's apple pie</h1><p>Peel and slice six apples, toss them with sugar and "
    "cinnamon, lay them in the pastry and bake for forty minutes until golden.</p>"
)
TOC = (
    "<h1>Contents</h1><p>Introduction 1</p><p>Getting started 4</p><p>Configuration 9</p>"
    "<p>Operations 15</p><p>Troubleshooting 22</p><p>Index 30</p>"
)
BODY = (
    "<h2>Introduction</h2><p>This manual explains how the pump station is installed, "
    "operated and maintained by the municipal water service.</p>"
)


class CountingEmbed:
    """The real model, recording every text it is asked to embed."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        self._embedder = get_embedder("all-MiniLM-L6-v2", batch_size=32, backend="onnx")

    def __call__(self, texts: Sequence[str]) -> list[list[float]]:
        self.texts += list(texts)
        return self._embedder.embed(texts)


@pytest.fixture(scope="module")
def embed() -> CountingEmbed:
    return CountingEmbed()


def _parse(path: Path, pages: str | None = None) -> ParseResult:
    options = ParseOptions(engine="fast", target_pages=pages)
    return parse_file(path, document_id=path.name, options=options)


def _classify(rules: Any, parsed: ParseResult, embed: CountingEmbed) -> Any:
    classifier = Classifier(rules, embed)
    return classifier.classify(parsed, classifier.page_vectors(parsed, {}))


RULE = {"type": "invoice", "description": "a bill"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (["invoice"], "mapping"),
        ({"rules": [RULE], "colour": "red"}, "unknown key"),
        ({"rules": [{"type": "invoice"}]}, "description"),
        ({"rules": [{"type": "in voice", "description": "x"}]}, "'type'"),
        ({"rules": [{"type": "unknown", "description": "x"}]}, "reserved"),
        ({"rules": [{"type": "blank", "description": "x"}]}, "reserved"),
        ({"rules": [RULE, RULE]}, "twice"),
        ({"rules": [{**RULE, "patterns": ["(unclosed"]}]}, "invalid pattern"),
        ({"rules": [{**RULE, "keywords": "invoice"}]}, "list of strings"),
        ({"rules": [{**RULE, "tags": ["x"]}]}, "unknown key"),
        ({"rules": [{**RULE, "examples": ["missing.pdf"]}]}, "not found"),
        ({"rules": [RULE], "mode": "MULTIMODAL"}, "not offline"),
        ({"rules": [RULE], "threshold": "high"}, "threshold"),
        ({"rules": [RULE], "parsing_configuration": {"max_pages": 0}}, "max_pages"),
        ({"rules": [RULE], "parsing_configuration": {"target_pages": [-1]}}, "target_pages"),
        ({"rules": [RULE], "exclude_page_classes": ["cover"]}, "unknown class"),
        ({"rules": [{**RULE, "fragment_types": ["chart"]}]}, "unknown fragment type"),
    ],
)
def test_invalid_rules_are_config_errors(data: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_rules(data)


def test_rules_file_is_read_and_validated(tmp_path: Path) -> None:
    rules = load_rules(SAMPLE_RULES)
    assert [r.type for r in rules.rules] == ["invoice", "sec_filing", "scientific_paper"]
    assert rules.exclude_page_classes == ("table_of_contents", BLANK)
    assert rules.max_pages == 3 and rules.threshold == 0.15
    with pytest.raises(ConfigError, match="cannot read"):
        load_rules(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("rules: [\n  - type: invoice\n    description: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_rules(broken)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("rules:\n  - type: invoice\n")
    with pytest.raises(ConfigError, match=r"wrong\.yaml.*description"):
        load_rules(wrong)


def test_evidence_counts_keywords_and_pattern_matches() -> None:
    rule = Rule("toc", "contents", keywords=("contents", "index"), patterns=(r"\d+$",))
    hits = rule.evidence("Contents\nIntro 1\nSetup 4\nindexing")
    assert hits == ["contents", "/\\d+$/", "/\\d+$/"]  # "indexing" is not the word "index"
    tables = Rule("table", "a table", fragment_types=("table",))
    assert tables.evidence("Q1 Q2", ["text", "table", "caption", "table"]) == ["<table>"] * 2


@pytest.mark.real_model
def test_real_documents_get_their_type(tmp_path: Path, embed: CountingEmbed) -> None:
    rules = load_rules(SAMPLE_RULES)
    filing = _classify(
        rules, _parse(RETRIEVAL / "docugami-sec10q/pdfs/2022 Q3 AAPL.pdf", "1-3"), embed
    )
    assert filing.document_type == "sec_filing", filing
    assert filing.runner_up is not None and filing.runner_up_score < filing.score
    assert "Form 10-Q" in filing.evidence["sec_filing"]
    paper = _classify(
        rules, _parse(RETRIEVAL / "mmlongbench/pdfs/2023.acl-long.386.pdf", "1-3"), embed
    )
    assert paper.document_type == "scientific_paper", paper
    invoice = _classify(rules, _parse(build_pdf(tmp_path / "i.pdf", [INVOICE])), embed)
    assert invoice.document_type == "invoice" and invoice.score > filing.runner_up_score
    recipe = _classify(rules, _parse(build_pdf(tmp_path / "r.pdf", [RECIPE])), embed)
    assert recipe.document_type == UNKNOWN and recipe.score < rules.threshold
    assert set(recipe.scores) == {"invoice", "sec_filing", "scientific_paper"}


@pytest.mark.real_model
def test_page_classes_in_tensorlakes_shape(tmp_path: Path, embed: CountingEmbed) -> None:
    path = build_pdf(tmp_path / "manual.pdf", [TOC, "", BODY, BODY])
    result = _classify(load_rules(SAMPLE_RULES), _parse(path), embed)
    assert result.page_classes == {"table_of_contents": [1], BLANK: [2]}
    assert result.excluded_pages == [1, 2]
    assert result.excludes(1, 2) and not result.excludes(2, 3)
    assert result.chunk_classes(1, 3) == [BLANK, "table_of_contents"]


@pytest.mark.real_model
def test_page_vectors_are_cached_by_content(tmp_path: Path, embed: CountingEmbed) -> None:
    store = DocumentStore(tmp_path / "home")
    parsed = _parse(build_pdf(tmp_path / "manual.pdf", [TOC, BODY]))
    classifier = Classifier(load_rules(SAMPLE_RULES), embed)
    vectors = classifier.page_vectors(parsed, {})
    write_page_vectors(store, parsed, "all-MiniLM-L6-v2", vectors)
    cached = read_page_vectors(store, parsed, "all-MiniLM-L6-v2")
    assert sorted(cached) == [1, 2]
    assert read_page_vectors(store, parsed, "another-model") == {}
    # New rules: only their descriptions are embedded, never the pages again.
    other = parse_rules({"rules": [{"type": "manual", "description": "an operating manual"}]})
    embed.texts.clear()
    fresh = Classifier(other, embed)
    result = fresh.classify(parsed, fresh.page_vectors(parsed, cached))
    assert embed.texts == ["manual: an operating manual"]
    assert result.document_type == "manual"


@pytest.mark.real_model
def test_examples_are_prototypes_resolved_beside_the_rules_file(
    tmp_path: Path, embed: CountingEmbed
) -> None:
    from resources.classifier import ClassifierResource

    build_pdf(tmp_path / "sample_bill.pdf", [INVOICE])
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "threshold: 0.15\nrules:\n"
        "  - type: bill\n    description: a request for payment\n"
        "    examples: [sample_bill.pdf]\n"
        "  - type: manual\n    description: an operating manual for equipment\n"
    )
    classifier = ClassifierResource(rules_path=str(rules)).classifier(embed)
    assert classifier.rules.rules[0].examples == (str(tmp_path / "sample_bill.pdf"),)
    embed.texts.clear()
    other = build_pdf(tmp_path / "bill2.pdf", [INVOICE.replace("2024-0117", "2024-0200")])
    result = _classify_with(classifier, _parse(other))
    assert any("Invoice number 2024-0117" in text for text in embed.texts)  # the example
    assert result.document_type == "bill" and result.score > 0.8  # close to its example


def _classify_with(classifier: Classifier, parsed: ParseResult) -> Any:
    return classifier.classify(parsed, classifier.page_vectors(parsed, {}))
