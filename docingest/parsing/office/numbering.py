"""List and heading numbers in the formats Word and OpenDocument name."""

from __future__ import annotations

_ROMAN = (
    (1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
    (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i"),
)  # fmt: skip


def _roman(value: int) -> str:
    out = ""
    for amount, letters in _ROMAN:
        count, value = divmod(value, amount)
        out += letters * count
    return out


def _letters(value: int) -> str:
    out = ""
    while value > 0:
        value, rest = divmod(value - 1, 26)
        out = chr(ord("a") + rest) + out
    return out


def format_number(value: int, fmt: str) -> str:
    """`value` written as `fmt` (Word's numFmt or ODF's style:num-format: 1, a, A, i, I)."""
    if fmt in ("lowerLetter", "a"):
        return _letters(value)
    if fmt in ("upperLetter", "A"):
        return _letters(value).upper()
    if fmt in ("lowerRoman", "i"):
        return _roman(value)
    if fmt in ("upperRoman", "I"):
        return _roman(value).upper()
    if fmt == "decimalZero":
        return f"{value:02d}"
    return str(value)
