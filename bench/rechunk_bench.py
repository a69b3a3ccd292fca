"""Re-chunking N ingested documents against ingesting them from scratch.

Run from the repository root:

    .venv/bin/python -m bench.rechunk_bench --docs 150 [--strategy recursive] [--repeat K]

Both are the CLI a data engineer would use, each a subprocess (start-up, imports and the model
load included): `docingest ingest DIR` into a fresh DOCINGEST_HOME, then, on that home,
`docingest rechunk --strategy S`. The re-ingest baseline is a second `docingest ingest DIR` into
another fresh home (the cost of re-chunking by starting over). Target: re-chunk <= 35 % of it.
"""

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.ingest_bench import DEFAULT_CORPUS, _count_points, _measure

TARGET = 0.35


def _docingest(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipelines.cli", *args]


def one_round(folder: Path, work: Path, strategy: str) -> dict[str, Any]:
    first, fresh = work / "home-a", work / "home-b"
    ingest_s, _, code, _ = _measure(_docingest("ingest", str(folder)), first, work / "ingest.log")
    if code != 0:
        raise SystemExit(f"ingest failed, see {work / 'ingest.log'}")
    points_before = _count_points(first)
    rechunk_s, rss, code, _ = _measure(
        _docingest("rechunk", "--strategy", strategy), first, work / "rechunk.log"
    )
    if code != 0:
        raise SystemExit(f"rechunk failed, see {work / 'rechunk.log'}")
    points_after = _count_points(first)
    reingest_s, _, code, _ = _measure(_docingest("ingest", str(folder)), fresh, work / "re.log")
    shutil.rmtree(first, ignore_errors=True)
    shutil.rmtree(fresh, ignore_errors=True)
    return {
        "ingest_s": round(ingest_s, 2),
        "rechunk_s": round(rechunk_s, 2),
        "reingest_s": round(reingest_s, 2),
        "ratio": round(rechunk_s / reingest_s, 3),
        "rechunk_peak_rss_mib": round(rss, 1),
        "points_before": points_before,
        "points_after": points_after,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=150)
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--strategy", default="recursive")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("bench/results/rechunk.json"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rechunk-bench-") as tmp:
        work = Path(tmp)
        folder = work / "docs"
        folder.mkdir()
        for pdf in sorted(args.corpus.glob("*.pdf"))[: args.docs]:
            shutil.copyfile(pdf, folder / pdf.name)
        rounds = [one_round(folder, work, args.strategy) for _ in range(args.repeat)]
    ratio = statistics.median(r["ratio"] for r in rounds)
    report = {"docs": args.docs, "strategy": args.strategy, "rounds": rounds, "ratio": ratio,
              "target": TARGET, "met": ratio <= TARGET}  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    for r in rounds:
        print(f"ingest {r['ingest_s']} s | rechunk ({args.strategy}) {r['rechunk_s']} s | "
              f"re-ingest from scratch {r['reingest_s']} s | ratio {r['ratio']} | "
              f"points {r['points_before']} -> {r['points_after']}")  # fmt: skip
    print(f"median ratio {ratio:.3f}, target <= {TARGET}: {'met' if ratio <= TARGET else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
