"""Guards for the three places docingest replaces a third-party attribute: each test fails
loudly when the patched target moves or stops being read where the patch expects it.

- pymupdf4llm's HTML table pass (`table_html.page_html_tables`): skipped on pages with no
  table (docingest/parsing/layout.py `load_layout_model`).
- PyMuPDF's message sink (`pymupdf._g_out_message`): silenced during a parse (`_quiet`).
- onnxruntime's `SessionOptions`: the layout model's sessions share the cores
  (docingest/parsing/runner.py `_share_cores`); PyMuPDF builds them when docingest's layout
  engine first asks (`sys.modules["pymupdf.layout"]`, docingest/__init__.py), not at import.

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
from docingest.parsing.options import ParseOptions
from docingest.parsing.runner import ParserPool

ROOT = Path(__file__).resolve().parents[2]


def test_the_table_pass_is_replaced_where_pymupdf4llm_looks_it_up() -> None:
    """Both callers import `page_html_tables` from the module when they run, so the replaced
    attribute is the one they call; a module-level import would bypass it."""
    layout.load_layout_model()
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


def _run_fresh(code: str) -> list[str]:
    """`code` in a fresh interpreter (import-time behaviour is process-wide): its stdout lines."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.split()


_RECORD_SESSIONS = (
    "import onnxruntime\n"
    "built = []\n"
    "class Recording(onnxruntime.InferenceSession):\n"
    "    def __init__(self, *args, **kwargs):\n"
    "        super().__init__(*args, **kwargs)\n"
    "        built.append(self.get_session_options().intra_op_num_threads)\n"
    "onnxruntime.InferenceSession = Recording\n"
)


@pytest.mark.real_model
def test_pymupdf_loads_the_layout_model_only_when_the_layout_engine_asks() -> None:
    """Under docingest, `import pymupdf` builds no ONNX session (PyMuPDF would load the layout
    model at import); `load_layout_model` loads it, and pymupdf4llm then takes its layout path."""
    code = _RECORD_SESSIONS + (
        "import docingest.parsing.fast\n"
        "import pymupdf, pymupdf4llm\n"
        "print(len(built), pymupdf._get_layout is None)\n"
        "from docingest.parsing.layout import load_layout_model\n"
        "load_layout_model()\n"
        "print(len(built), callable(pymupdf._get_layout), pymupdf4llm._use_layout)\n"
    )
    assert _run_fresh(code) == ["0", "True", "3", "True", "True"]


@pytest.mark.real_model
def test_the_layout_models_sessions_take_the_shared_options() -> None:
    """After `_share_cores(1)` (what each parse worker does first), every session PyMuPDF's
    layout package builds runs on one intra-op thread."""
    code = _RECORD_SESSIONS + (
        "from docingest.parsing.runner import _share_cores\n"
        "from docingest.parsing.layout import load_layout_model\n"
        "_share_cores(1)\n"
        "load_layout_model()\n"
        "print(*built)\n"
    )
    assert _run_fresh(code) == ["1", "1", "1"]


def _threads(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("Threads:")).split()[1])


@pytest.mark.real_model
@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: one thread either way")
def test_a_parse_worker_runs_the_layout_model_on_its_share_of_the_cores(tmp_path: Path) -> None:
    """A worker started with `model_threads=1` lays out a page with sessions of one thread each:
    it runs fewer threads than a worker left at ONNX Runtime's default (one per core). Before
    the model loaded at first use, both had built their sessions at import, at the default."""
    pdf = tmp_path / "page.pdf"
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "A page for the layout model.")
    doc.save(pdf)
    counts = {}
    for model_threads in (1, 0):
        pool = ParserPool(workers=1, model_threads=model_threads)
        try:
            result = pool.parse(pdf, "page.pdf", ParseOptions(engine="layout", ocr_mode="off"))
            assert "layout model" in result.pages[0].markdown
            worker = pool._all[0].process.pid
            assert worker is not None
            counts[model_threads] = _threads(worker)
        finally:
            pool.close()
    assert counts[1] < counts[0], counts


@pytest.mark.real_model
def test_the_layout_engines_direct_call_gives_what_to_markdown_gives() -> None:
    """Same page chunks as `pymupdf4llm.to_markdown` with the arguments the layout engine used
    before it called pymupdf4llm's parts itself, and each heading's document-wide font rank is
    the `#` count to_markdown writes."""
    from docingest.parsing.ocr import OcrRecorder
    from docingest.parsing.options import ParseOptions

    options = ParseOptions(engine="layout")
    engine = layout.load_layout_model()
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
