"""The sensor path through the real daemon, beside `docingest ingest` of the same folder.

Drops N documents (the odl-bench PDFs, plus multi-page PDFs made by joining three of them)
into the upload folder of a fresh deployment with `dagster-daemon run` and the sensor switched
on, and times until every document is searchable; then ingests the same folder with
`docingest ingest` on another fresh home, in the same run. Reports the daemon's own cost per
run: queueing (created -> started) and run overhead (run wall time minus its step's time).

    python -m bench.daemon_bench --docs 200 [--engine fast|layout] [--interval 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import pymupdf

from tests.deployment import Deployment

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "odl-bench" / "pdfs"


def make_documents(folder: Path, count: int) -> int:
    """`count` PDFs: single pages from the corpus, then three-page joins of them."""
    sources = sorted(CORPUS.glob("*.pdf"))
    pages = 0
    for index in range(count):
        if index < len(sources):
            (folder / sources[index].name).write_bytes(sources[index].read_bytes())
            pages += 1
            continue
        joined = pymupdf.open()
        for offset in range(3):
            with pymupdf.open(sources[(index * 3 + offset) % len(sources)]) as part:
                joined.insert_pdf(part)
        joined.save(folder / f"joined-{index:04d}.pdf")
        pages += joined.page_count
        joined.close()
    return pages


def _run_costs(deployment: Deployment) -> dict[str, float]:
    queued, overhead, walls = [], [], []
    with deployment.instance() as instance:
        for record in instance.get_run_records():
            run = record.dagster_run
            if run.job_name != "ingest_job" or not record.start_time or not record.end_time:
                continue
            created = record.create_timestamp.timestamp()
            queued.append(record.start_time - created)
            step = 0.0
            starts: dict[str, float] = {}
            for event in instance.all_logs(run.run_id):
                if event.dagster_event is None or event.step_key is None:
                    continue
                kind = event.dagster_event.event_type_value
                if kind == "STEP_START":
                    starts[event.step_key] = event.timestamp
                elif kind in ("STEP_SUCCESS", "STEP_FAILURE") and event.step_key in starts:
                    step += event.timestamp - starts.pop(event.step_key)
            wall = record.end_time - record.start_time
            walls.append(wall)
            overhead.append(wall - step)
    return {
        "runs": len(walls),
        "queue_s_median": round(statistics.median(queued), 2) if queued else 0.0,
        "run_overhead_s_median": round(statistics.median(overhead), 2) if overhead else 0.0,
        "run_overhead_s_total": round(sum(overhead), 1),
        "run_wall_s_total": round(sum(walls), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--engine", default="fast", choices=["fast", "layout"])
    parser.add_argument("--interval", type=int, default=5, help="sensor interval, seconds")
    parser.add_argument("--timeout", type=float, default=7200)
    args = parser.parse_args()
    env = {
        "DOCINGEST_PARSE_ENGINE": args.engine,
        "DOCINGEST_SENSOR_INTERVAL_S": str(args.interval),
    }
    with tempfile.TemporaryDirectory(prefix="daemon-bench-") as tmp:
        root = Path(tmp)
        daemon = Deployment(root / "daemon", **env)
        try:
            (root / "staging").mkdir()
            pages = make_documents(root / "staging", args.docs)
            names = sorted(p.name for p in (root / "staging").iterdir())
            daemon.start_daemon()
            daemon.dagster("sensor", "start", "upload_folder_sensor")
            started = time.perf_counter()
            for path in (root / "staging").iterdir():
                path.rename(daemon.uploads / path.name)
            everything = dict.fromkeys(names)
            daemon.wait_for("all documents", lambda: daemon.settled(everything), args.timeout, 2)
            sensor_s = time.perf_counter() - started
            costs = _run_costs(daemon)
        finally:
            daemon.stop()
        cli = Deployment(root / "cli", **env)
        started = time.perf_counter()
        result = cli.docingest("ingest", str(daemon.uploads), "--json")
        cli_s = time.perf_counter() - started
        summary = json.loads(result.stdout)
    report = {
        "documents": args.docs,
        "pages": pages,
        "engine": args.engine,
        "sensor_interval_s": args.interval,
        "daemon_until_searchable_s": round(sensor_s, 1),
        "cli_ingest_s": round(cli_s, 1),
        "daemon_vs_cli": round(sensor_s / cli_s, 2),
        "daemon_pages_per_s": round(pages / sensor_s, 2),
        "cli_pages_per_s": round(pages / cli_s, 2),
        "cli_succeeded": summary["succeeded"],
        **costs,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
