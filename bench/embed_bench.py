"""Embedding throughput: docingest's default backend against sentence-transformers' encode.

Run from the repository root: `.venv/bin/python -m bench.embed_bench [--texts 500] [--rounds 3]`

The texts are real chunks: the odl-bench ground-truth markdown cut into ~200-token windows (the
pipeline's default chunk size). Both embed exactly the same texts, alternating, best of N
rounds; the vectors are compared (minimum cosine). Target: >= 1.3x chunks/s.
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

TARGET = 1.3
GROUNDTRUTH = Path("../shared/corpus/odl-bench/groundtruth")


def sample_texts(count: int, tokens: int = 200) -> list[str]:
    from docingest.tokenizer import get_encoding

    encoding = get_encoding("cl100k_base")
    texts: list[str] = []
    for path in sorted(GROUNDTRUTH.rglob("*.md")):
        ids = encoding.encode(path.read_text(), disallowed_special=())
        texts.extend(encoding.decode(ids[i : i + tokens]) for i in range(0, len(ids), tokens))
        if len(texts) >= count:
            break
    return texts[:count]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench/results/embed.json"))
    args = parser.parse_args(argv)
    from docingest.embedding import _load_minilm, get_embedder

    texts = sample_texts(args.texts)
    ours = get_embedder(backend="onnx")
    reference = _load_minilm()  # sentence-transformers, as its users call it
    ours.embed(texts[:8])
    reference.encode(texts[:8], batch_size=32, normalize_embeddings=True)
    times: dict[str, list[float]] = {"docingest": [], "sentence_transformers": []}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(args.rounds):
        started = time.perf_counter()
        vectors["docingest"] = np.asarray(ours.embed(texts))
        times["docingest"].append(time.perf_counter() - started)
        started = time.perf_counter()
        vectors["sentence_transformers"] = reference.encode(
            texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False
        )
        times["sentence_transformers"].append(time.perf_counter() - started)
    best = {name: min(values) for name, values in times.items()}
    rate = {name: len(texts) / seconds for name, seconds in best.items()}
    ratio = rate["docingest"] / rate["sentence_transformers"]
    cosine = float((vectors["docingest"] * vectors["sentence_transformers"]).sum(axis=1).min())
    report = {"texts": len(texts), "chunks_per_s": rate, "ratio": ratio, "min_cosine": cosine,
              "backend": type(ours._model).__name__, "target": TARGET}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"{len(texts)} texts of ~200 tokens, best of {args.rounds}")
    for name in rate:
        print(f"  {name:22s} {rate[name]:7.1f} chunks/s  ({best[name]:.2f} s)")
    print(f"ratio {ratio:.2f}x (target >= {TARGET}x: {'met' if ratio >= TARGET else 'MISSED'}), "
          f"min cosine {cosine:.7f}, backend {report['backend']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
