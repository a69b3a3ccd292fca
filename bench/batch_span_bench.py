"""Embedding calls that span documents: small documents embedded one call per document (as the
index stage did before) against the calls the pipeline step makes now (assets/embed_span.py:
consecutive documents until SPAN_CHUNKS chunks or SPAN_DOCUMENTS documents) and one call for all.

Run from the repository root:
`.venv/bin/python -m bench.batch_span_bench [--docs 60] [--rounds 3] [--span-chunks N]`

The documents are the odl-bench pages (real single-page documents, the small ones where a
document's few chunks fill a batch of 32 worst); their ground-truth markdown is cut into
~200-token chunks (the pipeline's default size). The same texts are embedded by the pipeline's
embedder (ONNX, batch size 32) each way, alternating, best of N rounds. The vectors of the
step's calls are compared with those of one call per document (max abs difference).
"""

import argparse
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.embed_bench import GROUNDTRUTH


def documents(count: int, tokens: int = 200) -> list[list[str]]:
    """The chunks of the first `count` odl-bench documents, one list per document."""
    from docingest.tokenizer import get_encoding

    encoding = get_encoding("cl100k_base")
    docs = []
    for path in sorted(GROUNDTRUTH.rglob("*.md"))[:count]:
        ids = encoding.encode(path.read_text(), disallowed_special=())
        docs.append([encoding.decode(ids[i : i + tokens]) for i in range(0, len(ids), tokens)])
    return [doc for doc in docs if doc]


def step_calls(docs: Sequence[list[str]], max_documents: int, max_texts: int) -> list[list[int]]:
    """The documents (indexes) of each call the pipeline step makes for these small documents
    (SpanningIndex's bounds, without the clock): a call once `max_texts` texts or
    `max_documents` documents wait; a document that would take a call past `max_texts` waits
    for the next one."""
    calls: list[list[int]] = []
    current: list[int] = []
    texts = 0
    for index, doc in enumerate(docs):
        if current and texts + len(doc) > max_texts:
            calls.append(current)
            current, texts = [], 0
        current.append(index)
        texts += len(doc)
        if len(current) >= max_documents or texts >= max_texts:
            calls.append(current)
            current, texts = [], 0
    return calls + ([current] if current else [])


def main(argv: list[str] | None = None) -> int:
    from assets.embed_span import SPAN_CHUNKS, SPAN_DOCUMENTS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--docs", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--span-chunks", type=int, default=SPAN_CHUNKS)
    parser.add_argument("--span-documents", type=int, default=SPAN_DOCUMENTS)
    parser.add_argument("--out", type=Path, default=Path("bench/results/batch_span.json"))
    args = parser.parse_args(argv)
    from docingest.embedding import get_embedder

    docs = documents(args.docs)
    texts = [text for doc in docs for text in doc]
    calls = step_calls(docs, args.span_documents, args.span_chunks)
    embedder = get_embedder(backend="onnx")
    embedder.embed(texts[:8])  # warm
    times: dict[str, list[float]] = {"per_document": [], "step": [], "one_call": []}
    alone: list[list[list[float]]] = []
    spanned: dict[int, list[list[float]]] = {}
    for _ in range(args.rounds):
        started = time.perf_counter()
        alone = [embedder.embed(doc) for doc in docs]
        times["per_document"].append(time.perf_counter() - started)
        started = time.perf_counter()
        for call in calls:
            vectors = embedder.embed([text for index in call for text in docs[index]])
            for index in call:
                spanned[index], vectors = vectors[: len(docs[index])], vectors[len(docs[index]) :]
        times["step"].append(time.perf_counter() - started)
        started = time.perf_counter()
        embedder.embed(texts)
        times["one_call"].append(time.perf_counter() - started)
    worst = max(
        float(np.abs(np.array(spanned[index]) - np.array(own)).max())
        for index, own in enumerate(alone)
    )
    rate = {name: len(texts) / min(values) for name, values in times.items()}
    report = {
        "documents": len(docs),
        "chunks": len(texts),
        "chunks_per_document": round(len(texts) / len(docs), 2),
        "step_calls": len(calls),
        "span_chunks": args.span_chunks,
        "span_documents": args.span_documents,
        "chunks_per_s": {name: round(value, 1) for name, value in rate.items()},
        "ratio_step": round(rate["step"] / rate["per_document"], 3),
        "ratio_one_call": round(rate["one_call"] / rate["per_document"], 3),
        "max_abs_diff_step_vs_per_document": worst,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
