"""Guards for the three places docingest replaces a third-party attribute: each test fails
loudly when the patched target moves or stops being read where the patch expects it.

- pymupdf4llm's HTML table pass (`table_html.page_html_tables`): skipped on pages with no
  table (docingest/parsing/layout.py `_pymupdf4llm`).
- PyMuPDF's message sink (`pymupdf._g_out_message`): silenced during a parse (`_quiet`).
- onnxruntime's `SessionOptions`: the layout model's sessions share the cores
  (docingest/parsing/runner.py `_share_cores`).
"""

from __future__ import annotations

import inspect
import io
import os
import subprocess
import sys
from pathlib import Path

import pymupdf
import pytest

from docingest.parsing import layout

ROOT = Path(__file__).resolve().parents[2]


def test_the_table_pass_is_replaced_where_pymupdf4llm_looks_it_up() -> None:
    """Both callers import `page_html_tables` from the module when they run, so the replaced
    attribute is the one they call; a module-level import would bypass it."""
    layout._pymupdf4llm()
    from pymupdf4llm.helpers import document_layout, pymupdf_rag, table_html

    assert getattr(table_html.page_html_tables, "_docingest_guard", False)
    assert list(inspect.signature(table_html.page_html_tables).parameters) == ["page"]
    for caller in (document_layout, pymupdf_rag):
        assert "from pymupdf4llm.helpers.table_html import page_html_tables" in (
            inspect.getsource(caller)
        )
        # Imported inside the calling function, not bound in the module at import.
        assert not hasattr(caller, "page_html_tables"), f"{caller.__name__} binds it at import"


def test_pymupdf_messages_go_where_quiet_points_them() -> None:
    saved = pymupdf._g_out_message
    probe = io.StringIO()
    pymupdf._g_out_message = probe
    try:
        pymupdf.message("probe")
    finally:
        pymupdf._g_out_message = saved
    assert probe.getvalue() == "probe\n"
    with layout._quiet():
        assert pymupdf._g_out_message is not saved
        pymupdf.message("silenced")
    assert pymupdf._g_out_message is saved


@pytest.mark.real_model
def test_the_layout_models_sessions_take_the_shared_options() -> None:
    """In a fresh interpreter (the patch is process-wide): after `_share_cores(1)`, the options
    PyMuPDF's layout package builds its sessions with run on one thread."""
    code = (
        "import onnxruntime\n"
        "from docingest.parsing.runner import _share_cores\n"
        "_share_cores(1)\n"
        "from pymupdf.layout.onnx import common_util\n"
        "import inspect\n"
        "assert common_util.ort is onnxruntime\n"
        "assert 'ort.SessionOptions()' in inspect.getsource(common_util.make_session)\n"
        "print(common_util.ort.SessionOptions().intra_op_num_threads)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-1] == "1"
