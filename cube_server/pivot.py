"""Shape a pivot: rows × columns grid, with row, column and grand totals from their own queries.

Totals are queried, never summed from the grid, so they are right for distinct counts and averages.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from cube_server.errors import ResultTooLargeError
from cube_server.plan import CellQuery
from cube_server.resolve import DrillLevels
from cube_server.result import Meta, PivotTable


def _header(cell: dict[str, Any], drilldown: tuple[DrillLevels, ...]) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    keys, labels = [], []
    for drill in drilldown:
        for level in drill.levels:
            keys.append(cell[level.ref])
            labels.append(cell.get(f"{level.ref}.label", cell[level.ref]))
    return tuple(keys), tuple(labels)


def shape_pivot(
    tables: dict[str, pa.Table],
    grid: CellQuery,
    by_row: CellQuery,
    by_column: CellQuery,
    rows: tuple[DrillLevels, ...],
    columns: tuple[DrillLevels, ...],
    totals: bool,
    max_cells: int,
    meta: Meta,
) -> PivotTable:
    measures = [m.name for m in grid.measures]
    row_cells = by_row.shape_cells(tables["row_totals"]) if rows else []
    column_cells = by_column.shape_cells(tables["column_totals"]) if columns else []
    if max(len(row_cells), 1) * max(len(column_cells), 1) > max_cells:
        raise ResultTooLargeError(
            f"the pivot would have {len(row_cells)} × {len(column_cells)} cells, more than {max_cells}", limit=max_cells
        )
    row_index = {_header(c, rows)[0]: i for i, c in enumerate(row_cells)} if rows else {(): 0}
    column_index = {_header(c, columns)[0]: i for i, c in enumerate(column_cells)} if columns else {(): 0}
    values: list[list[list[Any] | None]] = [[None] * len(column_index) for _ in row_index]
    for cell in grid.shape_cells(tables["cells"]):
        r = row_index[_header(cell, rows)[0]]
        c = column_index[_header(cell, columns)[0]]
        values[r][c] = [cell[m] for m in measures]
    grand = grid.measure_values(tables["grand_total"].to_pylist()[0]) if tables["grand_total"].num_rows else {}
    measure_columns = grid.measure_output_columns(tables["cells"])
    header_types = {col.name: col.arrow_type for col in grid.output_columns(tables["cells"]) if col.kind != "measure"}
    return PivotTable(
        row_levels=[level.ref for d in rows for level in d.levels],
        column_levels=[level.ref for d in columns for level in d.levels],
        measures=measures,
        row_headers=[list(_header(c, rows)[0]) for c in row_cells] if rows else [[]],
        row_header_labels=[list(_header(c, rows)[1]) for c in row_cells] if rows else [[]],
        column_headers=[list(_header(c, columns)[0]) for c in column_cells] if columns else [[]],
        column_header_labels=[list(_header(c, columns)[1]) for c in column_cells] if columns else [[]],
        values=values,
        row_totals=[[c[m] for m in measures] for c in row_cells] if totals and rows else None,
        column_totals=[[c[m] for m in measures] for c in column_cells] if totals and columns else None,
        grand_total=[grand.get(m) for m in measures] if totals else None,
        measure_types=[col.arrow_type for col in measure_columns],
        header_types=header_types,
        meta=meta,
    )
