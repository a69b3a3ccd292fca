"""A celery worker that shares no folder with the process that launched the run.

The launcher and the worker each have their own DOCINGEST_HOME and DAGSTER_HOME; what they
share are services: the Dagster instance on PostgreSQL, the broker on RabbitMQ, and the uploads
and per-document data on S3 (moto's server on 127.0.0.1). The worker parses, chunks and indexes;
the launcher then reads every record the worker wrote from the bucket.

This machine has no Qdrant server, the vector store such a deployment shares: the worker's
points go to the embedded store under its own home, and the test checks them there, which also
shows the homes are really apart. In CI a missing PostgreSQL, RabbitMQ or dagster-celery fails.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from upath import UPath

from assets.partitions import DOCUMENTS
from docingest.state import Status, read_state
from docingest.storage import DocumentStore
from docingest.vectorstore import VectorStore
from pipelines.batching import RANGE_END, RANGE_START
from pipelines.executors import BROKER_ENV, DEFAULT_BROKER, EXECUTOR_ENV, QUEUE_ENV
from tests.conftest import CORPUS_QUERIES, corpus_pdf
from tests.deployment import PG, postgres_database, production_dagster_yaml
from tests.object_store import S3Server
from tests.test_celery import _require_broker, celery_ingest_job, running_worker

pytestmark = pytest.mark.postgres


def _machine(root: Path, database: str) -> dict[str, str]:
    """One machine's own folders, and the instance's database (a service both reach)."""
    (root / "dagster").mkdir(parents=True)
    shutil.copyfile(production_dagster_yaml(), root / "dagster" / "dagster.yaml")
    return {
        "DOCINGEST_HOME": str(root),
        "DAGSTER_HOME": str(root / "dagster"),
        "DAGSTER_PG_USERNAME": PG["user"],
        "DAGSTER_PG_PASSWORD": "",
        "DAGSTER_PG_HOST": PG["host"],
        "DAGSTER_PG_PORT": str(PG["port"]),
        "DAGSTER_PG_DB": database,
    }


@pytest.fixture
def database() -> Iterator[str]:
    name, drop = postgres_database()
    try:
        yield name
    finally:
        drop()


def celery_s3_ingest_job() -> dg.JobDefinition:
    """`celery_ingest_job` under a name of its own: Dagster caches a reconstructable job by its
    code pointer for the life of the process, and tests/test_celery.py's runs built theirs with
    another queue."""
    return celery_ingest_job()


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_a_worker_without_a_shared_folder_ingests_from_s3(
    tmp_path: Path,
    database: str,
    s3_server: S3Server,
    s3_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _require_broker(os.environ.get(BROKER_ENV) or DEFAULT_BROKER)
    for name in CORPUS_QUERIES:
        UPath(f"s3://{s3_bucket}/uploads/{name}").write_bytes(corpus_pdf(name).read_bytes())
    queue = f"docingest-s3-{uuid.uuid4().hex[:8]}"
    shared = {
        EXECUTOR_ENV: "celery",
        QUEUE_ENV: queue,
        "DOCINGEST_SOURCE_DIR": f"s3://{s3_bucket}/uploads",
        "DOCINGEST_DATA_URL": f"s3://{s3_bucket}/data",
        "DOCINGEST_PARSE_ENGINE": "fast",
        **s3_server.env(),
    }
    launcher = {**_machine(tmp_path / "launcher", database), **shared}
    worker_home = tmp_path / "worker"
    worker_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DOCINGEST_", "DAGSTER_"))},
        **_machine(worker_home, database),
        **shared,
    }
    for key, value in launcher.items():
        monkeypatch.setenv(key, value)
    documents = sorted(CORPUS_QUERIES)

    with running_worker(queue, worker_env, worker_home) as (_, log):
        instance = dg.DagsterInstance.get()
        try:
            instance.add_dynamic_partitions(DOCUMENTS, documents)
            result = dg.execute_job(
                dg.reconstructable(celery_s3_ingest_job),
                instance=instance,
                tags={RANGE_START: documents[0], RANGE_END: documents[-1]},
            )
            assert result.success, f"worker log:\n{log.read_text()[-3000:]}"
            step_starts = [
                event.dagster_event
                for event in instance.all_logs(result.run_id)
                if event.dagster_event is not None and event.dagster_event.is_step_start
            ]
            assert [e.pid != os.getpid() for e in step_starts] == [True]
        finally:
            instance.dispose()

    # The launcher reads everything the worker wrote, from the bucket.
    store = DocumentStore(UPath(f"s3://{s3_bucket}/data"))
    for document_id in documents:
        registered = store.read_json("sources", document_id)
        assert registered is not None
        assert registered["path"] == f"s3://{s3_bucket}/uploads/{document_id}"
        assert store.read_parse_result(document_id).page_count > 0
        chunks = store.read_chunks(document_id)
        state = read_state(store, document_id)
        assert state.status is Status.SUCCEEDED and state.run_id == result.run_id
        assert state.points == len(chunks) > 0
    # Nothing of it on the launcher's disk; the points in the worker's own embedded store.
    assert sorted(p.name for p in (tmp_path / "launcher").iterdir()) == ["dagster"]
    vectors = VectorStore(collection="documents", path=str(worker_home / "qdrant"))
    try:
        assert all(vectors.count(d) > 0 for d in documents)
    finally:
        vectors.close()
