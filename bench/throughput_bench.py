"""Parse engines side by side: odl-bench quality, and pages/s on long real documents.

Run from the repository root:

    .venv/bin/python -m bench.throughput_bench [--pages-per-doc 3] [--odl-limit N] \\
        [--out bench/results/throughput.json]

In one process, for the engines fast, layout and auto (each warmed up on one untimed page):

1. **odl-bench**: every PDF of `../shared/corpus/odl-bench/pdfs` parsed by each engine
   (alternating their order from one document to the next), the markdown scored by
   `../shared/tools/odl_score.py` (overall, NID, TEDS, MHS), and which pages auto sent to the
   layout model, by trigger.
2. **Routing on the long documents**: auto's triage (the fast read of every page and the triggers)
   over every page of the PDFs of `../shared/corpus/retrieval`: the share of pages that go to the
   layout model, by trigger and by set.
3. **Pages/s** on those PDFs: a sample of `--pages-per-doc` pages per PDF, evenly spaced through
   it (`target_pages`), parsed by each engine, alternating the order per document; wall
   seconds, CPU seconds of this process (all its threads), CPU utilization (CPU seconds / wall
   seconds, in cores, beside the machine's core count).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.parse_bench import DEFAULT_CORPUS, SHARED, _aggregate, score

RETRIEVAL = SHARED / "corpus/retrieval"
ENGINES = ("fast", "layout", "auto")


def _options(engine: str, **extra: Any) -> Any:
    from docingest.parsing import ParseOptions

    # In this process (ParseOptions isolates by default): the timing is the engine's.
    return ParseOptions(engine=engine, isolate=False, **extra)


def _warm_up(pdf: Path) -> None:
    from docingest.parsing import parse_file

    for engine in ENGINES:
        parse_file(pdf, options=_options(engine, target_pages="1"))


def odl(pdfs: list[Path], work: Path) -> dict[str, Any]:
    """Scores per engine on odl-bench, and auto's routing of its pages."""
    from docingest.parsing import parse_file

    seconds = dict.fromkeys(ENGINES, 0.0)
    triggers: Counter[str] = Counter()
    for engine in ENGINES:
        (work / engine).mkdir(parents=True, exist_ok=True)
    for position, pdf in enumerate(pdfs):
        for engine in ENGINES if position % 2 == 0 else tuple(reversed(ENGINES)):
            started = time.perf_counter()
            result = parse_file(pdf, options=_options(engine))
            seconds[engine] += time.perf_counter() - started
            (work / engine / f"{pdf.stem}.md").write_text(result.markdown, encoding="utf-8")
            if engine == "auto":
                for trigger, pages in result.usage["layout_triggers"].items():
                    triggers[trigger] += len(pages)
    subset = work / "subset"
    subset.mkdir(exist_ok=True)
    for pdf in pdfs:  # odl_score --ids-from: only the documents we ran
        (subset / pdf.name).touch()
    ids = [pdf.stem for pdf in pdfs]
    scores = {engine: _aggregate(score(work / engine, subset), ids) for engine in ENGINES}
    return {
        "documents": len(pdfs),
        "scores": scores,
        "pages_per_second": {e: round(len(pdfs) / s, 2) for e, s in seconds.items()},
        "auto_layout_pages": sum(triggers.values()),
        "auto_triggers": dict(triggers.most_common()),
    }


def retrieval_pdfs() -> dict[str, list[Path]]:
    """The PDFs of each retrieval set, sorted by name."""
    return {
        folder.parent.name: sorted(folder.glob("*.pdf"))
        for folder in sorted(RETRIEVAL.glob("*/pdfs"))
    }


def routing(sets: dict[str, list[Path]]) -> dict[str, Any]:
    """Auto's triage over every page of every PDF: pages per trigger, per set and in all."""
    import pymupdf

    from docingest.parsing.auto import triage

    options = _options("auto")
    out: dict[str, Any] = {}
    total: Counter[str] = Counter()
    started = time.perf_counter()
    for name, pdfs in sets.items():
        counts: Counter[str] = Counter()
        for pdf in pdfs:
            with pymupdf.open(pdf) as doc:
                _, triggers = triage(doc, list(range(doc.page_count)), options)
                counts["pages"] += doc.page_count
                counts.update(triggers.values())
        total.update(counts)
        out[name] = _shares(counts)
    out["all"] = _shares(total)
    out["triage_pages_per_second"] = round(total["pages"] / (time.perf_counter() - started), 1)
    return out


def _shares(counts: Counter[str]) -> dict[str, Any]:
    pages = counts["pages"]
    triggers = Counter({t: n for t, n in counts.items() if t != "pages"})
    layout = sum(triggers.values())
    return {
        "pages": pages,
        "layout_pages": layout,
        "layout_share": round(layout / pages, 3) if pages else None,
        "by_trigger": {t: round(n / pages, 3) for t, n in triggers.most_common()},
    }


def _sample(page_count: int, k: int) -> str:
    """`k` page numbers (1-based) evenly spaced through a document, as a target_pages spec."""
    picks = sorted({int((i + 0.5) * page_count / k) + 1 for i in range(min(k, page_count))})
    return ",".join(str(p) for p in picks)


def speed(sets: dict[str, list[Path]], per_doc: int) -> dict[str, Any]:
    """Pages/s and CPU utilization per engine on a sample of pages of every PDF."""
    import pymupdf

    from docingest.parsing import parse_file

    totals = {e: {"pages": 0, "wall_s": 0.0, "cpu_s": 0.0, "layout_pages": 0} for e in ENGINES}
    pdfs = [pdf for group in sets.values() for pdf in group]
    for position, pdf in enumerate(pdfs):
        with pymupdf.open(pdf) as doc:
            spec = _sample(doc.page_count, per_doc)
        for engine in ENGINES if position % 2 == 0 else tuple(reversed(ENGINES)):
            wall, cpu = time.perf_counter(), time.process_time()
            result = parse_file(pdf, options=_options(engine, target_pages=spec))
            row = totals[engine]
            row["wall_s"] += time.perf_counter() - wall
            row["cpu_s"] += time.process_time() - cpu
            row["pages"] += result.usage["pages"]
            row["layout_pages"] += result.usage["engine_pages"].get("layout", 0)
    out: dict[str, Any] = {
        "documents": len(pdfs),
        "pages_per_doc": per_doc,
        "cores": os.cpu_count(),
    }
    for engine, row in totals.items():
        out[engine] = {
            "pages": row["pages"],
            "wall_s": round(row["wall_s"], 1),
            "pages_per_second": round(row["pages"] / row["wall_s"], 2),
            "cpu_utilization_cores": round(row["cpu_s"] / row["wall_s"], 2),
            "layout_share": round(row["layout_pages"] / row["pages"], 3),
        }
    out["auto_over_layout"] = round(
        out["auto"]["pages_per_second"] / out["layout"]["pages_per_second"], 2
    )
    return out


def main() -> None:
    """Run the three parts, print them, optionally save the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--odl-limit", type=int, default=None, help="first N odl-bench PDFs")
    parser.add_argument("--pages-per-doc", type=int, default=3, help="pages/s sample per PDF")
    parser.add_argument("--skip-odl", action="store_true", help="only routing and pages/s")
    parser.add_argument("--out", type=Path, default=None, help="write the report as JSON")
    args = parser.parse_args()
    odl_pdfs = sorted(DEFAULT_CORPUS.glob("*.pdf"))[: args.odl_limit]
    _warm_up(odl_pdfs[0])
    report: dict[str, Any] = {}
    if not args.skip_odl:
        with tempfile.TemporaryDirectory() as tmp:
            report["odl_bench"] = odl(odl_pdfs, Path(tmp))
        print(json.dumps(report["odl_bench"], indent=1), flush=True)
    sets = retrieval_pdfs()
    report["routing"] = routing(sets)
    print(json.dumps(report["routing"], indent=1), flush=True)
    report["speed"] = speed(sets, args.pages_per_doc)
    print(json.dumps(report["speed"], indent=1), flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
