"""The upload folder: which files are documents, their ids and content hashes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from docingest.ids import document_id_for, sha256_file
from docingest.metadata import is_sidecar
from docingest.option_files import is_option_file


@dataclass(frozen=True, slots=True)
class SourceFile:
    document_id: str
    path: Path
    size: int
    mtime_ns: int


def iter_source_files(root: Path, *, settle_seconds: float = 0.0) -> Iterator[SourceFile]:
    """Every document file under `root`, in a stable order.

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
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if (
            is_sidecar(path)
            or is_option_file(path)
            or path.name.endswith((".part", ".tmp", ".crdownload", "~"))
        ):
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


def content_hash(source: SourceFile) -> str:
    return sha256_file(source.path)
