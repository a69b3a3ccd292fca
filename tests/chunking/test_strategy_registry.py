"""The strategy registry: one record per strategy, read by everything that names strategies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from docingest.chunking import Strategy, all_strategies, get_strategy, register, strategy_names
from docingest.chunking.params import INTEGER
from docingest.chunking.registry import Param, markdown_table
from docingest.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "samples" / "documents" / "error-codes.pdf"

# Registers a strategy the way a new record in docingest/chunking/strategies.py would (before
# anything reads the table), then asks every reader about it. Run in a fresh interpreter: the
# Launchpad's enum is built when the chunker resource is imported.
_NEW_STRATEGY = """
import json, sys
from click.testing import CliRunner
from docingest.chunking import Strategy, register
from docingest.chunking.blocks import block_pieces
from docingest.chunking.params import INTEGER
from docingest.chunking.registry import Param, markdown_table

register(Strategy(
    "small_blocks", "a fragment of at most a few tokens",
    lambda doc, parsed, p: block_pieces(doc, p["max_tokens"], p["encoding_name"]),
    params=(Param("max_tokens", INTEGER, 64, minimum=1),),
    pipeline_defaults={"max_tokens": "40"}, token_limit="max_tokens",
))

import dagster as dg
from assets.chunking import _limit_check
from docingest.chunking import chunk_document, validate_params
from docingest.errors import ConfigError
from pipelines.cli import main
from pipelines.definitions import build_definitions
from resources import ChunkerResource

seen = {}
schema = build_definitions().resolve_job_def("ingest_job").run_config_schema.config_type
for where, path in {
    "run_config": ("ops", "document_pipeline", "config"),
    "resource": ("resources", "chunker", "config"),
}.items():
    node = schema
    for name in path:
        node = node.fields[name].config_type
    strategy = node.fields["strategy"]
    enum = getattr(strategy.config_type, "inner_type", strategy.config_type)
    seen[where + "_choices"] = [v.config_value for v in enum.enum_values]
    seen[where + "_described"] = "small_blocks (max_tokens" in node.fields["params"].description
try:
    validate_params("small_blocks", {"max_tokens": "0"})
except ConfigError as error:
    seen["validation"] = str(error)
settings = ChunkerResource(strategy="small_blocks").resolve()
seen["pipeline_params"] = settings.params
from pathlib import Path
from docingest.parsing import ParseOptions, parse_file
parsed = parse_file(Path(sys.argv[1]), options=ParseOptions(engine="fast"))
chunks = chunk_document(parsed, "small_blocks", {"max_tokens": "20"})
seen["limit_check"] = dict(_limit_check(chunks, "small_blocks", {"max_tokens": 20}).metadata)
seen["readme_row"] = [row for row in markdown_table().splitlines() if "small_blocks" in row]
runner = CliRunner()
seen["cli_help"] = runner.invoke(main, ["chunk", "--help"]).output
out = sys.argv[2]
result = runner.invoke(main, ["chunk", sys.argv[1], "--out", out, "--engine", "fast",
                              "--strategy", "small_blocks", "--param", "max_tokens=20"])
seen["cli_exit"] = result.exit_code
print(json.dumps(seen))
"""


def test_a_registered_strategy_is_seen_everywhere(tmp_path: Path) -> None:
    """Adding a strategy is one record: the Launchpad (run config and resource), validation,
    the pipeline's defaults, the token-limit check, the README table and the CLI all see it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DOCINGEST_HOME": str(tmp_path / "home")}
    result = subprocess.run(
        [sys.executable, "-c", _NEW_STRATEGY, str(SAMPLE), str(tmp_path / "out")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    for where in ("run_config", "resource"):
        assert seen[f"{where}_choices"] == [*strategy_names(), "small_blocks"]
        assert seen[f"{where}_described"]
    assert "max_tokens must be at least 1" in seen["validation"]
    assert seen["pipeline_params"]["max_tokens"] == 40
    assert seen["pipeline_params"]["contextual_prefix"] is True
    assert seen["limit_check"]["limit"] == 20
    assert seen["limit_check"]["over_limit"] == 0 and seen["limit_check"]["largest_tokens"] > 0
    assert seen["readme_row"] == [
        "| `small_blocks` | a fragment of at most a few tokens | `max_tokens` [64] "
        "| `max_tokens`=40 | `max_tokens` |"
    ]
    assert "small_blocks" in seen["cli_help"]
    assert seen["cli_exit"] == 0
    lines = (tmp_path / "out" / "error-codes.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert records and {r["strategy"] for r in records} == {"small_blocks"}
    assert max(r["token_count"] for r in records) <= 20


def test_the_readme_table_is_the_registry() -> None:
    assert markdown_table() in (ROOT / "README.md").read_text()


def test_the_cli_refuses_an_unregistered_strategy(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from pipelines.cli import main

    args = ["chunk", str(SAMPLE), "--out", str(tmp_path), "--strategy", "semantic"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "unknown chunking strategy 'semantic'" in result.output
    assert "token_size" in CliRunner().invoke(main, ["chunk", "--help"]).output


@pytest.mark.parametrize("strategy", all_strategies(), ids=lambda s: s.name)
def test_every_record_is_consistent(strategy: Strategy) -> None:
    """Pipeline defaults and the token limit name parameters the strategy has, and pass its
    own validation."""
    from resources.chunker import pipeline_params

    names = set(strategy.param_names())
    assert set(strategy.pipeline_defaults) <= names
    assert strategy.token_limit is None or strategy.token_limit in names
    assert get_strategy(strategy.name) is strategy
    from docingest.chunking import validate_params

    validate_params(strategy.name, pipeline_params(strategy.name))


def test_register_refuses_a_second_record_and_dangling_names() -> None:
    existing = get_strategy("block")
    with pytest.raises(ValueError, match="already registered"):
        register(existing)
    with pytest.raises(ValueError, match="token_limit"):
        register(Strategy("x_limit", "x", existing.pieces, token_limit="max_tokens"))
    with pytest.raises(ValueError, match="pipeline defaults"):
        register(
            Strategy(
                "x_defaults",
                "x",
                existing.pieces,
                params=(Param("max_tokens", INTEGER, 5),),
                pipeline_defaults={"chunk_size": "3"},
            )
        )
    assert "x_limit" not in strategy_names() and "x_defaults" not in strategy_names()
    with pytest.raises(ConfigError, match="unknown chunking strategy"):
        get_strategy("x_limit")
