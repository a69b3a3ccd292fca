"""Parse options set by the upload folder itself: per folder and per document.

`.docingest.yaml` in a folder applies to the files in it and in its subfolders (a nearer
folder's file wins key by key), and `<file>.docingest.yaml` beside a document (e.g.
`scan.pdf.docingest.yaml`) to that document alone, over its folders' files:

    parse_options:
      ocr_languages: de
      bbox_top: 0.05

Only options that shape the output may be set this way (not the limits, the password or where
images are written: an upload folder does not loosen the sandbox or choose where files go).
The options a document ends with are folded into its options hash, so its cached parse is
reused only when they match. An invalid file is a property of the input: the documents it
covers fail with CORRUPT_FILE (not retried), like an invalid metadata sidecar.
"""

from __future__ import annotations

import errno
import stat
from collections.abc import Collection
from pathlib import PurePath
from typing import Any

import yaml

from docingest.errors import DocIngestError, ErrorCode
from docingest.ids import options_hash
from docingest.locations import Location, absolute, stat_no_follow
from docingest.parsing.options import hashed_fields

FOLDER_FILE = ".docingest.yaml"
DOCUMENT_SUFFIX = ".docingest.yaml"
_KEY = "parse_options"
_MAX_BYTES = 64 * 1024
_NOT_FROM_FILES = frozenset({"image_dir"})
INVALID_OPTION_FILES = "invalid-option-files"  # the options hash planning expects for them


def settable_options() -> list[str]:
    """The parse options an option file may set."""
    return [name for name in hashed_fields() if name not in _NOT_FROM_FILES]


def is_option_file(path: PurePath) -> bool:
    """Whether `path` is an option file (never a document to ingest)."""
    return path.name.endswith(DOCUMENT_SUFFIX)


def _read(path: Location) -> dict[str, Any]:
    def invalid(reason: str) -> DocIngestError:
        return DocIngestError(ErrorCode.CORRUPT_FILE, f"invalid parse option file {path}: {reason}")

    try:
        info = stat_no_follow(path)
    except FileNotFoundError:
        return {}
    except OSError as error:
        if error.errno == errno.ENAMETOOLONG:
            # A document whose name is near the limit cannot have a sidecar: it has none.
            return {}
        raise DocIngestError(
            ErrorCode.UNABLE_TO_DOWNLOAD_FILE, f"cannot read {path}: {error.strerror or error}"
        ) from error
    if not stat.S_ISREG(info.st_mode):
        raise invalid("not a regular file (links, pipes and devices are not read)")
    if info.st_size > _MAX_BYTES:
        raise invalid(f"{info.st_size} bytes (at most {_MAX_BYTES})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise invalid(str(error).splitlines()[0]) from error
    if not isinstance(data, dict) or set(data) - {_KEY}:
        raise invalid(f"expected a mapping with the one key {_KEY!r}")
    options = data.get(_KEY) or {}
    if not isinstance(options, dict):
        raise invalid(f"{_KEY} must be a mapping of option names to values")
    unknown = sorted(set(options) - set(settable_options()))
    if unknown:
        raise invalid(f"{', '.join(map(str, unknown))} cannot be set here")
    return options


def option_files(root: Location, path: Location) -> list[Location]:
    """The option files that apply to the document at `path` under `root`, weakest first."""
    folder = path.parent
    folders = [folder]
    while folder != root and root in folder.parents:
        folder = folder.parent
        folders.append(folder)
    files = [f / FOLDER_FILE for f in reversed(folders)]
    return [*files, path.with_name(path.name + DOCUMENT_SUFFIX)]


def parse_option_overrides(
    root: Location, path: Location, present: Collection[str] | None = None
) -> dict[str, Any]:
    """The parse options the option files of `path` set, merged ({} when there are none); the
    values are checked when they meet the configured options (ParserResource.options).
    `present`: the option files known to exist (from a listing); the others are not looked up,
    which on an object store saves a request per candidate name. One document's answer from
    an `OptionFileReader` of its own: there is one way of reading option files."""
    return OptionFileReader(root, present).overrides(path)


class OptionFileReader:
    """The option files of one folder tree as they are when it reads them, for one tick or one
    run (build a new reader to see later changes): each folder's files are read once, and only
    each document's own file is looked up per document (the sensor asks for every file of the
    upload folder on every tick). `present` as for `parse_option_overrides`; with a listing
    that holds no option file at all, no document costs a lookup."""

    def __init__(self, root: Location, present: Collection[str] | None = None) -> None:
        self.root = absolute(root)
        self.present = present
        self._folders: dict[Location, dict[str, Any] | DocIngestError] = {}
        self._digests: dict[Location, str] = {}

    def overrides(self, path: Location) -> dict[str, Any]:
        if self.present is not None and not self.present:
            return {}
        path = absolute(path)
        inherited = self._inherited(path.parent)
        if isinstance(inherited, DocIngestError):
            raise DocIngestError(inherited.code, inherited.message)
        own = path.with_name(path.name + DOCUMENT_SUFFIX)
        return {**inherited, **(_read(own) if self._may_exist(own) else {})}

    def digest(self, path: Location) -> str:
        """`overrides_digest` of `overrides(path)` (DocIngestError for invalid files), computed
        once per folder for the documents without an option file of their own."""
        if self.present is not None and not self.present:
            return ""
        path = absolute(path)
        if self._may_exist(path.with_name(path.name + DOCUMENT_SUFFIX)):
            return overrides_digest(self.overrides(path))
        folder = path.parent
        if folder not in self._digests:
            inherited = self._inherited(folder)
            if isinstance(inherited, DocIngestError):
                raise DocIngestError(inherited.code, inherited.message)
            self._digests[folder] = overrides_digest(inherited)
        return self._digests[folder]

    def _inherited(self, folder: Location) -> dict[str, Any] | DocIngestError:
        """What the folder files of `folder` and its parents up to the root set, merged."""
        if folder not in self._folders:
            *folder_files, _ = option_files(self.root, folder / "_")
            try:
                merged: dict[str, Any] = {}
                for file in folder_files:
                    if self._may_exist(file):
                        merged.update(_read(file))
                self._folders[folder] = merged
            except DocIngestError as error:
                self._folders[folder] = error
        return self._folders[folder]

    def _may_exist(self, file: Location) -> bool:
        return self.present is None or str(file) in self.present


def overrides_digest(overrides: dict[str, Any]) -> str:
    """A short digest of `overrides` ('' for none): what a folder listing compares."""
    return options_hash(overrides) if overrides else ""
