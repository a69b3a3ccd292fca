"""The document parser (PyMuPDF): parse options as resource config."""

from pathlib import Path

import dagster as dg
from pydantic import Field

from docingest.models import ParseResult
from docingest.parsing import ParseOptions, parse_file


class ParserResource(dg.ConfigurableResource):
    """Parses one document into pages with typed fragments and markdown."""

    engine: str = Field(
        default="layout",
        description="'layout' (PyMuPDF layout model, best quality) or 'fast' (no model).",
    )
    include_headers_footers: bool = Field(
        default=False, description="Keep page headers/footers in the markdown."
    )
    table_format: str = Field(default="markdown", description="'markdown' or 'html'.")
    max_file_size_mb: float = Field(default=100.0, description="Larger files are refused.")
    max_pages: int | None = Field(default=None, description="Parse at most this many pages.")
    password: str | None = Field(
        default=None, description="Password for encrypted PDFs (bind with dg.EnvVar)."
    )

    def options(self) -> ParseOptions:
        return ParseOptions(
            engine=self.engine,
            include_headers_footers=self.include_headers_footers,
            table_format=self.table_format,
            max_file_size_mb=self.max_file_size_mb,
            max_pages=self.max_pages,
            password=self.password,
        )

    def parse(self, path: Path, document_id: str) -> ParseResult:
        return parse_file(path, document_id=document_id, options=self.options())
