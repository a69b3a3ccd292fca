"""Local folders and object-store URLs (`s3://bucket/prefix`) behind one path type.

A local folder stays a `pathlib.Path`: the hot path of the default setup goes through no
fsspec layer. A URL becomes a `UPath` (universal-pathlib over fsspec; s3fs for `s3://`), whose
credentials and endpoint come from the storage options or, as botocore reads them, from the
standard AWS environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
`AWS_ENDPOINT_URL`).

Atomic writes differ by kind. A local file is written to a temporary name and renamed over
the target. An object store has no rename, and needs none: an object becomes visible only when
its PUT (or the CompleteMultipartUpload of a large one) succeeds, so a reader sees the old
object or the new one, never part of one, and a writer killed mid-upload leaves the old object
as it was (an unfinished multipart upload is invisible; a bucket lifecycle rule reclaims it).
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
from typing_extensions import TypeIs
from upath import UPath

from docingest.errors import ConfigError

Location = Path | UPath


def is_url(value: str) -> bool:
    """True for `scheme://...` other than `file://` (a one-letter scheme is a Windows drive)."""
    scheme = urlsplit(value).scheme
    return len(scheme) > 1 and scheme != "file" and "://" in value


def location(value: str | Path, **storage_options: Any) -> Location:
    """A local folder as an absolute `Path`, a URL as a `UPath` with `storage_options`.

    Directory listings are never cached: another process (a worker, the uploader) writes to
    the same prefix, and a cached listing would hide its objects from the next scan.
    """
    if isinstance(value, str) and is_url(value):
        options = {"use_listings_cache": False, **storage_options}
        return UPath(value, **options)
    return Path(value).absolute()


def is_local(path: Location) -> TypeIs[Path]:
    return isinstance(path, Path)


def absolute(path: Location) -> Location:
    """A local path made absolute; a URL is absolute already."""
    return Path(path).absolute() if is_local(path) else path


def stat_no_follow(path: Location) -> os.stat_result:
    """`lstat` on disk (a link is not followed); an object store has no links: its `stat`."""
    return path.lstat() if is_local(path) else path.stat()  # type: ignore[return-value]


def size_and_etag(path: Location) -> tuple[int, str]:
    """The file's size, and an object's ETag ("" on disk): what registration records, so that a
    later listing with the same ETag knows the content without reading it."""
    if is_local(path):
        return path.stat().st_size, ""
    info = path.fs.info(path.path)
    return int(info["size"]), str(info.get("ETag", "")).strip('"')


def check_reachable(root: Location) -> None:
    """ConfigError when an object-store location cannot be listed (no such bucket, refused
    credentials, no endpoint), said in one line before any work starts; local folders pass."""
    if is_local(root):
        return
    from botocore.exceptions import BotoCoreError  # s3fs's client: imported only for a URL

    bucket = str(root).split("://", 1)[1].split("/", 1)[0]
    try:
        root.fs.ls(bucket, refresh=True)
    except FileNotFoundError as error:
        raise ConfigError(f"{root}: the bucket {bucket!r} does not exist ({error})") from None
    except PermissionError as error:
        raise ConfigError(f"{root}: access refused ({error})") from None
    except (OSError, BotoCoreError) as error:  # no endpoint, no connection, no credentials
        raise ConfigError(f"{root}: cannot reach the object store ({error})") from None


@contextmanager
def local_copy(path: UPath) -> Iterator[Path]:
    """The object at `path` fetched once into a temporary file of the same name (the parser
    workers open local files; the name tells the format), removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="docingest-") as folder:
        local = Path(folder) / path.name
        path.fs.get_file(path.path, str(local))
        yield local


def write_bytes_atomic(path: Location, data: bytes) -> None:
    """Write `data` so that no reader and no crash ever leaves part of it at `path`."""
    if not is_local(path):
        path.fs.pipe_file(path.path, data)  # one PUT (multipart when large): atomic per object
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        # The rename is what makes the write atomic for readers and for a killed process; no
        # fsync: these small records are rebuilt by the next run after a power loss.
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_parquet_atomic(path: Location, table: pa.Table) -> None:
    if not is_local(path):
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        write_bytes_atomic(path, sink.getvalue().to_pybytes())
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_bytes(path: Location) -> bytes:
    """The whole file; an object in one plain GET, of whichever version is current.

    Not through `open()`: s3fs's file object sends a HEAD, then GETs bound to that ETag, and
    fails (FileExpired) when a writer replaces the object in between; a reader of a record
    that another process rewrites (a run's state, read by status or the sensor) must get the
    old or the new one instead.
    """
    if is_local(path):
        return path.read_bytes()
    return bytes(path.fs.cat_file(path.path))


def read_parquet(path: Location) -> pa.Table:
    """The whole table; an object is fetched in one GET (these files are per document)."""
    if is_local(path):
        return pq.read_table(path)
    return pq.read_table(io.BytesIO(read_bytes(path)))


def read_parquet_metadata(path: Location) -> pq.FileMetaData:
    """The footer: read in place on disk; an object is fetched whole, in one GET (ranged reads
    of its tail would be bound to one ETag, see read_bytes)."""
    if is_local(path):
        return pq.read_metadata(path)
    return pq.read_metadata(io.BytesIO(read_bytes(path)))
