"""File type detection from content (magic bytes), checked against the file name."""

from __future__ import annotations

import codecs
import io
import zipfile
from pathlib import PurePath

from docingest.errors import DocIngestError, ErrorCode

PDF_MIME = "application/pdf"
TEXT_MIMES: frozenset[str] = frozenset({"text/plain", "text/markdown"})
# What MuPDF opens, by MIME type: the `filetype` to open it as.
MUPDF_TYPES: dict[str, str] = {
    PDF_MIME: "pdf",
    "application/oxps": "xps",
    "application/epub+zip": "epub",
    "application/x-mobipocket-ebook": "mobi",
    "application/x-fictionbook+xml": "fb2",
    "application/vnd.comicbook+zip": "cbz",
    "image/svg+xml": "svg",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/tiff": "tiff",
}
SUPPORTED_MIMES: frozenset[str] = frozenset({*MUPDF_TYPES, *TEXT_MIMES})
_SUPPORTED_NAMES = "PDF, XPS, EPUB, MOBI, FB2, CBZ, SVG, PNG/JPEG/TIFF, plain text, markdown"
_COMIC_IMAGES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff")
TEXT_EXTENSIONS: frozenset[str] = frozenset({"", ".txt", ".text", ".md", ".markdown"})
_MARKDOWN_EXTENSIONS = frozenset({".md", ".markdown"})
_TEXT_ONLY_EXTENSIONS = TEXT_EXTENSIONS - {""}
_PDF_SEARCH_BYTES = 1024
_SAMPLE_BYTES = 8192
_PRINTABLE_RATIO = 0.95

# (prefix, mime, human name); checked in order after the PDF check.
_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png", "PNG image"),
    (b"\xff\xd8\xff", "image/jpeg", "JPEG image"),
    (b"GIF87a", "image/gif", "GIF image"),
    (b"GIF89a", "image/gif", "GIF image"),
    (b"II*\x00", "image/tiff", "TIFF image"),
    (b"MM\x00*", "image/tiff", "TIFF image"),
    (b"BM", "image/bmp", "BMP image"),
    (b"PK\x03\x04", "application/zip", "ZIP archive (or Office document)"),
    (b"PK\x05\x06", "application/zip", "ZIP archive (or Office document)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage", "legacy Office document"),
    (b"\x1f\x8b", "application/gzip", "gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "application/x-7z-compressed", "7-Zip archive"),
    (b"Rar!\x1a\x07", "application/vnd.rar", "RAR archive"),
    (b"{\\rtf", "application/rtf", "RTF document"),
)
_OOXML = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
_NAMES = {m: n for _, m, n in _MAGIC} | {m: "Office document" for m in _OOXML.values()}


def _zip_kind(data: bytes, ext: str) -> str:
    """EPUB, XPS, comic book (CBZ) or Office document, from the archive's entries."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            if "mimetype" in names and archive.read("mimetype").strip() == b"application/epub+zip":
                return "application/epub+zip"
    except (zipfile.BadZipFile, OSError, KeyError, ValueError):
        return _OOXML.get(ext, "application/zip")
    lowered = [n.lower() for n in names]
    if any(n.endswith(".fdseq") or n.endswith(".fpage") for n in lowered):
        return "application/oxps"
    if lowered and all(n.endswith("/") or n.endswith(_COMIC_IMAGES) for n in lowered):
        return "application/vnd.comicbook+zip"
    if any(n.startswith(("word/", "xl/", "ppt/")) for n in lowered):
        return _OOXML.get(ext, "application/vnd.openxmlformats-officedocument")
    return _OOXML.get(ext, "application/zip")


def _xml_kind(sample: bytes) -> str | None:
    head = sample[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"<"):
        return None
    if b"<FictionBook" in head:
        return "application/x-fictionbook+xml"
    if b"<svg" in head:
        return "image/svg+xml"
    return None


def _extension(filename: str) -> str:
    return PurePath(filename).suffix.lower()


def _looks_like_text(sample: bytes) -> bool:
    if b"\x00" in sample:
        return False
    try:
        # Incremental decode: a multi-byte character cut at the sample's end is not an error.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return True
    except UnicodeDecodeError:
        pass
    printable = sum(1 for b in sample if (b >= 0x20 and b != 0x7F) or b in b"\t\n\r\f")
    return printable / len(sample) >= _PRINTABLE_RATIO


def detect_mime(data: bytes, filename: str) -> str:
    """The MIME type of `data` judged by its content; the name only picks markdown vs plain."""
    if data.startswith(b"%PDF-"):
        return PDF_MIME
    ext = _extension(filename)
    # MuPDF skips junk before the header; a text file that merely mentions "%PDF-" is not one.
    if b"%PDF-" in data[:_PDF_SEARCH_BYTES] and not (
        ext in _TEXT_ONLY_EXTENSIONS and _looks_like_text(data[:_SAMPLE_BYTES])
    ):
        return PDF_MIME
    if data[8:12] in (b"WEBP",) and data.startswith(b"RIFF"):
        return "image/webp"
    for prefix, mime, _ in _MAGIC:
        if data.startswith(prefix):
            if mime == "application/zip":
                return _zip_kind(data, ext)
            if mime == "image/bmp" and _looks_like_text(data[:_SAMPLE_BYTES]):
                continue  # "BM" is also how plenty of text files start
            return mime
    if data[60:68] == b"BOOKMOBI":
        return "application/x-mobipocket-ebook"
    sample = data[:_SAMPLE_BYTES]
    if xml := _xml_kind(sample):
        return xml
    if sample and _looks_like_text(sample):
        return "text/markdown" if ext in _MARKDOWN_EXTENSIONS else "text/plain"
    return "application/octet-stream"


def describe_mime(mime: str) -> str:
    """A human name for `mime`, for error messages."""
    name = _NAMES.get(mime)
    if name is None:
        name = "image" if mime.startswith("image/") else "unrecognized binary data"
    return f"{name} ({mime})"


def check_size(size: int, max_size_bytes: int) -> None:
    """Reject empty and oversize inputs."""
    if size == 0:
        raise DocIngestError(ErrorCode.CORRUPT_FILE, "file is empty")
    if size > max_size_bytes:
        raise DocIngestError(
            ErrorCode.FILE_SIZE_TOO_LARGE,
            f"file is {size / 1048576:.2f} MiB, over the limit of "
            f"{max_size_bytes / 1048576:.2f} MiB",
        )


def check_input(data: bytes, filename: str, max_size_bytes: int) -> str:
    """Reject empty, oversize and unsupported inputs; return the MIME type to parse as."""
    check_size(len(data), max_size_bytes)
    mime = detect_mime(data, filename)
    if mime in TEXT_MIMES:
        ext = _extension(filename)
        if ext not in TEXT_EXTENSIONS:
            raise DocIngestError(
                ErrorCode.FILE_TYPE_NOT_SUPPORTED,
                f"content is text but the file name says {ext}; text is accepted only as "
                f"{', '.join(sorted(e for e in TEXT_EXTENSIONS if e))} or without extension",
            )
        return mime
    if mime not in SUPPORTED_MIMES:
        raise DocIngestError(
            ErrorCode.FILE_TYPE_NOT_SUPPORTED,
            f"detected {describe_mime(mime)}; supported: {_SUPPORTED_NAMES}",
        )
    return mime
