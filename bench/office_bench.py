"""Office and web documents: docingest beside docling on ../shared/corpus/office.

For each format: documents/s and peak memory of one worker process that parses all of the
format's files (docingest native, docingest office_mode=convert for word processing, docling's
DocumentConverter from a separate venv), how many succeeded, and the similarity of each
markdown to the reference conversions (NID/TEDS/MHS of ../shared/tools/odl_score.py for the
markdown references; NID on the text for Readability's HTML; the share of markitdown's
must/must-not strings honoured).

    nice python -m bench.office_bench [--docling-python /tmp/docling-venv/bin/python]

The worker mode (`--worker ENGINE`) imports only what its engine needs, so the docling worker
runs under docling's own interpreter without this project installed.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "office"
TOOLS = ROOT.parent / "shared" / "tools"
WORD_PROCESSING = {"docx", "docm", "odt", "doc", "rtf"}
WORKER_TIMEOUT_S = 1200


# --- worker (runs in its own process) -------------------------------------------------------
def _worker(engine: str, files: list[str], out_dir: Path, convert_engine: str) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    if engine == "docling":
        from docling.document_converter import DocumentConverter

        converter = DocumentConverter()

        def convert(path: Path) -> str:
            return converter.convert(path).document.export_to_markdown()

    else:
        from docingest.parsing import ParseOptions, parse_bytes

        options = ParseOptions(
            office_mode="convert" if engine == "convert" else "native",
            engine=convert_engine,  # what reads the PDF LibreOffice makes (convert mode)
        )

        def convert(path: Path) -> str:
            return parse_bytes(
                path.read_bytes(), document_id=path.name, source=str(path),
                filename=path.name, options=options,
            ).markdown  # fmt: skip

    # One untimed document first: both tools load their readers lazily on first use, and a
    # long-lived ingestion worker pays that once.
    for name in files[:1]:
        with contextlib.suppress(Exception):  # the timed loop records it
            convert(Path(name))
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    results = {}
    started = time.perf_counter()
    for name in files:
        path = Path(name)
        one = time.perf_counter()
        try:
            markdown = convert(path)
            (out_dir / f"{path.name}.md").write_text(markdown, encoding="utf-8")
            results[name] = {"ok": True, "s": round(time.perf_counter() - one, 3)}
        except Exception as exc:  # a benchmark records every failure and goes on
            results[name] = {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    json.dump(
        {
            "seconds": seconds,
            "peak_rss_mb": round(max(peak, children) / 1024, 1),
            "import_rss_mb": round(base_rss / 1024, 1),
            "files": results,
        },
        sys.stdout,
    )


# --- scoring --------------------------------------------------------------------------------
def _scores(doc: Path, markdown: str) -> dict[str, float]:
    sys.path.insert(0, str(TOOLS))
    from bs4 import BeautifulSoup
    from odl_metrics import nid_scores, score_document

    out: dict[str, float] = {}
    for producer in ("docling", "unstructured"):
        reference = doc.with_name(f"{doc.name}.gt-{producer}.md")
        if reference.is_file():
            score = score_document(reference.read_text(encoding="utf-8"), markdown)
            for key in ("overall", "nid", "teds", "mhs"):
                if score[key] is not None:
                    out[f"{producer}_{key}"] = score[key]
    readability = doc.with_name(f"{doc.name}.gt-readability.html")
    if readability.is_file():
        text = BeautifulSoup(readability.read_text(encoding="utf-8"), "html.parser").get_text(" ")
        plain = BeautifulSoup(markdown, "html.parser").get_text(" ")
        nid, _ = nid_scores(text, plain)
        if nid is not None:
            out["readability_nid"] = nid
    vectors = doc.with_name(f"{doc.name}.gt-markitdown-vectors.json")
    if vectors.is_file():
        spec = json.loads(vectors.read_text(encoding="utf-8"))
        must = spec.get("must_include", [])
        never = spec.get("must_not_include", [])
        hits = sum(s in markdown for s in must) + sum(s not in markdown for s in never)
        if must or never:
            out["markitdown_vectors"] = hits / (len(must) + len(never))
    return out


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _run(engine: str, python: str, files: list[str], out_dir: Path, convert_engine: str) -> dict:
    command = [python, str(Path(__file__).resolve()), "--worker", engine, "--out", str(out_dir)]
    command += ["--convert-engine", convert_engine]
    env = {"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": "/tmp"}
    try:
        done = subprocess.run(
            [*command, *files], capture_output=True, text=True, timeout=WORKER_TIMEOUT_S,
            env=env, check=False,
        )  # fmt: skip
        return dict(json.loads(done.stdout.strip().splitlines()[-1]))
    except (subprocess.TimeoutExpired, json.JSONDecodeError, IndexError) as exc:
        return {"error": f"{type(exc).__name__}", "files": {}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=Path("/tmp/office-bench"))
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--docling-python", default="/tmp/docling-venv/bin/python")
    parser.add_argument("--formats", default="", help="comma list (default: all)")
    parser.add_argument("--skip-convert", action="store_true")
    parser.add_argument(
        "--convert-engine",
        default="fast",
        choices=["fast", "layout"],
        help="PDF engine for office_mode=convert (layout: ~1.5 pages/s on long documents)",
    )
    parser.add_argument("files", nargs="*")
    args = parser.parse_args()
    if args.worker:
        _worker(args.worker, args.files, args.out, args.convert_engine)
        return
    rows = list(csv.DictReader((args.corpus / "MANIFEST.csv").open(encoding="utf-8")))
    families: dict[str, list[str]] = {}
    for row in rows:
        families.setdefault(row["family"], []).append(str(args.corpus / row["path"]))
    wanted = set(filter(None, args.formats.split(",")))
    engines = [("docingest", sys.executable), ("convert", sys.executable)]
    if Path(args.docling_python).is_file():
        engines.append(("docling", args.docling_python))
    report: dict[str, dict] = {}
    for family, files in sorted(families.items()):
        if wanted and family not in wanted:
            continue
        report[family] = {"count": len(files)}
        for engine, python in engines:
            if engine == "convert" and (args.skip_convert or family not in WORD_PROCESSING):
                continue
            out_dir = args.out / engine / family
            run = _run(engine, python, files, out_dir, args.convert_engine)
            ok = [f for f, r in run.get("files", {}).items() if r.get("ok")]
            scores: dict[str, list[float]] = {}
            for name in ok:
                markdown = (out_dir / f"{Path(name).name}.md").read_text(encoding="utf-8")
                for key, value in _scores(Path(name), markdown).items():
                    scores.setdefault(key, []).append(value)
            means = {key: _mean(values) for key, values in scores.items()}
            seconds = run.get("seconds")
            report[family][engine] = {
                "succeeded": len(ok),
                "docs_per_s": round(len(files) / seconds, 2) if seconds else None,
                "peak_rss_mb": run.get("peak_rss_mb"),
                "scores": {k: round(v, 3) for k, v in means.items() if v is not None},
                "score_docs": {key: len(values) for key, values in scores.items()},
                "failures": {
                    Path(name).name: result.get("error")
                    for name, result in run.get("files", {}).items()
                    if not result.get("ok")
                },
                "error": run.get("error"),
            }
            print(family, engine, json.dumps(report[family][engine]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
