"""The ONNX backend: exported once, checked against torch, the same vectors, reused."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from docingest.embedding import _load_minilm, _minilm_path
from docingest.onnx_model import MAX_BATCH_TOKENS, OnnxSentenceModel, cache_key, load_onnx

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
    # Its threads sleep between operators instead of spinning: the parse workers share the cores.
    options = again._session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_an_export_that_disagrees_is_refused(tmp_path: Path, torch_model: Any) -> None:
    class Wrong:
        def encode(self, texts: list[str], **_: Any) -> np.ndarray:
            vectors = np.random.default_rng(0).normal(size=(len(texts), 384))
            return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    with pytest.raises(RuntimeError, match="disagrees"):
        load_onnx(_minilm_path(), tmp_path, 256, Wrong)
    assert not (tmp_path / cache_key() / "verified.json").exists()


def test_batches_stay_within_the_token_budget_and_vectors_do_not_change(
    cache: Path, torch_model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Long texts go to the model a few at a time (bounded memory); the vectors are those of
    one text per batch."""
    import pymupdf

    from tests.conftest import corpus_pdf

    with pymupdf.open(corpus_pdf("01030000000001.pdf")) as doc:
        words = doc[0].get_text().split()
    # Real text cut into pieces from a few words to past the model's window.
    texts = [" ".join(words[i : i + 4 + 37 * (i % 9)]) for i in range(0, 120, 3)]
    texts += [" ".join(words[i : i + 6]) for i in range(0, 240, 6)]
    model = load_onnx(_minilm_path(), cache, 256, lambda: torch_model)
    shapes: list[tuple[int, int]] = []
    pooled = model._pooled

    def recording(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        shapes.append(ids.shape)
        return pooled(ids, mask)

    monkeypatch.setattr(model, "_pooled", recording)
    batched = model.encode(texts, batch_size=32)
    assert max(rows * width for rows, width in shapes) <= MAX_BATCH_TOKENS
    assert max(width for _, width in shapes) == 256  # some texts fill the window
    assert max(rows for rows, _ in shapes) > MAX_BATCH_TOKENS // 256  # short ones batch wider
    one_by_one = model.encode(texts, batch_size=1)
    assert np.allclose(batched, one_by_one, atol=1e-5)
