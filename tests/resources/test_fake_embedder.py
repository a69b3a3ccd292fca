"""The tests' fake embedder is the real resource and Embedder around a hashing model."""

import numpy as np

from tests.fakes import FakeEmbedderResource


def test_the_fake_keeps_the_models_name_size_and_closeness() -> None:
    resource = FakeEmbedderResource()
    assert resource.embedder() is resource.embedder()  # loaded once per resource
    assert resource.dimension == 384
    query, near, far = resource.embed(
        ["retryable error codes", "which error codes are retryable", "bootstrap intervals"]
    )
    assert np.isclose(np.linalg.norm(query), 1.0)
    assert np.dot(query, near) > np.dot(query, far)
    assert resource.embedder().model_token_counts(["two words"]) == [4]
