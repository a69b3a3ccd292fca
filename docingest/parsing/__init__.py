"""Parsing documents (PDF, what MuPDF opens, text, markdown) into pages of typed fragments.

The names below load on first use: the parse options' schema (`docingest.parsing.options`, which
the CLI reads to build its flags) comes without PyMuPDF and the engines.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from docingest.parsing.api import parse_bytes
    from docingest.parsing.detect import detect_mime
    from docingest.parsing.options import ParseOptions
    from docingest.parsing.runner import ParserPool, parse_file, parse_many

_HOMES = {
    "parse_bytes": "api",
    "detect_mime": "detect",
    "ParseOptions": "options",
    "ParserPool": "runner",
    "parse_file": "runner",
    "parse_many": "runner",
}
__all__ = ["ParseOptions", "ParserPool", "detect_mime", "parse_bytes", "parse_file", "parse_many"]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"docingest.parsing.{_HOMES[name]}"), name)
