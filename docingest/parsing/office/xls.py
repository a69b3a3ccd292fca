"""XLS (Excel 97-2003) with xlrd: merged cells, dates and numbers by their formats."""

from __future__ import annotations

import datetime as dt
from typing import Any

from docingest.errors import DocIngestError, ErrorCode
from docingest.parsing.office.blocks import PageBuilder
from docingest.parsing.office.safety import encrypted
from docingest.parsing.office.sheets import Budget, Sheet, display, emit_sheet
from docingest.parsing.options import ParseOptions


def parse_xls(data: bytes, options: ParseOptions, out: PageBuilder) -> dict[str, Any]:
    import xlrd

    try:
        book = xlrd.open_workbook(file_contents=data, formatting_info=True, on_demand=True)
    except xlrd.XLRDError as exc:
        if "encrypt" in str(exc).lower():
            raise encrypted("the workbook") from exc
        raise DocIngestError(ErrorCode.CORRUPT_FILE, f"xlrd cannot read it: {exc}") from exc
    except (AssertionError, IndexError, ValueError, KeyError, struct_error()) as exc:
        raise DocIngestError(ErrorCode.CORRUPT_FILE, f"xlrd cannot read it: {exc}") from exc
    budget = Budget(options, len(data))
    names: list[dict[str, Any]] = []
    for index in range(book.nsheets):
        ws = book.sheet_by_index(index)
        hidden = bool(getattr(ws, "visibility", 0))
        if hidden and not options.spreadsheet_include_hidden_sheets:
            names.append({"name": ws.name, "hidden": True, "page": None})
            continue
        sheet = Sheet(ws.name, hidden=hidden)
        for r in range(ws.nrows):
            for c in range(ws.ncols):
                cell = ws.cell(r, c)
                if cell.ctype in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
                    continue
                fmt = _format(book, cell.xf_index)
                value: object = cell.value
                if cell.ctype == xlrd.XL_CELL_DATE:
                    try:
                        value = xlrd.xldate_as_datetime(cell.value, book.datemode)
                    except (ValueError, OverflowError):
                        value = cell.value
                    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
                        value = value.date() if "h" not in fmt.lower() else value
                elif cell.ctype == xlrd.XL_CELL_BOOLEAN:
                    value = bool(cell.value)
                elif cell.ctype == xlrd.XL_CELL_ERROR:
                    value = xlrd.error_text_from_code.get(cell.value, "#ERR")
                text = display(value, fmt)
                if text.strip():
                    sheet.cells[(r, c)] = budget.take(text)
        sheet.merges = [(r0, c0, r1 - 1, c1 - 1) for r0, r1, c0, c1 in ws.merged_cells]
        emit_sheet(sheet, options, out)
        names.append({"name": ws.name, "hidden": hidden, "page": len(out.pages)})
        book.unload_sheet(index)
    return {"sheets": names}


def struct_error() -> type[Exception]:
    import struct

    return struct.error


def _format(book: Any, xf_index: int | None) -> str:
    try:
        xf = book.xf_list[xf_index]
        return str(book.format_map[xf.format_key].format_str)
    except (IndexError, KeyError, TypeError, AttributeError):
        return "General"
