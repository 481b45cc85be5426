"""Content negotiation: engine results as JSON (exact decimals), CSV or an Arrow IPC stream.

Exact decimals are written as JSON numbers with their exact digits (simplejson's Decimal support),
never through float. CSV and Arrow carry the summary and meta in ``X-Cube-*`` headers.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

import pyarrow as pa
import simplejson
from fastapi import Request
from starlette.responses import Response

from cube_server.errors import InvalidParameterError
from cube_server.result import CellSet, Column, Explanation, Meta, PivotTable, Rows

ARROW_MEDIA_TYPE = "application/vnd.apache.arrow.stream"


def dumps(value: Any) -> str:
    return simplejson.dumps(value, use_decimal=True, ensure_ascii=False, default=_default)


def _default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    return str(value)  # dates and timestamps as ISO text


def header_json(value: Any) -> str:
    """JSON for an HTTP header: ASCII only."""
    return simplejson.dumps(value, use_decimal=True, ensure_ascii=True, default=_default)


def choose_format(request: Request, requested: str | None) -> str:
    if requested:
        return requested
    accept = request.headers.get("accept", "")
    if ARROW_MEDIA_TYPE in accept:
        return "arrow"
    if "text/csv" in accept and "application/json" not in accept:
        return "csv"
    return "json"


def meta_headers(meta: Meta) -> dict[str, str]:
    return {
        "X-Cube-Source": meta.source,
        "X-Cube-Version": meta.version,
        "Server-Timing": f"engine;dur={meta.elapsed_ms:.3f}",
    }


def json_response(body: Any, meta: Meta | None = None) -> Response:
    return Response(dumps(body), media_type="application/json", headers=meta_headers(meta) if meta else None)


def table_response(
    fmt: str, columns: list[Column], rows: list[dict[str, Any]], meta: Meta, name: str, extra_headers: dict[str, Any]
) -> Response:
    headers = meta_headers(meta) | {"X-Cube-Meta": header_json(meta.to_dict())}
    headers |= {f"X-Cube-{key}": header_json(value) for key, value in extra_headers.items()}
    if fmt == "csv":
        headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return Response(_csv(columns, rows), media_type="text/csv; charset=utf-8", headers=headers)
    if fmt == "arrow":
        return Response(_arrow(columns, rows), media_type=ARROW_MEDIA_TYPE, headers=headers)
    raise InvalidParameterError(f"unknown format {fmt!r}")


def _csv(columns: list[Column], rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([column.name for column in columns])
    for row in rows:
        writer.writerow(["" if row.get(c.name) is None else _csv_value(row[c.name]) for c in columns])
    return buffer.getvalue()


def _csv_value(value: Any) -> Any:
    return format(value, "f") if isinstance(value, Decimal) else value


def _arrow(columns: list[Column], rows: list[dict[str, Any]]) -> bytes:
    arrays = [pa.array([row.get(c.name) for row in rows], type=c.arrow_type) for c in columns]
    table = pa.Table.from_arrays(arrays, names=[c.name for c in columns])
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


# ---- per result type -------------------------------------------------------------------------
def cells_body(result: CellSet) -> dict[str, Any]:
    return {
        "summary": result.summary,
        "cells": result.cells,
        "total_cell_count": result.total_cell_count,
        "levels": result.levels,
        "measures": result.measures,
        "meta": result.meta.to_dict(),
    }


def render_cells(fmt: str, result: CellSet) -> Response:
    if fmt == "json":
        return json_response(cells_body(result), result.meta)
    extra = {"Summary": result.summary, "Total-Cell-Count": result.total_cell_count}
    return table_response(fmt, result.columns, result.cells, result.meta, "aggregate", extra)


def pivot_body(result: PivotTable) -> dict[str, Any]:
    return {
        "row_levels": result.row_levels,
        "column_levels": result.column_levels,
        "row_headers": result.row_headers,
        "row_header_labels": result.row_header_labels,
        "column_headers": result.column_headers,
        "column_header_labels": result.column_header_labels,
        "measures": result.measures,
        "values": result.values,
        "row_totals": result.row_totals,
        "column_totals": result.column_totals,
        "grand_total": result.grand_total,
        "meta": result.meta.to_dict(),
    }


def render_pivot(fmt: str, result: PivotTable) -> Response:
    if fmt == "json":
        return json_response(pivot_body(result), result.meta)
    # Wide table: row headers, then one column per column member × measure, then row totals.
    columns = [Column(level, "level", result.header_types.get(level, pa.string())) for level in result.row_levels]
    wide_names = []
    for header in result.column_headers:
        prefix = "|".join("" if key is None else str(key) for key in header)
        for measure, arrow_type in zip(result.measures, result.measure_types, strict=True):
            name = f"{prefix}:{measure}" if prefix else measure
            wide_names.append(name)
            columns.append(Column(name, "measure", arrow_type))
    if result.row_totals is not None:
        for measure, arrow_type in zip(result.measures, result.measure_types, strict=True):
            columns.append(Column(f"total:{measure}", "measure", arrow_type))
    rows = []
    for r, header in enumerate(result.row_headers):
        row: dict[str, Any] = dict(zip(result.row_levels, header, strict=True))
        position = 0
        for cell in result.values[r]:
            for m in range(len(result.measures)):
                row[wide_names[position]] = None if cell is None else cell[m]
                position += 1
        if result.row_totals is not None:
            for m, measure in enumerate(result.measures):
                row[f"total:{measure}"] = result.row_totals[r][m]
        rows.append(row)
    extra = {"Column-Totals": result.column_totals, "Grand-Total": result.grand_total}
    return table_response(fmt, columns, rows, result.meta, "pivot", extra)


def render_rows(fmt: str, result: Rows, name: str) -> Response:
    if fmt == "json":
        body = {
            "columns": [c.name for c in result.columns],
            "rows": result.rows,
            "total_count": result.total_count,
            "meta": result.meta.to_dict(),
        }
        return json_response(body, result.meta)
    return table_response(fmt, result.columns, result.rows, result.meta, name, {"Total-Count": result.total_count})


def explain_body(explanation: Explanation) -> dict[str, Any]:
    return {
        "operation": explanation.operation,
        "cube": explanation.cube,
        "source": explanation.source,
        "grain": explanation.grain,
        "measures": explanation.measures,
        "version": explanation.version,
        "candidates": explanation.candidates,
        "statements": [
            {"name": s.name, "sql": s.sql, "parameters": list(s.parameters)} for s in explanation.statements
        ],
    }
