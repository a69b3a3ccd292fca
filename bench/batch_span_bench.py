"""Would embedding batches that span documents pay? Small documents, embedded per document (as
the index stage does) against all of their chunks in one series of batches.

Run from the repository root: `.venv/bin/python -m bench.batch_span_bench [--docs 60] [--rounds 3]`

The documents are the odl-bench pages (real single-page documents, the small ones where a
document's few chunks fill a batch of 32 worst); their ground-truth markdown is cut into
~200-token chunks (the pipeline's default size). The same texts are embedded by the pipeline's
embedder (ONNX, batch size 32) both ways, alternating, best of N rounds.
"""

import argparse
import json
import os
import time
from pathlib import Path

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--docs", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/results/batch_span.json"))
    args = parser.parse_args(argv)
    from docingest.embedding import get_embedder

    docs = documents(args.docs)
    texts = [text for doc in docs for text in doc]
    embedder = get_embedder(backend="onnx")
    embedder.embed(texts[:8])  # warm
    times: dict[str, list[float]] = {"per_document": [], "spanning": []}
    for _ in range(args.rounds):
        started = time.perf_counter()
        for doc in docs:
            embedder.embed(doc)
        times["per_document"].append(time.perf_counter() - started)
        started = time.perf_counter()
        embedder.embed(texts)
        times["spanning"].append(time.perf_counter() - started)
    rate = {name: len(texts) / min(values) for name, values in times.items()}
    report = {
        "documents": len(docs),
        "chunks": len(texts),
        "chunks_per_document": round(len(texts) / len(docs), 2),
        "chunks_per_s": {name: round(value, 1) for name, value in rate.items()},
        "ratio": round(rate["spanning"] / rate["per_document"], 3),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
