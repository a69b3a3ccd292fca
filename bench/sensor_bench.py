"""Ingesting an upload folder through the sensor path, at a few hundred documents.

Run from the repository root:

    .venv/bin/python -m bench.sensor_bench [--docs 500] [--tick-files 10000]

1. A folder of N documents: the 150 odl-bench PDFs, then multi-page PDFs the bench renders
   from the corpus' ground-truth markdown until there are N.
2. Baseline: the plain script of `bench.ingest_bench` (parse -> chunk -> embed -> upsert, no
   Dagster), in its own process and DOCINGEST_HOME.
3. Sensor path, in its own process and DOCINGEST_HOME: one tick of `upload_folder_sensor`, its
   partition requests applied, and each RunRequest executed as the daemon would launch it
   (`ingest_job` with the request's partition or range tags; in process, without the daemon's
   process spawn). Then a no-change re-run: a new process ticks again with the saved cursor.
4. Sensor tick time with `--tick-files` files in a folder: the first tick (hashes everything,
   registers every partition) and a steady tick (nothing changed).
"""

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.ingest_bench import (
    DEFAULT_CORPUS,
    _count_points,
    _measure,
    pipeline_chunking,
    run_baseline,
)

GROUNDTRUTH = Path("../shared/corpus/odl-bench/groundtruth")
OVERHEAD_TARGET, NO_CHANGE_TARGET, TICK_TARGET_S = 0.15, 0.02, 5.0


def make_corpus(folder: Path, count: int) -> int:
    """Copy the corpus PDFs, then render 3-page PDFs from its ground truth up to `count`."""
    import pymupdf

    pdfs = sorted(DEFAULT_CORPUS.glob("*.pdf"))[:count]
    for pdf in pdfs:
        shutil.copyfile(pdf, folder / pdf.name)
    texts = [p.read_text() for p in sorted(GROUNDTRUTH.rglob("*.md"))]
    for index in range(count - len(pdfs)):
        doc = pymupdf.open()
        for page_no in range(3):
            body = texts[(index * 3 + page_no) % len(texts)]
            html = f"<h1>Report {index} part {page_no + 1}</h1>" + "".join(
                f"<p>{line}</p>" for line in body.splitlines() if line.strip()
            )
            page = doc.new_page()
            page.insert_htmlbox(pymupdf.Rect(50, 50, 550, 800), html[:6000])
        doc.save(folder / f"generated-{index:04d}.pdf")
        doc.close()
    return count


def _tick(instance: Any, root: Path, cursor: str | None) -> tuple[Any, float]:
    import dagster as dg

    from pipelines.sensors import upload_folder_sensor
    from resources import SourceResource, StorageResource

    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={
            "source": SourceResource(root=str(root), settle_seconds=0),
            "storage": StorageResource(),
        },
    )
    started = time.perf_counter()
    result = upload_folder_sensor()(context)
    return result, time.perf_counter() - started


def sensor_path(folder: Path, result_file: Path, cursor_file: Path) -> None:
    """One tick and the runs it requests, executed as the daemon would; writes a JSON report."""
    from assets.partitions import DOCUMENTS
    from pipelines.definitions import build_definitions
    from pipelines.instance import get_instance
    from resources import SourceResource, build_resources

    instance = get_instance()
    cursor = cursor_file.read_text() if cursor_file.exists() else None
    result, tick_s = _tick(instance, folder, cursor)
    requests = list(getattr(result, "run_requests", None) or [])
    for request in getattr(result, "dynamic_partitions_requests", None) or []:
        instance.add_dynamic_partitions(DOCUMENTS, list(request.partition_keys))
    base = build_resources()
    resources = {
        **base,
        "source": SourceResource(root=str(folder), settle_seconds=0),
        "qdrant": base["qdrant"].model_copy(update={"keep_open": True}),
    }
    job = build_definitions().resolve_job_def("ingest_job")
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    failed = 0
    for request in requests:
        outcome = job.execute_in_process(
            instance=instance, partition_key=request.partition_key, tags=request.tags,
            resources=resources, run_config=quiet, raise_on_error=False,
        )  # fmt: skip
        failed += 0 if outcome.success else 1
    cursor_file.write_text(getattr(result, "cursor", None) or "")
    result_file.write_text(json.dumps({"tick_s": tick_s, "runs": len(requests), "failed": failed}))


def tick_bench(work: Path, files: int) -> dict[str, float]:
    """Tick times over a folder of `files` small documents."""
    from pipelines.instance import get_instance

    folder = work / "many"
    folder.mkdir()
    sample = sorted(DEFAULT_CORPUS.glob("*.pdf"))[0].read_bytes()
    for index in range(files):
        # Distinct contents (the hash must be computed per file), realistic sizes.
        (folder / f"doc-{index:05d}.pdf").write_bytes(sample + f"%{index}\n".encode())
    instance = get_instance()
    first, first_s = _tick(instance, folder, None)
    _, steady_s = _tick(instance, folder, first.cursor)
    return {"files": files, "first_tick_s": round(first_s, 2), "steady_tick_s": round(steady_s, 2),
            "first_tick_runs": len(first.run_requests)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=500)
    parser.add_argument("--tick-files", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=Path("bench/results/sensor.json"))
    parser.add_argument("--sensor-path", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tick-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cursor", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sensor_path:
        sensor_path(args.folder, args.result, args.cursor)
        return 0
    if args.tick_only:
        args.result.write_text(json.dumps(tick_bench(args.folder, args.tick_files)))
        return 0
    work = Path(tempfile.mkdtemp(prefix="sensor-bench-"))
    folder = work / "docs"
    folder.mkdir()
    make_corpus(folder, args.docs)
    baseline = run_baseline(folder, work, 0, pipeline_chunking())
    home, result, cursor = work / "sensor-home", work / "sensor.json", work / "cursor.json"
    home.mkdir()
    me = [sys.executable, "-m", "bench.sensor_bench", "--folder", str(folder),
          "--result", str(result), "--cursor", str(cursor)]  # fmt: skip
    first_s, rss, _, _ = _measure([*me, "--sensor-path"], home, work / "sensor.log")
    first = json.loads(result.read_text())
    points = _count_points(home)
    again_s, _, _, _ = _measure([*me, "--sensor-path"], home, work / "again.log")
    again = json.loads(result.read_text())
    tick_home = work / "tick-home"
    tick_home.mkdir()
    _measure([sys.executable, "-m", "bench.sensor_bench", "--tick-only", "--folder", str(work),
              "--result", str(work / "tick.json"), "--tick-files", str(args.tick_files)],
             tick_home, work / "tick.log")  # fmt: skip
    ticks = json.loads((work / "tick.json").read_text())
    pages = int(baseline.details.get("pages", 0))
    report = {
        "docs": args.docs, "pages": pages,
        "baseline_s": round(baseline.wall_s, 2), "baseline_points": baseline.points,
        "sensor_path_s": round(first_s, 2), "sensor_points": points,
        "runs_launched": first["runs"], "failed_runs": first["failed"],
        "overhead": round(first_s / baseline.wall_s - 1, 3),
        "docs_per_s": round(args.docs / first_s, 2), "pages_per_s": round(pages / first_s, 2),
        "peak_rss_mib": round(rss, 1),
        "no_change_rerun_s": round(again_s, 2), "no_change_runs": again["runs"],
        "no_change_share": round(again_s / first_s, 4),
        "ticks": ticks,
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    print(f"overhead {report['overhead']:.1%} (target <= {OVERHEAD_TARGET:.0%}); no-change re-run "
          f"{report['no_change_share']:.2%} (target < {NO_CHANGE_TARGET:.0%}); steady tick over "
          f"{ticks['files']} files {ticks['steady_tick_s']} s, first {ticks['first_tick_s']} s "
          f"(target < {TICK_TARGET_S} s)")  # fmt: skip
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
