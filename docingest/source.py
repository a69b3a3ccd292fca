"""The upload folder or object-store prefix: which files are documents, their ids and stamps."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath

from upath import UPath

from docingest.ids import document_id_for, document_id_of_relative
from docingest.locations import Location, is_local
from docingest.metadata import is_sidecar
from docingest.option_files import is_option_file


@dataclass(frozen=True, slots=True)
class SourceFile:
    document_id: str
    path: Location
    size: int
    mtime_ns: int
    etag: str = ""  # an object's ETag; a local file has none

    @property
    def stamp(self) -> list[int | str]:
        """What tells a change without reading the content, as the sensor's cursor keeps it:
        size and ETag of an object (both from the listing), size and mtime of a local file."""
        return [self.size, self.etag or self.mtime_ns]


def _skipped(relative: PurePath) -> bool:
    """Hidden files and folders, sidecar metadata, parse option files and temporary names."""
    return (
        any(part.startswith(".") for part in relative.parts)
        or is_sidecar(relative)
        or is_option_file(relative)
        or relative.name.endswith((".part", ".tmp", ".crdownload", "~"))
    )


def iter_source_files(root: Location, *, settle_seconds: float = 0.0) -> Iterator[SourceFile]:
    """Every document file under `root`, in a stable order.

    Skips hidden files and folders, sidecar metadata and parse option files (`.docingest.yaml`,
    `<file>.docingest.yaml`: docingest.option_files), temporary upload names, symlinks
    that resolve outside `root`, and (with `settle_seconds`) files modified so recently that
    they may still be being written. An object store is listed in one pass and needs no
    settling: an object appears only once its upload is complete.
    """
    if not is_local(root):
        yield from _iter_objects(root)
        return
    root = Path(root)
    if not root.is_dir():
        return
    resolved_root = root.resolve()
    now_ns = time.time_ns()
    for path in sorted(root.rglob("*")):
        if _skipped(path.relative_to(root)):
            continue
        try:
            if not path.is_file():
                continue
            resolved = path.resolve()
            if not resolved.is_relative_to(resolved_root):
                continue
            stat = resolved.stat()
        except OSError:
            continue  # vanished or unreadable while listing: the next scan decides
        if settle_seconds and now_ns - stat.st_mtime_ns < settle_seconds * 1e9:
            continue
        yield SourceFile(
            document_id=document_id_for(path, resolved_root),
            path=path.absolute(),
            size=stat.st_size,
            mtime_ns=stat.st_mtime_ns,
        )


def listed_option_files(root: UPath) -> frozenset[str]:
    """The parse option files under an object-store prefix, from one listing."""
    prefix = root.path.rstrip("/")
    try:
        keys = root.fs.find(prefix)
    except FileNotFoundError:
        return frozenset()
    return frozenset(
        str(root.joinpath(*PurePosixPath(key[len(prefix) + 1 :]).parts))
        for key in keys
        if key.startswith(prefix + "/") and is_option_file(PurePosixPath(key))
    )


def _iter_objects(root: UPath) -> Iterator[SourceFile]:
    """The objects under the prefix, with size, ETag and last-modified from the listing alone
    (LIST requests; no object is read)."""
    prefix = root.path.rstrip("/")
    try:
        listing = root.fs.find(prefix, detail=True)
    except FileNotFoundError:
        return  # no such bucket: StorageResource/SourceResource setup says so at start
    for key, info in sorted(listing.items()):
        if info.get("type") != "file" or not key.startswith(prefix + "/"):
            continue  # a folder marker, or the prefix itself as an object
        relative = PurePosixPath(key[len(prefix) + 1 :])
        if _skipped(relative) or ".." in relative.parts:
            continue
        yield SourceFile(
            document_id=document_id_of_relative(relative),
            path=root.joinpath(*relative.parts),
            size=int(info["size"]),
            mtime_ns=int(info["LastModified"].timestamp() * 1e9),
            etag=str(info.get("ETag", "")).strip('"'),
        )
