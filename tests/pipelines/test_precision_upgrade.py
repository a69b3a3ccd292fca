"""An fp32 collection through an upgrade whose default precision is int8: real model, real
ingest (Dagster runs on a real instance), real store; searches in-process and by the CLI.

The data engineer's case: a collection built before int8 existed keeps working. New documents
are embedded at the collection's precision (auto), its queries too; asking for int8 outright
stops the run with a message saying how to rebuild."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import numpy as np
import pytest

from docingest import embedding
from docingest.chunking import embedding_text
from docingest.embedding import PRECISION_ENV, _load_minilm_onnx, get_embedder
from docingest.ids import point_id_for
from docingest.search import search_points
from docingest.storage import DocumentStore
from docingest.vectorstore import PRECISION_KEY, VectorStore, canonical_id
from pipelines.ingest import ingest_folder
from resources import EmbedderResource
from tests.conftest import CORPUS_QUERIES, corpus_pdf
from tests.deployment import REPO
from tests.fakes import FAST_PARSER

pytestmark = [pytest.mark.real_model, pytest.mark.slow]
ADDED = "01030000000074.pdf"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The fp32 export and its int8 variant, built once into a home of their own."""
    home = tmp_path_factory.mktemp("models-home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DOCINGEST_HOME", str(home))
        assert _load_minilm_onnx("int8").precision == "int8"
    yield home / "models"


@pytest.fixture
def shared_models(home: Path, models: Path) -> Path:
    """This test's home uses the built models (as any home after its first run)."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "models").symlink_to(models, target_is_directory=True)
    return home


def _stored(home: Path, document_id: str | None = None) -> list[tuple[str, dict, list[float]]]:
    with VectorStore(collection="documents", path=str(home / "qdrant")) as store:
        return [
            p
            for p in store.all_points(with_vectors=True)
            if document_id is None or p[1]["document_id"] == document_id
        ]


def _embedded_texts(home: Path, document_id: str) -> dict[str, str]:
    documents = DocumentStore(home)
    contextual = bool(documents.read_chunk_params(document_id).get("contextual_prefix"))
    return {
        canonical_id(point_id_for(document_id, c.chunk_index, c.params_hash)): embedding_text(
            c, contextual
        )
        for c in documents.read_chunks(document_id)
    }


def test_an_fp32_collection_keeps_fp32_through_ingest_and_search(
    shared_models: Path,
    instance: dg.DagsterInstance,
    docs: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    home = shared_models
    fp32 = {"parser": FAST_PARSER, "embedder": EmbedderResource(precision="fp32")}
    first = ingest_folder(instance, docs, overrides=fp32)
    assert (first.succeeded, first.failed) == (2, 0)

    # The upgrade: int8 becomes the default; the deployment sets nothing.
    monkeypatch.setattr(embedding, "DEFAULT_PRECISION", "int8")
    shutil.copyfile(corpus_pdf(ADDED), docs / ADDED)
    added = ingest_folder(instance, docs, overrides={"parser": FAST_PARSER})
    assert (added.succeeded, added.skipped, added.failed) == (1, 2, 0)
    assert {payload[PRECISION_KEY] for _, payload, _ in _stored(home)} == {"fp32"}
    # The new document's vectors are the fp32 model's, not int8's.
    texts = _embedded_texts(home, ADDED)
    points = _stored(home, ADDED)
    assert len(points) == len(texts) > 0
    stored = np.array([vector for _, _, vector in points])
    wanted = [texts[point_id] for point_id, _, _ in points]
    as_fp32 = np.array(get_embedder(precision="fp32").embed(wanted))
    as_int8 = np.array(get_embedder(precision="int8").embed(wanted))
    assert np.abs(stored - as_fp32).max() < 1e-4
    assert np.abs(stored - as_int8).max() > 1e-3

    # Queries against it are fp32 too, whatever the setting says.
    monkeypatch.setenv(PRECISION_ENV, "int8")
    query = CORPUS_QUERIES["01030000000001.pdf"]
    (hit,) = search_points(query, top_k=1, mode="dense")
    vector = np.array(next(v for i, _, v in _stored(home) if i == _point_of(hit, home)))
    q32 = np.array(get_embedder(precision="fp32").embed_query(query))
    q8 = np.array(get_embedder(precision="int8").embed_query(query))
    assert hit["score"] == pytest.approx(float(q32 @ vector), abs=1e-4)
    assert abs(hit["score"] - float(q8 @ vector)) > 1e-4

    # Asked for int8 outright ($DOCINGEST_EMBED_PRECISION, still set): the run stops with the
    # way out, nothing is written.
    (docs / ADDED).write_bytes(corpus_pdf("01030000000002.pdf").read_bytes())
    before = len(_stored(home))
    refused = ingest_folder(instance, docs, overrides={"parser": FAST_PARSER})
    assert refused.failed == 1
    failure = _failure_message(instance)
    assert "holds fp32 vectors" in failure and "reindex --recreate" in failure
    assert len(_stored(home)) == before


def _point_of(hit: dict, home: Path) -> str:
    documents = DocumentStore(home)
    chunks = documents.read_chunks(hit["document_id"])
    chunk = next(c for c in chunks if c.chunk_id == hit["chunk_id"])
    return canonical_id(point_id_for(hit["document_id"], chunk.chunk_index, chunk.params_hash))


def _failure_message(instance: dg.DagsterInstance) -> str:
    (run,) = instance.get_runs(limit=1)
    assert run.status == dg.DagsterRunStatus.FAILURE
    records = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    return "\n".join(str(r.dagster_event.step_failure_data.error) for r in records)


def test_the_cli_search_embeds_queries_at_the_collections_precision(
    shared_models: Path, instance: dg.DagsterInstance, docs: Path
) -> None:
    """`docingest search` as a subprocess, told int8, on an fp32 collection: its dense scores
    are those of fp32 queries."""
    home = shared_models
    fp32 = {"parser": FAST_PARSER, "embedder": EmbedderResource(precision="fp32")}
    assert ingest_folder(instance, docs, overrides=fp32).succeeded == 2
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DOCINGEST_", "QDRANT_"))},
        "DOCINGEST_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        PRECISION_ENV: "int8",
        "PYTHONPATH": str(REPO),
    }
    query = CORPUS_QUERIES["01030000000002.pdf"]
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "search", query, "--mode", "dense", "--json"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert hits and hits[0]["document_id"] == "01030000000002.pdf"
    vectors = {i: np.array(v) for i, _, v in _stored(home)}
    q32 = np.array(get_embedder(precision="fp32").embed_query(query))
    q8 = np.array(get_embedder(precision="int8").embed_query(query))
    for hit in hits:
        vector = vectors[_point_of(hit, home)]
        assert hit["score"] == pytest.approx(float(q32 @ vector), abs=1e-4)
    assert max(abs(h["score"] - float(q8 @ vectors[_point_of(h, home)])) for h in hits) > 1e-4
