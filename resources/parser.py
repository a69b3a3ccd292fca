"""The document parser (PyMuPDF; office and web formats): parse options as resource config."""

from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from docingest.cores import available_cores, threads_each
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
    each with its description, default and, for fixed choices, the enum's values. Two more
    fields say how many documents are parsed at once; they change no parse, so they are not
    parse options (not in the options hash).
    """

    parse_workers: int = Field(
        default=0,
        ge=0,
        description=(
            "Parser worker processes (isolated parsing), each parsing one document at a time. "
            "0: one per core this process may run on. Env: DOCINGEST_PARSE_WORKERS."
        ),
    )
    parse_ahead: int | None = Field(
        default=None,
        ge=0,
        description=(
            "Documents of a run parsed ahead, in the workers, while the step chunks, embeds and "
            "writes the one before them. Empty: as many as parse workers; 0: one document at a "
            "time (no overlap). Env: DOCINGEST_PARSE_AHEAD."
        ),
    )

    def workers(self) -> int:
        """Worker processes: `parse_workers`, or one per core."""
        return self.parse_workers or available_cores()

    def depth(self) -> int:
        """Documents parsed ahead of the one the step is on."""
        return self.workers() if self.parse_ahead is None else self.parse_ahead

    def concurrent_parses(self) -> int:
        """Parses that run at once in a run: the one the step waits for and those ahead of it,
        at most one per worker."""
        return min(self.workers(), self.depth() + 1)

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
        return self.planned_options_hash_of(overrides)

    def planned_options_hash_of(self, overrides: dict[str, Any]) -> str:
        """`planned_options_hash` of a document whose option files set `overrides` (read
        already, by an `OptionFileReader` that serves many documents)."""
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
            return self._parse_file(path, document_id, options)
        try:
            with local_copy(path) as local:
                result = self._parse_file(local, document_id, options)
        except OSError as error:
            raise DocIngestError(
                ErrorCode.UNABLE_TO_DOWNLOAD_FILE, f"cannot read {path}: {error}"
            ) from error
        result.source = str(path)
        return result

    def _parse_file(self, path: Path, document_id: str, options: ParseOptions) -> ParseResult:
        return parse_file(
            path,
            document_id=document_id,
            options=options,
            workers=self.workers(),
            # The cores shared out among the parses that run at once, so that their layout
            # models' threads do not fight over them.
            model_threads=threads_each(self.concurrent_parses()),
        )
