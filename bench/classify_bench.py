"""Classification accuracy against labels, a confusion table, and documents/s.

Run from the repository root:

    .venv/bin/python -m bench.classify_bench [--rules bench/classify_rules.yaml] [--limit N]

Rules: `bench/classify_rules.yaml`, written from the label names only. Sets:
(a) document types: `../shared/corpus/retrieval/mmlongbench` (46 PDFs; each question's
    `doc_type` labels its document) and `docugami-sec10q` (20 SEC 10-Q filings: the set's own
    description, labelled `financial_report`). Each PDF's first `max_pages` pages are parsed with
    the fast engine; then the document is classified (page vectors embedded, rules scored).
(b) page classes: the 150 single-page odl-bench PDFs. Their ground truth is markdown without a
    document type, so document accuracy cannot be scored there; it does show tables (`<table>`):
    a page is labelled `table` when its ground truth holds one, and the page class `table` is
    scored against that (precision, recall). No set here labels tables of contents or blank
    pages: their counts are reported, not scored.
Baselines in the same run: the majority label, and the same rules without the keyword and pattern
evidence (embedding similarity alone).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from docingest.classify import UNKNOWN, Classifier, Rules, load_rules
from docingest.embedding import get_embedder
from docingest.models import ParseResult
from docingest.parsing import ParseOptions, parse_file

RETRIEVAL = Path("../shared/corpus/retrieval")
ODL = Path("../shared/corpus/odl-bench")
# The sets' label names -> the rule types written from them.
LABELS = {
    "Academic paper": "academic_paper",
    "Financial report": "financial_report",
    "Research report / Introduction": "research_report",
    "Guidebook": "guidebook",
    "Administration/Industry file": "administration_file",
    "Brochure": "brochure",
    "Tutorial/Workshop": "tutorial",
}


def labelled_documents(limit: int | None) -> list[tuple[Path, str]]:
    docs: dict[Path, str] = {}
    for line in (RETRIEVAL / "mmlongbench" / "questions.jsonl").read_text().splitlines():
        question = json.loads(line)
        docs[RETRIEVAL / "mmlongbench" / "pdfs" / question["doc"]] = LABELS[question["doc_type"]]
    for path in sorted((RETRIEVAL / "docugami-sec10q" / "pdfs").glob("*.pdf")):
        docs[path] = "financial_report"
    items = sorted(docs.items())
    return items[:limit] if limit else items


def confusion(truth: list[str], predicted: list[str]) -> str:
    labels = sorted(set(truth))
    columns = [*labels, *sorted(set(predicted) - set(labels))]
    counts = Counter(zip(truth, predicted, strict=True))
    rows = ["| label \\ predicted | " + " | ".join(columns) + " |"]
    rows.append("|---|" + "---:|" * len(columns))
    for label in labels:
        rows.append(
            f"| {label} | " + " | ".join(str(counts[label, c] or "") for c in columns) + " |"
        )
    return "\n".join(rows)


def binary_scores(predicted: list[bool], truth: list[bool]) -> dict[str, float | None]:
    tp = sum(p and t for p, t in zip(predicted, truth, strict=True))
    fp = sum(p and not t for p, t in zip(predicted, truth, strict=True))
    fn = sum(t and not p for p, t in zip(predicted, truth, strict=True))
    return {
        "precision": round(tp / (tp + fp), 3) if tp + fp else None,
        "recall": round(tp / (tp + fn), 3) if tp + fn else None,
        "accuracy": round(
            sum(p == t for p, t in zip(predicted, truth, strict=True)) / len(truth), 3
        ),
    }


def accuracy(truth: list[str], predicted: list[str]) -> float:
    return sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth)


def document_types(rules: Rules, limit: int | None) -> dict[str, Any]:
    embedder = get_embedder("all-MiniLM-L6-v2", batch_size=32, backend="onnx")
    options = ParseOptions(engine="fast", target_pages=f"1-{rules.max_pages}")
    doc_rules = replace(rules, page_classes=())  # page classes are measured in (b)
    classifier = Classifier(doc_rules, embedder.embed)
    ablation = Classifier(replace(doc_rules, keyword_weight=0.0), embedder.embed)
    classifier.judge(np.zeros(384, dtype=np.float32), "", doc_rules.rules, 0.0)  # rule vectors
    ablation.judge(np.zeros(384, dtype=np.float32), "", doc_rules.rules, 0.0)
    truth, predicted, embedding_only, rows = [], [], [], []
    parse_s = classify_s = 0.0
    for path, label in labelled_documents(limit):
        started = time.perf_counter()
        parsed = parse_file(path, document_id=path.name, options=options)
        parse_s += time.perf_counter() - started
        started = time.perf_counter()
        vectors = classifier.page_vectors(parsed, {})
        result = classifier.classify(parsed, vectors)
        classify_s += time.perf_counter() - started
        plain = ablation.classify(parsed, vectors)  # same page vectors: no second embedding
        truth.append(label)
        predicted.append(result.document_type or UNKNOWN)
        embedding_only.append(plain.document_type or UNKNOWN)
        rows.append(
            {"document": path.name, "label": label, "predicted": result.document_type,
             "score": result.score, "runner_up": result.runner_up,
             "runner_up_score": result.runner_up_score}
        )  # fmt: skip
    majority = Counter(truth).most_common(1)[0][0]
    n = len(truth)
    return {
        "documents": n,
        "accuracy": round(accuracy(truth, predicted), 3),
        "accuracy_embedding_only": round(accuracy(truth, embedding_only), 3),
        "accuracy_majority": round(accuracy(truth, [majority] * n), 3),
        "majority_label": majority,
        "unknown": predicted.count(UNKNOWN),
        "parse_seconds": round(parse_s, 2),
        "classify_seconds": round(classify_s, 2),
        "documents_per_s_classify": round(n / classify_s, 2),
        "documents_per_s_with_parse": round(n / (parse_s + classify_s), 2),
        "confusion": confusion(truth, predicted),
        "confusion_embedding_only": confusion(truth, embedding_only),
        "per_document": rows,
    }


def page_classes(rules: Rules, limit: int | None, engine: str) -> dict[str, Any]:
    embedder = get_embedder("all-MiniLM-L6-v2", batch_size=32, backend="onnx")
    page_rules = replace(rules, rules=())
    classifier = Classifier(page_rules, embedder.embed)
    pdfs = (
        sorted((ODL / "pdfs").glob("*.pdf"))[:limit]
        if limit
        else sorted((ODL / "pdfs").glob("*.pdf"))
    )
    parsed: list[ParseResult] = []
    started = time.perf_counter()
    for path in pdfs:
        parsed.append(parse_file(path, document_id=path.name, options=ParseOptions(engine=engine)))
    parse_s = time.perf_counter() - started
    has_table = [
        "<table" in (ODL / "groundtruth" / f"{path.stem}.md").read_text().lower() for path in pdfs
    ]
    started = time.perf_counter()
    classes: Counter[str] = Counter()
    predicted_table = []
    # Baseline: the parser's own judgement, a page holding any table fragment.
    fragment_table = [any(f.type == "table" for p in r.pages for f in p.fragments) for r in parsed]
    for result in parsed:
        found = classifier.classify(result, classifier.page_vectors(result, {})).page_classes
        classes.update({c: len(p) for c, p in found.items()})
        predicted_table.append(bool(found.get("table")))
    classify_s = time.perf_counter() - started
    return {
        "engine": engine,
        "pages": len(pdfs),
        "pages_with_table_in_ground_truth": sum(has_table),
        "table_class": binary_scores(predicted_table, has_table),
        "baseline_any_table_fragment": binary_scores(fragment_table, has_table),
        "baseline_all_no": binary_scores([False] * len(pdfs), has_table),
        "classes_found": dict(classes),
        "parse_seconds": round(parse_s, 2),
        "classify_seconds": round(classify_s, 2),
        "pages_per_s_classify": round(len(pdfs) / classify_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rules", type=Path, default=Path("bench/classify_rules.yaml"))
    parser.add_argument("--limit", type=int, default=None, help="First N documents of each set.")
    parser.add_argument("--out", type=Path, default=None, help="Write the figures as JSON.")
    parser.add_argument(
        "--page-engine", default="fast", choices=["fast", "layout"], help="Engine for (b)."
    )
    parser.add_argument("--pages-only", action="store_true", help="Only the page classes (b).")
    args = parser.parse_args()
    rules = load_rules(args.rules)
    results = {
        "rules": str(args.rules),
        "document_types": {} if args.pages_only else document_types(rules, args.limit),
        "page_classes": page_classes(rules, args.limit, args.page_engine),
    }
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    docs, pages = results["document_types"], results["page_classes"]
    if docs:
        print_documents(docs)
    print("\n## page classes (odl-bench)\n")
    print(json.dumps(pages, indent=2))


def print_documents(docs: dict[str, Any]) -> None:
    summary = {
        k: v for k, v in docs.items() if not k.startswith("confusion") and k != "per_document"
    }
    print("## document types (retrieval sets)\n")
    print(json.dumps(summary, indent=2))
    print("\nconfusion (rows: label, columns: predicted)\n")
    print(docs["confusion"])
    print("\nconfusion, embedding similarity alone\n")
    print(docs["confusion_embedding_only"])


if __name__ == "__main__":
    main()
