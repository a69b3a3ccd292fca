"""The Definitions load, with the asset keys, partitions and jobs other tools rely on."""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from docingest.chunking import STRATEGIES
from docingest.embedding import BACKENDS
from docingest.parsing.options import (
    Engine,
    FailedPageMode,
    ImageMode,
    OcrMode,
    OfficeMode,
    TableFormat,
)
from pipelines.definitions import defs
from resources import NothingStoredIOManager


def test_definitions_load() -> None:
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys == {
        "source_documents",
        "parsed_pages",
        "document_classes",
        "chunks",
        "vector_store_entries",
    }
    for key in graph.get_all_asset_keys():
        partitions = graph.get(key).partitions_def
        assert isinstance(partitions, dg.DynamicPartitionsDefinition)
        assert partitions.name == "documents"
    for job in ("ingest_job", "rechunk_job", "delete_documents_job"):
        assert defs.resolve_job_def(job) is not None
    assert defs.resolve_sensor_def("upload_folder_sensor") is not None
    assert defs.resolve_schedule_def("reconcile_schedule") is not None
    checks = {key.name for key in graph.asset_check_keys}
    assert {
        "every_page_parsed_or_explained",
        "no_chunk_over_its_limit",
        "point_count_matches_chunks",
    } <= checks


def _config_field(job: str, *path: str) -> object:
    """A field of the job's run config schema, as the Launchpad reads it."""
    config_type = defs.resolve_job_def(job).run_config_schema.config_type
    for name in path:
        field = config_type.fields[name]  # type: ignore[attr-defined]
        config_type = field.config_type
    return field


@pytest.mark.parametrize(
    ("path", "choices"),
    [
        (("ops", "document_pipeline", "config", "strategy"), STRATEGIES),
        (("resources", "chunker", "config", "strategy"), STRATEGIES),
        (("resources", "parser", "config", "engine"), tuple(Engine)),
        (("resources", "parser", "config", "table_format"), tuple(TableFormat)),
        (("resources", "parser", "config", "ocr_mode"), tuple(OcrMode)),
        (("resources", "parser", "config", "image_mode"), tuple(ImageMode)),
        (("resources", "parser", "config", "failed_page_mode"), tuple(FailedPageMode)),
        (("resources", "parser", "config", "office_mode"), tuple(OfficeMode)),
        (("resources", "embedder", "config", "backend"), BACKENDS),
    ],
)
def test_launchpad_offers_fixed_values_as_choices(
    path: tuple[str, ...], choices: tuple[str, ...]
) -> None:
    field = _config_field("ingest_job", *path)
    config_type = field.config_type  # type: ignore[attr-defined]
    enum = getattr(config_type, "inner_type", config_type)  # Noneable(Enum) when optional
    assert [value.config_value for value in enum.enum_values] == list(choices)
    typo: dict[str, Any] = {}
    node = typo
    for name in path[:-1]:
        node = node.setdefault(name, {})
    node[path[-1]] = choices[0] + "x"
    with pytest.raises(dg.DagsterInvalidConfigError, match="x"):
        dg.validate_run_config(defs.resolve_job_def("ingest_job"), typo)


def test_descriptions_list_every_strategy() -> None:
    for path in (("ops", "document_pipeline", "config"), ("resources", "chunker", "config")):
        description = _config_field("ingest_job", *path, "strategy").description  # type: ignore[attr-defined]
        params = _config_field("ingest_job", *path, "params").description  # type: ignore[attr-defined]
        for strategy in STRATEGIES:
            assert strategy in description and f"{strategy} (" in params


def test_no_value_is_stored_between_steps() -> None:
    """The four assets write their own data: io_manager is not Dagster's pickling default."""
    assert isinstance((defs.resources or {})["io_manager"], NothingStoredIOManager)
    assert "pickling" not in str(_config_field("ingest_job", "resources").description)  # type: ignore[attr-defined]


def test_the_lineage_is_one_group() -> None:
    """The Lineage page opens on the whole graph, not on four collapsed one-asset groups."""
    graph = defs.resolve_asset_graph()
    assert {graph.get(key).group_name for key in graph.get_all_asset_keys()} == {"ingestion"}


def test_loading_the_definitions_warns_of_nothing() -> None:
    """No Beta/Preview warning from Dagster and no deprecated use in this project's modules:
    `dagster dev` prints what loading the definitions warns."""
    code = (
        "import warnings; import dagster as dg\n"
        "for category in (dg.BetaWarning, dg.PreviewWarning):\n"
        "    warnings.simplefilter('error', category)\n"
        "warnings.filterwarnings('error', category=DeprecationWarning,\n"
        "                        module='(pipelines|assets|resources|docingest)')\n"
        "from pipelines.definitions import defs\n"
        "defs.get_repository_def()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Warning" not in result.stderr
