"""How long a reader waits on a writer process in the embedded store (Qdrant Edge).

Run from the repository root: `.venv/bin/python -m bench.reader_wait [--documents 150]`

A writer process keeps one `VectorStore` open and replaces `--documents` documents of 20
points (the pipeline's payload shape, `bench.store_bench`) one after another, as an ingest's
indexing stage does, pausing `--pause-ms` between documents (the embedding of the next one).
Meanwhile this process opens the store anew for every search, as `docingest search` does, and
records how long each open + top-10 hybrid search took, until the writer is done.

`--ingest DIR` measures the real thing instead: `docingest ingest DIR` on a fresh home (fast
engine) while a loop runs `docingest search` processes one after another; then the same
searches with no writer. A search's wait is its wall time beyond the idle searches' median.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
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


DOCINGEST = str(Path(sys.executable).parent / "docingest")  # the venv's console script
QUERIES = ("table of results", "financial statements", "method and evaluation", "figure 3")


def _search_walls(env: dict[str, str], keep_going: Callable[[int], bool]) -> list[float]:
    """Wall seconds of `docingest search` processes run back to back while keep_going(n)."""
    walls: list[float] = []
    while keep_going(len(walls)):
        command = [DOCINGEST, "search", QUERIES[len(walls) % len(QUERIES)], "--json"]
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        walls.append(time.perf_counter() - started)
        if done.returncode != 0 and "collection is empty" not in done.stderr:
            raise RuntimeError(f"search failed: {done.stderr[-2000:]}")
    return walls


def _store_walls(home: Path, keep_going: Callable[[int], bool]) -> list[float]:
    """Seconds of open + top-10 hybrid search + close in this process (a fresh open each time,
    as a `docingest search` does), back to back while keep_going(n): the wait without the
    process start-up, which a loaded machine makes noisy."""
    from docingest.sparse import Bm25Encoder
    from docingest.vectorstore import Query, VectorStore

    rng = np.random.default_rng(3)
    sparse = Bm25Encoder().query("table of results")
    walls: list[float] = []
    while keep_going(len(walls)):
        vector = rng.standard_normal(384)
        vector /= np.linalg.norm(vector)
        started = time.perf_counter()
        with VectorStore(path=str(home / "qdrant")) as store:
            store.search(Query(dense=vector.tolist(), sparse=sparse, mode="hybrid"), top_k=10)
        walls.append(time.perf_counter() - started)
        time.sleep(0.05)
    return walls


def during_ingest(folder: Path, idle_searches: int) -> dict[str, object]:
    """`docingest ingest DIR` while `docingest search` processes run in a loop (and, beside
    them, in-process opens + searches); then the same with no writer."""
    home = Path(tempfile.mkdtemp(prefix="reader-wait-home-"))
    env = os.environ | {"DOCINGEST_HOME": str(home), "DOCINGEST_PARSE_ENGINE": "fast"}
    env.pop("DAGSTER_HOME", None)
    # The embedding model's first-use export, before the clock starts (not a wait).
    subprocess.run([DOCINGEST, "search", "warm up"], env=env, capture_output=True, check=True)
    started = time.perf_counter()
    ingest = subprocess.Popen(
        [DOCINGEST, "ingest", str(folder), "--json"], env=env, stdout=subprocess.PIPE, text=True
    )
    processes: list[float] = []
    loop = threading.Thread(
        target=lambda: processes.extend(_search_walls(env, lambda _: ingest.poll() is None))
    )
    loop.start()
    # The store exists once the first document is written: wait for it before timing opens.
    while ingest.poll() is None and not (home / "qdrant" / "edge" / "documents").exists():
        time.sleep(0.2)
    busy = _store_walls(home, lambda _: ingest.poll() is None)
    loop.join()
    ingest_s = time.perf_counter() - started
    summary = json.loads(ingest.stdout.read() if ingest.stdout else "{}")
    idle = _search_walls(env, lambda n: n < idle_searches)
    idle_store = _store_walls(home, lambda n: n < idle_searches)
    baseline = statistics.median(idle)
    return {
        "documents": summary.get("documents"),
        "succeeded": summary.get("succeeded"),
        "points": summary.get("points"),
        "ingest_s": round(ingest_s, 1),
        "cli_searches_during_ingest": len(processes),
        "cli_search_wall_s_p50": round(statistics.median(processes), 3),
        "cli_search_wall_s_max": round(max(processes), 3),
        "cli_idle_search_wall_s_p50": round(baseline, 3),
        "cli_idle_search_wall_s_max": round(max(idle), 3),
        "cli_longest_wait_s": round(max(processes) - baseline, 3),
        "store_searches_during_ingest": len(busy),
        "store_search_s_p50": round(statistics.median(busy), 4),
        "store_search_s_max": round(max(busy), 4),
        "idle_store_search_s_p50": round(statistics.median(idle_store), 4),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=150)
    parser.add_argument("--pause-ms", type=float, default=50.0)
    parser.add_argument("--ingest", type=Path, help="a folder to ingest for real while searching")
    parser.add_argument("--idle-searches", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("bench/results/reader_wait.json"))
    args = parser.parse_args(argv)
    if args.ingest:
        result = during_ingest(args.ingest, args.idle_searches)
        print(json.dumps(result))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1))
        return 0
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
