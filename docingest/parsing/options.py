"""Parse options: validated, hashable, and safe to log (the password never leaves the object)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from docingest.errors import ConfigError
from docingest.ids import options_hash

ENGINES: tuple[str, ...] = ("layout", "fast")
TABLE_FORMATS: tuple[str, ...] = ("markdown", "html")
# Bump when this package's own output changes for the same input and options.
PARSER_VERSION = "1"


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
    if engine == "layout":
        parts.append(f"pymupdf4llm={_package_version('pymupdf4llm')}")
    return ";".join(parts)


@dataclass(frozen=True)
class ParseOptions:
    """How to parse a document; `password` is excluded from repr, dict and hash."""

    engine: str = "layout"
    include_headers_footers: bool = False
    table_format: str = "markdown"
    max_file_size_mb: float = 100.0
    max_pages: int | None = None
    password: str | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ConfigError(f"unknown engine {self.engine!r}; expected one of {ENGINES}")
        if self.table_format not in TABLE_FORMATS:
            raise ConfigError(
                f"unknown table_format {self.table_format!r}; expected one of {TABLE_FORMATS}"
            )
        if not isinstance(self.include_headers_footers, bool):
            raise ConfigError("include_headers_footers must be a bool")
        size = self.max_file_size_mb
        if isinstance(size, bool) or not isinstance(size, int | float) or not size > 0:
            raise ConfigError(f"max_file_size_mb must be a positive number, got {size!r}")
        pages = self.max_pages
        if pages is not None and (isinstance(pages, bool) or not isinstance(pages, int)):
            raise ConfigError(f"max_pages must be an integer or None, got {pages!r}")
        if pages is not None and pages < 1:
            raise ConfigError(f"max_pages must be >= 1, got {pages}")
        if self.password is not None and not isinstance(self.password, str):
            raise ConfigError("password must be a string or None")

    @property
    def engine_label(self) -> str:
        """The `engine` value written into parse results."""
        return f"pymupdf-{self.engine}"

    @property
    def max_file_size_bytes(self) -> int:
        """The size limit in bytes."""
        return int(self.max_file_size_mb * 1024 * 1024)

    def to_dict(self) -> dict[str, Any]:
        """The options as a plain mapping, without the password."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "password"}

    def options_hash(self) -> str:
        """Hash of everything that changes the output (not the password, not the size limit)."""
        relevant = self.to_dict()
        # The size limit decides whether to parse, never what parsing produces.
        relevant.pop("max_file_size_mb")
        relevant["engine_version"] = engine_version(self.engine)
        return options_hash(relevant)
