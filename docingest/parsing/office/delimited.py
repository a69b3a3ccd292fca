"""CSV and TSV: one table (the first row as its header), ragged rows padded."""

from __future__ import annotations

import csv
import io
from typing import Any

from docingest.parsing.office.blocks import Cell, PageBuilder
from docingest.parsing.office.encoding import decode_text
from docingest.parsing.office.sheets import Budget
from docingest.parsing.options import ParseOptions

_SNIFF_CHARS = 20_000


def _rows(text: str, delimiter: str | None) -> list[list[str]]:
    if delimiter is None:
        try:
            dialect: Any = csv.Sniffer().sniff(text[:_SNIFF_CHARS], delimiters=",;\t|")
        except csv.Error:
            dialect = csv.excel
        reader = csv.reader(io.StringIO(text), dialect)
    else:
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    return [row for row in reader if any(cell.strip() for cell in row)]


def _parse(data: bytes, options: ParseOptions, out: PageBuilder, tsv: bool) -> dict[str, Any]:
    text, encoding = decode_text(data)
    csv.field_size_limit(1 << 24)
    rows = _rows(text, "\t" if tsv else None)
    budget = Budget(options, len(data))
    width = max((len(row) for row in rows), default=0)
    cells = [
        [Cell(budget.take(value.strip())) for value in row] + [Cell("")] * (width - len(row))
        for row in rows
    ]
    out.new_page()
    out.table(cells)
    return {"encoding": encoding, "rows": len(rows), "columns": width}


def parse_csv(data: bytes, options: ParseOptions, out: PageBuilder) -> dict[str, Any]:
    return _parse(data, options, out, tsv=False)


def parse_tsv(data: bytes, options: ParseOptions, out: PageBuilder) -> dict[str, Any]:
    return _parse(data, options, out, tsv=True)
