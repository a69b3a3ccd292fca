"""The upload folder or object-store prefix: which files are documents, their ids and stamps."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath

from upath import UPath

from docingest.ids import document_id_of_posix, document_id_of_relative
from docingest.locations import Location, is_local
from docingest.metadata import is_sidecar_name
from docingest.option_files import DOCUMENT_SUFFIX, is_option_file


@dataclass(frozen=True, slots=True)
class SourceFile:
    document_id: str
    path: Location
    size: int
    mtime_ns: int
    etag: str = ""  # an object's ETag; a local file has none
    ctime_ns: int = 0  # a local file's inode change time; an object has none

    @property
    def stamp(self) -> list[int | str]:
        """What tells a change without reading the content, as the sensor's cursor keeps it:
        size and ETag of an object (both from the listing), size and mtime of a local file."""
        return [self.size, self.etag or self.mtime_ns]

    @property
    def check_stamp(self) -> list[int | str]:
        """The reconcile schedule's stamp: the sensor's, plus a local file's ctime, which every
        write moves and no tool can set back (restoring the mtime after a same-size rewrite,
        as `touch -d`, `rsync -t` or an unpacked archive do, still moves it)."""
        return [self.size, self.etag] if self.etag else [self.size, self.mtime_ns, self.ctime_ns]


@dataclass(frozen=True, slots=True)
class Scan:
    """One listing of the upload folder: its documents, in order, and the parse option files
    it holds (their paths as `str`), so that nothing needs looking up per document."""

    files: list[SourceFile]
    option_files: frozenset[str]


def _skipped(relative: PurePath) -> bool:
    """Hidden files and folders, sidecar metadata, parse option files and temporary names."""
    return any(part.startswith(".") for part in relative.parts) or _skipped_name(relative.name)


def _skipped_name(name: str) -> bool:
    """`_skipped` of a name in a folder that is not hidden, on the string alone (the walk asks
    for every file of the folder on every tick)."""
    return (
        name.startswith(".")
        or name.endswith(_TEMPORARY)
        or is_sidecar_name(name)
        or name.endswith(DOCUMENT_SUFFIX)  # docingest.option_files.is_option_file
    )


_TEMPORARY = (".part", ".tmp", ".crdownload", "~")


def iter_source_files(root: Location, *, settle_seconds: float = 0.0) -> Iterator[SourceFile]:
    """Every document file under `root`, in a stable order (that of their paths).

    Skips hidden files and folders, sidecar metadata and parse option files (`.docingest.yaml`,
    `<file>.docingest.yaml`: docingest.option_files), temporary upload names, symlinks
    that resolve outside `root`, and (with `settle_seconds`) files modified so recently that
    they may still be being written. An object store is listed in one pass and needs no
    settling: an object appears only once its upload is complete.
    """
    yield from scan(root, settle_seconds=settle_seconds).files


def scan(root: Location, *, settle_seconds: float = 0.0) -> Scan:
    """`iter_source_files`, and the option files seen on the way (one walk, or one LIST)."""
    if not is_local(root):
        return _scan_objects(root)
    root = Path(root).absolute()
    if not root.is_dir():
        return Scan([], frozenset())
    walk = _Walk(root, time.time_ns(), settle_seconds)
    walk.run()
    return Scan(walk.files, frozenset(walk.option_files))


class _Walk:
    """The upload folder, one `os.scandir` per folder, depth first over sorted names: that is
    the order of the files' paths, part by part, so the listing needs no sort. Like `os.walk`
    and `Path.rglob`, it does not descend into symlinked folders: every folder it reaches is a
    real one under the root, so a file's id is its place under the root and only symlinked
    files are resolved (resolving every path took a minute at 100,000 files). The type of an
    entry comes with the folder's listing; the only call per file is the `lstat` its size and
    times need."""

    def __init__(self, root: Path, now_ns: int, settle_seconds: float) -> None:
        self.root = root
        self.resolved_root: Path | None = None  # resolved when a symlink is met
        self.now_ns = now_ns
        self.settle_ns = settle_seconds * 1e9
        self.files: list[SourceFile] = []
        self.option_files: list[str] = []

    def run(self) -> None:
        # Depth first with a stack of folders (no recursion: nesting has no limit here).
        stack = [(self.root, "", self._entries(self.root))]
        while stack:
            folder, prefix, entries = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                continue
            name = entry.name
            if name.endswith(DOCUMENT_SUFFIX):  # docingest.option_files.is_option_file
                # Whatever it is (a link or a folder is refused when read): planning sees it.
                self.option_files.append(str(folder / name))
                continue
            if name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    inner = folder / name
                    stack.append((inner, prefix + name + "/", self._entries(inner)))
                    continue
                if _skipped_name(name):
                    continue
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISLNK(info.st_mode):
                    if self.resolved_root is None:
                        self.resolved_root = self.root.resolve()
                    if not Path(entry.path).resolve().is_relative_to(self.resolved_root):
                        continue
                    info = os.stat(entry.path)
            except (OSError, RuntimeError):
                continue  # vanished, unreadable or a symlink loop while listing: the next scan
            if not stat.S_ISREG(info.st_mode):
                continue
            if self.settle_ns and self.now_ns - info.st_mtime_ns < self.settle_ns:
                continue
            self.files.append(
                SourceFile(
                    document_id=document_id_of_posix(prefix + name),
                    path=folder / name,
                    size=info.st_size,
                    mtime_ns=info.st_mtime_ns,
                    ctime_ns=info.st_ctime_ns,
                )
            )

    @staticmethod
    def _entries(folder: Path) -> Iterator[os.DirEntry[str]]:
        try:
            with os.scandir(folder) as listing:
                return iter(sorted(listing, key=lambda entry: entry.name))
        except OSError:
            return iter(())  # vanished or unreadable while listing: the next scan


def rewritten(file: SourceFile) -> bool:
    """Whether a local file's size or mtime moved since it was listed (written to while being
    hashed); an object is replaced whole by its PUT and never is."""
    if not is_local(file.path):
        return False
    after = file.path.stat()
    return (after.st_size, after.st_mtime_ns) != (file.size, file.mtime_ns)


def settled(mtime_ns: int, now_ns: int, settle_seconds: float) -> bool:
    """Whether a file last modified at `mtime_ns` has been left alone for `settle_seconds`."""
    return not settle_seconds or now_ns - mtime_ns >= settle_seconds * 1e9


def listed_option_files(root: UPath) -> frozenset[str]:
    """The parse option files under an object-store prefix, from one listing."""
    return _scan_objects(root).option_files


def _scan_objects(root: UPath) -> Scan:
    """The objects under the prefix, with size, ETag and last-modified from the listing alone
    (LIST requests; no object is read), and the option files among them."""
    prefix = root.path.rstrip("/")
    try:
        listing = root.fs.find(prefix, detail=True)
    except FileNotFoundError:
        return Scan([], frozenset())  # no such bucket: resource setup says so at start
    files: list[SourceFile] = []
    options: set[str] = set()
    for key, info in sorted(listing.items()):
        if info.get("type") != "file" or not key.startswith(prefix + "/"):
            continue  # a folder marker, or the prefix itself as an object
        relative = PurePosixPath(key[len(prefix) + 1 :])
        if is_option_file(relative):
            options.add(str(root.joinpath(*relative.parts)))
        if _skipped(relative) or ".." in relative.parts:
            continue
        files.append(
            SourceFile(
                document_id=document_id_of_relative(relative),
                path=root.joinpath(*relative.parts),
                size=int(info["size"]),
                mtime_ns=int(info["LastModified"].timestamp() * 1e9),
                etag=str(info.get("ETag", "")).strip('"'),
            )
        )
    return Scan(files, frozenset(options))
