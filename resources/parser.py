"""The document parser (PyMuPDF; office and web formats): parse options as resource config."""

from enum import StrEnum
from pathlib import Path

import dagster as dg
from pydantic import Field

from docingest.models import ParseResult
from docingest.parsing import ParseOptions, parse_file
from docingest.parsing.options import (
    ENGINES,
    FAILED_PAGE_MODES,
    IMAGE_MODES,
    OCR_MODES,
    TABLE_FORMATS,
)
from docingest.paths import docingest_home

# Options with a fixed set of values are enums, derived from the parser's own lists: the
# Launchpad offers them as choices and refuses a typo before the run starts.
ParseEngine = StrEnum("ParseEngine", {v: v for v in ENGINES})  # type: ignore[misc]
TableFormat = StrEnum("TableFormat", {v: v for v in TABLE_FORMATS})  # type: ignore[misc]
OcrMode = StrEnum("OcrMode", {v: v for v in OCR_MODES})  # type: ignore[misc]
ImageMode = StrEnum("ImageMode", {v: v for v in IMAGE_MODES})  # type: ignore[misc]
FailedPageMode = StrEnum("FailedPageMode", {v: v for v in FAILED_PAGE_MODES})  # type: ignore[misc]


class ParserResource(dg.ConfigurableResource):
    """Parses one document into pages with typed fragments and markdown."""

    engine: ParseEngine = Field(
        default=ParseEngine("layout"),
        description="'layout' (PyMuPDF layout model, best quality), 'fast' (no model, ~30x) or "
        "'auto' (the fast path, the layout model on pages an auto_mode trigger sends).",
    )
    include_headers_footers: bool = Field(
        default=False,
        description="Keep page headers/footers in the markdown (always kept as fragments).",
    )
    table_format: TableFormat = Field(
        default=TableFormat("html"),
        description="Tables in the markdown: 'html' (keeps colspan/rowspan) or 'markdown'.",
    )
    merge_tables_across_pages: bool = Field(
        default=False,
        description="Join a table continued on the next page (same column count) into one.",
    )
    max_file_size_mb: float = Field(default=100.0, description="Larger files are refused.")
    max_pages: int | None = Field(default=None, description="Parse at most this many pages.")
    target_pages: str | None = Field(
        default=None, description="Only these pages, 1-based, e.g. '1,3,5-7'."
    )
    page_separator: str | None = Field(
        default=None,
        description="Put between pages in the document markdown; '{page_number}' is replaced.",
    )
    ocr_mode: OcrMode = Field(
        default=OcrMode("auto"),
        description="'auto': OCR pages without a usable text layer; 'force': every page; 'off'.",
    )
    ocr_languages: str = Field(
        default="eng",
        description="Tesseract languages joined by '+', e.g. 'eng+deu' (Debian tesseract-ocr-*).",
    )
    image_mode: ImageMode = Field(
        default=ImageMode("skip"),
        description="Figures in the markdown: 'skip', 'placeholder' (with caption), or 'save' "
        "(PNG files under image_dir, referenced from the markdown).",
    )
    image_dir: str | None = Field(
        default=None,
        description="Where image_mode='save' writes; default $DOCINGEST_HOME/images.",
    )
    failed_page_mode: FailedPageMode = Field(
        default=FailedPageMode("raw_text"),
        description="Markdown of a page that failed: 'raw_text', 'blank_page' or 'error_message'.",
    )
    page_error_tolerance: float = Field(
        default=0.05, description="Fraction of pages that may fail before the document fails."
    )
    isolate: bool = Field(
        default=True,
        description="Parse each document in a worker process under the time/memory limits.",
    )
    timeout_s: float = Field(
        default=300.0, description="Per-document time limit (isolated): PARSE_TIMEOUT after."
    )
    timeout_per_page_s: float = Field(
        default=2.0,
        description="Seconds added to timeout_s for each page to parse (long documents).",
    )
    memory_limit_mb: int = Field(
        default=4096, description="Per-worker address-space limit in MiB (isolated)."
    )
    office_mode: str = Field(
        default="native",
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
        description="Workbooks with more non-empty cells fail with FILE_SIZE_TOO_LARGE.",
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
    # engine='auto': what sends a page to the layout model (LlamaCloud's auto_mode triggers).
    auto_mode_trigger_on_table_in_page: bool = Field(
        default=True, description="auto: a ruled grid, rows of aligned cells or many rules."
    )
    auto_mode_trigger_on_image_in_page: bool = Field(
        default=True, description="auto: images or vector drawings covering much of the page."
    )
    auto_mode_trigger_on_regexp_in_page: str | None = Field(
        default=None, description="auto: a Python regular expression the page's text matches."
    )
    auto_mode_trigger_on_text_in_page: str | None = Field(
        default=None, description="auto: a string the page's text contains."
    )
    # repr=False keeps it out of reprs and logs; bound with dg.EnvVar (build_resources does,
    # from DOCINGEST_PDF_PASSWORD), the UI shows the variable's name, not its value.
    password: str | None = Field(
        default=None,
        repr=False,
        description="Password for encrypted PDFs (bind with dg.EnvVar).",
    )

    def options(self) -> ParseOptions:
        image_dir = self.image_dir
        if image_dir is None and self.image_mode == "save":
            image_dir = str(docingest_home() / "images")
        return ParseOptions(
            # Plain strings: parse results and hashes never carry the enum types.
            engine=str(self.engine),
            include_headers_footers=self.include_headers_footers,
            table_format=str(self.table_format),
            merge_tables_across_pages=self.merge_tables_across_pages,
            max_file_size_mb=self.max_file_size_mb,
            max_pages=self.max_pages,
            target_pages=self.target_pages,
            page_separator=self.page_separator,
            ocr_mode=str(self.ocr_mode),
            ocr_languages=self.ocr_languages,
            image_mode=str(self.image_mode),
            image_dir=image_dir,
            failed_page_mode=str(self.failed_page_mode),
            page_error_tolerance=self.page_error_tolerance,
            isolate=self.isolate,
            timeout_s=self.timeout_s,
            timeout_per_page_s=self.timeout_per_page_s,
            memory_limit_mb=self.memory_limit_mb,
            password=self.password,
            office_mode=self.office_mode,
            office_include_comments=self.office_include_comments,
            office_include_footnotes=self.office_include_footnotes,
            spreadsheet_extract_sub_tables=self.spreadsheet_extract_sub_tables,
            spreadsheet_include_hidden_sheets=self.spreadsheet_include_hidden_sheets,
            spreadsheet_max_cells=self.spreadsheet_max_cells,
            presentation_include_notes=self.presentation_include_notes,
            presentation_out_of_bounds_content=self.presentation_out_of_bounds_content,
            presentation_skip_embedded_data=self.presentation_skip_embedded_data,
            html_remove_navigation_elements=self.html_remove_navigation_elements,
            html_remove_fixed_elements=self.html_remove_fixed_elements,
            auto_mode_trigger_on_table_in_page=self.auto_mode_trigger_on_table_in_page,
            auto_mode_trigger_on_image_in_page=self.auto_mode_trigger_on_image_in_page,
            auto_mode_trigger_on_regexp_in_page=self.auto_mode_trigger_on_regexp_in_page,
            auto_mode_trigger_on_text_in_page=self.auto_mode_trigger_on_text_in_page,
        )

    def parse(self, path: Path, document_id: str) -> ParseResult:
        return parse_file(path, document_id=document_id, options=self.options())
