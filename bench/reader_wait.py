"""How long a reader waits on a writer process in the embedded store (Qdrant Edge).

Run from the repository root: `.venv/bin/python -m bench.reader_wait [--documents 150]`

A writer process keeps one `VectorStore` open and replaces `--documents` documents of 20
points (the pipeline's payload shape, `bench.store_bench`) one after another, as an ingest's
indexing stage does, pausing `--pause-ms` between documents (the embedding of the next one).
Meanwhile this process opens the store anew for every search, as `docingest search` does, and
records how long each open + top-10 hybrid search took, until the writer is done.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

WRITER = """
import sys, time
import numpy as np
from bench.store_bench import _points
from docingest.vectorstore import VectorStore
store = VectorStore(path=sys.argv[1])
store.ensure_collection(vector_size=384, model_name="bench")
rng = np.random.default_rng(1)
print("ready", flush=True)
longest = 0.0
for doc in range(int(sys.argv[2])):
    points = _points(doc, rng)
    started = time.perf_counter()
    store.replace_document(points[0].payload["document_id"], points)
    longest = max(longest, time.perf_counter() - started)
    time.sleep(float(sys.argv[3]) / 1000)
print(f"done {longest:.4f}", flush=True)
store.close()
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=150)
    parser.add_argument("--pause-ms", type=float, default=50.0)
    parser.add_argument("--out", type=Path, default=Path("bench/results/reader_wait.json"))
    args = parser.parse_args(argv)
    from docingest.sparse import Bm25Encoder
    from docingest.vectorstore import Query, VectorStore, close_local_clients

    folder = Path(tempfile.mkdtemp(prefix="reader-wait-"))
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(folder), str(args.documents), str(args.pause_ms)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None and writer.stdout.readline().strip() == "ready"
    rng = np.random.default_rng(2)
    sparse = Bm25Encoder().query("tariff dividend")
    waits: list[float] = []
    while writer.poll() is None:
        vector = rng.standard_normal(384)
        vector /= np.linalg.norm(vector)
        started = time.perf_counter()
        with VectorStore(path=str(folder)) as store:
            store.search(Query(dense=vector.tolist(), sparse=sparse, mode="hybrid"), top_k=10)
        close_local_clients()
        waits.append(time.perf_counter() - started)
    line = writer.stdout.read().strip()
    result = {
        "documents": args.documents,
        "searches": len(waits),
        "search_s_p50": round(statistics.median(waits), 4),
        "search_s_max": round(max(waits), 4),
        "writer_longest_replace_s": float(line.split()[-1]) if line.startswith("done") else None,
    }
    print(json.dumps(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
