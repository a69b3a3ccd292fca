"""Long PDFs through the whole pipeline stay within memory bounds (regression guards).

`docingest ingest` runs as a subprocess on a PDF bound from the retrieval corpus, and the peak
of its process tree's RSS (the CLI, the forkserver, the parse worker) and the parse worker's own
peak are compared with bounds set with headroom over what bench/memory_bench.py measured
(bench/README.md). The figures themselves, and the 1,000-page ones, come from the bench.
"""

import shutil
from pathlib import Path
from typing import Any

import pytest

from bench.memory_bench import RETRIEVAL, bind_pdf, export_model, measure_ingest
from docingest.parsing.options import ParseOptions

FAST_PAGES = 300
# Measured 989 MiB for the tree at 300 pages with the fast engine (CLI 764, parse worker 187;
# bench/README.md); 1,749 MiB before the embedding batches were bounded.
FAST_TREE_BOUND_MIB = 1300

DEFAULT_ENGINE_PAGES = 100
# The default engine (layout) at 100 pages, before its pages were laid out in windows: tree
# 1,298 MiB, CLI 752, parse worker 613 (mostly the layout model's working memory: the page text
# the windows stop keeping is 137 KiB a page, ~13 MiB at 100 pages, so these bounds guard
# against a regression and would not have failed before; bench/README.md).
DEFAULT_ENGINE_WORKER_BOUND_MIB = 800
DEFAULT_ENGINE_TREE_BOUND_MIB = 1450


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedding model exported once, as a home that has ingested before has it: the
    one-time export loads torch, which is not what these bounds are about."""
    models = tmp_path_factory.mktemp("model-home") / "models"
    export_model(models)
    return models


def _ingest(tmp_path: Path, models: Path, pages: int, engine: str) -> dict[str, Any]:
    if not RETRIEVAL.is_dir():
        pytest.fail(f"the shared corpus is missing {RETRIEVAL}")
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    bind_pdf(pages, uploads / f"bound-{pages}.pdf")
    home = tmp_path / "home"
    shutil.copytree(models, home / "models")
    result = measure_ingest(uploads, home, engine)
    assert result["exit_code"] == 0, result["summary"]
    assert result["pages"] == pages
    assert result["points"] == result["chunks"] > pages
    roles = result["peak_by_role_mib"]
    assert roles["cli"] > 0 and roles["parse worker"] > 0  # the whole tree was followed
    return result


@pytest.mark.slow
@pytest.mark.timeout(3600)  # ~20 minutes on a busy 2-core machine, most of it embedding
def test_a_300_page_pdf_ingests_within_its_memory_bound(tmp_path: Path, models: Path) -> None:
    result = _ingest(tmp_path, models, FAST_PAGES, "fast")
    assert result["peak_tree_mib"] < FAST_TREE_BOUND_MIB, result["peak_by_role_mib"]


@pytest.mark.slow
@pytest.mark.real_model
@pytest.mark.timeout(3600)  # ~3 minutes on a quiet 2-core machine
def test_the_default_engine_parses_a_long_pdf_within_its_memory_bound(
    tmp_path: Path, models: Path
) -> None:
    """The layout engine lays pages out a window at a time: its worker does not hold every
    page's text dictionaries until the end of the document."""
    engine = ParseOptions().engine
    assert engine == "layout"
    result = _ingest(tmp_path, models, DEFAULT_ENGINE_PAGES, engine)
    roles = result["peak_by_role_mib"]
    assert roles["parse worker"] < DEFAULT_ENGINE_WORKER_BOUND_MIB, roles
    assert result["peak_tree_mib"] < DEFAULT_ENGINE_TREE_BOUND_MIB, roles
