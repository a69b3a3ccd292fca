"""Dagster overhead of `docingest ingest` against the same stages in a plain script.

Run from the repository root:

    .venv/bin/python -m bench.ingest_bench --docs 50 [--repeat K] [--out bench/results/ingest.json]

Both paths run as subprocesses with a fresh `DOCINGEST_HOME`, so each wall time includes Python
start-up, imports and the model load, and each peak RSS is that process's own (`os.wait4`).
The baseline is `plain_ingest` below (`python -m bench.ingest_bench --baseline-only ...`):
parse_file -> chunk_document (the chunker resource's default strategy and params) -> embed ->
VectorStore.replace_document, one document after another, nothing else. The Dagster path is
`docingest ingest DIR`.

`--against DIR` compares two versions of the code instead: the Dagster path with the code in
DIR (e.g. `git worktree add /tmp/main main`) and with this checkout, alternating (which goes
first swaps every repeat), each in a fresh home; the parse engine and other settings come from
the environment (`DOCINGEST_PARSE_ENGINE=fast`), the same for both.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

TARGET_OVERHEAD = 0.10  # issue #14: Dagster adds at most 10 % wall time
DEFAULT_CORPUS = Path("../shared/corpus/odl-bench/pdfs")
COLLECTION = "documents"
REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass
class RunMeasure:
    """One subprocess: what it cost and what it left in its DOCINGEST_HOME."""

    path: str  # "baseline" or "dagster"
    wall_s: float
    peak_rss_mib: float
    returncode: int
    points: int
    details: dict[str, Any] = field(default_factory=dict)


# --- the baseline: the same stages, called directly, no Dagster --------------------------------


def plain_ingest(
    folder: Path, home: Path, strategy: str, chunk_params: dict[str, str]
) -> dict[str, Any]:
    """Ingest every PDF of `folder` into the local Qdrant store under `home`; stage timings."""
    started = time.perf_counter()
    from docingest.chunking import chunk_document, validate_params
    from docingest.embedding import get_embedder
    from docingest.ids import point_id_for
    from docingest.parsing import ParseOptions, parse_file
    from docingest.vectorstore import PointData, VectorStore

    timings: dict[str, float] = defaultdict(float)
    timings["imports"] = time.perf_counter() - started
    clock = time.perf_counter()
    embedder = get_embedder()
    timings["model_load"] = time.perf_counter() - clock
    # The parser resource's defaults (layout engine, markdown tables), parsed in this process.
    options = ParseOptions(isolate=False)
    params = validate_params(strategy, chunk_params)
    pages = chunks = 0
    with VectorStore(collection=COLLECTION, path=str(home / "qdrant")) as store:
        store.ensure_collection(
            vector_size=embedder.dimension, model_name=embedder.name, precision=embedder.precision
        )
        for file in sorted(folder.glob("*.pdf")):
            clock = time.perf_counter()
            parsed = parse_file(file, document_id=file.name, options=options)
            timings["parse"] += time.perf_counter() - clock
            clock = time.perf_counter()
            records = chunk_document(parsed, strategy, params)
            timings["chunk"] += time.perf_counter() - clock
            clock = time.perf_counter()
            vectors = embedder.embed([c.text for c in records])
            timings["embed"] += time.perf_counter() - clock
            clock = time.perf_counter()
            points = [
                PointData(
                    point_id=point_id_for(file.name, c.chunk_index, c.params_hash),
                    vector=vector,
                    payload={
                        "source": str(file),
                        "sha256": parsed.sha256,
                        "chunk_id": c.chunk_id,
                        "chunk_index": c.chunk_index,
                        "page_start": c.page_start,
                        "page_end": c.page_end,
                        "headings": c.headings,
                        "text": c.text,
                    },
                )
                for c, vector in zip(records, vectors, strict=True)
            ]
            store.replace_document(file.name, points)
            timings["upsert"] += time.perf_counter() - clock
            pages += parsed.page_count
            chunks += len(records)
    timings["total_in_process"] = time.perf_counter() - started
    return {
        "pages": pages,
        "chunks": chunks,
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
    }


# --- measuring subprocesses ---------------------------------------------------------------------


def _child_env(home: Path, code: Path = REPO_ROOT) -> dict[str, str]:
    env = dict(os.environ)
    env["DOCINGEST_HOME"] = str(home)
    # The children run in their own folder; `bench` is not installed, so point at the repo
    # (ahead of the editable install, which Python consults last).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code), env.get("PYTHONPATH")]))
    for key in ("DAGSTER_HOME", "QDRANT_URL", "QDRANT_API_KEY", "DOCINGEST_COLLECTION"):
        env.pop(key, None)  # embedded defaults: Dagster under DOCINGEST_HOME, local Qdrant
    return env


def _measure(
    cmd: list[str], home: Path, log: Path, code: Path = REPO_ROOT
) -> tuple[float, float, int, float]:
    """(wall s, peak RSS MiB, exit code, start epoch) of one subprocess; its own rusage (wait4)."""
    with log.open("wb") as sink:
        epoch = time.time()
        clock = time.perf_counter()
        proc = subprocess.Popen(
            cmd, env=_child_env(home, code), cwd=home.parent, stdout=sink, stderr=sink
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - clock
    proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped: tell Popen
    return wall, usage.ru_maxrss / 1024, proc.returncode, epoch  # ru_maxrss: KiB on Linux


def _count_points(home: Path) -> int:
    from docingest.vectorstore import VectorStore, close_local_clients

    try:
        with VectorStore(collection=COLLECTION, path=str(home / "qdrant")) as store:
            return store.count()
    finally:
        close_local_clients()


def _dagster_breakdown(home: Path, started: float, wall: float) -> dict[str, Any]:
    """Where the Dagster path's time went: before, between and inside its runs, per step."""
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    steps: dict[str, float] = defaultdict(float)
    run_total = 0.0
    spans: list[tuple[float, float]] = []
    runs = instance.get_runs()
    for run in runs:
        stats = instance.get_run_stats(run.run_id)
        if stats.start_time and stats.end_time:
            run_total += stats.end_time - stats.start_time
            spans.append((stats.start_time, stats.end_time))
        for step in instance.get_run_step_stats(run.run_id):
            if step.start_time and step.end_time:
                steps[step.step_key] += step.end_time - step.start_time
    step_total = sum(steps.values())
    instance.dispose()
    first = min((a for a, _ in spans), default=started)
    last = max((b for _, b in spans), default=started)
    return {
        "runs": len(runs),
        "before_first_run_s": round(first - started, 3),  # start-up, imports, registering
        "between_runs_s": round(last - first - run_total, 3),
        "after_last_run_s": round(started + wall - last, 3),  # summary, shutdown
        "run_seconds_total": round(run_total, 3),
        "step_seconds": {key: round(value, 3) for key, value in sorted(steps.items())},
        "step_seconds_total": round(step_total, 3),
        "in_run_outside_steps_s": round(run_total - step_total, 3),
        "per_run_overhead_s": round((run_total - step_total) / len(runs), 3) if runs else 0.0,
    }


def pipeline_chunking() -> dict[str, Any]:
    """The chunker resource's default strategy and params, which `docingest ingest` uses.

    Read here, in the parent, so the baseline chunks exactly like the pipeline without
    importing Dagster itself.
    """
    from resources import ChunkerResource

    strategy, params, _ = ChunkerResource().resolve()
    return {"strategy": strategy, "params": {key: str(value) for key, value in params.items()}}


def run_baseline(folder: Path, work: Path, index: int, chunking: dict[str, Any]) -> RunMeasure:
    home = work / f"baseline-{index}" / ".docingest"
    home.mkdir(parents=True)
    result = home.parent / "result.json"
    cmd = [sys.executable, "-m", "bench.ingest_bench", "--baseline-only"]
    cmd += ["--folder", str(folder), "--result", str(result), "--chunking", json.dumps(chunking)]
    wall, rss, code, _ = _measure(cmd, home, home.parent / "baseline.log")
    details = json.loads(result.read_text()) if code == 0 else {}
    if details:  # interpreter start before plain_ingest's clock began
        details["startup_s"] = round(wall - details["timings_s"]["total_in_process"], 3)
    return RunMeasure("baseline", wall, rss, code, _count_points(home), details)


def run_dagster(
    folder: Path, work: Path, index: int, code: Path = REPO_ROOT, label: str = "dagster"
) -> RunMeasure:
    home = work / f"{label}-{index}" / ".docingest"
    home.mkdir(parents=True)
    cli = Path(sys.executable).with_name("docingest")
    log = home.parent / "cli.log"
    load = os.getloadavg()[0]
    wall, rss, exit_code, started = _measure([str(cli), "ingest", str(folder)], home, log, code)
    tail = log.read_text(errors="replace").splitlines()[-20:]
    details = {
        "breakdown": _dagster_breakdown(home, started, wall),
        "cli_tail": tail,
        "code": str(code),
        "loadavg_1m": [round(load, 2), round(os.getloadavg()[0], 2)],  # at start, at end
    }
    return RunMeasure(label, wall, rss, exit_code, _count_points(home), details)


def compare_code(folder: Path, work: Path, against: Path, repeat: int) -> dict[str, Any]:
    """The Dagster path with the code in `against` ("before") and this checkout ("after"),
    alternating; the medians, their ratio and each run's load."""
    runs: dict[str, list[RunMeasure]] = {"before": [], "after": []}
    for index in range(repeat):
        order = [("before", against), ("after", REPO_ROOT)]
        for label, code in order if index % 2 == 0 else order[::-1]:
            measured = run_dagster(folder, work, index, code, label)
            runs[label].append(measured)
            load = measured.details["loadavg_1m"]
            print(f"run {index + 1} {label}: {measured.wall_s:.1f} s, load {load}", flush=True)
    before = statistics.median(m.wall_s for m in runs["before"])
    after = statistics.median(m.wall_s for m in runs["after"])
    return {
        "before_code": str(against),
        "after_code": str(REPO_ROOT),
        "repeats": repeat,
        "before_wall_s": [round(m.wall_s, 1) for m in runs["before"]],
        "after_wall_s": [round(m.wall_s, 1) for m in runs["after"]],
        "median_before_s": round(before, 2),
        "median_after_s": round(after, 2),
        "speedup": round(before / after, 3),
        "loadavg_1m": {k: [m.details["loadavg_1m"] for m in v] for k, v in runs.items()},
        "step_seconds": {
            k: [m.details["breakdown"]["step_seconds"] for m in v] for k, v in runs.items()
        },
        "points": {k: [m.points for m in v] for k, v in runs.items()},
        "all_succeeded": all(m.returncode == 0 for v in runs.values() for m in v),
    }


def _warm_up() -> None:
    """Load the heavy libraries once, untimed, so neither path pays for a cold page cache."""
    code = "import dagster, pymupdf, qdrant_client, sentence_transformers, torch"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


# --- the report ---------------------------------------------------------------------------------


def summarize(docs: int, pages: int, pairs: list[tuple[RunMeasure, RunMeasure]]) -> dict[str, Any]:
    base = statistics.median(b.wall_s for b, _ in pairs)
    dag = statistics.median(d.wall_s for _, d in pairs)
    ratio = dag / base
    return {
        "documents": docs,
        "pages": pages,
        "repeats": len(pairs),
        "baseline_wall_s": round(base, 2),
        "dagster_wall_s": round(dag, 2),
        "ratio": round(ratio, 3),
        "overhead_pct": round((ratio - 1) * 100, 1),
        "target_overhead_pct": TARGET_OVERHEAD * 100,
        "target_met": ratio <= 1 + TARGET_OVERHEAD,
        "baseline_docs_per_s": round(docs / base, 3),
        "dagster_docs_per_s": round(docs / dag, 3),
        "baseline_pages_per_s": round(pages / base, 3),
        "dagster_pages_per_s": round(pages / dag, 3),
        "baseline_peak_rss_mib": round(max(b.peak_rss_mib for b, _ in pairs), 1),
        "dagster_peak_rss_mib": round(max(d.peak_rss_mib for _, d in pairs), 1),
        "points": {"baseline": pairs[-1][0].points, "dagster": pairs[-1][1].points},
        "points_match": all(b.points == d.points for b, d in pairs),
        "all_succeeded": all(b.returncode == 0 and d.returncode == 0 for b, d in pairs),
    }


def print_table(summary: dict[str, Any]) -> None:
    rows = [
        ("wall seconds", summary["baseline_wall_s"], summary["dagster_wall_s"]),
        ("documents / s", summary["baseline_docs_per_s"], summary["dagster_docs_per_s"]),
        ("pages / s", summary["baseline_pages_per_s"], summary["dagster_pages_per_s"]),
        ("peak RSS MiB", summary["baseline_peak_rss_mib"], summary["dagster_peak_rss_mib"]),
        ("points", summary["points"]["baseline"], summary["points"]["dagster"]),
    ]
    print(f"\n{summary['documents']} documents, {summary['pages']} pages, ", end="")
    print(f"median of {summary['repeats']} run(s) each")
    print(f"{'':<16}{'baseline':>12}{'dagster':>12}")
    for label, left, right in rows:
        print(f"{label:<16}{left:>12}{right:>12}")
    verdict = "met" if summary["target_met"] else "MISSED"
    print(
        f"ratio dagster/baseline {summary['ratio']:.3f} (overhead {summary['overhead_pct']} %), "
        f"target <= {summary['target_overhead_pct']:.0f} %: {verdict}; "
        f"points match: {summary['points_match']}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--docs", type=int, default=50, help="First N PDFs of the corpus, sorted.")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--out", type=Path, default=Path("bench/results/ingest.json"))
    parser.add_argument("--repeat", type=int, default=1, help="Baseline/dagster pairs to run.")
    parser.add_argument("--no-warmup", action="store_true", help="Skip the untimed warm-up.")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder.")
    parser.add_argument(
        "--against", type=Path, help="Compare the Dagster path of the code in this folder."
    )
    parser.add_argument("--baseline-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--chunking", type=json.loads, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.baseline_only:
        from docingest.paths import docingest_home

        chunking = args.chunking
        measured = plain_ingest(
            args.folder, docingest_home(), chunking["strategy"], chunking["params"]
        )
        args.result.write_text(json.dumps(measured))
        return 0
    pdfs = sorted(args.corpus.glob("*.pdf"))[: args.docs]
    if len(pdfs) < args.docs:
        parser.error(f"{args.corpus} holds {len(pdfs)} PDFs, fewer than --docs {args.docs}")
    work = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    folder = work / "docs"
    folder.mkdir()
    for pdf in pdfs:
        shutil.copy2(pdf, folder / pdf.name)
    if not args.no_warmup:
        _warm_up()
    if args.against:
        compared = compare_code(folder, work, args.against.resolve(), args.repeat)
        compared |= {"documents": len(pdfs), "engine": os.environ.get("DOCINGEST_PARSE_ENGINE")}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(compared, indent=2) + "\n")
        print(json.dumps(compared, indent=2))
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        return 0 if compared["all_succeeded"] else 1
    chunking = pipeline_chunking()
    pairs: list[tuple[RunMeasure, RunMeasure]] = []
    for index in range(args.repeat):
        baseline = run_baseline(folder, work, index, chunking)
        print(f"run {index + 1}: baseline {baseline.wall_s:.1f} s", end="", flush=True)
        dagster = run_dagster(folder, work, index)
        print(f", dagster {dagster.wall_s:.1f} s", flush=True)
        pairs.append((baseline, dagster))
    pages = int(pairs[0][0].details.get("pages", 0))
    summary = summarize(len(pdfs), pages, pairs)
    report = {
        "summary": summary,
        "chunking": chunking,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "runs": [asdict(m) for pair in pairs for m in pair],
        "work_dir": str(work) if args.keep else None,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print_table(summary)
    print(f"baseline stages (s): {pairs[-1][0].details.get('timings_s')}")
    print(f"dagster breakdown (s): {json.dumps(pairs[-1][1].details['breakdown'])}")
    print(f"report: {args.out}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if summary["all_succeeded"] and summary["points_match"] else 1


if __name__ == "__main__":
    sys.exit(main())
