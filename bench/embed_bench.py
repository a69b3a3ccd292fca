"""Embedding throughput: docingest's ONNX model at fp32 and int8, and sentence-transformers.

Run from the repository root:

    .venv/bin/python -m bench.embed_bench [--texts 500] [--rounds 3] [--no-torch]

The texts are real chunks: the odl-bench ground-truth markdown cut into ~200-token windows (the
pipeline's default chunk size). Every model embeds exactly the same texts in the same process,
alternating round by round, so load on a shared machine falls on all alike; best of N rounds
(and the median) in texts/s and word pieces/s (the pieces each model reads, at most its window
per text). The vectors are compared with the fp32 model's (cosine, min and mean). Targets:
fp32 ONNX >= 1.3x sentence-transformers' texts/s with the same vectors; int8 faster than fp32.
"""

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

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


def contenders(precisions: Sequence[str], torch: bool) -> dict[str, Callable[[list[str]], Any]]:
    """Name -> a function embedding texts to normalized vectors."""
    from docingest.embedding import _load_minilm, get_embedder

    out: dict[str, Callable[[list[str]], Any]] = {}
    for precision in precisions:
        embedder = get_embedder(precision=precision)
        if embedder.precision != precision:
            raise SystemExit(f"the {precision} model could not be loaded (see the log above)")
        out[f"onnx-{precision}"] = embedder.embed
    if torch:
        reference = _load_minilm()  # sentence-transformers, as its users call it
        out["sentence_transformers"] = lambda texts: reference.encode(
            texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--precisions", default="fp32,int8")
    parser.add_argument("--no-torch", action="store_true", help="leave sentence-transformers out")
    parser.add_argument("--out", type=Path, default=Path("bench/results/embed.json"))
    args = parser.parse_args(argv)
    from docingest.embedding import get_embedder

    texts = sample_texts(args.texts)
    models = contenders(args.precisions.split(","), not args.no_torch)
    fp32 = get_embedder(precision="fp32")
    window = fp32.max_seq_length or 256
    pieces = sum(min(n, window) for n in fp32.model_token_counts(texts))
    for embed in models.values():
        embed(texts[:8])  # warm-up: first-call allocations
    times: dict[str, list[float]] = {name: [] for name in models}
    vectors: dict[str, np.ndarray] = {}
    loads: list[float] = []
    for _ in range(args.rounds):
        for name, embed in models.items():
            loads.append(os.getloadavg()[0])
            started = time.perf_counter()
            vectors[name] = np.asarray(embed(texts), dtype="float32")
            times[name].append(time.perf_counter() - started)
    best = {name: min(values) for name, values in times.items()}
    report: dict[str, Any] = {
        "texts": len(texts),
        "word_pieces": pieces,
        "rounds": args.rounds,
        "load_average": [min(loads), max(loads)],
        "seconds": times,
        "texts_per_s": {name: len(texts) / s for name, s in best.items()},
        "pieces_per_s": {name: pieces / s for name, s in best.items()},
        "median_texts_per_s": {n: len(texts) / statistics.median(v) for n, v in times.items()},
    }
    reference = vectors.get("onnx-fp32")
    if reference is not None:
        cosines = {n: (v * reference).sum(axis=1) for n, v in vectors.items() if n != "onnx-fp32"}
        report["cosine_to_fp32"] = {
            n: {"min": float(c.min()), "mean": float(c.mean())} for n, c in cosines.items()
        }
    rate = report["texts_per_s"]
    if "onnx-int8" in rate and "onnx-fp32" in rate:
        report["int8_over_fp32"] = rate["onnx-int8"] / rate["onnx-fp32"]
    if "onnx-fp32" in rate and "sentence_transformers" in rate:
        report["fp32_over_torch"] = rate["onnx-fp32"] / rate["sentence_transformers"]
        report["target"] = TARGET
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"{len(texts)} texts of ~200 tokens ({pieces} word pieces), best of {args.rounds}, "
          f"load {min(loads):.1f}-{max(loads):.1f}")  # fmt: skip
    for name in rate:
        median = statistics.median(times[name])
        print(f"  {name:22s} {rate[name]:7.1f} texts/s {report['pieces_per_s'][name]:8.0f} "
              f"pieces/s  ({best[name]:.2f} s; median {median:.2f} s)")  # fmt: skip
    for name, c in report.get("cosine_to_fp32", {}).items():
        print(f"  {name} vs onnx-fp32: cosine min {c['min']:.4f}, mean {c['mean']:.4f}")
    if "int8_over_fp32" in report:
        print(f"int8 / fp32: {report['int8_over_fp32']:.2f}x texts/s")
    if "fp32_over_torch" in report:
        ratio = report["fp32_over_torch"]
        print(f"onnx fp32 / sentence-transformers: {ratio:.2f}x "
              f"(target >= {TARGET}x: {'met' if ratio >= TARGET else 'MISSED'})")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
