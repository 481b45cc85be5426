"""A report run written as a file: an Excel workbook (one sheet per query), or CSV, Parquet or Arrow.

One table per query. CSV, Parquet and Arrow hold one table each, so a report of several queries in those
formats is a zip of one file per query (``<report>-<period>-<query>.<ext>``), unless one query is chosen.
The workbook keeps numbers typed (decimals stay exact decimals, counts integers), formats them per
column, and starts with an "about" sheet saying what was run, for which period, on which store version.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from api.encoding import arrow_chunks, csv_chunks, download_name
from cube_server.errors import InvalidParameterError
from cube_server.reports import ReportRun, Sheet

FORMATS = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
    "arrow": "application/vnd.apache.arrow.stream",
}
ZIP_MEDIA_TYPE = "application/zip"
HEADER_FILL = PatternFill("solid", fgColor="DDE4EE")
HEADER_BORDER = Border(bottom=Side(style="thin", color="7F8FA6"))
# Ratios (shares, growth) read best as percentages; the engine names their columns after the calculation.
PERCENT_MARKERS = ("share", "growth", "pct", "ratio")


@dataclass(frozen=True, slots=True)
class ReportFile:
    name: str  # the file name, with its extension
    media_type: str
    content: bytes


def sheet_table(sheet: Sheet) -> pa.Table:
    """A query's cells as a typed Arrow table, columns in the result's order."""
    columns = sheet.cells.columns
    schema = pa.schema([pa.field(column.name, column.arrow_type) for column in columns])
    arrays = [
        pa.array([cell.get(column.name) for cell in sheet.cells.cells], type=column.arrow_type) for column in columns
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def write_report(run: ReportRun, fmt: str, query: str | None = None) -> ReportFile:
    """The run in ``fmt``; ``query`` picks one sheet (required to get a single CSV of a many-query report)."""
    if fmt not in FORMATS:
        raise InvalidParameterError(f"report format is one of {', '.join(FORMATS)}, not {fmt!r}", format=fmt)
    sheets = run.sheets
    if query is not None:
        sheets = tuple(sheet for sheet in run.sheets if sheet.query.name == query)
        if not sheets:
            known = ", ".join(sheet.query.name for sheet in run.sheets)
            raise InvalidParameterError(f"report {run.report.name!r} has no query {query!r} ({known})", query=query)
    stem = download_name(run.report.name, run.period.label)
    if fmt == "xlsx":
        return ReportFile(f"{stem}.xlsx", FORMATS[fmt], workbook_bytes(run, sheets))
    files = [
        (f"{download_name(stem, sheet.query.name)}.{fmt}", table_bytes(sheet_table(sheet), fmt)) for sheet in sheets
    ]
    if len(files) == 1:
        return ReportFile(files[0][0], FORMATS[fmt], files[0][1])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in files:
            archive.writestr(name, content)
    return ReportFile(f"{stem}-{fmt}.zip", ZIP_MEDIA_TYPE, buffer.getvalue())


def table_bytes(table: pa.Table, fmt: str) -> bytes:
    if fmt == "csv":
        return b"".join(csv_chunks(table.schema, table.to_batches()))
    if fmt == "arrow":
        return b"".join(arrow_chunks(table.schema, table.to_batches()))
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def workbook_bytes(run: ReportRun, sheets: tuple[Sheet, ...]) -> bytes:
    workbook = Workbook()
    about = workbook.active
    about.title = "about"
    _about_sheet(about, run, sheets)
    for sheet in sheets:
        _query_sheet(workbook.create_sheet(sheet.query.name), sheet)
    workbook.properties.title = run.report.title
    workbook.properties.subject = f"{run.report.cube}, {run.period.label}"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _about_sheet(about: Any, run: ReportRun, sheets: tuple[Sheet, ...]) -> None:
    about["A1"] = run.report.title
    about["A1"].font = Font(bold=True, size=14)
    rows = [
        ("report", run.report.name),
        ("description", run.report.description),
        ("cube", run.report.cube),
        ("period", run.period.label),
        ("store version", run.version),
        ("generated", datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")),
    ]
    for index, (key, value) in enumerate(rows, start=3):
        about.cell(row=index, column=1, value=key).font = Font(bold=True)
        about.cell(row=index, column=2, value=value)
    first = len(rows) + 4
    about.cell(row=first, column=1, value="sheet").font = Font(bold=True)
    about.cell(row=first, column=2, value="contents").font = Font(bold=True)
    for index, sheet in enumerate(sheets, start=first + 1):
        about.cell(row=index, column=1, value=sheet.query.name)
        about.cell(row=index, column=2, value=sheet.query.title)
    about.column_dimensions["A"].width = 18
    about.column_dimensions["B"].width = 60


def _query_sheet(target: Any, sheet: Sheet) -> None:
    columns = sheet.cells.columns
    target["A1"] = sheet.query.title
    target["A1"].font = Font(bold=True, size=12)
    header_row = 3
    for index, column in enumerate(columns, start=1):
        cell = target.cell(row=header_row, column=index, value=column.name)
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
        cell.border = HEADER_BORDER
        cell.alignment = Alignment(horizontal="right" if _is_number(column.arrow_type) else "left")
    formats = [_number_format(column.name, column.arrow_type) for column in columns]
    widths = [len(column.name) for column in columns]
    for row_index, row in enumerate(sheet.cells.cells, start=header_row + 1):
        for index, column in enumerate(columns):
            value = _excel_value(row.get(column.name))
            cell = target.cell(row=row_index, column=index + 1, value=value)
            if formats[index] and value is not None:
                cell.number_format = formats[index]
            widths[index] = max(widths[index], len(str(value)) if value is not None else 0)
    for index, width in enumerate(widths, start=1):
        target.column_dimensions[get_column_letter(index)].width = min(max(width + 2, 10), 60)
    target.freeze_panes = target.cell(row=header_row + 1, column=1)
    if sheet.cells.cells:
        last = f"{get_column_letter(len(columns))}{header_row + len(sheet.cells.cells)}"
        target.auto_filter.ref = f"A{header_row}:{last}"


def _is_number(arrow_type: pa.DataType) -> bool:
    return pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type)


def _number_format(name: str, arrow_type: pa.DataType) -> str | None:
    if not _is_number(arrow_type):
        return None
    if any(marker in name for marker in PERCENT_MARKERS):
        return "0.00%"
    if pa.types.is_integer(arrow_type):
        return "#,##0"
    return "#,##0.00"


def _excel_value(value: Any) -> Any:
    # openpyxl writes Decimal as a number cell (exact to Excel's 15 digits); dates and text pass through.
    if isinstance(value, Decimal | int | float | str) or value is None:
        return value
    return str(value)
