"""The embedded model, for real: loaded once for this module (a few seconds)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from docingest.embedding import DEFAULT_MODEL, MODELS, Embedder, ModelSpec, get_embedder
from docingest.errors import ConfigError, DocIngestError, ErrorCode


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return get_embedder(DEFAULT_MODEL)


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


@pytest.mark.real_model
def test_vectors_have_the_registry_dimension_and_unit_length(embedder: Embedder) -> None:
    vectors = embedder.embed(["The invoice is due in thirty days.", "Tables of contents", ""])
    assert embedder.dimension == MODELS[DEFAULT_MODEL].dimension == 384
    assert [len(v) for v in vectors] == [384, 384, 384]
    for vector in vectors:
        assert math.isclose(math.sqrt(_dot(vector, vector)), 1.0, abs_tol=1e-4)
    assert embedder.embed([]) == []


@pytest.mark.real_model
def test_close_meaning_scores_above_unrelated(embedder: Embedder) -> None:
    query = embedder.embed_query("How do I reset my password?")
    close, unrelated = embedder.embed(
        ["Steps to change a forgotten account password", "Quarterly revenue grew by 12 percent"]
    )
    assert _dot(query, close) > _dot(query, unrelated) + 0.2


@pytest.mark.real_model
def test_batching_does_not_change_vectors(embedder: Embedder) -> None:
    texts = [f"paragraph {i} about topic {i % 3}" for i in range(5)]
    small = get_embedder(DEFAULT_MODEL, batch_size=2)
    assert small is not embedder and small.batch_size == 2
    for a, b in zip(embedder.embed(texts), small.embed(texts), strict=True):
        assert _dot(a, b) > 0.9999


@pytest.mark.real_model
def test_get_embedder_is_cached(embedder: Embedder) -> None:
    assert get_embedder(DEFAULT_MODEL) is embedder


def test_unknown_model_lists_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown embedding model 'nope'.*all-MiniLM-L6-v2"):
        get_embedder("nope")


class _BrokenModel:
    def get_embedding_dimension(self) -> int:
        return 3

    def encode(self, texts: list[str], **kwargs: Any) -> Any:
        raise RuntimeError("out of memory")


def test_encode_failure_is_embedding_error() -> None:
    broken = Embedder(ModelSpec("broken", 3, _BrokenModel), _BrokenModel())
    with pytest.raises(DocIngestError) as caught:
        broken.embed(["x"])
    assert caught.value.code is ErrorCode.EMBEDDING_ERROR and caught.value.retryable
    assert "out of memory" in caught.value.message


def test_registry_dimension_is_checked_against_the_model() -> None:
    with pytest.raises(ConfigError, match=r"3-dimensional.*registry says 5"):
        Embedder(ModelSpec("broken", 5, _BrokenModel), _BrokenModel())


@pytest.mark.real_model
def test_model_token_counts_expose_truncation(embedder: Embedder) -> None:
    short, long = embedder.model_token_counts(["hello world", "word " * 400])
    assert short == 4  # [CLS] hello world [SEP]
    assert embedder.max_seq_length == 256 < long
