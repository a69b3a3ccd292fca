"""Text decoding for HTML, CSV, e-mail and RTF: declared charset, BOM, UTF-8, then a guess."""

from __future__ import annotations

import codecs
import re

_DECLARED = re.compile(rb"""(?:charset|encoding)\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


_SINGLE_BYTE_DEFAULT = "cp1252"
_SINGLE_BYTE = frozenset(
    {"cp1250", "cp1252", "cp1254", "cp1257", "latin-1", "iso8859-1", "iso8859-2",
     "iso8859-9", "iso8859-15", "mac-roman", "cp850", "cp437"}
)  # fmt: skip


def _known(name: str) -> str | None:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_text(data: bytes, html: bool = False) -> tuple[str, str]:
    """(text, encoding used): a BOM, then (HTML) a declared charset, UTF-8, then a guess."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return data.decode(name, errors="replace"), name
    if html:
        match = _DECLARED.search(data[:4096])
        declared = _known(match.group(1).decode("ascii", "replace")) if match else None
        if declared:
            try:
                return data.decode(declared), declared
            except UnicodeDecodeError:
                pass
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data[:200_000]).best()
    name = best.encoding if best is not None else _SINGLE_BYTE_DEFAULT
    if codecs.lookup(name).name in _SINGLE_BYTE:
        # Single-byte code pages are hard to tell apart; unlabeled text is read as
        # windows-1252, as browsers do (WHATWG), unless the guess is a multi-byte encoding.
        name = _SINGLE_BYTE_DEFAULT
    return data.decode(name, errors="replace"), name
