"""Parse options: validated, hashable, and safe to log (the password never leaves the object)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from docingest.errors import ConfigError
from docingest.ids import options_hash

# auto: the fast path on every page, the layout model on the pages that need it (triage.py).
ENGINES: tuple[str, ...] = ("layout", "fast", "auto")
TABLE_FORMATS: tuple[str, ...] = ("html", "markdown")
OCR_MODES: tuple[str, ...] = ("auto", "force", "off")
IMAGE_MODES: tuple[str, ...] = ("skip", "placeholder", "save")
FAILED_PAGE_MODES: tuple[str, ...] = ("raw_text", "blank_page", "error_message")
# Word-processing files: read their structure directly, or convert to PDF with LibreOffice.
OFFICE_MODES: tuple[str, ...] = ("native", "convert")
# Bump when this package's own output changes for the same input and options.
PARSER_VERSION = "5"
# Options that decide whether and where parsing runs, never what it produces.
_NOT_HASHED = (
    "max_file_size_mb",
    "isolate",
    "timeout_s",
    "timeout_per_page_s",
    "memory_limit_mb",
    "spreadsheet_max_cells",
)
_AUTO_TRIGGERS = (
    "auto_mode_trigger_on_table_in_page",
    "auto_mode_trigger_on_image_in_page",
    "auto_mode_trigger_on_regexp_in_page",
    "auto_mode_trigger_on_text_in_page",
)
_PAGE_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")
_LANGUAGE = re.compile(r"^[a-z_]{3,}(?:\+[a-z_]{3,})*$", re.IGNORECASE)


_OFFICE_PACKAGES = ("lxml", "openpyxl", "python-pptx", "xlrd", "striprtf")


@cache
def _package_version(name: str) -> str:
    try:
        return version(name)
    except PackageNotFoundError:
        return "unknown"


@cache
def engine_version(engine: str) -> str:
    """The versions behind `engine`'s output, part of every options hash."""
    parts = [f"docingest-parser={PARSER_VERSION}", f"pymupdf={_package_version('pymupdf')}"]
    if engine in ("layout", "auto"):
        parts.append(f"pymupdf4llm={_package_version('pymupdf4llm')}")
    # What reads office and web documents (their output is part of every parse's identity).
    parts.extend(f"{name}={_package_version(name)}" for name in _OFFICE_PACKAGES)
    return ";".join(parts)


def parse_page_ranges(spec: str) -> list[int]:
    """1-based page numbers of a spec like "1,3,5-7", sorted and unique."""
    pages: set[int] = set()
    for part in spec.split(","):
        match = _PAGE_RANGE.match(part)
        if match is None:
            raise ConfigError(f"target_pages: {part.strip()!r} is not N or N-M (1-based)")
        first = int(match.group(1))
        last = int(match.group(2) or first)
        if first < 1 or last < first:
            raise ConfigError(f"target_pages: bad range {part.strip()!r}")
        pages.update(range(first, last + 1))
    return sorted(pages)


def _choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"unknown {name} {value!r}; expected one of {allowed}")


def _positive(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"{name} must be a positive number, got {value!r}")


def _auto_mode_triggers(options: ParseOptions) -> None:
    text = options.auto_mode_trigger_on_text_in_page
    if text is not None and (not isinstance(text, str) or not text):
        raise ConfigError("auto_mode_trigger_on_text_in_page must be a non-empty string or None")
    pattern = options.auto_mode_trigger_on_regexp_in_page
    if pattern is None:
        return
    if not isinstance(pattern, str) or not pattern:
        raise ConfigError("auto_mode_trigger_on_regexp_in_page must be a non-empty string or None")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ConfigError(f"auto_mode_trigger_on_regexp_in_page: {exc}: {pattern!r}") from exc


@dataclass(frozen=True)
class ParseOptions:
    """How to parse a document; `password` is excluded from repr, dict and hash."""

    engine: str = "layout"
    include_headers_footers: bool = False
    table_format: str = "html"
    max_file_size_mb: float = 100.0
    max_pages: int | None = None
    password: str | None = field(default=None, repr=False, compare=False)
    target_pages: str | None = None  # 1-based, e.g. "1,3,5-7"
    page_separator: str | None = None  # between pages; "{page_number}" is replaced
    ocr_mode: str = "auto"
    ocr_languages: str = "eng"  # Tesseract codes joined by "+", e.g. "eng+deu"
    image_mode: str = "skip"
    image_dir: str | None = None  # where image_mode="save" writes the image files
    failed_page_mode: str = "raw_text"
    page_error_tolerance: float = 0.05  # fraction of pages that may fail
    merge_tables_across_pages: bool = False
    isolate: bool = False  # parse in a child process under the limits below
    timeout_s: float = 300.0
    timeout_per_page_s: float = 2.0  # added to timeout_s for each page to parse
    memory_limit_mb: int = 4096
    # Office and web documents (names of the spreadsheet_/presentation_/html_ options follow
    # LlamaCloud's parse API).
    office_mode: str = "native"
    office_include_comments: bool = False
    office_include_footnotes: bool = True
    spreadsheet_extract_sub_tables: bool = True
    spreadsheet_include_hidden_sheets: bool = False
    spreadsheet_max_cells: int = 2_000_000  # per workbook; over it: FILE_SIZE_TOO_LARGE
    presentation_include_notes: bool = True
    presentation_out_of_bounds_content: bool = False
    presentation_skip_embedded_data: bool = True
    html_remove_navigation_elements: bool = True
    html_remove_fixed_elements: bool = True
    # engine="auto": what sends a page to the layout model besides unusable text and columns
    # the fast reading order cannot settle (names after LlamaCloud's auto_mode triggers).
    auto_mode_trigger_on_table_in_page: bool = True  # ruled grid, aligned rows, rules
    auto_mode_trigger_on_image_in_page: bool = True  # images or vector drawings of size
    auto_mode_trigger_on_regexp_in_page: str | None = None  # a Python regexp the text matches
    auto_mode_trigger_on_text_in_page: str | None = None  # a string the text contains

    def __post_init__(self) -> None:
        _choice("engine", self.engine, ENGINES)
        _choice("table_format", self.table_format, TABLE_FORMATS)
        _choice("ocr_mode", self.ocr_mode, OCR_MODES)
        _choice("image_mode", self.image_mode, IMAGE_MODES)
        _choice("failed_page_mode", self.failed_page_mode, FAILED_PAGE_MODES)
        _choice("office_mode", self.office_mode, OFFICE_MODES)
        _positive("spreadsheet_max_cells", self.spreadsheet_max_cells)
        for name in (
            "include_headers_footers",
            "merge_tables_across_pages",
            "isolate",
            "office_include_comments",
            "office_include_footnotes",
            "spreadsheet_extract_sub_tables",
            "spreadsheet_include_hidden_sheets",
            "presentation_include_notes",
            "presentation_out_of_bounds_content",
            "presentation_skip_embedded_data",
            "html_remove_navigation_elements",
            "html_remove_fixed_elements",
            "auto_mode_trigger_on_table_in_page",
            "auto_mode_trigger_on_image_in_page",
        ):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be a bool")
        _positive("max_file_size_mb", self.max_file_size_mb)
        _positive("timeout_s", self.timeout_s)
        if not isinstance(self.timeout_per_page_s, int | float) or self.timeout_per_page_s < 0:
            raise ConfigError(f"timeout_per_page_s must be >= 0, got {self.timeout_per_page_s!r}")
        _positive("memory_limit_mb", self.memory_limit_mb)
        pages = self.max_pages
        if pages is not None and (isinstance(pages, bool) or not isinstance(pages, int)):
            raise ConfigError(f"max_pages must be an integer or None, got {pages!r}")
        if pages is not None and pages < 1:
            raise ConfigError(f"max_pages must be >= 1, got {pages}")
        if self.password is not None and not isinstance(self.password, str):
            raise ConfigError("password must be a string or None")
        if self.target_pages is not None:
            parse_page_ranges(self.target_pages)
        if not isinstance(self.ocr_languages, str) or not _LANGUAGE.match(self.ocr_languages):
            raise ConfigError(
                f"ocr_languages must be Tesseract codes joined by '+', got {self.ocr_languages!r}"
            )
        tolerance = self.page_error_tolerance
        if isinstance(tolerance, bool) or not isinstance(tolerance, int | float):
            raise ConfigError("page_error_tolerance must be a number between 0 and 1")
        if not 0 <= tolerance <= 1:
            raise ConfigError(f"page_error_tolerance must be between 0 and 1, got {tolerance}")
        _auto_mode_triggers(self)
        if self.image_mode == "save" and not self.image_dir:
            raise ConfigError("image_mode='save' needs image_dir")

    @property
    def engine_label(self) -> str:
        """The `engine` value written into parse results."""
        return f"pymupdf-{self.engine}"

    @property
    def max_file_size_bytes(self) -> int:
        """The size limit in bytes."""
        return int(self.max_file_size_mb * 1024 * 1024)

    def page_indexes(self, page_count: int) -> list[int]:
        """0-based indexes of the pages to parse: target_pages, then at most max_pages."""
        if self.target_pages is None:
            indexes = list(range(page_count))
        else:
            indexes = [n - 1 for n in parse_page_ranges(self.target_pages) if n <= page_count]
        return indexes if self.max_pages is None else indexes[: self.max_pages]

    def to_dict(self) -> dict[str, Any]:
        """The options as a plain mapping, without the password."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "password"}

    def options_hash(self) -> str:
        """Hash of everything that changes the output (not the password, not the limits)."""
        relevant = self.to_dict()
        for name in _NOT_HASHED:
            relevant.pop(name)
        if self.engine != "auto":  # the triggers change nothing else: earlier hashes stand
            for name in _AUTO_TRIGGERS:
                relevant.pop(name)
        relevant["engine_version"] = engine_version(self.engine)
        return options_hash(relevant)
