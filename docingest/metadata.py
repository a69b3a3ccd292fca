"""`vector_store_metadata`: user keys that travel with every chunk into the Qdrant payload.

A document gets metadata from its source's configuration and from an optional sidecar file
next to it (`report.pdf.metadata.json`); the sidecar wins key by key. Both are validated the
same way, because the keys become payload keys that people filter on (`--filter KEY=VALUE`).
"""

from __future__ import annotations

import errno
import json
import re
import stat
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

from docingest.errors import ConfigError, DocIngestError, ErrorCode
from docingest.locations import Location, stat_no_follow
from docingest.payload import RESERVED_KEYS  # the pipeline's own payload keys

SIDECAR_SUFFIX = ".metadata.json"
MAX_SIDECAR_BYTES = 64 * 1024
MAX_KEY_LENGTH = 64
MAX_STRING_LENGTH = 1000
MAX_LIST_ITEMS = 100
_KEY_PATTERN = re.compile(r"[A-Za-z0-9_.-]+")

Scalar = str | int | float | bool | None


class InvalidMetadataError(ValueError):
    """Metadata that cannot become payload keys; `reason` says why."""


def sidecar_path(path: Location) -> Location:
    """`report.pdf` -> `report.pdf.metadata.json`."""
    return path.with_name(path.name + SIDECAR_SUFFIX)


def is_sidecar(path: PurePath) -> bool:
    """Whether `path` is a sidecar (not a document to ingest)."""
    return is_sidecar_name(path.name)


def is_sidecar_name(name: str) -> bool:
    """`is_sidecar` of a file name (the folder listing asks for every name of the folder)."""
    return name.endswith(SIDECAR_SUFFIX) and len(name) > len(SIDECAR_SUFFIX)


def _check_scalar(key: str, value: Any) -> None:
    if value is None or isinstance(value, bool | int):
        return
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise InvalidMetadataError(f"value of {key!r} is not a finite number")
        return
    if isinstance(value, str):
        if len(value) > MAX_STRING_LENGTH:
            raise InvalidMetadataError(
                f"value of {key!r} has {len(value)} characters (at most {MAX_STRING_LENGTH})"
            )
        return
    raise InvalidMetadataError(
        f"value of {key!r} is a {type(value).__name__}; use a string, number, boolean, null "
        "or a flat list of those"
    )


def validate_metadata(metadata: Any) -> dict[str, Any]:
    """A copy of `metadata` if it can become payload keys; InvalidMetadataError otherwise."""
    if not isinstance(metadata, Mapping):
        raise InvalidMetadataError(f"expected a JSON object, got {type(metadata).__name__}")
    for key, value in metadata.items():
        if not isinstance(key, str) or not key:
            raise InvalidMetadataError(f"key {key!r} is not a non-empty string")
        if len(key) > MAX_KEY_LENGTH:
            raise InvalidMetadataError(f"key {key[:20]!r}... is longer than {MAX_KEY_LENGTH}")
        if not _KEY_PATTERN.fullmatch(key):
            raise InvalidMetadataError(f"key {key!r} may only use letters, digits, '_', '.', '-'")
        if key in RESERVED_KEYS:
            raise InvalidMetadataError(f"key {key!r} is reserved for the pipeline")
        if isinstance(value, list):
            if len(value) > MAX_LIST_ITEMS:
                raise InvalidMetadataError(
                    f"list {key!r} has {len(value)} items (at most {MAX_LIST_ITEMS})"
                )
            for item in value:
                _check_scalar(key, item)
        else:
            _check_scalar(key, value)
    return {key: list(v) if isinstance(v, list) else v for key, v in metadata.items()}


def load_sidecar(path: Location) -> dict[str, Any]:
    """The validated sidecar metadata of the document at `path`; {} when it has none.

    An invalid sidecar is a property of the input, so it fails the document with CORRUPT_FILE
    (not retryable) rather than being ignored. It must be a regular file, not a link (which
    could point outside the upload folder), a pipe or a device (which never end).
    """
    sidecar = sidecar_path(path)
    try:
        info = stat_no_follow(sidecar)
    except FileNotFoundError:
        return {}
    except OSError as e:
        if e.errno == errno.ENAMETOOLONG:
            return {}  # a name at the file system's limit leaves no room for a sidecar's
        raise DocIngestError(
            ErrorCode.UNABLE_TO_DOWNLOAD_FILE, f"cannot read {sidecar.name}: {e.strerror or e}"
        ) from e

    def invalid(reason: str) -> DocIngestError:
        return DocIngestError(
            ErrorCode.CORRUPT_FILE, f"invalid sidecar metadata {sidecar.name}: {reason}"
        )

    if not stat.S_ISREG(info.st_mode):
        raise invalid("not a regular file (links, pipes and devices are not read)")
    if info.st_size > MAX_SIDECAR_BYTES:
        raise invalid(f"{info.st_size} bytes (at most {MAX_SIDECAR_BYTES})")
    try:
        with sidecar.open("rb") as handle:
            raw = handle.read(MAX_SIDECAR_BYTES + 1)  # it may have grown since lstat
    except OSError as e:
        raise DocIngestError(
            ErrorCode.UNABLE_TO_DOWNLOAD_FILE, f"cannot read {sidecar.name}: {e.strerror or e}"
        ) from e
    if len(raw) > MAX_SIDECAR_BYTES:
        raise invalid(f"more than {MAX_SIDECAR_BYTES} bytes")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise invalid(f"not UTF-8 JSON ({e})") from e
    except RecursionError:
        # `[[[[...` 30,000 deep fits in the size limit and exhausts the decoder's recursion.
        raise invalid("nested too deeply (an object of values or flat lists)") from None
    try:
        return validate_metadata(data)
    except InvalidMetadataError as e:
        raise invalid(str(e)) from e


def merge_metadata(
    source_metadata: Mapping[str, Any], sidecar: Mapping[str, Any]
) -> dict[str, Any]:
    """Source configuration metadata overlaid by the sidecar's (sidecar wins per key).

    Raises ConfigError when the source configuration's metadata is invalid (it is checked
    before any work starts); the sidecar is validated again in case it did not come from
    `load_sidecar`.
    """
    try:
        base = validate_metadata(source_metadata)
    except InvalidMetadataError as e:
        raise ConfigError(f"invalid source metadata: {e}") from e
    try:
        overlay = validate_metadata(sidecar)
    except InvalidMetadataError as e:
        raise DocIngestError(ErrorCode.CORRUPT_FILE, f"invalid sidecar metadata: {e}") from e
    return base | overlay
