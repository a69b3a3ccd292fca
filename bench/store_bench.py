"""The embedded store at scale: Qdrant Edge against qdrant-client's local mode, same run.

Run from the repository root:

    .venv/bin/python -m bench.store_bench [--sizes 10000,100000] [--local-max 10000]
        [--searches 200] [--optimize] [--out bench/results/store.json]

Each (backend, size) runs in its own process (its peak RSS is its own) on a fresh folder:
documents of 20 points with the pipeline's payload shape (chunk text ~1,000 characters, pages,
boxes, breadcrumb, metadata with a year), random unit 384-d vectors and the text's BM25 vector,
written by `VectorStore.replace_document` one document at a time, as the pipeline does. Then:
top-10 dense search without and with a filter (one document; `year>=2020`), hybrid search,
replacing one document, counting one document, and reopening the store. `--local-max` caps the
sizes local mode runs (it writes ~300 points/s here).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

PER_DOCUMENT = 20
DIM = 384
WORDS = [
    "revenue",
    "margin",
    "risk",
    "climate",
    "tariff",
    "dividend",
    "segment",
    "quarter",
    "growth",
    "cash",
    "debt",
    "lease",
    "inventory",
    "supplier",
    "customer",
    "product",
    "service",
    "region",
    "currency",
    "tax",
    "litigation",
]


def _points(doc: int, rng: np.random.Generator, version: int = 0) -> list[Any]:
    from docingest.ids import point_id_for
    from docingest.sparse import Bm25Encoder
    from docingest.vectorstore import PointData

    encoder = Bm25Encoder()
    vectors = rng.standard_normal((PER_DOCUMENT, DIM)).astype("float32")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    points = []
    for i in range(PER_DOCUMENT):
        text = " ".join(rng.choice(WORDS, 150)) + f" doc{doc}"
        payload = {
            "document_id": f"reports/doc{doc:06d}.pdf",
            "path_prefixes": ["reports"],
            "source": f"/data/reports/doc{doc:06d}.pdf",
            "sha256": "0" * 64,
            "chunk_id": f"c{doc}-{i}",
            "chunk_index": i,
            "page_start": i + 1,
            "page_end": i + 2,
            "headings": ["Part I", f"Item {i}"],
            "bboxes": [{"page": i + 1, "x0": 50.0, "y0": 60.0, "x1": 550.0, "y1": 700.0}],
            "fragment_types": ["text", "table"] if i % 5 == 0 else ["text"],
            "text": text,
            "strategy": "token_size",
            "params_hash": f"h{version}",
            "year": 2015 + doc % 10,
            "team": ("legal", "sales", "ops")[doc % 3],
        }
        pid = point_id_for(payload["document_id"], i, f"h{version}")
        points.append(PointData(pid, vectors[i].tolist(), payload, encoder.document(text)))
    return points


def _timed(fn: Any, repeat: int) -> dict[str, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 3),
        "p95_ms": round(times[int(0.95 * (len(times) - 1))], 3),
    }


def run_one(backend: str, size: int, searches: int, optimize: bool) -> dict[str, Any]:
    """One backend at one size, in this process."""
    from docingest.filters import parse_filters
    from docingest.sparse import Bm25Encoder
    from docingest.vectorstore import Query, VectorStore, close_local_clients

    rng = np.random.default_rng(7)
    folder = Path(tempfile.mkdtemp(prefix=f"store-{backend}-"))

    def open_store() -> VectorStore:
        if backend == "edge":
            return VectorStore(path=str(folder))
        return VectorStore(local_path=str(folder))

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    store = open_store()
    store.ensure_collection(
        vector_size=DIM, model_name="bench", index_keys={"year": "integer", "team": "keyword"}
    )
    documents = size // PER_DOCUMENT
    per_doc_ms: list[float] = []
    started = time.perf_counter()
    for doc in range(documents):
        points = _points(doc, rng)
        t0 = time.perf_counter()
        store.replace_document(points[0].payload["document_id"], points)
        per_doc_ms.append((time.perf_counter() - t0) * 1000)
    fill_s = time.perf_counter() - started
    result: dict[str, Any] = {
        "backend": backend,
        "points": store.count(),
        "upserts_per_s": round(size / sum(per_doc_ms) * 1000, 1),
        "fill_s": round(fill_s, 1),
        "replace_first_10_docs_ms": round(statistics.median(per_doc_ms[:10]), 3),
        "replace_last_10_docs_ms": round(statistics.median(per_doc_ms[-10:]), 3),
    }
    if optimize:
        t0 = time.perf_counter()
        store.optimize()
        result["optimize_s"] = round(time.perf_counter() - t0, 1)
    queries = rng.standard_normal((searches, DIM)).astype("float32")
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    it = iter(range(10**9))
    one_doc = parse_filters([f"document=reports/doc{documents // 2:06d}.pdf"])
    recent = parse_filters(["year>=2020", "team=legal|ops"])
    sparse = Bm25Encoder().query("tariff dividend litigation")
    repeat = searches if size <= 10_000 or backend == "edge" else max(10, searches // 10)

    def q() -> list[float]:
        return queries[next(it) % searches].tolist()

    result["search"] = _timed(lambda: store.search(q(), top_k=10), repeat)
    result["search_one_document"] = _timed(
        lambda: store.search(q(), top_k=10, filters=one_doc), repeat
    )
    result["search_year_team"] = _timed(lambda: store.search(q(), top_k=10, filters=recent), repeat)
    result["search_hybrid"] = _timed(
        lambda: store.search(Query(dense=q(), sparse=sparse, mode="hybrid"), top_k=10), repeat
    )
    result["count_one_document"] = _timed(
        lambda: store.count(f"reports/doc{documents // 3:06d}.pdf"), min(repeat, 50)
    )
    new_version = _points(documents // 2, rng, version=1)
    t0 = time.perf_counter()
    store.replace_document(new_version[0].payload["document_id"], new_version)
    result["replace_one_document_ms"] = round((time.perf_counter() - t0) * 1000, 3)
    store.close()
    close_local_clients()
    t0 = time.perf_counter()
    store = open_store()
    store.count()
    result["reopen_s"] = round(time.perf_counter() - t0, 3)
    store.close()
    close_local_clients()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result["peak_rss_mb"] = round(rss / 1024, 1)
    result["rss_growth_mb"] = round((rss - rss_before) / 1024, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--local-max", type=int, default=10_000)
    parser.add_argument("--searches", type=int, default=200)
    parser.add_argument("--optimize", action="store_true", help="Edge: build HNSW, timed")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # BACKEND:SIZE, in a child process
    parser.add_argument("--out", type=Path, default=Path("bench/results/store.json"))
    args = parser.parse_args(argv)
    if args.one:
        backend, size = args.one.split(":")
        print(json.dumps(run_one(backend, int(size), args.searches, args.optimize)))
        return 0
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        for backend in ("edge", "client"):
            if backend == "client" and size > args.local_max:
                continue
            command = [sys.executable, "-m", "bench.store_bench", "--one", f"{backend}:{size}"]
            command += ["--searches", str(args.searches)] + ["--optimize"] * args.optimize
            out = subprocess.run(command, check=True, capture_output=True, text=True)
            row = json.loads(out.stdout.strip().splitlines()[-1]) | {"size": size}
            print(json.dumps(row), flush=True)
            results.append(row)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
