"""QdrantResource owns its store for a run: one store per run, released at its end (kept with
keep_open), and the engine swapped by overriding `build_store`."""

import fcntl
import os
import shutil
from pathlib import Path

import dagster as dg
import pytest

from assets.pipeline import document_pipeline
from docingest.vectorstore import VectorStore
from resources import (
    ChunkerResource,
    ClassifierResource,
    QdrantResource,
    SourceResource,
    StorageResource,
    WebhookResource,
)
from tests.conftest import corpus_pdf
from tests.fakes import FAKE_MODELS

DOC = "01030000000001.pdf"


def _shard_locked(qdrant_folder: Path) -> bool:
    """Whether someone holds the embedded shard's lock (flock: a second open file description
    of this process conflicts like another process would)."""
    fd = os.open(qdrant_folder / "edge" / "documents.lock", os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _count_points(qdrant: QdrantResource) -> dict[str, int]:
    @dg.asset
    def points(context: dg.AssetExecutionContext, qdrant: QdrantResource) -> dict[str, int]:
        with qdrant.open() as first, qdrant.open() as second:
            assert first is second  # every open() of the run shares the resource's store
            first.ensure_collection(vector_size=4, model_name="m")
            return {"points": first.count()}

    result = dg.materialize([points], resources={"qdrant": qdrant})
    assert result.success
    return result.output_for_node("points")


@pytest.mark.parametrize("keep_open", [False, True])
def test_the_run_owns_one_store_and_releases_it(home: Path, keep_open: bool) -> None:
    folder = home / "qdrant"
    assert _count_points(QdrantResource(path=str(folder), keep_open=keep_open)) == {"points": 0}
    # keep_open (the CLI's long-lived process) keeps the loaded shard for its next run; off,
    # the run's end hands it back.
    assert _shard_locked(folder) is keep_open
    # Either way a later store of this process reaches it (sharing the loaded shard).
    with VectorStore(path=str(folder)) as other:
        assert other.count() == 0


def test_outside_a_run_open_builds_a_store_for_the_block(home: Path) -> None:
    qdrant = QdrantResource(path=str(home / "qdrant"))
    with qdrant.open() as store:
        store.ensure_collection(vector_size=4, model_name="m")
        assert store.count() == 0
        assert _shard_locked(home / "qdrant")
    assert not _shard_locked(home / "qdrant")
    qdrant.drop_collection()
    assert not (home / "qdrant" / "edge" / "documents").exists()


class LocalModeQdrantResource(QdrantResource):
    """The resource on qdrant-client's local mode (the engine that stands in for a server)."""

    def build_store(self) -> VectorStore:
        return VectorStore(collection=self.collection, local_path=self.local_path())


def test_a_swapped_store_receives_the_pipelines_points(
    home: Path, instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    shutil.copyfile(corpus_pdf(DOC), uploads / DOC)
    instance.add_dynamic_partitions("documents", [DOC])
    qdrant = LocalModeQdrantResource(path=str(tmp_path / "client-mode"))
    result = dg.materialize(
        [document_pipeline],
        partition_key=DOC,
        instance=instance,
        resources={
            "source": SourceResource(root=str(uploads)),
            "chunker": ChunkerResource(),
            "classifier": ClassifierResource(),
            **FAKE_MODELS,
            "qdrant": qdrant,
            "storage": StorageResource(),
            "webhooks": WebhookResource(),
        },
    )
    assert result.success
    (indexed,) = [
        e.materialization.metadata["points"].value
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("vector_store_entries")
    ]
    with qdrant.open() as store:
        assert store.backend == "qdrant-client"
        assert store.count(DOC) == indexed > 0
    assert not (home / "qdrant" / "edge").exists()  # the default engine was never touched
