"""Hostile office and web inputs, each in the same isolated worker as PDFs: every one gets its
code within the limits, and a good document parsed after it comes out as if alone."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from docingest.errors import DocIngestError, ErrorCode
from docingest.parsing import ParseOptions, ParserPool, parse_file
from tests.parsing.test_office_formats import corpus

OPTIONS = ParseOptions(isolate=True, timeout_s=60)
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_CONTENT_TYPES = (
    '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    'content-types"><Override PartName="/word/document.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)


def _docx(document_xml: bytes | str, extra: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("word/document.xml", document_xml)
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


def zip_bomb() -> bytes:
    """A 6 KB Word file whose one extra part inflates to 64 MiB (10,000:1)."""
    body = f'<w:document xmlns:w="{_W}"><w:body><w:p><w:r><w:t>x</w:t></w:r></w:p></w:body>'
    body += "</w:document>"
    return _docx(body, {"word/media/bomb.bin": b"\0" * (64 * 1024 * 1024)})


def billion_laughs() -> bytes:
    """Nested entities that would expand to 10^9 "lol"s if resolved."""
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    return _docx(
        f'<?xml version="1.0"?><!DOCTYPE w:document [{entities}]>'
        f'<w:document xmlns:w="{_W}"><w:body><w:p><w:r><w:t>laughs &lol9; end</w:t></w:r>'
        "</w:p></w:body></w:document>"
    )


def deep_html() -> bytes:
    depth = 100_000
    return (
        b"<html><body><p>top text</p>"
        + b"<div>" * depth
        + b"deep text"
        + b"</div>" * depth
        + b"</body></html>"
    )


def huge_sheet() -> bytes:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    for row in range(1, 201):
        for column in range(1, 11):
            book.active.cell(row, column, row * column)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@dataclass
class Case:
    name: str
    data: Callable[[], bytes]
    outcome: ErrorCode | str  # an error code, or text the parse must contain
    options: ParseOptions = OPTIONS


def _real(name: str) -> Callable[[], bytes]:
    return lambda: corpus(name).read_bytes()


CASES = [
    Case("bomb.docx", zip_bomb, ErrorCode.FILE_SIZE_TOO_LARGE),
    Case("laughs.docx", billion_laughs, ErrorCode.CORRUPT_FILE),  # libxml2's amplification cap
    Case("xxe.docx", _real("docx/poi-ExternalEntityInText.docx"), "should not be the POI"),
    Case("locked.docx", _real("docx/tika-testWORD_protected_passtika.docx"),
         ErrorCode.PASSWORD_PROTECTED_FILE),
    Case("locked.pptx", _real("pptx/tika-testPPT_protected_passtika.pptx"),
         ErrorCode.PASSWORD_PROTECTED_FILE),
    Case("locked.odt", _real("odt/tika-testODTEncrypted.odt"), ErrorCode.PASSWORD_PROTECTED_FILE),
    Case("truncated.docx", _real("docx/poi-truncated62886.docx"), ErrorCode.CORRUPT_FILE),
    Case("fuzzed.docx",
         _real("docx/poi-clusterfuzz-testcase-minimized-POIXWPFFuzzer-6120975439364096.docx"),
         ErrorCode.CORRUPT_FILE),
    # libxml2 stops at its depth limit (256) and drops what lies deeper.
    Case("deep.html", deep_html, "top text"),
    Case("huge.xlsx", huge_sheet, ErrorCode.FILE_SIZE_TOO_LARGE,
         ParseOptions(isolate=True, spreadsheet_max_cells=1000)),
    Case("big.xlsx", huge_sheet, "<td>2000</td>"),
    Case("slow.docx", _real("docx/uns-handbook-872p.docx"), ErrorCode.PARSE_TIMEOUT,
         ParseOptions(isolate=True, timeout_s=0.05, timeout_per_page_s=0.0)),
]  # fmt: skip


@pytest.fixture(scope="module")
def pool() -> Iterator[ParserPool]:
    pool = ParserPool(workers=1)
    yield pool
    pool.close()


@pytest.fixture(scope="module")
def neighbour(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    path = tmp_path_factory.mktemp("good") / "good.docx"
    path.write_bytes(corpus("docx/docling-unit_test_headers_numbered.docx").read_bytes())
    alone = parse_file(path, document_id="good", options=ParseOptions())
    return path, alone.to_dict()["pages"]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_input(
    case: Case, pool: ParserPool, neighbour: tuple[Path, dict], tmp_path: Path
) -> None:
    path = tmp_path / case.name
    path.write_bytes(case.data())
    started = time.monotonic()
    if isinstance(case.outcome, ErrorCode):
        with pytest.raises(DocIngestError) as info:
            pool.parse(path, case.name, case.options)
        assert info.value.code == case.outcome, info.value.message
    else:
        result = pool.parse(path, case.name, case.options)
        assert case.outcome in result.markdown
    assert time.monotonic() - started < 30
    good, pages = neighbour
    assert pool.parse(good, "good", OPTIONS).to_dict()["pages"] == pages


def test_word_file_named_pdf_is_read_as_word(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(corpus("docx/mk-test.docx").read_bytes())
    result = parse_file(path, options=ParseOptions())
    assert result.mime_type.endswith("wordprocessingml.document") and "AutoGen" in result.markdown
