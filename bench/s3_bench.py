"""`docingest ingest` of the same files from local disk and from S3, alternating in one run.

Run from the repository root (needs the `s3` and dev extras: s3fs, moto[server]):

    .venv/bin/python -m bench.s3_bench --docs 20 [--rounds 3] [--engine fast] [--out FILE]

The S3 endpoint is moto's server on 127.0.0.1, started here: a real HTTP S3 API, in-memory,
with no network latency, so the figure is the cost of going through s3fs and the object API,
not of a remote store. Each run is a `docingest ingest` subprocess with a fresh
`DOCINGEST_HOME` (embedded Dagster instance and Qdrant store); the S3 runs read
`s3://BUCKET/uploads` and write their data under `DOCINGEST_DATA_URL=s3://BUCKET/data-N`. The
exported embedding model is shared by all runs (linked into each home), so neither side pays
for the export. Local and S3 runs alternate, so machine load falls on both alike.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

DEFAULT_CORPUS = Path("../shared/corpus/odl-bench/pdfs")
REPO_ROOT = Path(__file__).resolve().parents[1]
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_moto(log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(endpoint, timeout=2):
                return process, endpoint
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto did not start: {log.read_text()[-2000:]}") from None
            time.sleep(0.2)


def ingest(source: str, home: Path, models: Path, env: dict[str, str]) -> dict[str, Any]:
    """One `docingest ingest SOURCE --json` subprocess on a fresh home: wall s and summary."""
    home.mkdir(parents=True)
    (home / "models").symlink_to(models, target_is_directory=True)
    child = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DOCINGEST_", "DAGSTER_"))},
        **env,
        "DOCINGEST_HOME": str(home),
        "PYTHONPATH": str(REPO_ROOT),
    }
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "ingest", source, "--json"],
        env=child,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"ingest {source} exited {result.returncode}:\n{result.stderr[-3000:]}")
    summary = json.loads(result.stdout)
    return {"wall_s": round(wall, 2), **{k: summary[k] for k in ("succeeded", "pages", "points")}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--docs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--engine", default="fast", help="DOCINGEST_PARSE_ENGINE of every run.")
    parser.add_argument("--out", type=Path, help="Write the figures as JSON here too.")
    args = parser.parse_args(argv)
    pdfs = sorted(args.corpus.glob("*.pdf"))[: args.docs]
    work = Path(tempfile.mkdtemp(prefix="s3-bench-"))
    moto, endpoint = start_moto(work / "moto.log")
    s3_env = {**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint}
    os.environ.update(s3_env)  # this process uploads the files through s3fs too
    try:
        from upath import UPath

        folder = work / "uploads"
        folder.mkdir()
        for pdf in pdfs:
            shutil.copyfile(pdf, folder / pdf.name)
        UPath("s3://bench").fs.mkdir("bench")
        for pdf in pdfs:
            UPath(f"s3://bench/uploads/{pdf.name}").write_bytes(pdf.read_bytes())
        common = {"DOCINGEST_PARSE_ENGINE": args.engine}
        models = work / "models"
        models.mkdir()
        ingest(str(folder), work / "warm-up", models, common)  # exports the model, untimed
        rows: list[dict[str, Any]] = []
        for index in range(args.rounds):
            local = ingest(str(folder), work / f"local-{index}", models, common)
            data = {"DOCINGEST_DATA_URL": f"s3://bench/data-{index}", **s3_env}
            remote = ingest("s3://bench/uploads", work / f"s3-{index}", models, common | data)
            rows.append({"round": index, "local": local, "s3": remote})
            print(f"round {index}: local {local['wall_s']} s, s3 {remote['wall_s']} s")
    finally:
        moto.terminate()
        moto.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    local_s = statistics.median(r["local"]["wall_s"] for r in rows)
    s3_s = statistics.median(r["s3"]["wall_s"] for r in rows)
    report = {
        "docs": len(pdfs),
        "pages": rows[0]["local"]["pages"],
        "engine": args.engine,
        "rounds": rows,
        "local_median_s": local_s,
        "s3_median_s": s3_s,
        "s3_over_local": round(s3_s / local_s, 3),
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
    }
    print(json.dumps({k: v for k, v in report.items() if k != "rounds"}, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
