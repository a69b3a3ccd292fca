"""XLSX/XLSM with openpyxl (read-only, streaming; cached formula values; macros never run).

Merged ranges are read from each sheet's XML (openpyxl's read-only mode skips them), with
the package's zip-bomb checks applied before openpyxl opens it.
"""

from __future__ import annotations

import io
import warnings
import zipfile
from typing import Any

from lxml import etree

from docingest.errors import DocIngestError, ErrorCode
from docingest.parsing.office.blocks import PageBuilder
from docingest.parsing.office.package import Package
from docingest.parsing.office.sheets import Budget, Sheet, display, emit_sheet
from docingest.parsing.options import ParseOptions


def _merges(package: Package, path: str) -> list[tuple[int, int, int, int]]:
    from openpyxl.utils.cell import range_boundaries

    data = package.read(path.lstrip("/"))
    if data is None:
        return []
    merges = []
    parser = etree.iterparse(
        io.BytesIO(data), events=("end",), resolve_entities=False, no_network=True,
        load_dtd=False, huge_tree=False,
    )  # fmt: skip
    try:
        for _, el in parser:
            if el.tag.endswith("}mergeCell"):
                try:
                    c0, r0, c1, r1 = range_boundaries(el.get("ref", ""))
                except (ValueError, TypeError):
                    continue
                if None not in (c0, r0, c1, r1):
                    merges.append((r0 - 1, c0 - 1, r1 - 1, c1 - 1))
            el.clear()
    except etree.XMLSyntaxError as exc:
        raise DocIngestError(ErrorCode.CORRUPT_FILE, f"{path}: {exc}") from exc
    return merges


def _load(openpyxl: Any, data: bytes) -> Any:
    with warnings.catch_warnings():
        # openpyxl warns about every extension it drops (conditional formats, slicers).
        warnings.simplefilter("ignore", UserWarning)
        return openpyxl.load_workbook(
            io.BytesIO(data), read_only=True, data_only=True, keep_links=False, keep_vba=False
        )


def _read_cells(ws: Any, sheet: Sheet, budget: Budget) -> None:
    with warnings.catch_warnings():
        # Reading a sheet warns about every extension openpyxl drops (conditional formats).
        warnings.simplefilter("ignore", UserWarning)
        for row in ws.iter_rows():
            for cell in row:
                value = getattr(cell, "value", None)
                if value is None:
                    continue
                text = display(value, getattr(cell, "number_format", None))
                if text.strip():
                    sheet.cells[(cell.row - 1, cell.column - 1)] = budget.take(text)


def parse_xlsx(data: bytes, options: ParseOptions, out: PageBuilder) -> dict[str, Any]:
    import openpyxl

    package = Package(data, "the workbook")  # the bomb checks, before openpyxl unzips
    try:
        workbook = _load(openpyxl, data)
    except KeyError:
        # Part names with backslashes or in odd case (some third-party writers): Excel reads
        # them, openpyxl does not; the package is rewritten with the names normalized.
        try:
            workbook = _load(openpyxl, package.normalized())
        except (zipfile.BadZipFile, KeyError, ValueError, TypeError, etree.XMLSyntaxError) as exc:
            package.close()
            raise DocIngestError(
                ErrorCode.CORRUPT_FILE, f"openpyxl cannot read the workbook: {exc}"
            ) from exc
    except (zipfile.BadZipFile, ValueError, TypeError, etree.XMLSyntaxError) as exc:
        package.close()
        raise DocIngestError(
            ErrorCode.CORRUPT_FILE, f"openpyxl cannot read the workbook: {exc}"
        ) from exc
    budget = Budget(options, len(data))
    names: list[dict[str, Any]] = []
    try:
        for ws in workbook.worksheets:
            hidden = ws.sheet_state != "visible"
            if hidden and not options.spreadsheet_include_hidden_sheets:
                names.append({"name": ws.title, "hidden": True, "page": None})
                continue
            sheet = Sheet(ws.title, hidden=hidden)
            _read_cells(ws, sheet, budget)
            sheet.merges = _merges(package, getattr(ws, "_worksheet_path", ""))
            emit_sheet(sheet, options, out)
            names.append({"name": ws.title, "hidden": hidden, "page": len(out.pages)})
    finally:
        workbook.close()
        package.close()
    return {"sheets": names}
