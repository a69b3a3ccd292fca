"""The document parser (PyMuPDF; office and web formats): parse options as resource config."""

from typing import Any

import dagster as dg

from docingest.errors import ConfigError, DocIngestError, ErrorCode
from docingest.locations import Location, is_local, local_copy
from docingest.models import ParseResult
from docingest.option_files import INVALID_OPTION_FILES, parse_option_overrides
from docingest.parsing import ParseOptions, parse_file
from docingest.parsing.options import ImageMode, ParseOptionFields
from docingest.paths import data_location


class ParserResource(dg.ConfigurableResource, ParseOptionFields):
    """Parses one document into pages with typed fragments and markdown.

    Its fields are the parse options' schema (docingest.parsing.options): the Launchpad shows
    each with its description, default and, for fixed choices, the enum's values.
    """

    def options(self, overrides: dict[str, Any] | None = None) -> ParseOptions:
        """The options to parse with; `overrides` (a folder's or file's option file) win."""
        values = {name: getattr(self, name) for name in ParseOptionFields.model_fields}
        values.update(overrides or {})
        if values["image_dir"] is None and values["image_mode"] == ImageMode.save:
            values["image_dir"] = data_location().rstrip("/") + "/images"
        return ParseOptions(**values)

    def planned_options_hash(self, root: Location, path: Location) -> str:
        """The options hash the document at `path` (under the source folder `root`) would be
        parsed with, its option files applied; for invalid option files a value no parse
        records, so planning runs the document and the run reports the files. The configured
        options themselves failing to validate is a ConfigError, as everywhere."""
        try:
            overrides = parse_option_overrides(root, path)
        except DocIngestError:
            return INVALID_OPTION_FILES
        if not overrides:
            return self.options().options_hash()
        try:
            return self.options(overrides).options_hash()
        except ConfigError:
            return INVALID_OPTION_FILES

    def parse(
        self, path: Location, document_id: str, overrides: dict[str, Any] | None = None
    ) -> ParseResult:
        options = self.options(overrides)
        if is_local(path):
            return parse_file(path, document_id=document_id, options=options)
        try:
            with local_copy(path) as local:
                result = parse_file(local, document_id=document_id, options=options)
        except OSError as error:
            raise DocIngestError(
                ErrorCode.UNABLE_TO_DOWNLOAD_FILE, f"cannot read {path}: {error}"
            ) from error
        result.source = str(path)
        return result
