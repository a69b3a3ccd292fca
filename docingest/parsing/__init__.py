"""Parsing documents (PDF, what MuPDF opens, text, markdown) into pages of typed fragments."""

from docingest.parsing.api import parse_bytes
from docingest.parsing.detect import detect_mime
from docingest.parsing.options import ParseOptions
from docingest.parsing.runner import ParserPool, parse_file, parse_many

__all__ = ["ParseOptions", "ParserPool", "detect_mime", "parse_bytes", "parse_file", "parse_many"]
