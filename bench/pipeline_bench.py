"""Parsing ahead on and off: `docingest ingest` of long real PDFs, pages/s and cores kept busy.

Run from the repository root:

    .venv/bin/python -m bench.pipeline_bench [--engines fast auto] [--repeat 1] \\
        [--out bench/results/pipeline.json]

For each engine, `docingest ingest` (a subprocess, as a user runs it) of a fixed set of twelve
PDFs of `../shared/corpus/retrieval` (299 pages: filings, papers, reports, manuals) into a
fresh DOCINGEST_HOME, once with the parser's defaults (documents parsed ahead in worker
processes while the step embeds and writes the one before) and once with
`DOCINGEST_PARSE_AHEAD=0` (one document at a time, as before), the order alternating from one
engine (and repeat) to the next so that both sides see the same load. Measured per ingest:
wall seconds, pages/s, CPU seconds of the process tree (the CLI and every process under it:
the forkserver and the parse workers; sampled every 0.2 s with psutil, the CLI's own from
wait4) and CPU utilization = CPU seconds / wall seconds, in cores; with the step's share of the
wall time. The load average is recorded before and after: the machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from bench.ingest_bench import _child_env, _count_points, _dagster_breakdown

SHARED = Path(__file__).resolve().parents[2] / "shared"
RETRIEVAL = SHARED / "corpus" / "retrieval"
# Fixed, so that figures compare across commits: 299 pages in twelve documents of 9 to 49.
PDFS = (
    "docugami-sec10q/pdfs/2022 Q3 AAPL.pdf",
    "docugami-sec10q/pdfs/2023 Q1 INTC.pdf",
    "docugami-sec10q/pdfs/2022 Q3 NVDA.pdf",
    "mmlongbench/pdfs/2303.05039v2.pdf",
    "mmlongbench/pdfs/0e94b4197b10096b1f4c699701570fbf.pdf",
    "mmlongbench/pdfs/GPL-Graduate-Studies-Professional-Learning-Brochure-Jul-2021.pdf",
    "mmlongbench/pdfs/2023.findings-emnlp.248.pdf",
    "mmlongbench/pdfs/DSA-278777.pdf",
    "mmlongbench/pdfs/PG_2020.03.09_US-Germany_FINAL.pdf",
    "mmlongbench/pdfs/Independents-Report.pdf",
    "mmlongbench/pdfs/PIP_Seniors-and-Tech-Use_040314.pdf",
    "mmlongbench/pdfs/watch_d.pdf",
)
SIDES = {"ahead": {}, "one_at_a_time": {"DOCINGEST_PARSE_AHEAD": "0"}}
SAMPLE_S = 0.2


def _folder(work: Path, limit: int) -> tuple[Path, int]:
    """The first `limit` PDFs copied into one upload folder, and their page count."""
    import pymupdf

    folder = work / "uploads"
    folder.mkdir()
    pages = 0
    for name in PDFS[:limit]:
        source = RETRIEVAL / name
        shutil.copyfile(source, folder / source.name)  # a link out of the folder is refused
        with pymupdf.open(source) as doc:
            pages += doc.page_count
    return folder, pages


class _TreeCpu:
    """CPU seconds of every process under a running one, from psutil samples: a process's
    latest sample counts (the parse workers live as long as the CLI, idle at its end)."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.seconds: dict[int, float] = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._done.wait(SAMPLE_S):
            try:
                processes = self.root.children(recursive=True)
            except psutil.Error:
                return
            for process in processes:
                try:
                    times = process.cpu_times()
                except psutil.Error:
                    continue
                self.seconds[process.pid] = times.user + times.system

    def stop(self) -> float:
        """CPU seconds of the processes under the root (the root's own come from wait4)."""
        self._done.set()
        self._thread.join()
        return sum(self.seconds.values())


def ingest(folder: Path, home: Path, models: Path, engine: str, side: str) -> dict[str, Any]:
    """One `docingest ingest` into a fresh home: wall, CPU of the tree, pages/s, breakdown."""
    home.mkdir(parents=True)
    (home / "models").symlink_to(models)  # the ONNX export, made once, untimed
    env = _child_env(home) | {"DOCINGEST_PARSE_ENGINE": engine} | SIDES[side]
    cmd = [sys.executable, "-m", "pipelines.cli", "ingest", str(folder), "--json"]
    log, out = home.parent / "ingest.log", home.parent / "summary.json"
    with log.open("wb") as sink, out.open("wb") as summary:
        epoch, clock = time.time(), time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=home.parent, stdout=summary, stderr=sink)
        tree = _TreeCpu(proc.pid)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - clock
        under = tree.stop()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"ingest failed ({proc.returncode}); see {log}")
    cli_cpu = usage.ru_utime + usage.ru_stime
    cpu = cli_cpu + under
    breakdown = _dagster_breakdown(home, epoch, wall)
    return {
        "engine": engine,
        "side": side,
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "cpu_s_cli": round(cli_cpu, 2),
        "cpu_s_workers": round(under, 2),
        "cores_busy": round(cpu / wall, 2),
        "step_s": breakdown["step_seconds_total"],
        "points": _count_points(home),
        "summary": json.loads(out.read_text()),
    }


def _export_model(models: Path) -> None:
    """Export the embedding model once (a home of its own), so no timed ingest pays for it."""
    home = models.parent / "export-home"
    code = "from docingest.embedding import get_embedder; get_embedder()"
    subprocess.run([sys.executable, "-c", code], env=_child_env(home), check=True)
    (home / "models").rename(models)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--engines", nargs="+", default=["fast", "auto"])
    parser.add_argument("--repeat", type=int, default=1, help="Ahead/one-at-a-time pairs.")
    parser.add_argument("--limit", type=int, default=len(PDFS), help="First N of the PDFs.")
    parser.add_argument("--out", type=Path, default=Path("bench/results/pipeline.json"))
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="pipeline-bench-") as tmp:
        work = Path(tmp)
        folder, pages = _folder(work, args.limit)
        models = work / "models"
        _export_model(models)
        load_before = os.getloadavg()
        trials = []
        for repeat in range(args.repeat):
            for n, engine in enumerate(args.engines):
                sides = list(SIDES) if (n + repeat) % 2 == 0 else list(reversed(SIDES))
                for side in sides:
                    home = work / f"{engine}-{side}-{repeat}" / ".docingest"
                    trial = ingest(folder, home, models, engine, side) | {"pages": pages}
                    trial["pages_per_s"] = round(pages / trial["wall_s"], 2)
                    trials.append(trial)
                    print(
                        f"{engine:6} {side:14} {trial['wall_s']:8.1f} s  "
                        f"{trial['pages_per_s']:6.2f} pages/s  {trial['cores_busy']:.2f} cores "
                        f"(step {trial['step_s']:.1f} s, points {trial['points']})",
                        flush=True,
                    )
    report = {
        "pdfs": list(PDFS[: args.limit]),
        "pages": pages,
        "cores": len(os.sched_getaffinity(0)),
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "trials": trials,
    }
    for engine in args.engines:
        for side in SIDES:
            runs = [t for t in trials if (t["engine"], t["side"]) == (engine, side)]
            report[f"{engine}/{side}"] = {
                "pages_per_s": round(sum(t["pages_per_s"] for t in runs) / len(runs), 2),
                "cores_busy": round(sum(t["cores_busy"] for t in runs) / len(runs), 2),
            }
        ratio = (
            report[f"{engine}/ahead"]["pages_per_s"]
            / report[f"{engine}/one_at_a_time"]["pages_per_s"]
        )
        report[f"{engine}/speedup"] = round(ratio, 3)
    print(json.dumps({k: v for k, v in report.items() if k != "trials"}, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
