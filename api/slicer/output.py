"""Slicer answers as JSON (optionally pretty-printed), CSV or JSON lines.

Decimals are written as JSON numbers with their exact digits (Cubes wrote floats); dates and times
as ISO-8601 text. CSV is clean (Cubes 1.1 on Python 3 put NUL bytes before every row).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import simplejson
from starlette.responses import Response, StreamingResponse

JSON_LINES_TYPE = "application/x-json-lines"
CSV_TYPE = "text/csv; charset=utf-8"
CHUNK_CHARS = 256_000


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return value.hex()
    return str(value)


def dumps(value: Any, pretty: bool = False) -> str:
    return simplejson.dumps(value, use_decimal=True, ensure_ascii=False, default=_default, indent=4 if pretty else None)


def without_nulls(values: dict[str, Any]) -> dict[str, Any]:
    """Cubes omits the keys of model objects and results whose value is null (empty objects stay)."""
    return {key: value for key, value in values.items() if value is not None}


def json_answer(value: Any, pretty: bool = False, status: int = 200) -> Response:
    return Response(dumps(value, pretty), status_code=status, media_type="application/json")


def json_lines_answer(rows: Iterable[dict[str, Any]], filename: str) -> Response:
    lines = _chunks(dumps(row) + "\n" for row in rows)
    return StreamingResponse(lines, media_type=JSON_LINES_TYPE, headers=_attachment(f"{filename}.jsonl"))


def _chunks(pieces: Iterable[str]) -> Iterator[str]:
    """Pieces joined into chunks of about ``CHUNK_CHARS``: each chunk sent costs a hop between threads."""
    chunk: list[str] = []
    size = 0
    for piece in pieces:
        chunk.append(piece)
        size += len(piece)
        if size >= CHUNK_CHARS:
            yield "".join(chunk)
            chunk, size = [], 0
    if chunk:
        yield "".join(chunk)


def csv_answer(columns: list[str], header: list[str] | None, rows: Iterable[dict[str, Any]], filename: str) -> Response:
    """``columns`` are the row keys in order; ``header`` the first line (None: no header line)."""
    lines = _chunks(_csv_lines(columns, header, rows))
    return StreamingResponse(lines, media_type=CSV_TYPE, headers=_attachment(f"{filename}.csv"))


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


def _csv_lines(columns: list[str], header: list[str] | None, rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    if header is not None:
        writer.writerow(header)
        yield flush()
    for row in rows:
        writer.writerow([csv_value(row.get(column)) for column in columns])
        yield flush()


def csv_value(value: Any) -> Any:
    """
    >>> csv_value(Decimal("1.50")), csv_value(None), csv_value(True), csv_value(date(2025, 1, 2))
    ('1.50', '', 'true', '2025-01-02')
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    return value
