"""The upload folder or object-store prefix: which files are documents, their ids and stamps."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath

from upath import UPath

from docingest.ids import document_id_of_relative
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
    """Every document file under `root`, in a stable order (that of their paths).

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
    found: list[tuple[tuple[str, ...], SourceFile]] = []
    # os.walk reads each folder once and, like Path.rglob, does not descend into symlinked
    # folders: every folder it reaches is a real one under the root, so a file's id is its
    # place under the root and only symlinked files are resolved (an upload folder of 100,000
    # files is walked in a second, not in the minute that resolving every path took).
    for folder, subfolders, names in os.walk(root):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        here = Path(folder).relative_to(root).parts
        for name in names:
            if _skipped(PurePath(name)):
                continue
            path = Path(folder, name)
            try:
                info = path.lstat()
                if stat.S_ISLNK(info.st_mode):
                    if not path.resolve().is_relative_to(resolved_root):
                        continue
                    info = path.stat()
            except (OSError, RuntimeError):
                continue  # vanished, unreadable or a symlink loop while listing: the next scan
            if not stat.S_ISREG(info.st_mode):
                continue
            if not settled(info.st_mtime_ns, now_ns, settle_seconds):
                continue
            parts = (*here, name)
            found.append(
                (
                    parts,
                    SourceFile(
                        document_id=document_id_of_relative(PurePosixPath(*parts)),
                        path=path.absolute(),
                        size=info.st_size,
                        mtime_ns=info.st_mtime_ns,
                    ),
                )
            )
    found.sort(key=lambda entry: entry[0])
    for _, source in found:
        yield source


def settled(mtime_ns: int, now_ns: int, settle_seconds: float) -> bool:
    """Whether a file last modified at `mtime_ns` has been left alone for `settle_seconds`."""
    return not settle_seconds or now_ns - mtime_ns >= settle_seconds * 1e9


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
