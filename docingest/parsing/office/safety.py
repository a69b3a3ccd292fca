"""Guards for untrusted containers: zip bombs, XML entities, encrypted packages.

Every zip member is checked before anything reads it: at most `MAX_MEMBERS` entries, a total
declared size under `MAX_UNPACKED_BYTES`, and no large member compressed beyond
`MAX_RATIO` (Python's zipfile never inflates a member past its declared size, so checking the
declared sizes bounds the work). XML is parsed with lxml without DTD loading, entity
resolution or network access, and within libxml2's default depth and size limits.
"""

from __future__ import annotations

import io
import zipfile

from lxml import etree

from docingest.errors import DocIngestError, ErrorCode

MAX_MEMBERS = 20_000
MAX_UNPACKED_BYTES = 1024 * 1024 * 1024  # 1 GiB declared in total
MAX_RATIO = 200  # uncompressed / compressed, for members over RATIO_FLOOR_BYTES
RATIO_FLOOR_BYTES = 10 * 1024 * 1024

XML_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, recover=False
)


def open_zip(data: bytes, what: str) -> zipfile.ZipFile:
    """The archive, once its declared sizes pass the bomb limits; CORRUPT_FILE otherwise."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise DocIngestError(
            ErrorCode.CORRUPT_FILE, f"{what} is not a readable zip package: {exc}"
        ) from exc
    check_members(infos, what)
    return archive


def check_members(infos: list[zipfile.ZipInfo], what: str) -> None:
    """Refuse a package whose members would unpack beyond the limits (a zip bomb)."""
    if len(infos) > MAX_MEMBERS:
        raise DocIngestError(
            ErrorCode.CORRUPT_FILE, f"{what} has {len(infos)} zip entries (limit {MAX_MEMBERS})"
        )
    total = sum(info.file_size for info in infos)
    if total > MAX_UNPACKED_BYTES:
        raise DocIngestError(
            ErrorCode.FILE_SIZE_TOO_LARGE,
            f"{what} would unpack to {total / 1048576:.0f} MiB "
            f"(limit {MAX_UNPACKED_BYTES // 1048576} MiB): a zip bomb or too large",
        )
    for info in infos:
        ratio = info.file_size / max(1, info.compress_size)
        if info.file_size > RATIO_FLOOR_BYTES and ratio > MAX_RATIO:
            raise DocIngestError(
                ErrorCode.FILE_SIZE_TOO_LARGE,
                f"{what}: {info.filename} is compressed {ratio:.0f}:1 (limit {MAX_RATIO}:1): "
                "a zip bomb",
            )


def read_member(archive: zipfile.ZipFile, name: str) -> bytes | None:
    """A member's bytes, or None when the package lacks it; CORRUPT_FILE when unreadable."""
    try:
        return archive.read(name)
    except KeyError:
        return None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise DocIngestError(ErrorCode.CORRUPT_FILE, f"cannot read {name}: {exc}") from exc


def parse_xml(data: bytes, what: str) -> etree._Element:
    """An XML tree, with entities left unresolved and no network; CORRUPT_FILE on bad XML."""
    try:
        return etree.fromstring(data, XML_PARSER)
    except etree.XMLSyntaxError as exc:
        raise DocIngestError(
            ErrorCode.CORRUPT_FILE, f"{what} is not well-formed XML: {exc}"
        ) from exc


def encrypted(what: str) -> DocIngestError:
    """The error for a password-protected Office or OpenDocument file."""
    return DocIngestError(
        ErrorCode.PASSWORD_PROTECTED_FILE,
        f"{what} is password-protected (encrypted); save it without a password to parse it",
    )
