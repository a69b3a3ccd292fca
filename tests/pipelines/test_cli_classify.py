"""`docingest classify` as a user runs it: on files, and again over the ingested collection,
after which `docingest search --filter document_type=...` finds the new classes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.assets.test_classification import NEW_RULES
from tests.conftest import build_pdf
from tests.deployment import Deployment
from tests.test_classify import BODY, INVOICE, SAMPLE_RULES, TOC


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    deployment = Deployment(
        tmp_path, DOCINGEST_PARSE_ENGINE="fast", DOCINGEST_CLASSIFY_RULES=str(SAMPLE_RULES)
    )
    build_pdf(deployment.uploads / "invoice.pdf", [INVOICE])
    build_pdf(deployment.uploads / "manual.pdf", [TOC, "", BODY])
    yield deployment
    deployment.stop()


def test_classify_files_prints_types_and_page_classes(deployment: Deployment) -> None:
    files = [str(deployment.uploads / name) for name in ("invoice.pdf", "manual.pdf")]
    result = deployment.docingest("classify", *files, "--rules", str(SAMPLE_RULES), "--json")
    assert result.returncode == 0, result.stderr
    invoice, manual = json.loads(result.stdout)
    assert invoice["path"].endswith("invoice.pdf") and invoice["document_type"] == "invoice"
    assert invoice["runner_up"] in {"sec_filing", "scientific_paper"}
    assert invoice["score"] > invoice["runner_up_score"]
    assert "amount due" in invoice["evidence"]["invoice"]
    assert manual["page_classes"] == {"table_of_contents": [1], "blank": [2]}
    table = deployment.docingest("classify", files[0], "--rules", str(SAMPLE_RULES))
    assert table.returncode == 0 and "invoice" in table.stdout


def test_bad_rules_file_is_a_usage_error(deployment: Deployment, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules:\n  - type: invoice\n    description: a bill\n    regex: ['x']\n")
    result = deployment.docingest(
        "classify", str(deployment.uploads / "invoice.pdf"), "--rules", str(bad)
    )
    assert result.returncode == 2
    assert "invalid rules" in result.stderr and "unknown key(s) ['regex']" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow  # three CLI processes with model loads and an ingest: minutes on 2 cores
def test_reclassify_the_collection_then_filter_search(
    deployment: Deployment, tmp_path: Path
) -> None:
    ingest = deployment.docingest("ingest", str(deployment.uploads), "--json")
    assert ingest.returncode == 0, ingest.stderr
    hits = json.loads(
        deployment.docingest(
            "search", "amount to pay", "--filter", "document_type=invoice", "--json"
        ).stdout
    )
    assert hits and {h["document_id"] for h in hits} == {"invoice.pdf"}

    rules = tmp_path / "new.yaml"
    rules.write_text(NEW_RULES % "table_of_contents, blank")
    result = deployment.docingest("classify", "--rules", str(rules), "--json")
    assert result.returncode == 0, result.stderr
    types = {r["document_id"]: r["document_type"] for r in json.loads(result.stdout)}
    assert types == {"invoice.pdf": "bill", "manual.pdf": "operating_manual"}
    hits = json.loads(
        deployment.docingest(
            "search", "amount to pay", "--filter", "document_type=bill", "--json"
        ).stdout
    )
    assert hits and {h["document_id"] for h in hits} == {"invoice.pdf"}
    assert all(h["document_type"] == "bill" and "document_type" not in h["metadata"] for h in hits)
