"""Guards for the three places docingest replaces a third-party attribute: each test fails
loudly when the patched target moves or stops being read where the patch expects it.

- pymupdf4llm's HTML table pass (`table_html.page_html_tables`): skipped on pages with no
  table (docingest/parsing/layout.py `_pymupdf4llm`).
- PyMuPDF's message sink (`pymupdf._g_out_message`): silenced during a parse (`_quiet`).
- onnxruntime's `SessionOptions`: the layout model's sessions share the cores
  (docingest/parsing/runner.py `_share_cores`).

And one place that calls pymupdf4llm below its public function: the layout engine calls
`document_layout.parse_document` and `ParsedDocument.to_markdown` itself (to read each heading's
font size, docingest/parsing/layout.py `_convert`); the pages must be those `to_markdown` gives.
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


@pytest.mark.real_model
def test_the_layout_engines_direct_call_gives_what_to_markdown_gives() -> None:
    """Same page chunks as `pymupdf4llm.to_markdown` with the arguments the layout engine used
    before it called pymupdf4llm's parts itself, and each heading's document-wide font rank is
    the `#` count to_markdown writes."""
    from docingest.parsing.ocr import OcrRecorder
    from docingest.parsing.options import ParseOptions

    options = ParseOptions(engine="layout")
    engine = layout._pymupdf4llm()
    paper = ROOT.parent / "shared/corpus/retrieval/mmlongbench/pdfs/2303.05039v2.pdf"
    with pymupdf.open(paper) as doc:
        pages = [0, 1, 2]
        ours = layout._convert(doc, pages, options, OcrRecorder(options.ocr_languages))
        with layout._quiet():
            theirs = engine.to_markdown(
                doc,
                pages=pages,
                **layout.ocr_args(options, OcrRecorder(options.ocr_languages)),
                page_chunks=True,
                header=True,
                footer=True,
                table_output="html",
                write_images=False,
                embed_images=False,
                show_progress=False,
            )
    layout._font_levels(ours)
    headings = 0
    for chunk in ours:
        for box in chunk["page_boxes"]:
            if "font_size" in box:
                headings += 1
                start, stop = box["pos"]
                raw = chunk["text"][start:stop].lstrip()
                assert box.pop("font_level") == len(raw) - len(raw.lstrip("#")), raw
                del box["font_size"]
    assert headings >= 3
    assert ours == theirs
