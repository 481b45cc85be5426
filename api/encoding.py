"""Content negotiation: engine results as JSON (exact decimals), CSV or an Arrow IPC stream.

Exact decimals are written as JSON numbers with their exact digits (simplejson's Decimal support),
never through float. CSV and Arrow carry the summary and meta in ``X-Cube-*`` headers and a
``Content-Disposition`` file name. Both are written from Arrow record batches by one writer each:
members and facts are streamed batch by batch as DuckDB produces them, never held whole.

CSV follows RFC 4180 (the csv module's minimal quoting, CRLF line ends, UTF-8): the columns are the
result's columns in their order, decimals keep their exact digits, NULL is an empty field.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pyarrow as pa
import simplejson
from fastapi import Request
from starlette.responses import Response, StreamingResponse

from api.request_context import note_cell_answer
from cube_server.errors import InvalidParameterError
from cube_server.result import CellSet, Column, Explanation, Meta, PivotTable, Rows, RowStream

ARROW_MEDIA_TYPE = "application/vnd.apache.arrow.stream"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
# ".arrows" is the file extension registered with the Arrow stream media type.
EXTENSIONS = {"csv": "csv", "arrow": "arrows"}
MAX_FILENAME = 120


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


# ---- downloads -------------------------------------------------------------------------------
def download_name(*parts: str) -> str:
    """A file name from its parts (cube, operation, ...): letters, digits, ``.``, ``_`` and ``-`` only.

    >>> download_name("fixed_line_revenue", "members", "geography")
    'fixed_line_revenue-members-geography'
    >>> download_name("sales/../2025", "北京 q1")
    'sales_.._2025-北京_q1'
    """
    cleaned = [re.sub(r"[^\w.-]+", "_", part, flags=re.UNICODE).strip("._-") for part in parts]
    return "-".join(part for part in cleaned if part)[:MAX_FILENAME] or "result"


def content_disposition(name: str, extension: str) -> str:
    """``attachment`` with an ASCII ``filename`` and, when the name is not ASCII, RFC 5987's ``filename*``.

    >>> content_disposition("fixed_line_revenue-drilldown", "csv")
    'attachment; filename="fixed_line_revenue-drilldown.csv"'
    >>> print(content_disposition("北京-facts", "csv"))
    attachment; filename="facts.csv"; filename*=UTF-8''%E5%8C%97%E4%BA%AC-facts.csv
    """
    filename = f"{name}.{extension}"
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    ascii_name = download_name(*ascii_name.split("-")) if ascii_name.strip("._-") else "result"
    header = f'attachment; filename="{ascii_name}.{extension}"'
    if not filename.isascii():
        header += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return header


def _download_headers(fmt: str, meta: Meta, name: str, extra_headers: dict[str, Any]) -> dict[str, str]:
    headers = meta_headers(meta) | {"X-Cube-Meta": header_json(meta.to_dict())}
    headers |= {f"X-Cube-{key}": header_json(value) for key, value in extra_headers.items()}
    headers["Content-Disposition"] = content_disposition(name, EXTENSIONS[fmt])
    return headers


def _media_type(fmt: str) -> str:
    if fmt == "csv":
        return CSV_MEDIA_TYPE
    if fmt == "arrow":
        return ARROW_MEDIA_TYPE
    raise InvalidParameterError(f"unknown format {fmt!r}")


def _chunks(fmt: str, schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    return csv_chunks(schema, batches) if fmt == "csv" else arrow_chunks(schema, batches)


def table_response(
    fmt: str, columns: list[Column], rows: list[dict[str, Any]], meta: Meta, name: str, extra_headers: dict[str, Any]
) -> Response:
    """A small result built in memory (cells, a pivot): one body, with its length."""
    media_type = _media_type(fmt)
    schema = pa.schema([pa.field(c.name, c.arrow_type) for c in columns])
    arrays = [pa.array([row.get(c.name) for row in rows], type=c.arrow_type) for c in columns]
    batch = pa.RecordBatch.from_arrays(arrays, schema=schema)
    body = b"".join(_chunks(fmt, schema, [batch] if rows else []))
    return Response(body, media_type=media_type, headers=_download_headers(fmt, meta, name, extra_headers))


def stream_response(fmt: str, stream: RowStream, *name: str) -> Response:
    """Members or facts, written batch by batch while DuckDB produces them (chunked transfer).

    ``name``: the download's name after the cube's (e.g. ``members``, ``geography``).
    """
    media_type = _media_type(fmt)
    headers = _download_headers(
        fmt, stream.meta, download_name(stream.meta.cube, *name), {"Total-Count": stream.total_count}
    )
    return StreamingResponse(_chunks(fmt, stream.schema, stream.batches), media_type=media_type, headers=headers)


def arrow_chunks(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    """The Arrow IPC stream format, one chunk per record batch (the schema first, the end marker last)."""
    sink = io.BytesIO()
    writer = pa.ipc.new_stream(sink, schema)
    for batch in batches:
        writer.write_batch(batch)
        yield _drain(sink)
    # Written only after the last batch: a stream that fails midway lacks it, which a careful reader detects.
    writer.close()
    yield _drain(sink)


def _drain(sink: io.BytesIO) -> bytes:
    data = sink.getvalue()
    sink.seek(0)
    sink.truncate()
    return data


def csv_chunks(schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> Iterator[bytes]:
    """RFC 4180 CSV, UTF-8: a header of the column names, then one chunk of lines per record batch."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(schema.names)
    yield buffer.getvalue().encode("utf-8")
    for batch in batches:
        buffer.seek(0)
        buffer.truncate()
        columns = [column.to_pylist() for column in batch.columns]
        writer.writerows([_csv_value(value) for value in row] for row in zip(*columns, strict=True))
        yield buffer.getvalue().encode("utf-8")


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    return format(value, "f") if isinstance(value, Decimal) else value


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


def render_cells(fmt: str, result: CellSet, operation: str = "aggregate") -> Response:
    note_cell_answer(result.meta)
    if fmt == "json":
        return json_response(cells_body(result), result.meta)
    extra = {"Summary": result.summary, "Total-Cell-Count": result.total_cell_count}
    name = download_name(result.meta.cube, operation)
    return table_response(fmt, result.columns, result.cells, result.meta, name, extra)


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
    note_cell_answer(result.meta)
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
    return table_response(fmt, columns, rows, result.meta, download_name(result.meta.cube, "pivot"), extra)


def render_rows(fmt: str, result: Rows, *name: str) -> Response:
    """Members or facts held in memory; ``name``: the download's name after the cube's (e.g. ``facts``)."""
    if fmt == "json":
        body = {
            "columns": [c.name for c in result.columns],
            "rows": result.rows,
            "total_count": result.total_count,
            "meta": result.meta.to_dict(),
        }
        return json_response(body, result.meta)
    extra = {"Total-Count": result.total_count}
    return table_response(fmt, result.columns, result.rows, result.meta, download_name(result.meta.cube, *name), extra)


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
