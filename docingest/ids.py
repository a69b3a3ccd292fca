"""Stable identifiers: document ids (= partition keys), file-safe names, point ids, hashes."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, unquote

from docingest.locations import Location

# Characters kept as they are in a document id; everything else is percent-encoded, so the id
# stays readable in the UI, avoids what Dagster rejects ("...", control characters) and maps
# back to exactly one relative path.
_SAFE = "/-_.~()+@= "
_POINT_NAMESPACE = uuid.UUID("6f0e5a43-43a5-4d8e-9a55-7d1b2c1e0a11")
_MAX_FILE_STEM = 180


def document_id_for(path: Path, root: Path) -> str:
    """The document id of `path`: its POSIX path relative to `root`, percent-encoded.

    Raises ValueError for a path outside `root` (after resolving `..` and symlinked folders;
    a symlinked file keeps its own name).
    """
    resolved_root = root.resolve()
    resolved = path.absolute().parent.resolve() / path.name
    relative = resolved.relative_to(resolved_root)  # ValueError when outside the root
    if not relative.parts or ".." in relative.parts:  # the root itself, or `root/..`
        raise ValueError(f"{path} does not name a file under {root}")
    return document_id_of_relative(PurePosixPath(*relative.parts))


def document_id_of_relative(relative: PurePosixPath) -> str:
    """The document id of a file at `relative` (no `..`) under its root: an object key below
    a prefix, or what `document_id_for` resolved."""
    return document_id_of_posix(relative.as_posix())


def document_id_of_posix(posix: str) -> str:
    """`document_id_of_relative` of a relative path already written with `/` (the listing of
    an upload folder names each file this way, without building a path object per file)."""
    # A name that is not UTF-8 (Latin-1 from an old share) holds its bytes as surrogates
    # (os.fsdecode); they are percent-encoded as those bytes, and decoded back the same way.
    encoded = quote(posix, safe=_SAFE, errors="surrogateescape")
    # "..." is reserved by Dagster for partition ranges: encode every dot that follows a dot.
    while ".." in encoded:
        encoded = encoded.replace("..", ".%2E")
    return encoded


def path_for_document_id(document_id: str, root: Location) -> Location:
    """Inverse of `document_id_for`; refuses ids that would escape `root`."""
    relative = PurePosixPath(unquote(document_id, errors="surrogateescape"))
    if "\x00" in str(relative):
        raise ValueError(f"document id {document_id!r} holds a NUL byte")
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise ValueError(f"document id {document_id!r} leads outside the source root")
    return root.joinpath(*relative.parts)


def file_stem_for(document_id: str) -> str:
    """A flat, file-system-safe name for per-document outputs (Parquet files)."""
    stem = quote(document_id, safe="-_.~()+@=")
    if len(stem) > _MAX_FILE_STEM:
        digest = short_digest(document_id)
        stem = f"{stem[: _MAX_FILE_STEM - 17]}-{digest}"
    return stem


def short_digest(text: str) -> str:
    """16 hex digits naming a string (a long file stem's tail, a run key): not a security hash."""
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Location, block: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def options_hash(options: dict[str, Any]) -> str:
    """Short, order-independent hash of a JSON-serializable options mapping."""
    canonical = json.dumps(options, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def chunk_id_for(document_id: str, chunk_index: int, params_hash: str) -> str:
    return f"{file_stem_for(document_id)}:{params_hash}:{chunk_index}"


def point_id_for(document_id: str, chunk_index: int, chunking_hash: str) -> str:
    """Qdrant point id: uuid5 of (document id, chunk index, chunking hash); never positional."""
    return str(uuid.uuid5(_POINT_NAMESPACE, f"{document_id}\x00{chunk_index}\x00{chunking_hash}"))
