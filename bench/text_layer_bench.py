"""What text-layer hygiene does to parse quality: odl-bench scored with each option set.

Run from the repository root:

    .venv/bin/python -m bench.text_layer_bench [--limit N] [--engine layout]

Parses every PDF (sorted by name) in this process with the engine and the behaviour before
these options (`before`: hidden and diagonal text kept). For each other option set (`default`:
the options' defaults; `diagonal`: defaults plus skip_diagonal_text) it runs the text-layer
cleaning alone on every PDF and parses again only the documents it changes: where it removes
nothing the engine reads the very same page, so their markdown is `before`'s. Writes `<id>.md`
per set, scores each folder with ../shared/tools/odl_score.py and prints overall/NID/TEDS/MHS
per set, the documents each set changes (characters removed, by reason), the cleaning's
seconds and the parse seconds.
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

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = REPO_ROOT.parent / "shared"
CORPUS = SHARED / "corpus/odl-bench/pdfs"
SCORER = SHARED / "tools/odl_score.py"
OPTION_SETS: dict[str, dict[str, Any]] = {
    "before": {"remove_hidden_text": False, "skip_diagonal_text": False},
    "default": {},
    "diagonal": {"skip_diagonal_text": True},
}


def _score(folder: Path, ids_from: Path) -> dict[str, float]:
    report = folder.parent / f"{folder.name}.score.json"
    subprocess.run(
        [
            sys.executable,
            str(SCORER),
            str(folder),
            "--ids-from",
            str(ids_from),
            "--out",
            str(report),
        ],
        check=True,
        cwd=REPO_ROOT,
        capture_output=True,
    )
    scores = json.loads(report.read_text())["aggregate"]
    return {metric: scores[metric] for metric in ("overall", "nid", "teds", "mhs")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--engine", default="layout")
    args = parser.parse_args()
    import pymupdf

    from docingest.parsing import ParseOptions, parse_file
    from docingest.parsing.text_layer import clean_text_layer

    pdfs = sorted(CORPUS.glob("*.pdf"))[: args.limit]
    work = Path(tempfile.mkdtemp(prefix="text-layer-bench-"))
    seconds = dict.fromkeys(OPTION_SETS, 0.0)
    texts: dict[str, dict[str, str]] = {name: {} for name in OPTION_SETS}
    for name in OPTION_SETS:
        (work / name).mkdir()
    chosen = work / "pdfs"  # the documents run, for the scorer's --ids-from
    chosen.mkdir()
    for pdf in pdfs:
        (chosen / pdf.name).symlink_to(pdf)
    cleaning = dict.fromkeys(OPTION_SETS, 0.0)
    changed: dict[str, dict[str, Any]] = {name: {} for name in OPTION_SETS}
    for pdf in pdfs:
        for name, extra in OPTION_SETS.items():
            options = ParseOptions(engine=args.engine, isolate=False, **extra)
            if name != "before":
                with pymupdf.open(pdf) as doc:
                    started = time.perf_counter()
                    removed = clean_text_layer(doc, list(range(doc.page_count)), options)
                    cleaning[name] += time.perf_counter() - started
                if not removed:
                    texts[name][pdf.stem] = texts["before"][pdf.stem]
                    (work / name / f"{pdf.stem}.md").write_text(texts[name][pdf.stem])
                    continue
                changed[name][pdf.stem] = removed
            started = time.perf_counter()
            markdown = parse_file(pdf, options=options).markdown
            seconds[name] += time.perf_counter() - started
            texts[name][pdf.stem] = markdown
            (work / name / f"{pdf.stem}.md").write_text(markdown, encoding="utf-8")
    report = {
        name: {
            "scores": _score(work / name, chosen),
            "changed_documents": changed[name],
            "markdown_differs": sorted(
                doc for doc, text in texts[name].items() if text != texts["before"][doc]
            ),
            "cleaning_seconds": round(cleaning[name], 2),
            "parse_seconds": round(seconds[name], 1),
        }
        for name in OPTION_SETS
    }
    print(json.dumps({"documents": len(pdfs), "engine": args.engine, **report}, indent=2))


if __name__ == "__main__":
    main()
