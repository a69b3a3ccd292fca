"""Parsing documents (PDF, plain text, markdown) into pages of typed fragments; no Dagster."""

from docingest.parsing.api import parse_bytes, parse_file
from docingest.parsing.detect import detect_mime
from docingest.parsing.options import ParseOptions

__all__ = ["ParseOptions", "detect_mime", "parse_bytes", "parse_file"]
