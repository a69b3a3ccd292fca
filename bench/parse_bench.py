"""Parse quality and speed on odl-bench: our engines beside pymupdf4llm and the published peers.

Run from the repository root:

    .venv/bin/python -m bench.parse_bench [--limit N] [--out bench/results/parse.json]

For every PDF of the corpus (sorted by name) it runs, in the same process and alternating the
order from one document to the next: `parse_file` with the default (layout) engine, PyMuPDF's
own `pymupdf4llm.to_markdown` with the layout model on (the speed reference), and `parse_file`
with the fast engine. Each writes `<id>.md` (our engines: the `markdown` that `docingest parse
--format markdown` writes). The three folders are scored with `../shared/tools/odl_score.py`;
the per-document scores are then split into two halves (A: even positions in the sorted ids,
B: odd positions) and aggregated beside the published peers on the same documents.
Speed is pages per second of parse time (warm: one untimed document first for each).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from docingest.parsing.layout import pymupdf4llm_with_layout

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
DEFAULT_CORPUS = SHARED / "corpus/odl-bench/pdfs"
PUBLISHED = SHARED / "corpus/odl-bench/published_scores.json"
SCORER = SHARED / "tools/odl_score.py"
PEERS = ("opendataloader-hybrid", "docling", "pymupdf4llm", "marker")
METRICS = ("overall", "nid", "teds", "mhs")
RUNNERS = ("layout", "pymupdf4llm", "fast")


def _reference() -> Any:
    """pymupdf4llm with the layout model active."""
    return pymupdf4llm_with_layout()


OPTIONS: dict[str, Any] = {}  # extra ParseOptions for our engines (command-line flags)


def _run_one(runner: str, pdf: Path) -> tuple[str, int]:
    """Markdown and page count of `pdf` by `runner`."""
    if runner == "pymupdf4llm":
        import pymupdf

        with pymupdf.open(pdf) as doc:
            text = _reference().to_markdown(doc, show_progress=False)
            return text, doc.page_count
    from docingest.parsing import ParseOptions, parse_file

    # In this process: the timing is the engine's, not a worker's start.
    result = parse_file(pdf, options=ParseOptions(engine=runner, isolate=False, **OPTIONS))
    return result.markdown, result.page_count


def run_all(pdfs: list[Path], work: Path) -> dict[str, dict[str, float]]:
    """Write every runner's markdown under `work/<runner>/`; seconds and pages per runner."""
    for runner in RUNNERS:
        (work / runner).mkdir(parents=True, exist_ok=True)
        _run_one(runner, pdfs[0])  # warm-up: model load and imports, untimed
    totals = {runner: {"seconds": 0.0, "pages": 0} for runner in RUNNERS}
    for position, pdf in enumerate(pdfs):
        order = RUNNERS if position % 2 == 0 else tuple(reversed(RUNNERS))
        for runner in order:
            started = time.perf_counter()
            try:
                text, pages = _run_one(runner, pdf)
            except Exception as exc:  # a failure scores 0 for that document; keep going
                print(f"{runner} {pdf.name}: {type(exc).__name__}: {exc}", file=sys.stderr)
                text, pages = "", 1
            totals[runner]["seconds"] += time.perf_counter() - started
            totals[runner]["pages"] += pages
            (work / runner / f"{pdf.stem}.md").write_text(text, encoding="utf-8")
    return totals


def pool_throughput(pdfs: list[Path], workers: int) -> dict[str, float]:
    """Pages/s of the default engine through `parse_many` (isolated workers, all cores)."""
    from docingest.parsing import ParseOptions, parse_many

    options = ParseOptions(isolate=True, **OPTIONS)
    list(parse_many(pdfs[:workers], options, workers=workers))  # warm-up: worker start, model
    started = time.perf_counter()
    pages = sum(
        r.page_count for _, r in parse_many(pdfs, options, workers=workers) if hasattr(r, "pages")
    )
    seconds = time.perf_counter() - started
    return {
        "workers": workers,
        "pages": pages,
        "seconds": round(seconds, 2),
        "pages_per_second": round(pages / seconds, 2),
    }


def throughput_rounds(pdfs: list[Path], rounds: int, workers: int) -> dict[str, Any]:
    """Pages/s of `docingest parse`'s path (isolated worker pool, layout engine) beside
    pymupdf4llm.to_markdown (layout on, one process), alternating which runs first."""
    from docingest.parsing import ParseOptions, parse_many

    options = ParseOptions(isolate=True, **OPTIONS)
    pages = 0
    for pdf in pdfs:
        import pymupdf

        with pymupdf.open(pdf) as doc:
            pages += doc.page_count
    _run_one("pymupdf4llm", pdfs[0])  # warm-up

    def ours() -> float:
        started = time.perf_counter()
        for _, result in parse_many(pdfs, options, workers=workers):
            if not hasattr(result, "pages"):
                print(f"docingest: {result}", file=sys.stderr)
        return time.perf_counter() - started

    def reference() -> float:
        started = time.perf_counter()
        for pdf in pdfs:
            _run_one("pymupdf4llm", pdf)
        return time.perf_counter() - started

    seconds: dict[str, list[float]] = {"docingest_pool": [], "pymupdf4llm": []}
    for index in range(rounds):
        order = [("docingest_pool", ours), ("pymupdf4llm", reference)]
        for name, run in order if index % 2 == 0 else reversed(order):
            seconds[name].append(run())
    medians = {name: sorted(values)[len(values) // 2] for name, values in seconds.items()}
    return {
        "pages": pages,
        "workers": workers,
        "seconds": {k: [round(v, 2) for v in values] for k, values in seconds.items()},
        "pages_per_second": {k: round(pages / v, 2) for k, v in medians.items()},
        "ratio": round(medians["pymupdf4llm"] / medians["docingest_pool"], 3),
    }


def score(folder: Path, corpus: Path) -> dict[str, dict[str, Any]]:
    """Per-document scores of `folder` from odl_score.py."""
    out = folder.with_suffix(".scores.json")
    subprocess.run(
        [sys.executable, str(SCORER), str(folder), "--ids-from", str(corpus), "--out", str(out)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return json.loads(out.read_text())["documents"]


def _aggregate(per_doc: dict[str, dict[str, Any]], ids: list[str]) -> dict[str, Any]:
    sys.path.insert(0, str(SCORER.parent))
    from odl_metrics import aggregate  # type: ignore[import-not-found]

    agg = aggregate({i: per_doc[i] for i in ids if i in per_doc})
    return {k: round(agg[k], 4) if agg[k] is not None else None for k in METRICS}


def report(scores: dict[str, dict], ids: list[str], totals: dict) -> dict[str, Any]:
    """The score table per half and overall, with peers, speed and the ten worst documents."""
    halves = {"A": ids[0::2], "B": ids[1::2], "all": ids}
    published = json.loads(PUBLISHED.read_text())
    table: dict[str, dict[str, Any]] = {}
    for name, per_doc in scores.items():
        table[name] = {h: _aggregate(per_doc, members) for h, members in halves.items()}
    for peer in PEERS:
        docs = published[peer]["documents"]
        table[f"published:{peer}"] = {h: _aggregate(docs, m) for h, m in halves.items()}
    speed = {
        r: round(t["pages"] / t["seconds"], 2) if t["seconds"] else None for r, t in totals.items()
    }
    layout = scores["layout"]
    worst = sorted(ids, key=lambda i: layout[i]["overall"] or 0.0)[:10]
    return {
        "table": table,
        "pages_per_second": speed,
        "totals": totals,
        "worst_layout": {i: {k: layout[i][k] for k in METRICS} for i in worst},
    }


def _print(result: dict[str, Any]) -> None:
    print(f"{'engine':34s} {'half':4s} " + " ".join(f"{m:>7s}" for m in METRICS))
    for name, halves in result["table"].items():
        for half, agg in halves.items():
            cells = " ".join(f"{agg[m]:7.4f}" if agg[m] is not None else "      -" for m in METRICS)
            print(f"{name:34s} {half:4s} {cells}")
    print("pages/s:", result["pages_per_second"])
    print("ten worst (layout):")
    for doc_id, values in result["worst_layout"].items():
        print(f"  {doc_id} " + " ".join(f"{k}={v:.3f}" for k, v in values.items() if v is not None))


def main() -> None:
    """Parse, score, print; optionally save the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--limit", type=int, default=None, help="first N documents only")
    parser.add_argument("--keep", type=Path, default=None, help="keep the markdown here")
    parser.add_argument("--out", type=Path, default=None, help="write the report as JSON")
    parser.add_argument(
        "--include-headers-footers",
        action="store_true",
        help="keep page headers/footers in our markdown (the ground truth has them)",
    )
    parser.add_argument(
        "--pool", type=int, default=0, help="also time parse_many with this many workers"
    )
    parser.add_argument(
        "--speed-rounds",
        type=int,
        default=0,
        help="only time docingest's worker pool against pymupdf4llm, this many rounds each",
    )
    args = parser.parse_args()
    if args.include_headers_footers:
        OPTIONS["include_headers_footers"] = True
    if args.speed_rounds:
        pdfs = sorted(args.corpus.glob("*.pdf"))[: args.limit]
        speed = throughput_rounds(pdfs, args.speed_rounds, args.pool or 2)
        print(json.dumps(speed, indent=1))
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(speed, indent=1) + "\n")
        return
    pdfs = sorted(args.corpus.glob("*.pdf"))[: args.limit]
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        totals = run_all(pdfs, work)
        subset = Path(tmp) / "subset"
        subset.mkdir(exist_ok=True)
        for pdf in pdfs:  # odl_score --ids-from: only the documents we ran
            (subset / pdf.name).touch()
        scores = {runner: score(work / runner, subset) for runner in RUNNERS}
    result = report(scores, [p.stem for p in pdfs], totals)
    result["options"] = dict(OPTIONS)
    if args.pool:
        result["pool"] = pool_throughput(pdfs, args.pool)
    _print(result)
    if args.pool:
        print("parse_many:", result["pool"])
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
