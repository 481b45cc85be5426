"""PostgreSQL result columns as Arrow, typed as DuckDB types the same values (so both engines answer alike).

A NUMERIC with a declared precision and scale becomes ``decimal128(p, s)``; an unconstrained one (what
``min`` or ``max`` of a decimal gives) takes the largest scale its values have. Type names follow DuckDB's
spelling (``BIGINT``, ``DECIMAL(12,2)``, ``VARCHAR``), which the engine uses to coerce cut values.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pyarrow as pa

NUMERIC = 1700
_ARROW = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int16(),
    23: pa.int32(),
    700: pa.float32(),
    701: pa.float64(),
    25: pa.string(),
    1043: pa.string(),
    1042: pa.string(),
    19: pa.string(),
    1082: pa.date32(),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
    1083: pa.time64("us"),
}
_NAMES = {
    16: "BOOLEAN",
    20: "BIGINT",
    21: "SMALLINT",
    23: "INTEGER",
    700: "FLOAT",
    701: "DOUBLE",
    25: "VARCHAR",
    1043: "VARCHAR",
    1042: "VARCHAR",
    19: "VARCHAR",
    1082: "DATE",
    1114: "TIMESTAMP",
    1184: "TIMESTAMP WITH TIME ZONE",
    1083: "TIME",
}


def type_name(column: Any) -> str:
    """A result column's type as DuckDB names it (``column`` is a psycopg ``Column``)."""
    if column.type_code == NUMERIC:
        if column.precision is not None and column.scale is not None:
            return f"DECIMAL({column.precision},{column.scale})"
        return "DECIMAL"
    return _NAMES.get(column.type_code, "VARCHAR")


def _scale(values: list[Any]) -> int:
    scale = 0
    for value in values:
        if isinstance(value, Decimal) and value.is_finite():
            exponent = value.as_tuple().exponent
            scale = max(scale, -exponent if isinstance(exponent, int) else 0)
    return min(scale, 38)


def arrow_schema(description: Any, rows: list[tuple[Any, ...]]) -> pa.Schema:
    fields = []
    for index, column in enumerate(description):
        if column.type_code == NUMERIC:
            if column.precision is not None and column.scale is not None:
                precision, scale = max(column.precision, 1), column.scale
                kind = pa.decimal128(precision, scale) if precision <= 38 else pa.decimal256(precision, scale)
            else:
                kind = pa.decimal128(38, _scale([row[index] for row in rows]))
        else:
            kind = _ARROW.get(column.type_code, pa.string())
        fields.append(pa.field(column.name, kind))
    return pa.schema(fields)


def arrow_batch(schema: pa.Schema, rows: list[tuple[Any, ...]]) -> pa.RecordBatch:
    columns = []
    for index, field in enumerate(schema):
        values = [row[index] for row in rows]
        if pa.types.is_string(field.type):
            values = [value if value is None or isinstance(value, str) else str(value) for value in values]
        columns.append(pa.array(values, type=field.type))
    return pa.RecordBatch.from_arrays(columns, schema=schema)
