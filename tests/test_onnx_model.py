"""The ONNX backend: exported once, checked against torch, the same vectors, reused."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from docingest.embedding import _load_minilm, _minilm_path
from docingest.onnx_model import OnnxSentenceModel, cache_key, load_onnx

TEXTS = [
    "Inspect the turbine blades every spring.",
    "Which errors are retryable?",
    "Un texte en français, avec des accents.",
    "word " * 600,  # beyond the 256 word pieces the model reads
]

# Both tests load the real model (torch and its ONNX export) to compare their vectors.
pytestmark = pytest.mark.real_model


@pytest.fixture(scope="module")
def torch_model() -> Any:
    return _load_minilm()


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def test_export_matches_torch_and_is_reused(torch_model: Any, cache: Path) -> None:
    model = load_onnx(_minilm_path(), cache, 256, lambda: torch_model)
    assert isinstance(model, OnnxSentenceModel)
    ours = model.encode(TEXTS)
    theirs = np.asarray(torch_model.encode(TEXTS, normalize_embeddings=True))
    assert ours.shape == theirs.shape == (4, 384)
    assert float((ours * theirs).sum(axis=1).min()) > 0.9999
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)

    exported = cache / cache_key() / "model.onnx"
    stamp = exported.stat().st_mtime_ns

    def no_reference() -> Any:
        raise AssertionError("a verified export must load without the torch model")

    again = load_onnx(_minilm_path(), cache, 256, no_reference)
    assert exported.stat().st_mtime_ns == stamp
    assert np.allclose(again.encode(TEXTS[:1]), ours[:1], atol=1e-6)
    assert again.token_counts(["hello world", "word " * 600]) == [4, 602]


def test_an_export_that_disagrees_is_refused(tmp_path: Path, torch_model: Any) -> None:
    class Wrong:
        def encode(self, texts: list[str], **_: Any) -> np.ndarray:
            vectors = np.random.default_rng(0).normal(size=(len(texts), 384))
            return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    with pytest.raises(RuntimeError, match="disagrees"):
        load_onnx(_minilm_path(), tmp_path, 256, Wrong)
    assert not (tmp_path / cache_key() / "verified.json").exists()
