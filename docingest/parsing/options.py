"""Parse options: the one schema of how a document is parsed.

`ParseOptionFields` declares every option once (type, default, description, constraints); the
parser resource (and so the Launchpad), the CLI flags and the per-folder option files are all
derived from it. `ParseOptions` is the validated, frozen, hashable value the parser takes; the
password never leaves it (not in repr, dict, echo or hash).

A field's `json_schema_extra` may carry `flag` (the CLI flag's name where it differs from the
field's), `envvar` (the CLI reads it from the environment too) and `hashed: False` (the option
decides whether and where parsing runs, never what it produces: left out of the options hash).
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from docingest.errors import ConfigError
from docingest.ids import options_hash
from docingest.parsing.languages import tesseract_languages


class Engine(StrEnum):
    """'layout': PyMuPDF's layout model (best quality); 'fast': no model (~30x faster);
    'auto': the fast path on every page, the layout model on the pages that need it
    (triage.py)."""

    layout = "layout"
    fast = "fast"
    auto = "auto"


class TableFormat(StrEnum):
    html = "html"
    markdown = "markdown"


class OcrMode(StrEnum):
    auto = "auto"
    force = "force"
    off = "off"


class ImageMode(StrEnum):
    skip = "skip"
    placeholder = "placeholder"
    save = "save"


class FailedPageMode(StrEnum):
    raw_text = "raw_text"
    blank_page = "blank_page"
    error_message = "error_message"


class OfficeMode(StrEnum):
    """Word-processing files: read their structure directly, or convert to PDF (LibreOffice)."""

    native = "native"
    convert = "convert"


# Bump when this package's own output changes for the same input and options.
PARSER_VERSION = "5"
OCR_DPI = 150  # Tesseract's resolution; high_res_ocr doubles it
HIGH_RES_OCR_DPI = 300
_PAGE_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")
_OFFICE_PACKAGES = ("lxml", "openpyxl", "python-pptx", "xlrd", "striprtf")
_RUN_ONLY: dict[str, Any] = {"hashed": False}
# Hashed only with engine="auto" (they change nothing else: earlier hashes stand).
_AUTO_TRIGGERS = (
    "auto_mode_trigger_on_table_in_page",
    "auto_mode_trigger_on_image_in_page",
    "auto_mode_trigger_on_regexp_in_page",
    "auto_mode_trigger_on_text_in_page",
)


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


class ParseOptionFields(BaseModel):
    """Every parse option, declared once; the resource and `ParseOptions` inherit these."""

    engine: Engine = Field(
        default=Engine.layout,
        description="'layout' (PyMuPDF layout model, best quality), 'fast' (no model, ~30x) or "
        "'auto' (the fast path, the layout model on pages an auto_mode trigger sends).",
    )
    # engine='auto': what sends a page to the layout model besides unusable text and columns
    # the fast reading order cannot settle (names after LlamaCloud's auto_mode triggers).
    auto_mode_trigger_on_table_in_page: bool = Field(
        default=True, description="auto: a ruled grid, rows of aligned cells or many rules."
    )
    auto_mode_trigger_on_image_in_page: bool = Field(
        default=True, description="auto: images or vector drawings covering much of the page."
    )
    auto_mode_trigger_on_regexp_in_page: str | None = Field(
        default=None,
        min_length=1,
        description="auto: a Python regular expression the page's text matches.",
    )
    auto_mode_trigger_on_text_in_page: str | None = Field(
        default=None, min_length=1, description="auto: a string the page's text contains."
    )
    include_headers_footers: bool = Field(
        default=False,
        description="Keep page headers/footers in the markdown (always kept as fragments).",
    )
    table_format: TableFormat = Field(
        default=TableFormat.html,
        description="Tables in the markdown: 'html' (keeps colspan/rowspan) or 'markdown'.",
    )
    compact_markdown_table: bool = Field(
        default=False,
        description="Markdown tables without cell padding ('|a|b|'): fewer tokens per table.",
    )
    merge_tables_across_pages: bool = Field(
        default=False,
        description="Join a table continued on the next page (same column count) into one.",
    )
    max_file_size_mb: float = Field(
        default=100.0, gt=0, description="Larger files are refused.", json_schema_extra=_RUN_ONLY
    )
    max_pages: int | None = Field(default=None, ge=1, description="Parse at most this many pages.")
    target_pages: str | None = Field(
        default=None, description="Only these pages, 1-based, e.g. '1,3,5-7'."
    )
    page_separator: str | None = Field(
        default=None,
        description="Put between pages in the document markdown; '{page_number}' is replaced.",
    )
    remove_hidden_text: bool = Field(
        default=True,
        description="Drop text a reader cannot see (invisible render mode, transparent, the "
        "colour of its background, covered by an image): planted instructions stay out.",
    )
    skip_diagonal_text: bool = Field(
        default=False, description="Drop text running at a slant (watermarks, stamps)."
    )
    bbox_top: float = Field(
        default=0.0, ge=0, lt=1, description="Fraction of the page height to ignore at the top."
    )
    bbox_bottom: float = Field(
        default=0.0, ge=0, lt=1, description="Fraction of the page height to ignore at the bottom."
    )
    bbox_left: float = Field(
        default=0.0, ge=0, lt=1, description="Fraction of the page width to ignore at the left."
    )
    bbox_right: float = Field(
        default=0.0, ge=0, lt=1, description="Fraction of the page width to ignore at the right."
    )
    ocr_mode: OcrMode = Field(
        default=OcrMode.auto,
        description="'auto': OCR pages without a usable text layer; 'force': every page; 'off'.",
        json_schema_extra={"flag": "ocr"},
    )
    ocr_languages: str = Field(
        default="eng",
        description="OCR languages joined by '+' or ',': the parse APIs' codes (en, de, ch_sim) "
        "or Tesseract's (eng, deu, chi_sim); Debian packages tesseract-ocr-*.",
    )
    high_res_ocr: bool = Field(
        default=False,
        description=f"OCR at {HIGH_RES_OCR_DPI} dpi instead of {OCR_DPI}: small print, slower.",
    )
    image_mode: ImageMode = Field(
        default=ImageMode.skip,
        description="Figures in the markdown: 'skip', 'placeholder' (with caption), or 'save' "
        "(PNG files under image_dir, referenced from the markdown).",
        json_schema_extra={"flag": "images"},
    )
    image_dir: str | None = Field(
        default=None,
        description="Where image_mode='save' writes, a folder or an s3:// URL (the resource's "
        "default: images/ under $DOCINGEST_DATA_URL, else $DOCINGEST_HOME).",
    )
    failed_page_mode: FailedPageMode = Field(
        default=FailedPageMode.raw_text,
        description="Markdown of a page that failed: 'raw_text', 'blank_page' or 'error_message'.",
        json_schema_extra={"flag": "failed-page"},
    )
    replace_failed_page_with_error_message_prefix: str = Field(
        default="", description="failed_page_mode='error_message': text before the message."
    )
    replace_failed_page_with_error_message_suffix: str = Field(
        default="", description="failed_page_mode='error_message': text after the message."
    )
    page_error_tolerance: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="Fraction of pages that may fail before the document fails.",
    )
    isolate: bool = Field(
        default=True,
        description="Parse each document in a worker process under the time/memory limits.",
        json_schema_extra=_RUN_ONLY,
    )
    timeout_s: float = Field(
        default=300.0,
        gt=0,
        description="Per-document time limit (isolated): PARSE_TIMEOUT after.",
        json_schema_extra=_RUN_ONLY,
    )
    timeout_per_page_s: float = Field(
        default=2.0,
        ge=0,
        description="Seconds added to timeout_s for each page to parse (long documents).",
        json_schema_extra=_RUN_ONLY,
    )
    memory_limit_mb: int = Field(
        default=4096,
        gt=0,
        description="Per-worker address-space limit in MiB (isolated).",
        json_schema_extra=_RUN_ONLY,
    )
    # Office and web documents (names of the spreadsheet_/presentation_/html_ options follow
    # LlamaCloud's parse API).
    office_mode: OfficeMode = Field(
        default=OfficeMode.native,
        description="Word-processing files (DOCX, ODT, DOC, RTF): 'native' reads their "
        "structure (~100 files/s), 'convert' makes a PDF with LibreOffice (real pages and "
        "boxes, ~2.5 s a file).",
    )
    office_include_comments: bool = Field(
        default=False, description="Word comments as footnote fragments."
    )
    office_include_footnotes: bool = Field(
        default=True, description="Footnotes as footnote fragments (DOCX, ODT)."
    )
    spreadsheet_extract_sub_tables: bool = Field(
        default=True, description="Split a sheet's tables at empty rows and columns."
    )
    spreadsheet_include_hidden_sheets: bool = Field(
        default=False, description="Parse hidden sheets too."
    )
    spreadsheet_max_cells: int = Field(
        default=2_000_000,
        gt=0,
        description="Workbooks with more non-empty cells fail with FILE_SIZE_TOO_LARGE.",
        json_schema_extra=_RUN_ONLY,
    )
    presentation_include_notes: bool = Field(
        default=True, description="Speaker notes after each slide."
    )
    presentation_out_of_bounds_content: bool = Field(
        default=False, description="Keep shapes placed entirely off the slide."
    )
    presentation_skip_embedded_data: bool = Field(
        default=True, description="Leave out the data tables of embedded charts."
    )
    html_remove_navigation_elements: bool = Field(
        default=True,
        description="HTML: keep the main content; drop nav, headers, footers, sidebars, "
        "cookie banners and hidden elements.",
    )
    html_remove_fixed_elements: bool = Field(
        default=True, description="HTML: drop elements fixed or sticky on screen."
    )
    # repr=False keeps it out of reprs and logs; the resource binds it with dg.EnvVar
    # (DOCINGEST_PDF_PASSWORD): the UI shows the variable's name, not its value.
    password: str | None = Field(
        default=None,
        repr=False,
        description="Password for encrypted PDFs (bind with dg.EnvVar).",
        json_schema_extra={"envvar": "DOCINGEST_PDF_PASSWORD", "hashed": False},
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_coercion(cls, value: Any, info: Any) -> Any:
        """A flag must be a bool and a number must not be one (pydantic would turn 1 and
        'yes' into True)."""
        annotation = cls.model_fields[info.field_name].annotation
        if annotation is bool and not isinstance(value, bool):
            raise PydanticCustomError(
                "bool", "must be true or false, got {value}", {"value": value}
            )
        if annotation is not bool and isinstance(value, bool):
            raise PydanticCustomError("bool", "must not be a bool, got {value}", {"value": value})
        return value

    @field_validator("target_pages")
    @classmethod
    def _page_ranges(cls, value: str | None) -> str | None:
        if value is not None:
            parse_page_ranges(value)
        return value

    @field_validator("auto_mode_trigger_on_regexp_in_page")
    @classmethod
    def _regexp(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"{exc}: {value!r}") from exc
        return value

    @field_validator("ocr_languages")
    @classmethod
    def _languages(cls, value: str) -> str:
        return tesseract_languages(value)

    @model_validator(mode="after")
    def _consistent(self) -> ParseOptionFields:
        if self.bbox_top + self.bbox_bottom >= 1 or self.bbox_left + self.bbox_right >= 1:
            raise ValueError("bbox_top + bbox_bottom and bbox_left + bbox_right must stay < 1")
        return self

    def crops_margins(self) -> bool:
        return any((self.bbox_top, self.bbox_bottom, self.bbox_left, self.bbox_right))


def _message(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or 'options'}: {item['msg']}"
        for item in error.errors()
    )


def hashed_fields() -> list[str]:
    """The options that change what parsing produces (not the password, not the limits)."""
    return [
        name
        for name, field in ParseOptionFields.model_fields.items()
        if not isinstance(field.json_schema_extra, dict)
        or field.json_schema_extra.get("hashed", True)
    ]


class ParseOptions(ParseOptionFields):
    """How to parse a document: validated on creation (ConfigError), frozen and hashable."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as error:
            raise ConfigError(_message(error)) from None
        if self.image_mode == ImageMode.save and not self.image_dir:
            raise ConfigError("image_mode='save' needs image_dir")
        if self.ocr_mode != OcrMode.off:
            # Imported here: the schema loads without PyMuPDF (the CLI builds its flags from it).
            from docingest.parsing.ocr import missing_language_data

            if (missing := missing_language_data(self.ocr_languages)) is not None:
                raise ConfigError(missing)

    @property
    def engine_label(self) -> str:
        """The `engine` value written into parse results."""
        return f"pymupdf-{self.engine}"

    @property
    def max_file_size_bytes(self) -> int:
        """The size limit in bytes."""
        return int(self.max_file_size_mb * 1024 * 1024)

    @property
    def ocr_dpi(self) -> int:
        return HIGH_RES_OCR_DPI if self.high_res_ocr else OCR_DPI

    def page_indexes(self, page_count: int) -> list[int]:
        """0-based indexes of the pages to parse: target_pages, then at most max_pages."""
        if self.target_pages is None:
            indexes = list(range(page_count))
        else:
            indexes = [n - 1 for n in parse_page_ranges(self.target_pages) if n <= page_count]
        return indexes if self.max_pages is None else indexes[: self.max_pages]

    def to_dict(self) -> dict[str, Any]:
        """The options as a plain JSON mapping (enums as strings), without the password: what
        a parse result echoes."""
        return self.model_dump(mode="json", exclude={"password"})

    def options_hash(self) -> str:
        """Hash of everything that changes the output (not the password, not the limits)."""
        names = set(hashed_fields())
        if self.engine != Engine.auto:
            names -= set(_AUTO_TRIGGERS)
        relevant = self.model_dump(mode="json", include=names)
        relevant["engine_version"] = engine_version(self.engine)
        return options_hash(relevant)
