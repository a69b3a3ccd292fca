"""End to end on the retrieval corpus: `docingest ingest` per engine against the tutorial pipeline.

Run from the repository root:

    nice -n 10 .venv/bin/python -m bench.e2e_bench [--every 12] [--groups 2] \\
        [--engines fast,auto] [--out bench/results/e2e.json]

The sample is every `--every`-th PDF (by name, from the first) of each set of
`../shared/corpus/retrieval`, and the questions whose gold documents all lie in it. Pipelines,
each a subprocess with its own fresh `DOCINGEST_HOME` (the exported ONNX model shared, as on any
machine after its first run), over the same PDFs in the same run:

- `tutorial`: PyMuPDF page text -> LangChain RecursiveCharacterTextSplitter(1000, 200) ->
  all-MiniLM-L6-v2 on docingest's own embedding runtime (the ONNX backend, pinned to fp32: the
  model as trained, whatever precision docingest defaults to) -> vectors in memory (an .npz),
  searched by exact cosine. No store, no state: the 20-line script, given our runtime: the
  strict baseline.
- `tutorial-st` (`--tutorials tutorial,tutorial-st`): the same script as its users write it,
  the model run by sentence-transformers (torch, `encode` in batches of 32: what LangChain's
  HuggingFaceEmbeddings calls), queries too: the pipeline the issue measured.
- `docingest-<engine>`: `docingest ingest UPLOADS --json` (python -m pipelines.cli, the command a
  user runs) with `DOCINGEST_PARSE_ENGINE=<engine>`, everything else at its defaults; searched in
  its store the way `docingest search` does (`docingest.search.search`, default mode, queries at
  the precision of the collection's points).

The sample is split into `--groups` interleaved groups of PDFs; each group is ingested by every
pipeline in turn, the order rotating from one group to the next (load on a shared machine
falls on all of them alike), each docingest run adding the group's files to its upload folder.
Reported per pipeline: wall seconds (sum over its subprocesses, start-up and model load
included), pages/s, CPU seconds of the children, and retrieval scored by
`../shared/tools/retrieval_score.py` (mmlongbench within the gold document and over the sample's
documents of the set; docugami over the sample's filings).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np

from bench.retrieval_bench import (
    CORPUS,
    TOP_K,
    Hit,
    Searcher,
    load_questions,
    page_texts,
    question_scopes,
    run_questions,
    score,
    top_hits,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = "tutorial"
TUTORIAL_ST = "tutorial-st"
TUTORIALS = (TUTORIAL, TUTORIAL_ST)
SETS = ("docugami-sec10q", "mmlongbench")


def sample(every: int) -> dict[str, list[Path]]:
    """Every `every`-th PDF of each set, by name, from the first."""
    return {name: sorted((CORPUS / name / "pdfs").glob("*.pdf"))[::every] for name in SETS}


def sample_questions(set_name: str, pdfs: Sequence[Path]) -> list[dict[str, Any]]:
    """The set's questions whose gold documents are all in the sample."""
    names = {pdf.name for pdf in pdfs}
    return [q for q in load_questions(set_name) if set(q.get("docs") or [q.get("doc")]) <= names]


# --- the tutorial pipeline, run as its own process --------------------------------------------


class _SentenceTransformers:
    """The model as a tutorial runs it: sentence-transformers, batches of 32."""

    def __init__(self) -> None:
        from docingest.embedding import _load_minilm

        self.model = _load_minilm()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = self.model.encode(
            list(texts), batch_size=32, normalize_embeddings=True, show_progress_bar=False
        )
        return [list(map(float, v)) for v in vectors]

    def embed_query(self, text: str) -> list[float]:
        return self.embed([text])[0]


def tutorial_embedder(name: str) -> Any:
    """`tutorial`: docingest's runtime at fp32 (the model as trained, whatever ours is);
    `tutorial-st`: sentence-transformers."""
    from docingest.embedding import get_embedder

    return _SentenceTransformers() if name == TUTORIAL_ST else get_embedder(precision="fp32")


def tutorial_ingest(pdfs: Sequence[Path], out: Path, name: str = TUTORIAL) -> None:
    """Page text -> RecursiveCharacterTextSplitter(1000, 200) -> MiniLM; vectors into `out`."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    embedder = tutorial_embedder(name)
    documents: list[str] = []
    pages: list[int] = []
    vectors: list[list[float]] = []
    for pdf in pdfs:
        chunks = [
            (n, piece)
            for n, text in enumerate(page_texts(pdf), 1)
            for piece in splitter.split_text(text)
        ]
        vectors.extend(embedder.embed([piece for _, piece in chunks]))
        documents.extend(f"{pdf.parent.parent.name}/{pdf.name}" for _ in chunks)
        pages.extend(n for n, _ in chunks)
    np.savez(out, vectors=np.asarray(vectors, "float32"), documents=documents, pages=pages)


# --- running and measuring the pipelines ------------------------------------------------------


def _child_env(home: Path, engine: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env["DOCINGEST_HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    for key in ("DAGSTER_HOME", "QDRANT_URL", "QDRANT_API_KEY", "DOCINGEST_COLLECTION"):
        env.pop(key, None)  # the embedded defaults
    if engine:
        env["DOCINGEST_PARSE_ENGINE"] = engine
    return env


def _run(cmd: list[str], env: dict[str, str], log: Path, out: Path) -> dict[str, float]:
    """Wall and CPU seconds of one subprocess (its own rusage); its stdout into `out`."""
    load = os.getloadavg()[0]
    with log.open("ab") as sink, out.open("wb") as stdout:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=REPO_ROOT, stdout=stdout, stderr=sink)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} exited {code}; see {log}")
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "load": load}


class Pipeline:
    """One pipeline's home, upload folder and measured totals across the groups."""

    def __init__(self, name: str, work: Path, models: Path) -> None:
        self.name = name
        self.engine = None if name in TUTORIALS else name.removeprefix("docingest-")
        self.home = work / name / "home"
        self.uploads = work / name / "uploads"
        self.home.mkdir(parents=True)
        (self.home / "models").symlink_to(models, target_is_directory=True)
        self.log = work / name / "log.txt"
        self.runs: list[dict[str, float]] = []
        self.summaries: list[dict[str, Any]] = []

    def ingest(self, group: Sequence[Path]) -> None:
        env = _child_env(self.home, self.engine)
        if self.engine is None:
            listing = self.home / f"group-{len(self.runs)}.json"
            listing.write_text(json.dumps([str(pdf) for pdf in group]))
            out = self.home / f"group-{len(self.runs)}.npz"
            cmd = [sys.executable, "-m", "bench.e2e_bench", "--tutorial", str(listing), str(out)]
            cmd += ["--tutorials", self.name]
            self.runs.append(_run(cmd, env, self.log, self.home / "tutorial.out"))
            return
        for pdf in group:
            target = self.uploads / pdf.parent.parent.name / pdf.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(pdf, target)
        cmd = [sys.executable, "-m", "pipelines.cli", "ingest", str(self.uploads), "--json"]
        summary_file = self.home / f"summary-{len(self.runs)}.json"
        self.runs.append(_run(cmd, env, self.log, summary_file))
        self.summaries.append(json.loads(summary_file.read_text()))

    def totals(self, pages: int) -> dict[str, Any]:
        wall = sum(run["wall_s"] for run in self.runs)
        cpu = sum(run["cpu_s"] for run in self.runs)
        out: dict[str, Any] = {
            "wall_s": round(wall, 1),
            "pages_per_second": round(pages / wall, 3),
            "cpu_s": round(cpu, 1),
            "load_average_at_starts": [round(run["load"], 1) for run in self.runs],
        }
        if self.summaries:
            out["failed"] = sum(s.get("failed", 0) for s in self.summaries)
            out["chunks"] = sum(s.get("chunks", 0) for s in self.summaries)
            out["step_seconds"] = step_seconds(self.home / "dagster")
        else:
            out["chunks"] = sum(len(np.load(p)["pages"]) for p in self.home.glob("group-*.npz"))
        return out

    def searcher(self) -> tuple[Searcher, Any]:
        """A searcher over this pipeline's index, and what to close after."""

        if self.engine is None:
            embedder = tutorial_embedder(self.name)
            parts = [np.load(p) for p in sorted(self.home.glob("group-*.npz"))]
            matrix = np.concatenate([p["vectors"] for p in parts])
            documents = np.concatenate([p["documents"] for p in parts])
            pages = np.concatenate([p["pages"] for p in parts])
            meta = [
                {"document": d, "page_start": int(n), "page_end": int(n)}
                for d, n in zip(documents, pages, strict=True)
            ]
            folders = np.array([d.split("/")[0] for d in documents])

            def tutorial_search(q: dict[str, Any], scope: str, doc: str | None) -> list[Hit]:
                allowed = documents == f"{scope}/{doc}" if doc else folders == scope
                vector = np.asarray(embedder.embed_query(q["question"]), "float32")
                return top_hits(matrix @ vector, meta, allowed)

            return tutorial_search, None
        from docingest.filters import PATH_PREFIXES_KEY, Condition
        from docingest.metadata import RESERVED_KEYS
        from docingest.search import query_embedder, search
        from docingest.vectorstore import VectorStore

        store = VectorStore(collection="documents", path=str(self.home / "qdrant"))
        embedder = query_embedder(store)  # at the precision the ingest embedded with

        def docingest_search(q: dict[str, Any], scope: str, doc: str | None) -> list[Hit]:
            condition = (
                Condition("document_id", (f"{scope}/{doc}",))
                if doc
                else Condition(PATH_PREFIXES_KEY, (scope,))
            )
            hits = search(
                store, embedder.embed_query, q["question"], top_k=TOP_K,
                filters=(condition,), reserved=RESERVED_KEYS,
            )  # fmt: skip
            return [
                {"document": unquote(h["document_id"]), "page_start": h["page_start"],
                 "page_end": h["page_end"]}
                for h in hits
            ]  # fmt: skip

        return docingest_search, store


def step_seconds(dagster_home: Path) -> dict[str, float]:
    """Seconds per asset step over all the instance's runs: where a docingest ingest went."""
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(dagster_home))
    steps: dict[str, float] = {}
    for run in instance.get_runs():
        for step in instance.get_run_step_stats(run.run_id):
            if step.start_time and step.end_time:
                steps[step.step_key] = (
                    steps.get(step.step_key, 0.0) + step.end_time - step.start_time
                )
    instance.dispose()
    return {key: round(value, 1) for key, value in sorted(steps.items())}


def _export_model(models: Path) -> None:
    """The ONNX export every home would do on its first run, done once before timing."""
    env = _child_env(models.parent / "export-home", None)
    code = (
        "from docingest.embedding import PRECISIONS, get_embedder\n"
        "for precision in PRECISIONS: get_embedder(precision=precision).embed(['warm'])"
    )
    subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO_ROOT, check=True)
    (models.parent / "export-home" / "models").rename(models)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=12, help="every N-th PDF of each set")
    parser.add_argument("--groups", type=int, default=2, help="groups the order rotates over")
    parser.add_argument("--engines", default="fast,auto", help="docingest engines to run")
    parser.add_argument("--out", type=Path, default=None, help="write the report as JSON")
    parser.add_argument(
        "--tutorials", default=TUTORIAL, help=f"baselines to run, of {', '.join(TUTORIALS)}"
    )
    parser.add_argument("--tutorial", nargs=2, type=Path, help=argparse.SUPPRESS)  # the child
    args = parser.parse_args(argv)
    if args.tutorial:
        listing, out = args.tutorial
        tutorial_ingest([Path(p) for p in json.loads(listing.read_text())], out, args.tutorials)
        return 0
    tutorials = [t for t in TUTORIALS if t in args.tutorials.split(",")]
    sets = sample(args.every)
    pdfs = [pdf for group in sets.values() for pdf in group]
    pages = {pdf: len(page_texts(pdf)) for pdf in pdfs}
    groups = [pdfs[g :: args.groups] for g in range(args.groups)]
    names = [*tutorials, *(f"docingest-{e}" for e in args.engines.split(","))]
    report: dict[str, Any] = {
        "sample": {s: [p.name for p in group] for s, group in sets.items()},
        "pages": sum(pages.values()),
        "cores": os.cpu_count(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        _export_model(work / "models")
        pipelines = [Pipeline(name, work, work / "models") for name in names]
        for g, group in enumerate(groups):
            for pipeline in pipelines[g % len(pipelines) :] + pipelines[: g % len(pipelines)]:
                print(f"group {g + 1}/{len(groups)}: {pipeline.name}", file=sys.stderr, flush=True)
                pipeline.ingest(group)
                run = pipeline.runs[-1]  # each run as it ends: a stopped bench keeps its figures
                print(
                    f"  {pipeline.name} group {g + 1}: {sum(pages[p] for p in group)} pages, "
                    f"wall {run['wall_s']:.1f} s, cpu {run['cpu_s']:.1f} s, load {run['load']:.1f}",
                    file=sys.stderr,
                    flush=True,
                )
        report["ingest"] = {p.name: p.totals(report["pages"]) for p in pipelines}
        print(json.dumps(report["ingest"], indent=1), file=sys.stderr, flush=True)
        report["retrieval"] = retrieval(sets, pipelines, work)
    for name in names[len(tutorials) :]:
        for tutorial in tutorials:
            report["ingest"][name][f"over_{tutorial.replace('-', '_')}"] = round(
                report["ingest"][name]["pages_per_second"]
                / report["ingest"][tutorial]["pages_per_second"],
                2,
            )
    print(json.dumps(report, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1) + "\n")
    return 0


def retrieval(
    sets: dict[str, list[Path]], pipelines: Sequence[Pipeline], work: Path
) -> dict[str, Any]:
    """Scores by question scope and pipeline, with the scope's question count."""
    results: dict[str, Any] = {}
    searchers = {p.name: p.searcher() for p in pipelines}
    try:
        for set_name, pdfs in sets.items():
            questions = sample_questions(set_name, pdfs)
            qpath = work / f"{set_name}-questions.jsonl"
            qpath.write_text("".join(json.dumps(q) + "\n" for q in questions))
            for scope, scoped in question_scopes(set_name, questions).items():
                results[scope] = {"questions": len(scoped)}
                for name, (search, _) in searchers.items():
                    hits = run_questions(
                        scope, scoped, lambda q, doc, s=search, folder=set_name: s(q, folder, doc)
                    )
                    results[scope][name] = score(qpath, hits, work, f"{scope}-{name}")
    finally:
        for _, store in searchers.values():
            if store is not None:
                store.close()
    return results


if __name__ == "__main__":
    sys.exit(main())
