"""Type detection, input checks and parse options (no PDF parsing)."""

from __future__ import annotations

import io
import json
import zipfile

import pymupdf
import pytest

from docingest.errors import ConfigError, DocIngestError, ErrorCode
from docingest.parsing import ParseOptions, detect_mime
from docingest.parsing.detect import check_input
from docingest.parsing.tables import (
    html_table_grid,
    html_table_to_markdown,
    markdown_table_to_html,
)
from docingest.parsing.text import markdown_fragments


def _png() -> bytes:
    return pymupdf.Pixmap(pymupdf.csRGB, pymupdf.IRect(0, 0, 4, 4), False).tobytes("png")


@pytest.mark.parametrize(
    ("data", "filename", "mime"),
    [
        (b"%PDF-1.7\n...", "a.pdf", "application/pdf"),
        (b"junk before header\n%PDF-1.4\n", "a.pdf", "application/pdf"),
        (b"%PDF-1.4\n", "no_extension", "application/pdf"),
        (b"# Title\n\nbody text\n", "notes.md", "text/markdown"),
        (b"# Title\n\nbody text\n", "notes.markdown", "text/markdown"),
        ("plain text, caf\u00e9\n".encode(), "notes.txt", "text/plain"),
        (b"plain text", "README", "text/plain"),
        (b"latin-1 caf\xe9 text that is not utf-8 but printable", "a.txt", "text/plain"),
        (b"this markdown explains the %PDF- header", "pdf.md", "text/markdown"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "a.pdf", "image/jpeg"),
        (b"GIF89a\x01\x00", "a.gif", "image/gif"),
        (b"II*\x00\x08\x00", "a.tif", "image/tiff"),
        (b"PK\x03\x04\x14\x00", "a.zip", "application/zip"),
        (
            b"PK\x03\x04\x14\x00",
            "a.docx",
            ("application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ),
        (b"\x00\x01\x02\x03\xfe\xff" * 10, "a.bin", "application/octet-stream"),
        (b"<!DOCTYPE html><html><body>hi</body></html>", "page.pdf", "text/html"),
        (b"<p>a fragment of a page</p>", "page.html", "text/html"),
        (b"<p>a fragment of a page</p>", "page.txt", "text/plain"),
        (b"From: a@b.c\nTo: d@e.f\nSubject: hi\n\nbody\n", "mail", "message/rfc822"),
        (b"a,b\n1,2\n", "t.csv", "text/csv"),
        (b"a\tb\n1\t2\n", "t.tsv", "text/tab-separated-values"),
        (b"{\\rtf1\\ansi hello}", "x.doc", "application/rtf"),
    ],
)
def test_detect_mime(data: bytes, filename: str, mime: str) -> None:
    assert detect_mime(data, filename) == mime


def test_detect_png() -> None:
    assert detect_mime(_png(), "x.pdf") == "image/png"


@pytest.mark.parametrize(
    ("data", "filename", "code", "needle"),
    [
        (b"", "a.pdf", ErrorCode.CORRUPT_FILE, "empty"),
        (b"plain text pretending", "x.pdf", ErrorCode.FILE_TYPE_NOT_SUPPORTED, ".pdf"),
        (b"just words", "x.docx", ErrorCode.FILE_TYPE_NOT_SUPPORTED, "text"),
        (b"GIF89a\x01\x00", "x.pdf", ErrorCode.FILE_TYPE_NOT_SUPPORTED, "GIF image"),
        (b"PK\x03\x04\x14\x00", "x.zip", ErrorCode.FILE_TYPE_NOT_SUPPORTED, "ZIP"),
        (b"x" * 2048, "a.txt", ErrorCode.FILE_SIZE_TOO_LARGE, "MiB"),
    ],
)
def test_check_input_rejects(data: bytes, filename: str, code: ErrorCode, needle: str) -> None:
    with pytest.raises(DocIngestError) as info:
        check_input(data, filename, max_size_bytes=1024)
    assert info.value.code == code
    assert needle in info.value.message
    assert info.value.retryable is False


def test_type_comes_from_content_not_name() -> None:
    assert check_input(_png(), "x.pdf", max_size_bytes=1 << 20) == "image/png"
    with pytest.raises(DocIngestError) as info:
        check_input(b"GIF89a\x01\x00", "x.png", max_size_bytes=1 << 20)
    assert info.value.code == ErrorCode.FILE_TYPE_NOT_SUPPORTED
    assert "GIF" in info.value.message and "EPUB" in info.value.message


@pytest.mark.parametrize(
    "kwargs",
    [
        {"engine": "ocr"},
        {"table_format": "csv"},
        {"max_pages": 0},
        {"max_pages": 1.5},
        {"max_file_size_mb": 0},
        {"max_file_size_mb": "big"},
        {"include_headers_footers": "yes"},
        {"ocr_mode": "sometimes"},
        {"ocr_languages": "english!"},
        {"image_mode": "inline"},
        {"image_mode": "save"},
        {"failed_page_mode": "skip"},
        {"page_error_tolerance": 1.5},
        {"target_pages": "3-1"},
        {"target_pages": "0"},
        {"target_pages": "one"},
        {"timeout_s": 0},
        {"memory_limit_mb": -1},
        {"isolate": 1},
    ],
)
def test_options_validate(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        ParseOptions(**kwargs)


def test_options_hash_and_password_privacy() -> None:
    base = ParseOptions()
    secret = ParseOptions(password="hunter2-secret")
    assert "hunter2" not in repr(secret)
    assert "password" not in secret.to_dict()
    assert "hunter2" not in str(secret.to_dict())
    assert secret.options_hash() == base.options_hash()
    assert ParseOptions(max_file_size_mb=5).options_hash() == base.options_hash()
    assert ParseOptions(engine="fast").options_hash() != base.options_hash()
    assert ParseOptions(max_pages=3).options_hash() != base.options_hash()
    assert ParseOptions(table_format="markdown").options_hash() != base.options_hash()
    assert ParseOptions(ocr_mode="off").options_hash() != base.options_hash()
    for limits in ({"isolate": True}, {"timeout_s": 9.0}, {"memory_limit_mb": 512}):
        assert ParseOptions(**limits).options_hash() == base.options_hash()  # type: ignore[arg-type]
    assert ParseOptions(include_headers_footers=True).options_hash() != base.options_hash()
    assert base.to_dict()["engine"] == "layout"


def test_markdown_fragments() -> None:
    text = (
        "# Title\n\nIntro paragraph\nspanning lines.\n\n## Part\n\n- one\n- two\n  more\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n\nSetext\n------\n\n```\n# not a heading\n```\n\n"
        "> quoted\n> text\n\n# Second top\n"
    )
    frags = markdown_fragments(text)
    kinds = [(f.type, f.level) for f in frags]
    assert kinds == [
        ("title", 1),
        ("text", None),
        ("section_header", 2),
        ("list_item", None),
        ("list_item", None),
        ("table", None),
        ("section_header", 2),
        ("text", None),
        ("text", None),
        ("section_header", 1),
    ]
    assert frags[4].content == "- two\n  more"
    assert (
        frags[5].html == "<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>"
    )
    assert frags[6].content == "## Setext"
    assert "# not a heading" in frags[7].content
    assert all(f.bbox.to_dict() == {"x0": 0, "y0": 0, "x1": 0, "y1": 0} for f in frags)


def test_markdown_table_to_html_escapes() -> None:
    html = markdown_table_to_html("|**A**|<b>|\n|---|---|\n|1<br>2|a\\|b|")
    assert html == (
        "<table><tr><th>A</th><th>&lt;b&gt;</th></tr><tr><td>1<br>2</td><td>a|b</td></tr></table>"
    )
    assert markdown_table_to_html("no table here") is None


def test_page_indexes() -> None:
    assert ParseOptions().page_indexes(3) == [0, 1, 2]
    assert ParseOptions(target_pages="2, 4-6,9").page_indexes(6) == [1, 3, 4, 5]
    assert ParseOptions(target_pages="2-6", max_pages=2).page_indexes(10) == [1, 2]


def test_html_tables_keep_spans() -> None:
    markup = (
        '<table><tr><th rowspan="2">Port</th><th colspan="2">Calls</th></tr>'
        "<tr><th>Foreign</th><th>Domestic</th></tr><tr><td>Manila</td><td>2454</td>"
        "<td>6,125</td></tr></table>"
    )
    assert html_table_grid(markup) == [
        ["Port", "Calls", ""],
        ["", "Foreign", "Domestic"],
        ["Manila", "2454", "6,125"],
    ]
    assert html_table_to_markdown(markup).splitlines()[:2] == [
        "| Port | Calls |  |",
        "| --- | --- | --- |",
    ]


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (b"<?xml version='1.0'?>\n<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
        (
            b"<?xml version='1.0'?><FictionBook xmlns='x'></FictionBook>",
            "application/x-fictionbook+xml",
        ),
        (b"\0" * 60 + b"BOOKMOBI" + b"\0" * 8, "application/x-mobipocket-ebook"),
    ],
)
def test_detect_ebook_and_vector_formats(data: bytes, mime: str) -> None:
    assert detect_mime(data, "file.bin") == mime


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, payload in entries.items():
            archive.writestr(name, payload)
    return buffer.getvalue()


def test_detect_zip_based_formats() -> None:
    epub = _zip({"mimetype": b"application/epub+zip", "META-INF/container.xml": b"<x/>"})
    assert detect_mime(epub, "book.zip") == "application/epub+zip"
    xps = _zip({"FixedDocSeq.fdseq": b"<x/>", "Documents/1/Pages/1.fpage": b"<x/>"})
    assert detect_mime(xps, "a.bin") == "application/oxps"
    assert detect_mime(_zip({"01.png": _png(), "02.png": _png()}), "a") == (
        "application/vnd.comicbook+zip"
    )
    assert detect_mime(_zip({"notes.txt": b"x"}), "a.zip") == "application/zip"


@pytest.mark.parametrize(
    ("spec", "tesseract"),
    [
        ("en", "eng"),
        ("en,de", "eng+deu"),
        ("eng+deu", "eng+deu"),
        ("ch_sim+en", "chi_sim+eng"),
        ("rs_latin", "srp_latn"),
        ("EN, fr", "eng+fra"),
        ("en+eng", "eng"),
    ],
)
def test_seed_language_codes_map_to_tesseract(spec: str, tesseract: str) -> None:
    assert ParseOptions(ocr_languages=spec, ocr_mode="off").ocr_languages == tesseract


@pytest.mark.parametrize("spec", ["xx", "en,", "ava", "english"])
def test_unknown_language_is_a_config_error(spec: str) -> None:
    with pytest.raises(ConfigError, match="ocr_languages"):
        ParseOptions(ocr_languages=spec, ocr_mode="off")


def test_language_without_tessdata_is_a_config_error() -> None:
    from docingest.parsing.ocr import missing_language_data

    if missing_language_data("deu") is None:
        pytest.skip("German traineddata installed (or no Tesseract): nothing missing to report")
    with pytest.raises(ConfigError, match="tesseract-ocr-deu"):
        ParseOptions(ocr_languages="de")
    assert ParseOptions(ocr_languages="en").options_hash() == ParseOptions().options_hash()


def test_high_res_ocr_sets_the_resolution() -> None:
    assert (ParseOptions().ocr_dpi, ParseOptions(high_res_ocr=True).ocr_dpi) == (150, 300)
    assert ParseOptions(high_res_ocr=True).options_hash() != ParseOptions().options_hash()


def test_options_are_echoed_without_the_password() -> None:
    options = ParseOptions(password="hunter2-secret", engine="fast", bbox_top=0.1)
    echo = options.to_dict()
    assert echo["engine"] == "fast" and echo["bbox_top"] == 0.1 and echo["isolate"] is True
    assert "password" not in echo and set(echo) == set(type(options).model_fields) - {"password"}
    assert json.loads(json.dumps(echo)) == echo  # plain JSON: enums as their values
