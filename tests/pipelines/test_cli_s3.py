"""`docingest ingest s3://bucket/uploads` as a user runs it (a subprocess, the real models), with
the data under `DOCINGEST_DATA_URL` on S3 (moto's server on 127.0.0.1); search finds it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from upath import UPath

from tests.conftest import CORPUS_QUERIES, corpus_pdf
from tests.deployment import Deployment
from tests.object_store import S3Server


@pytest.fixture
def deployment(tmp_path: Path, s3_server: S3Server, s3_bucket: str) -> Iterator[Deployment]:
    deployment = Deployment(
        tmp_path,
        DOCINGEST_PARSE_ENGINE="fast",
        DOCINGEST_DATA_URL=f"s3://{s3_bucket}/data",
        **s3_server.env(),
    )
    yield deployment
    deployment.stop()


@pytest.mark.slow
def test_ingest_from_s3_then_search(deployment: Deployment, s3_bucket: str) -> None:
    for name in CORPUS_QUERIES:
        UPath(f"s3://{s3_bucket}/uploads/{name}").write_bytes(corpus_pdf(name).read_bytes())

    result = deployment.docingest("ingest", f"s3://{s3_bucket}/uploads", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["succeeded"], summary["failed"]) == (2, 0)
    assert summary["points"] == summary["chunks"] > 0

    for name, query in CORPUS_QUERIES.items():
        hits = json.loads(deployment.docingest("search", query, "--json", check=True).stdout)
        assert hits[0]["document_id"] == name
    # The per-document data is in the bucket, in the layout of the disk; none of it is local.
    data = UPath(f"s3://{s3_bucket}/data")
    for kind, suffix in (("sources", ".json"), ("parsed", ".parquet"), ("chunks", ".parquet")):
        assert sorted(p.name for p in data.joinpath(kind).iterdir()) == [
            name + suffix for name in sorted(CORPUS_QUERIES)
        ]
    assert not (deployment.home / "parsed").exists()
    status = json.loads(deployment.docingest("status", "--json", check=True).stdout)
    assert status["documents"]["succeeded"] == 2 and status["points"] == summary["points"]

    # Unchanged: nothing runs again.
    again = json.loads(deployment.docingest("ingest", f"s3://{s3_bucket}/uploads", "--json").stdout)
    assert (again["succeeded"], again["skipped"]) == (0, 2)


def test_ingest_from_a_missing_bucket_is_a_usage_error(
    deployment: Deployment, s3_bucket: str
) -> None:
    result = deployment.docingest("ingest", f"s3://{s3_bucket}-absent/uploads")
    assert result.returncode == 2
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr


def test_a_missing_data_bucket_is_a_usage_error(
    deployment: Deployment, s3_bucket: str, tmp_path: Path
) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.pdf").write_bytes(corpus_pdf("01030000000001.pdf").read_bytes())
    result = deployment.docingest(
        "ingest", str(folder), DOCINGEST_DATA_URL=f"s3://{s3_bucket}-absent/data"
    )
    assert result.returncode == 2
    assert "does not exist" in result.stderr and "Traceback" not in result.stderr
