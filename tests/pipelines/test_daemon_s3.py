"""The upload sensor through the real `dagster-daemon`, watching an S3 prefix (moto's server on
127.0.0.1), with the per-document data on S3 too: objects put, replaced and deleted in the
bucket are ingested, re-ingested and removed, and unchanged objects are never read again."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from upath import UPath

from docingest.storage import DocumentStore
from docingest.vectorstore import VectorStore, close_local_clients
from tests.conftest import corpus_pdf
from tests.deployment import Deployment
from tests.object_store import S3Server

pytestmark = pytest.mark.slow

SENSOR = "upload_folder_sensor"


@pytest.fixture
def deployment(tmp_path: Path, s3_server: S3Server, s3_bucket: str) -> Iterator[Deployment]:
    deployment = Deployment(
        tmp_path,
        DOCINGEST_PARSE_ENGINE="fast",
        DOCINGEST_SENSOR_INTERVAL_S="3",
        DOCINGEST_SOURCE_DIR=f"s3://{s3_bucket}/uploads",
        DOCINGEST_DATA_URL=f"s3://{s3_bucket}/data",
        **s3_server.env(),
    )
    try:
        yield deployment
    finally:
        deployment.stop()
        close_local_clients()


def _put(bucket: str, name: str, pdf: str) -> str:
    data = corpus_pdf(pdf).read_bytes()
    UPath(f"s3://{bucket}/uploads/{name}").write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def _ticks(deployment: Deployment) -> int:
    with deployment.instance() as instance:
        (state,) = [s for s in instance.all_instigator_state() if s.instigator_name == SENSOR]
        return len(instance.get_ticks(state.instigator_origin_id, state.selector_id))


def test_sensor_on_an_s3_prefix_through_the_daemon(
    deployment: Deployment, s3_server: S3Server, s3_bucket: str
) -> None:
    hashes = {"a.pdf": _put(s3_bucket, "a.pdf", "01030000000001.pdf")}
    hashes["b.pdf"] = _put(s3_bucket, "b.pdf", "01030000000002.pdf")
    deployment.start_daemon()
    deployment.dagster("sensor", "start", SENSOR)
    deployment.wait_for("the first objects", lambda: deployment.settled(hashes), timeout=480)
    store = DocumentStore(UPath(f"s3://{s3_bucket}/data"))
    assert store.read_chunks("a.pdf") and store.read_chunks("b.pdf")

    # Ticks go on; the unchanged objects are listed, not read.
    keys = [f"{s3_bucket}/uploads/{name}" for name in hashes]
    reads = [s3_server.requests("GET", key) for key in keys]
    ticks = _ticks(deployment)
    deployment.wait_for("three more ticks", lambda: _ticks(deployment) >= ticks + 3, every=0.5)
    assert [s3_server.requests("GET", key) for key in keys] == reads

    # Replaced: re-ingested with the new content. Deleted: its document leaves.
    hashes["a.pdf"] = _put(s3_bucket, "a.pdf", "01030000000003.pdf")
    UPath(f"s3://{s3_bucket}/uploads/b.pdf").unlink()
    deployment.wait_for(
        "the replaced and the deleted object",
        lambda: (
            deployment.settled({"a.pdf": hashes["a.pdf"]})
            and store.read_json("sources", "b.pdf") is None
        ),
        timeout=480,  # a delete run and an ingest run one after the other, on a busy machine
    )
    assert not store.parsed_path("b.pdf").exists()
    vectors = VectorStore(collection="documents", path=str(deployment.home / "qdrant"))
    try:
        assert vectors.count("b.pdf") == 0 and vectors.count("a.pdf") > 0
    finally:
        vectors.close()
