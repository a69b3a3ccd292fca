"""Peak memory of `docingest ingest` on one long PDF, by page count and engine.

Run from the repository root:

    .venv/bin/python -m bench.memory_bench [--runs fast:100,fast:300,fast:1000,auto:100] \\
        [--out bench/results/memory.json]

For each `engine:pages` pair, a PDF of that many pages is bound from the real PDFs of
`../shared/corpus/retrieval` (whole documents in name order, the last one cut, with PyMuPDF's
`insert_pdf`: their text, tables and images as they are) and ingested alone by
`python -m pipelines.cli ingest DIR --json` in a subprocess with a fresh `DOCINGEST_HOME`
(embedded defaults: SQLite instance, Qdrant Edge) and `DOCINGEST_PARSE_ENGINE=engine`.

While it runs, the process tree (the CLI, the forkserver, the parse workers) is read from /proc
every `--interval` seconds: the peak of the sum of the processes' RSS, and each process's own
peak (VmHWM, exact: the kernel keeps it). The sampled sum can miss a peak shorter than the
interval; a process's VmHWM cannot.

The embedding model is exported to ONNX once, before the runs, and copied into each fresh home:
a first ingest on an empty home also loads torch to export and check it, a one-time cost the
figures leave out (`--cold-model` keeps it in).

`--compare DIR` measures before and after in the same run: each `engine:pages` pair is ingested
with the code in DIR (a checkout of the commit before a change) and with this checkout's,
alternating which goes first from pair to pair.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
RETRIEVAL = REPO_ROOT.parent / "shared/corpus/retrieval"
DEFAULT_RUNS = "fast:100,fast:300,fast:1000,auto:100,auto:300,layout:100"
_KIB = 1024


def bind_pdf(pages: int, out: Path, corpus: Path = RETRIEVAL) -> list[str]:
    """Write a PDF of exactly `pages` pages bound from the corpus PDFs; the sources used."""
    import pymupdf

    sources = sorted(corpus.rglob("*.pdf"))
    used: list[str] = []
    with pymupdf.open() as bound:
        for source in sources:
            if bound.page_count >= pages:
                break
            with pymupdf.open(source) as doc:
                take = min(doc.page_count, pages - bound.page_count)
                bound.insert_pdf(doc, to_page=take - 1)
            used.append(source.name)
        if bound.page_count < pages:
            raise SystemExit(f"the corpus has only {bound.page_count} pages, {pages} asked")
        bound.save(out, garbage=3, deflate=True)
    return used


def _ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def _tree(root: int) -> list[int]:
    """The root and every live descendant."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            ppid = _ppid(int(entry))
            if ppid is not None:
                parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found


def _status_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, KiB ({} once it is gone)."""
    values = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    except OSError:
        return {}
    return values


def _role(pid: int, root: int, ppids: dict[int, int | None]) -> str:
    if pid == root:
        return "cli"
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        cmdline = ""
    if "forkserver" in cmdline:
        # The forkserver's children (the parse workers) keep its command line.
        return "forkserver" if ppids.get(pid) == root else "parse worker"
    if "resource_tracker" in cmdline:
        return "resource tracker"
    return cmdline[:60] or "?"


@dataclass
class TreeMemory:
    """What the polling saw: the peak of the tree's RSS sum, each process's own peak."""

    peak_tree_mib: float = 0.0
    peak_tree_at_s: float = 0.0
    processes: dict[int, dict[str, Any]] = field(default_factory=dict)
    samples: list[tuple[float, float]] = field(default_factory=list)

    def poll(self, root: int, elapsed: float) -> None:
        pids = _tree(root)
        ppids = {pid: _ppid(pid) for pid in pids}
        total = 0
        for pid in pids:
            values = _status_kib(pid)
            if not values:
                continue
            total += values.get("VmRSS", 0)
            seen = self.processes.setdefault(pid, {"role": _role(pid, root, ppids)})
            seen["peak_mib"] = round(max(seen.get("peak_mib", 0.0), values["VmHWM"] / _KIB), 1)
        mib = total / _KIB
        self.samples.append((round(elapsed, 1), round(mib, 1)))
        if mib > self.peak_tree_mib:
            self.peak_tree_mib, self.peak_tree_at_s = round(mib, 1), round(elapsed, 1)

    def by_role(self) -> dict[str, float]:
        """Each role's largest own peak (a replaced worker counts once, its largest)."""
        peaks: dict[str, float] = {}
        for seen in self.processes.values():
            if "peak_mib" in seen:
                peaks[seen["role"]] = max(peaks.get(seen["role"], 0.0), seen["peak_mib"])
        return peaks


def _env(home: Path, engine: str, code: Path = REPO_ROOT) -> dict[str, str]:
    env = dict(os.environ)
    for key in ("DAGSTER_HOME", "QDRANT_URL", "QDRANT_API_KEY", "DOCINGEST_COLLECTION"):
        env.pop(key, None)  # embedded defaults under DOCINGEST_HOME
    env["DOCINGEST_HOME"] = str(home)
    env["DOCINGEST_PARSE_ENGINE"] = engine
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(code), env.get("PYTHONPATH")]))
    return env


def export_model(models: Path) -> None:
    """Export and check the ONNX model once, into `models` (a home's `models` folder)."""
    home = models.parent
    code = "from docingest.embedding import get_embedder; get_embedder().embed(['warm'])"
    subprocess.run([sys.executable, "-c", code], env=_env(home, "fast"), check=True)


def measure_ingest(
    folder: Path,
    home: Path,
    engine: str,
    interval: float = 0.2,
    timeout: float = 4 * 3600,
    code: Path = REPO_ROOT,
) -> dict[str, Any]:
    """Run `docingest ingest folder` (the code in `code`) in a subprocess and follow its process
    tree's memory (also written to `home/memory.json`)."""
    cmd = [sys.executable, "-m", "pipelines.cli", "ingest", str(folder), "--json"]
    memory = TreeMemory()
    with (home / "ingest.log").open("wb") as log, (home / "summary.json").open("wb") as out:
        started = time.monotonic()
        env = _env(home, engine, code)
        child = subprocess.Popen(cmd, env=env, stdout=out, stderr=log, cwd=home)
        while True:
            # wait4, not Popen.poll: the child's own rusage (ru_maxrss) comes with its status.
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            memory.poll(child.pid, time.monotonic() - started)
            if time.monotonic() - started > timeout:
                os.kill(child.pid, signal.SIGKILL)  # not Popen.kill: it would reap the child
            time.sleep(interval)
        wall = time.monotonic() - started
        child.returncode = os.waitstatus_to_exitcode(status)
    text = (home / "summary.json").read_text()
    summary = json.loads(text[text.index("{") :]) if "{" in text else {"output": text[-2000:]}
    result = {
        "engine": engine,
        "code": str(code),
        "exit_code": child.returncode,
        "wall_s": round(wall, 1),
        "peak_tree_mib": memory.peak_tree_mib,
        "peak_tree_at_s": memory.peak_tree_at_s,
        "peak_by_role_mib": memory.by_role(),
        "processes": list(memory.processes.values()),
        "pages": summary.get("pages"),
        "chunks": summary.get("chunks"),
        "points": summary.get("points"),
        "summary": summary,
        "rss_timeline": memory.samples[:: max(1, len(memory.samples) // 200)],
        "cli_ru_maxrss_mib": round(usage.ru_maxrss / _KIB, 1),
    }
    (home / "memory.json").write_text(json.dumps(result, indent=2))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", default=DEFAULT_RUNS, help="engine:pages, comma-separated")
    parser.add_argument("--corpus", type=Path, default=RETRIEVAL, help="PDFs to bind from")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between polls")
    parser.add_argument("--cold-model", action="store_true", help="export the model in each run")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--compare", type=Path, default=None, help="a checkout to run before this one, alternating"
    )
    args = parser.parse_args()
    pairs = [(engine, int(pages)) for engine, pages in (r.split(":") for r in args.runs.split(","))]
    runs = [(engine, pages, REPO_ROOT) for engine, pages in pairs]
    if args.compare:
        runs = []
        for turn, (engine, pages) in enumerate(pairs):
            codes = [args.compare.resolve(), REPO_ROOT]
            runs.extend((engine, pages, code) for code in (codes if turn % 2 == 0 else codes[::-1]))

    work = Path(tempfile.mkdtemp(prefix="memory-bench-"))
    models = work / "model-home" / "models"
    if not args.cold_model:
        export_model(models)
    report: dict[str, Any] = {"loadavg_before": Path("/proc/loadavg").read_text().split()[:3]}
    pdfs: dict[int, Path] = {}
    results = []
    for number, (engine, pages, code) in enumerate(runs):
        if pages not in pdfs:
            folder = work / f"pdf-{pages}"
            folder.mkdir()
            pdfs[pages] = folder
            sources = bind_pdf(pages, folder / f"bound-{pages}.pdf", args.corpus)
            report.setdefault("bound_from", {})[pages] = sources
        home = work / f"home-{number}-{engine}-{pages}"
        home.mkdir()
        if not args.cold_model:
            shutil.copytree(models, home / "models")
        measured = measure_ingest(pdfs[pages], home, engine, args.interval, code=code)
        result = {"pages_asked": pages, **measured}
        result["loadavg_after"] = Path("/proc/loadavg").read_text().split()[:3]
        results.append(result)
        roles = ", ".join(f"{r} {m:.0f}" for r, m in sorted(result["peak_by_role_mib"].items()))
        print(
            f"{code.name:>8} {engine:>6} {pages:>5} pages: "
            f"tree peak {result['peak_tree_mib']:.0f} MiB "
            f"at {result['peak_tree_at_s']} s of {result['wall_s']} s; own peaks MiB: {roles}; "
            f"chunks {result['chunks']} points {result['points']} exit {result['exit_code']} "
            f"load {' '.join(result['loadavg_after'])}",
            flush=True,
        )
    report["runs"] = results
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
    if args.keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    if any(r["exit_code"] != 0 or r["points"] != r["chunks"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
