"""The chunker resource's one rule between its settings and a run's (resources/chunker.py)."""

from resources.chunker import ChunkerResource

RESOURCE = ChunkerResource(strategy="token_size", params={"chunk_size": "100"})


def test_a_run_naming_the_resources_strategy_adds_to_its_params() -> None:
    for strategy in (None, "token_size"):
        settings = RESOURCE.resolve(strategy, {"chunk_overlap": "10"})
        assert RESOURCE.params_source(strategy) == "resource"
        assert (settings.params["chunk_size"], settings.params["chunk_overlap"]) == (100, 10)


def test_a_run_naming_another_strategy_starts_from_its_defaults() -> None:
    settings = RESOURCE.resolve("recursive", {})
    assert RESOURCE.params_source("recursive") == "run"
    assert settings.strategy == "recursive" and settings.params["chunk_size"] == 1000


def test_pipeline_defaults_sit_under_both() -> None:
    """Unset parameters take the pipeline's defaults (200 tokens, contextual prefix on)."""
    settings = ChunkerResource().resolve()
    assert settings.params["chunk_size"] == 200 and settings.params["contextual_prefix"] is True
    assert ChunkerResource().resolve("variable").params["min_size"] == 64
