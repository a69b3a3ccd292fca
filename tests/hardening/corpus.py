"""Hostile and broken inputs, generated: raw PDF bytes for what no writer produces on purpose.

Each builder returns the bytes of one file. PyMuPDF writes the well-formed ones (encrypted,
with attachments); `raw_pdf` writes the others object by object, with a correct cross-reference
table, so MuPDF reads exactly the structure under test instead of repairing its way around a
broken xref (and 3,000 pages take milliseconds).
"""

import io
import zipfile
import zlib
from pathlib import Path

import pymupdf

DATA = Path(__file__).parent / "data"
PASSWORD = "hardening-pdf-password-1f3a"  # distinctive, so a leak is found by grep
TEXT = "Hostile input, readable text in the middle of the page."
_LINES = [
    TEXT,
    "Wind turbines convert the kinetic energy of moving air into electricity, and a",
    "modern turbine reaches a capacity factor of thirty to fifty percent on good sites.",
    "Maintenance crews inspect the blades twice a year for erosion and lightning damage.",
]


def _text(x: int, y: int) -> bytes:
    """A short paragraph at (x, y): enough body text for both engines to call it text."""
    lines = b" T* ".join(b"(" + line.encode() + b") Tj" for line in _LINES)
    return b"BT /F1 11 Tf 14 TL %d %d Td " % (x, y) + lines + b" ET"


_CONTENT = _text(72, 500)
_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def raw_pdf(objects: list[bytes], trailer: bytes = b"/Root 1 0 R") -> bytes:
    """A PDF of `objects` (object 1, 2, ...), each the bytes between `obj` and `endobj`."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d %s >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        trailer,
        xref,
    )
    return bytes(out)


def stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d %s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def one_page(
    page_extra: bytes = b"",
    *,
    mediabox: bytes = b"[0 0 612 792]",
    catalog_extra: bytes = b"",
    content: bytes = _CONTENT,
    font: bytes = _FONT,
    more: list[bytes] | None = None,
) -> bytes:
    """A one-page PDF with a paragraph of text; objects 6+ are `more`."""
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b" >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox " + mediabox + b" /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> " + page_extra + b" >>",
            stream(content),
            font,
            *(more or []),
        ]
    )


def zero_pages() -> bytes:
    return raw_pdf([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"])


def cyclic_kids() -> bytes:
    """The page tree's root lists itself as its only kid."""
    return raw_pdf(
        [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>"]
    )


def cyclic_parent() -> bytes:
    """A page whose /Parent chain loops (3 -> 6 -> 3) and whose resources are inherited."""
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 6 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
            stream(_CONTENT),
            _FONT,
            b"<< /Type /Pages /Parent 3 0 R /Kids [3 0 R] /Count 1 >>",
        ]
    )


def deep_arrays(depth: int = 100_000) -> bytes:
    return one_page(b"/Junk " + b"[" * depth + b"]" * depth)


def deep_dicts(depth: int = 100_000) -> bytes:
    return one_page(b"/Junk " + b"<< /A " * depth + b">>" * depth)


def javascript() -> bytes:
    """Runs JavaScript on open (OpenAction) and names a document-level script."""
    script = b"<< /S /JavaScript /JS (app.alert('pwned'); this.exportDataObject({cName: 'x'});) >>"
    return one_page(
        catalog_extra=b"/OpenAction 6 0 R /Names << /JavaScript << /Names [(x) 6 0 R] >> >>",
        page_extra=b"/AA << /O 6 0 R >>",
        more=[script],
    )


def broken_font() -> bytes:
    """A TrueType font whose embedded program is garbage."""
    font = (
        b"<< /Type /Font /Subtype /TrueType /BaseFont /Broken /FirstChar 32 /LastChar 126 "
        b"/FontDescriptor 6 0 R >>"
    )
    descriptor = (
        b"<< /Type /FontDescriptor /FontName /Broken /Flags 32 /FontBBox [0 0 1000 1000] "
        b"/ItalicAngle 0 /Ascent 800 /Descent -200 /CapHeight 700 /StemV 80 /FontFile2 7 0 R >>"
    )
    return one_page(font=font, more=[descriptor, stream(b"\x00\x01\x00\x00garbage" * 64)])


def huge_mediabox(size: int) -> bytes:
    """A square page `size` points wide (PDF's own limit is 14,400), text in its middle."""
    content = _text(size // 2, size // 2)
    return one_page(mediabox=b"[0 0 %d %d]" % (size, size), content=content)


def _zeros_flate(total: int, block: int = 16 << 20) -> bytes:
    """zlib data that inflates to `total` zero bytes (a multiple of `block`), built cheaply:
    after a full flush, every block of zeros compresses to the same bytes."""
    assert total % block == 0
    compressor = zlib.compressobj(9)
    zeros = bytes(block)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = b"\x03\x00"  # an empty final block (fixed Huffman, end-of-block code only)
    # Adler-32 of n zero bytes: a = 1, b = n (mod 65521).
    adler = ((total % 65521) << 16) | 1
    return first + again * (total // block - 1) + tail + adler.to_bytes(4, "big")


def image_bomb(side: int = 32768, inflated: int | None = None) -> bytes:
    """A page covered by a grey image of side x side pixels whose data inflates to `inflated`
    bytes (default: all of them, 1 GiB for 32768); about 1 KB on disk per MB inflated."""
    total = side * side if inflated is None else inflated
    image = stream(
        _zeros_flate(total),
        b"/Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
        b"/BitsPerComponent 8 /Filter /FlateDecode" % (side, side),
    )
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /XObject << /Im1 5 0 R >> >> >>",
            stream(b"q 612 0 0 792 0 0 cm /Im1 Do Q"),
            image,
        ]
    )


def png_bomb(side: int = 49152) -> bytes:
    """A PNG of side x side grey pixels (2.4 GB decoded) in ~2 MB."""
    row = side + 1  # filter byte per row
    block = 16 << 20
    total = row * side
    # Rows are not a multiple of the block: pad the stream's declared size down to blocks and
    # let the decoder find it short; a decoder must fail or cope either way.
    data = _zeros_flate(total - total % block, block)

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return len(body).to_bytes(4, "big") + kind + body + crc.to_bytes(4, "big")

    header = side.to_bytes(4, "big") * 2 + b"\x08\x00\x00\x00\x00"
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def many_pages(pages: int) -> bytes:
    """`pages` small pages, each with its own line of text, written directly (milliseconds)."""
    kids = b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages,
        _FONT,
    ]
    for n in range(1, pages + 1):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents %d 0 R "
            b"/Resources << /Font << /F1 3 0 R >> >> >>" % (5 + 2 * (n - 1))
        )
        objects.append(stream(b"BT /F1 9 Tf 20 100 Td (Page %d of a long manual.) Tj ET" % n))
    return raw_pdf(objects)


def encrypted(password: str = PASSWORD) -> bytes:
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 300), "\n".join(["Behind a password.", *_LINES]), fontsize=11)
    data = doc.tobytes(
        encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw=password, owner_pw=password + "-owner"
    )
    doc.close()
    return data


def embedded_file() -> bytes:
    """A PDF carrying an executable attachment and a file-attachment annotation."""
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 300), "\n".join(["A document with attachments.", *_LINES]), fontsize=11)
    doc.embfile_add("payload.exe", b"MZ\x90\x00" + b"\x00" * 512, filename="payload.exe")
    page.add_file_annot(pymupdf.Point(72, 200), b"#!/bin/sh\nrm -rf /\n", "run-me.sh")
    data = doc.tobytes()
    doc.close()
    return data


def good_pdf(lines: list[str] | None = None) -> bytes:
    if lines is None:
        lines = ["A good neighbour document about wind turbines.", *_LINES[1:]]
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 300), "\n".join(lines), fontsize=11)
    data = doc.tobytes()
    doc.close()
    return data


def truncated() -> bytes:
    return good_pdf()[:300]


def docx_like() -> bytes:
    """A ZIP with Word's layout (an Office document), named .pdf by the tests."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def real(name: str) -> bytes:
    """A file taken from a package's test suite (tests/hardening/data/NOTICE.md)."""
    return (DATA / name).read_bytes()
