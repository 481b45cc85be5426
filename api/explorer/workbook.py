"""The explorer's view written as an Excel workbook: a ``pivot`` sheet laid out like the page, and ``about``.

The pivot sheet has one header row per column level (year over quarter), a row naming each value column
(the measures, then the calculations, under every column member), one column per row level (the whole
path, so a city keeps its province), then the row totals; the last row holds the column totals and the
grand total. Numbers stay typed: decimals as numbers to the cent (money in the measure's currency), counts
as integers, shares and growth as percentages. The same look as the reports (``api.report_files``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from api.report_files import HEADER_BORDER, HEADER_FILL, PERCENT_MARKERS
from cube_models import Cube
from cube_server.result import CellSet, PivotTable

XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TOTAL = "Total"
# How a calculation's column suffix reads (revenue__share_total: "Revenue (CNY): share of total"), as on the page.
CALCULATION_WORDS = {
    "share_total": "share of total",
    "share_parent": "share of parent",
    "change_previous": "change on previous",
    "change_last_year": "change on last year",
    "growth_previous": "growth on previous",
    "growth_last_year": "growth on last year",
    "ytd": "year to date",
    "qtd": "quarter to date",
}
BOLD = Font(bold=True)


@dataclass(frozen=True, slots=True)
class PivotView:
    """What the explorer shows: the pivot, the cells holding its calculations (if any), and the request."""

    cube: Cube
    pivot: PivotTable
    calculated: CellSet | None
    cuts: tuple[str, ...]
    calculations: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class _ValueColumn:
    name: str  # a measure, or a calculation's column (revenue__share_total)
    label: str
    number_format: str | None


def workbook_bytes(view: PivotView) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "pivot"
    _pivot_sheet(sheet, view)
    _about_sheet(workbook.create_sheet("about"), view)
    workbook.properties.title = f"{view.cube.label}: pivot"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _value_columns(view: PivotView) -> list[_ValueColumn]:
    pivot = view.pivot
    columns = []
    for name, arrow_type in zip(pivot.measures, pivot.measure_types, strict=True):
        measure = view.cube.measure(name)
        columns.append(_ValueColumn(name, measure.label, _measure_format(measure.format, arrow_type)))
    if view.calculated is not None:
        for column in view.calculated.columns:
            if column.kind == "calculation":
                measure_name, _, calculation = column.name.partition("__")
                words = CALCULATION_WORDS.get(calculation, calculation.replace("_", " "))
                label = f"{view.cube.measure(measure_name).label}: {words}"
                columns.append(_ValueColumn(column.name, label, _calculation_format(column.name, column.arrow_type)))
    return columns


def _measure_format(format_text: str | None, arrow_type: pa.DataType) -> str | None:
    if pa.types.is_integer(arrow_type):
        return "#,##0"
    if not (pa.types.is_decimal(arrow_type) or pa.types.is_floating(arrow_type)):
        return None
    kind, _, unit = (format_text or "").partition(":")
    if kind == "percent":
        return "0.00%"
    if kind == "currency" and unit.isalpha():
        return f'#,##0.00 "{unit}"'
    return "#,##0.00"


def _calculation_format(name: str, arrow_type: pa.DataType) -> str | None:
    if any(marker in name for marker in PERCENT_MARKERS):
        return "0.00%"
    return _measure_format(None, arrow_type)


def _level_label(cube: Cube, ref: str) -> str:
    return cube.level(ref)[1].label


def _calculated_cells(view: PivotView) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The calculated cells by their row levels' keys, then their column levels' keys."""
    if view.calculated is None:
        return {}
    levels = [*view.pivot.row_levels, *view.pivot.column_levels]
    return {tuple(cell.get(level) for level in levels): cell for cell in view.calculated.cells}


def _pivot_sheet(sheet: Worksheet, view: PivotView) -> None:
    pivot = view.pivot
    values = _value_columns(view)
    measures = len(pivot.measures)
    calculated = _calculated_cells(view)
    row_levels, column_levels = pivot.row_levels, pivot.column_levels
    first_value = max(len(row_levels), 1) + 1  # column A holds the row headers, or "All" without rows
    sheet["A1"] = f"{view.cube.label}: " + ", ".join(value.label for value in values[:measures])
    sheet["A1"].font = Font(bold=True, size=12)
    sheet["A2"] = "cut: " + (" | ".join(view.cuts) if view.cuts else "(none)")
    top = 4
    # Column header rows: one per column level, then the value columns' names.
    for depth, level in enumerate(column_levels):
        _header(sheet, top + depth, first_value - 1, _level_label(view.cube, level))
        for index, labels in enumerate(pivot.column_header_labels):
            _header(sheet, top + depth, first_value + index * len(values), _text(labels[depth]))
    names_row = top + len(column_levels)
    for depth, level in enumerate(row_levels):
        _header(sheet, names_row, depth + 1, _level_label(view.cube, level))
    # A pivot always has at least one row and one column member (an empty header when the axis is empty).
    column_members = len(pivot.column_headers)
    width = len(values)
    for member in range(column_members):
        for offset, value in enumerate(values):
            _header(sheet, names_row, first_value + member * width + offset, value.label, right=True)
    totals_at = first_value + column_members * width
    has_row_totals = bool(column_levels) and pivot.row_totals is not None  # without columns they repeat the row
    if has_row_totals:
        _header(sheet, top, totals_at, TOTAL)
        for offset, value in enumerate(values[:measures]):
            _header(sheet, names_row, totals_at + offset, value.label, right=True)
    row = names_row + 1
    for r, (keys, labels) in enumerate(zip(pivot.row_headers, pivot.row_header_labels, strict=True)):
        for depth, label in enumerate(labels):
            sheet.cell(row=row, column=depth + 1, value=_text(label))
        if not row_levels:
            sheet.cell(row=row, column=1, value="All").font = BOLD
        for member, column_keys in enumerate(pivot.column_headers):
            cell_values = pivot.values[r][member]
            extra = calculated.get((*keys, *column_keys), {})
            for offset, value in enumerate(values):
                if offset < measures:
                    number = None if cell_values is None else cell_values[offset]
                else:
                    number = extra.get(value.name)
                _number(sheet, row, first_value + member * width + offset, number, value)
        if has_row_totals:
            for offset, value in enumerate(values[:measures]):
                _number(sheet, row, totals_at + offset, pivot.row_totals[r][offset], value)  # type: ignore[index]
        row += 1
    if row_levels and pivot.grand_total is not None:
        sheet.cell(row=row, column=1, value=TOTAL).font = BOLD
        for member in range(column_members):
            totals = pivot.column_totals[member] if pivot.column_totals is not None else pivot.grand_total
            for offset, value in enumerate(values[:measures]):
                _number(sheet, row, first_value + member * width + offset, totals[offset], value, bold=True)
        if has_row_totals:
            for offset, value in enumerate(values[:measures]):
                _number(sheet, row, totals_at + offset, pivot.grand_total[offset], value, bold=True)
    for column in range(1, sheet.max_column + 1):
        sheet.column_dimensions[get_column_letter(column)].width = 16 if column >= first_value else 20
    sheet.freeze_panes = sheet.cell(row=names_row + 1, column=first_value)


def _header(sheet: Worksheet, row: int, column: int, text: str, right: bool = False) -> None:
    cell = sheet.cell(row=row, column=column, value=text)
    cell.font = BOLD
    cell.fill = HEADER_FILL
    cell.border = HEADER_BORDER
    cell.alignment = Alignment(horizontal="right" if right else "left")


def _number(sheet: Worksheet, row: int, column: int, value: Any, spec: _ValueColumn, bold: bool = False) -> None:
    # openpyxl writes Decimal as a number cell (exact to Excel's 15 digits).
    cell = sheet.cell(row=row, column=column, value=value if isinstance(value, Decimal | int | float) else None)
    if spec.number_format and value is not None:
        cell.number_format = spec.number_format
    if bold:
        cell.font = BOLD


def _text(value: Any) -> str:
    return "(null)" if value is None else str(value)


def _about_sheet(about: Worksheet, view: PivotView) -> None:
    pivot = view.pivot
    about["A1"] = f"{view.cube.label}: pivot"
    about["A1"].font = Font(bold=True, size=14)
    lines = [
        ("cube", view.cube.name),
        ("rows", ", ".join(pivot.row_levels) or "(none)"),
        ("columns", ", ".join(pivot.column_levels) or "(none)"),
        ("measures", ", ".join(pivot.measures)),
        ("cut", " | ".join(view.cuts) or "(none)"),
        ("calculations", " | ".join(view.calculations) or "(none)"),
        ("store version", pivot.meta.version),
        ("answered from", pivot.meta.source),
        ("generated", datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")),
    ]
    for index, (key, value) in enumerate(lines, start=3):
        about.cell(row=index, column=1, value=key).font = BOLD
        about.cell(row=index, column=2, value=value)
    about.column_dimensions["A"].width = 18
    about.column_dimensions["B"].width = 70
