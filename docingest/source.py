"""The upload folder: which files are documents, their ids and content hashes."""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from docingest.ids import document_id_for_relative
from docingest.metadata import is_sidecar
from docingest.option_files import is_option_file


@dataclass(frozen=True, slots=True)
class SourceFile:
    document_id: str
    path: Path
    size: int
    mtime_ns: int


def iter_source_files(root: Path, *, settle_seconds: float = 0.0) -> Iterator[SourceFile]:
    """Every document file under `root`, in a stable order (that of their paths).

    Skips hidden files and folders, sidecar metadata and parse option files (`.docingest.yaml`,
    `<file>.docingest.yaml`: docingest.option_files), temporary upload names, symlinks
    that resolve outside `root`, and (with `settle_seconds`) files modified so recently that
    they may still be being written.
    """
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
            if name.startswith(".") or _not_a_document(name):
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
                        document_id=document_id_for_relative(parts),
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


def _not_a_document(name: str) -> bool:
    return (
        is_sidecar(Path(name))
        or is_option_file(Path(name))
        or name.endswith((".part", ".tmp", ".crdownload", "~"))
    )
