"""docingest: document ingestion into vector stores.

This package holds the pure logic (parsing, chunking, ids, embedding and vector-store clients)
with no Dagster import; `resources`, `assets` and `pipelines` wire it into Dagster.

PyMuPDF imports its layout package whenever it is installed, and that import loads the layout
model: three ONNX sessions, ~0.9 s and ~55 MiB, each with one thread per core, in every process
that opens a PDF (the CLI, the code server, the daemon's sensor ticks, each parse worker, the
process that embeds). Only the layout engine runs the model. So until docingest's layout engine
asks for it (`allow_layout_model`, called by `docingest.parsing.layout.load_layout_model`),
`import pymupdf` finds no layout package; a parse worker has set its ONNX thread count by then
(`docingest.parsing.runner._share_cores`), which the model's sessions built at import never saw.
A process that imported PyMuPDF before docingest keeps what it loaded.
"""

import sys

__version__ = "0.1.0"

_LAYOUT_PACKAGE = "pymupdf.layout"

if "pymupdf" not in sys.modules:
    # None in sys.modules makes `import pymupdf.layout` raise ImportError, which PyMuPDF and
    # pymupdf4llm take as "not installed" (the import system's documented way to block one).
    sys.modules.setdefault(_LAYOUT_PACKAGE, None)  # type: ignore[arg-type]


def allow_layout_model() -> None:
    """Let `import pymupdf.layout` load the layout model from now on, in this process."""
    if _LAYOUT_PACKAGE in sys.modules and sys.modules[_LAYOUT_PACKAGE] is None:
        del sys.modules[_LAYOUT_PACKAGE]
