"""File type detection from content (magic bytes), checked against the file name."""

from __future__ import annotations

import codecs
import io
import re
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
DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PPTX_MIME = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
ODT_MIME = "application/vnd.oasis.opendocument.text"
ODS_MIME = "application/vnd.oasis.opendocument.spreadsheet"
ODP_MIME = "application/vnd.oasis.opendocument.presentation"
DOC_MIME = "application/msword"
XLS_MIME = "application/vnd.ms-excel"
PPT_MIME = "application/vnd.ms-powerpoint"
MSG_MIME = "application/vnd.ms-outlook"
ENCRYPTED_OOXML_MIME = "application/x-ooxml-encrypted"
HTML_MIME = "text/html"
CSV_MIME = "text/csv"
TSV_MIME = "text/tab-separated-values"
EML_MIME = "message/rfc822"
RTF_MIME = "application/rtf"
# Office and web formats, parsed by docingest.parsing.office: MIME type -> human name.
OFFICE_TYPES: dict[str, str] = {
    DOCX_MIME: "Word document (DOCX/DOCM)",
    XLSX_MIME: "Excel workbook (XLSX/XLSM)",
    PPTX_MIME: "PowerPoint presentation (PPTX/PPTM)",
    ODT_MIME: "OpenDocument text (ODT)",
    ODS_MIME: "OpenDocument spreadsheet (ODS)",
    ODP_MIME: "OpenDocument presentation (ODP)",
    DOC_MIME: "Word 97-2003 document (DOC)",
    XLS_MIME: "Excel 97-2003 workbook (XLS)",
    PPT_MIME: "PowerPoint 97-2003 presentation (PPT)",
    ENCRYPTED_OOXML_MIME: "password-protected Office document",
    HTML_MIME: "HTML page",
    CSV_MIME: "CSV table",
    TSV_MIME: "TSV table",
    EML_MIME: "e-mail message (EML)",
    RTF_MIME: "RTF document",
}
SUPPORTED_MIMES: frozenset[str] = frozenset({*MUPDF_TYPES, *TEXT_MIMES, *OFFICE_TYPES})
_SUPPORTED_NAMES = (
    "PDF, XPS, EPUB, MOBI, FB2, CBZ, SVG, PNG/JPEG/TIFF, plain text, markdown, "
    "DOCX/DOCM, XLSX/XLSM, PPTX/PPTM, ODT/ODS/ODP, DOC/XLS/PPT, RTF, HTML/XHTML, CSV/TSV, EML"
)
_COMIC_IMAGES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff")
TEXT_EXTENSIONS: frozenset[str] = frozenset({"", ".txt", ".text", ".md", ".markdown"})
_DELIMITED_EXTENSIONS = {".csv": CSV_MIME, ".tsv": TSV_MIME, ".tab": TSV_MIME}
_HTML_EXTENSIONS = frozenset({".html", ".htm", ".xhtml", ".xht"})
_HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body")
_HTML_TAG = re.compile(rb"<(?:div|p|table|h[1-6]|ul|ol|span|a|meta|title|section|article)[\s>]")
_HEADER_LINE = re.compile(rb"^[A-Za-z][A-Za-z0-9-]*:[ \t]")
_MAIL_HEADERS = frozenset(
    {
        b"from",
        b"to",
        b"subject",
        b"date",
        b"received",
        b"message-id",
        b"mime-version",
        b"return-path",
        b"delivered-to",
        b"reply-to",
        b"cc",
        b"x-mailer",
        b"content-type",
    }
)
_ODF = {
    b"application/vnd.oasis.opendocument.text": ODT_MIME,
    b"application/vnd.oasis.opendocument.spreadsheet": ODS_MIME,
    b"application/vnd.oasis.opendocument.presentation": ODP_MIME,
}
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
    (b"{\\rtf", RTF_MIME, "RTF document"),
)
_NAMES = {m: n for _, m, n in _MAGIC} | OFFICE_TYPES | {MSG_MIME: "Outlook message (MSG)"}
# The main part of each OOXML package, which says what it is whatever the file is called.
_OOXML_PARTS = {
    "word/document.xml": DOCX_MIME,
    "xl/workbook.xml": XLSX_MIME,
    "ppt/presentation.xml": PPTX_MIME,
}


# A zip that cannot be opened keeps the type its name gives, so the parser says CORRUPT_FILE.
_ZIP_EXTENSIONS = {
    ".docx": DOCX_MIME,
    ".docm": DOCX_MIME,
    ".dotx": DOCX_MIME,
    ".dotm": DOCX_MIME,
    ".xlsx": XLSX_MIME,
    ".xlsm": XLSX_MIME,
    ".xltx": XLSX_MIME,
    ".xltm": XLSX_MIME,
    ".pptx": PPTX_MIME,
    ".pptm": PPTX_MIME,
    ".potx": PPTX_MIME,
    ".ppsx": PPTX_MIME,
    ".odt": ODT_MIME,
    ".ods": ODS_MIME,
    ".odp": ODP_MIME,
}


def _zip_kind(data: bytes, ext: str) -> str:
    """EPUB, XPS, CBZ, OpenDocument or Office document, from the archive's entries."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            if "mimetype" in names:
                kind = archive.read("mimetype").strip()
                if kind == b"application/epub+zip":
                    return "application/epub+zip"
                if kind in _ODF:
                    return _ODF[kind]
    except (zipfile.BadZipFile, OSError, KeyError, ValueError, EOFError, NotImplementedError):
        return _ZIP_EXTENSIONS.get(ext, "application/zip")
    # Some writers use backslashes or odd case in part names; readers accept them.
    lowered = [n.lower().replace("\\", "/") for n in names]
    for part, mime in _OOXML_PARTS.items():
        if part in lowered:
            return mime
    if any(n.endswith(".fdseq") or n.endswith(".fpage") for n in lowered):
        return "application/oxps"
    if lowered and all(n.endswith("/") or n.endswith(_COMIC_IMAGES) for n in lowered):
        return "application/vnd.comicbook+zip"
    if "content.xml" in lowered and "meta-inf/manifest.xml" in lowered:
        return ODT_MIME  # OpenDocument without its mimetype entry: the parser checks the body
    return _ZIP_EXTENSIONS.get(ext, "application/zip")


def _ole_kind(data: bytes) -> str:
    """Which legacy Office file (or encrypted OOXML package) an OLE2 compound file holds."""
    import olefile

    try:
        with olefile.OleFileIO(data) as ole:
            streams = {"/".join(entry).lower() for entry in ole.listdir()}
    except (OSError, ValueError, IndexError, TypeError, AttributeError):
        return "application/x-ole-storage"
    if "encryptedpackage" in streams:
        return ENCRYPTED_OOXML_MIME
    if "worddocument" in streams:
        return DOC_MIME
    if "workbook" in streams or "book" in streams:
        return XLS_MIME
    if "powerpoint document" in streams:
        return PPT_MIME
    if any(s.startswith("__substg1.0_") for s in streams):
        return MSG_MIME
    return "application/x-ole-storage"


def _looks_like_html(sample: bytes) -> bool:
    head = sample[:4096].lower()
    return any(marker in head for marker in _HTML_MARKERS)


def _looks_like_mail(sample: bytes) -> bool:
    """RFC 822 headers from the first line on (an mbox "From " line allowed), with known names."""
    lines = sample.split(b"\n", 40)[:40]
    if lines and lines[0].startswith(b"From "):
        lines = lines[1:]
    known = 0
    for line in lines:
        line = line.rstrip(b"\r")
        if not line:
            break
        if line[:1] in (b" ", b"\t"):
            continue  # a folded header's continuation
        if not _HEADER_LINE.match(line):
            return False
        known += line.split(b":", 1)[0].lower() in _MAIL_HEADERS
    return known >= 2


def _xml_kind(sample: bytes) -> str | None:
    head = sample[:4096].lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head.startswith(b"<"):
        return None
    if b"<FictionBook" in head:
        return "application/x-fictionbook+xml"
    if _looks_like_html(head):  # before SVG: web pages carry inline <svg> icons
        return HTML_MIME
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
            if mime == "application/x-ole-storage":
                return _ole_kind(data)
            if mime == "image/bmp" and _looks_like_text(data[:_SAMPLE_BYTES]):
                continue  # "BM" is also how plenty of text files start
            return mime
    if data[60:68] == b"BOOKMOBI":
        return "application/x-mobipocket-ebook"
    sample = data[:_SAMPLE_BYTES]
    if xml := _xml_kind(sample):
        return xml
    if sample and _looks_like_text(sample):
        return _text_kind(sample, ext)
    return "application/octet-stream"


def _text_kind(sample: bytes, ext: str) -> str:
    """HTML and e-mail by content; CSV/TSV and markdown, which are plain text, by name."""
    if ext not in _TEXT_ONLY_EXTENSIONS:
        if _looks_like_html(sample.lstrip(b"\xef\xbb\xbf \t\r\n")):
            return HTML_MIME
        if _looks_like_mail(sample.lstrip(b"\xef\xbb\xbf")):
            return EML_MIME
        if ext in _DELIMITED_EXTENSIONS:
            return _DELIMITED_EXTENSIONS[ext]
        if ext in _HTML_EXTENSIONS and _HTML_TAG.search(sample[:4096].lower()):
            return HTML_MIME
    return "text/markdown" if ext in _MARKDOWN_EXTENSIONS else "text/plain"


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
                f"{', '.join(sorted(e for e in TEXT_EXTENSIONS if e))} or without extension "
                "(HTML, e-mail, CSV and TSV are read by their content or as .csv/.tsv)",
            )
        return mime
    if mime == MSG_MIME:
        raise DocIngestError(
            ErrorCode.FILE_TYPE_NOT_SUPPORTED,
            "detected an Outlook message (MSG); save it as .eml (RFC 822) to parse it",
        )
    if mime not in SUPPORTED_MIMES:
        raise DocIngestError(
            ErrorCode.FILE_TYPE_NOT_SUPPORTED,
            f"detected {describe_mime(mime)}; supported: {_SUPPORTED_NAMES}",
        )
    return mime
