"""SQL constructs whose spelling differs between engines, compiled for the backend that runs the statement.

Statements are built once, dialect-neutral; each backend compiles them with its own SQLAlchemy dialect.
The default spelling is DuckDB's (what every statement compiled to before PostgreSQL served cubes, so DuckDB
SQL is unchanged); PostgreSQL's is chosen so both engines give the same values *and* the same types:

- a time level read with ``extract`` is a BIGINT (PostgreSQL's EXTRACT gives NUMERIC, with fractional seconds);
- a sum of integers or decimals is an exact DECIMAL(38, scale of the input), also on an empty cell (``0.00``,
  not ``0``): DuckDB sums integers as HUGEINT and decimals as DECIMAL(38, s), PostgreSQL as unconstrained NUMERIC;
- an average is a DOUBLE (PostgreSQL averages integers and decimals as NUMERIC);
- sampling hashes are non-negative 64-bit integers (DuckDB's ``hash`` is unsigned), and the sampled distinct
  counts are exact in PostgreSQL, which has no HyperLogLog.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

# Integer types as a backend describes them (DuckDB's names; the PostgreSQL backend describes with them too).
INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
_DECIMAL = re.compile(r"(?:DECIMAL|NUMERIC)\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)", re.IGNORECASE)
# DuckDB spells the ISO week "week", as PostgreSQL does.
_EXTRACT_FIELD = {"isoweek": "week"}


def exact_scale(sql_type: str) -> int | None:
    """The scale of an exact sum of values of ``sql_type``: 0 for integers, s for DECIMAL(p, s), else None.

    >>> exact_scale("DECIMAL(12,2)"), exact_scale("BIGINT"), exact_scale("DOUBLE")
    (2, 0, None)
    """
    kind = sql_type.strip().upper()
    if kind in INTEGER_TYPES:
        return 0
    match = _DECIMAL.fullmatch(kind)
    return int(match.group(2)) if match else None


class level_extract(FunctionElement[Any]):  # noqa: N801 - SQL constructs are spelled like functions
    """``extract(field FROM column)`` as a BIGINT."""

    inherit_cache = True
    type = sa.BigInteger()

    def __init__(self, field: str, column: sa.ColumnElement[Any]) -> None:
        self.field = _EXTRACT_FIELD.get(field, field)
        super().__init__(column)


@compiles(level_extract)
def _extract_default(element: level_extract, compiler: Any, **kw: Any) -> str:
    (column,) = element.clauses
    return str(compiler.process(sa.extract(element.field, column), **kw))


@compiles(level_extract, "postgresql")
def _extract_postgresql(element: level_extract, compiler: Any, **kw: Any) -> str:
    (column,) = element.clauses
    value: sa.ColumnElement[Any] = sa.extract(element.field, column)
    if element.field == "second":
        value = sa.func.floor(value)  # DuckDB's second is whole; PostgreSQL's keeps the fraction
    return str(compiler.process(sa.cast(value, sa.BigInteger), **kw))


class cell_total(FunctionElement[Any]):  # noqa: N801
    """A measure's SUM over a cell: 0 (of the sum's type) when the cell has no rows."""

    inherit_cache = True

    def __init__(self, value: sa.ColumnElement[Any], input_type: str = "") -> None:
        self.scale = exact_scale(input_type)
        super().__init__(value)


@compiles(cell_total)
def _total_default(element: cell_total, compiler: Any, **kw: Any) -> str:
    (value,) = element.clauses
    return str(compiler.process(sa.func.coalesce(sa.func.sum(value), 0), **kw))


@compiles(cell_total, "postgresql")
def _total_postgresql(element: cell_total, compiler: Any, **kw: Any) -> str:
    (value,) = element.clauses
    total: sa.ColumnElement[Any] = sa.func.coalesce(sa.func.sum(value), 0)
    if element.scale is not None:
        total = sa.cast(total, sa.Numeric(38, element.scale))
    return str(compiler.process(total, **kw))


class partial_sum(FunctionElement[Any]):  # noqa: N801
    """The SUM a cuboid stores for a measure: exact, as DECIMAL(38, scale of the input) for integers and decimals."""

    inherit_cache = True

    def __init__(self, value: sa.ColumnElement[Any], input_type: str = "") -> None:
        self.integer = input_type.strip().upper() in INTEGER_TYPES
        self.scale = exact_scale(input_type)
        super().__init__(value)


@compiles(partial_sum)
def _partial_sum_default(element: partial_sum, compiler: Any, **kw: Any) -> str:
    (value,) = element.clauses
    total: sa.ColumnElement[Any] = sa.func.sum(value)
    # DuckDB sums integers as HUGEINT, which Parquet would store as a double: keep it an exact decimal.
    if element.integer:
        total = sa.cast(total, sa.Numeric(38, 0))
    return str(compiler.process(total, **kw))


@compiles(partial_sum, "postgresql")
def _partial_sum_postgresql(element: partial_sum, compiler: Any, **kw: Any) -> str:
    (value,) = element.clauses
    total: sa.ColumnElement[Any] = sa.func.sum(value)
    if element.scale is not None:
        total = sa.cast(total, sa.Numeric(38, element.scale))
    return str(compiler.process(total, **kw))


class merged_total(FunctionElement[Any]):  # noqa: N801
    """Stored partial sums rolled up: 0 when no partial is there, of the type the facts' sum has."""

    inherit_cache = True

    def __init__(self, value: sa.ColumnElement[Any], input_type: str = "") -> None:
        self.scale = exact_scale(input_type)
        super().__init__(value)


@compiles(merged_total)
def _merged_default(element: merged_total, compiler: Any, **kw: Any) -> str:
    (value,) = element.clauses
    return str(compiler.process(sa.func.coalesce(sa.func.sum(value), 0), **kw))


@compiles(merged_total, "postgresql")
def _merged_postgresql(element: merged_total, compiler: Any, **kw: Any) -> str:
    return _total_postgresql(element, compiler, **kw)  # type: ignore[arg-type]


class cell_average(FunctionElement[Any]):  # noqa: N801
    """AVG as a DOUBLE."""

    inherit_cache = True
    type = sa.Double()


@compiles(cell_average)
def _average_default(element: cell_average, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(sa.func.avg(*element.clauses), **kw))


@compiles(cell_average, "postgresql")
def _average_postgresql(element: cell_average, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(sa.cast(sa.func.avg(*element.clauses), sa.Double()), **kw))


class row_hash(FunctionElement[Any]):  # noqa: N801
    """A non-negative 64-bit hash of the values (deterministic: samples and estimates are reproducible)."""

    inherit_cache = True
    type = sa.BigInteger()


@compiles(row_hash)
def _hash_default(element: row_hash, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(sa.func.hash(*element.clauses), **kw))


@compiles(row_hash, "postgresql")
def _hash_postgresql(element: row_hash, compiler: Any, **kw: Any) -> str:
    # A row's text tells NULL from the empty string; the mask keeps the hash non-negative, as DuckDB's is.
    values = ", ".join(str(compiler.process(clause, **kw)) for clause in element.clauses)
    return f"(hashtextextended(CAST(ROW({values}, 0) AS TEXT), 0) & 9223372036854775807)"


class hash_combine(FunctionElement[Any]):  # noqa: N801
    """One 64-bit hash of several hashes (of :class:`row_hash`), to tell a sample's cells apart."""

    inherit_cache = True
    type = sa.BigInteger()


@compiles(hash_combine)
def _combine_default(element: hash_combine, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(sa.func.hash(*element.clauses), **kw))


@compiles(hash_combine, "postgresql")
def _combine_postgresql(element: hash_combine, compiler: Any, **kw: Any) -> str:
    # XOR of independent hashes: as good for counting distinct cells, and far cheaper than hashing their text.
    return "(" + " # ".join(str(compiler.process(clause, **kw)) for clause in element.clauses) + ")"


class distinct_estimate(FunctionElement[Any]):  # noqa: N801
    """The number of distinct values: approximate (HyperLogLog) where the engine has it, else exact."""

    inherit_cache = True
    type = sa.BigInteger()


@compiles(distinct_estimate)
def _distinct_default(element: distinct_estimate, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(sa.func.approx_count_distinct(*element.clauses), **kw))


@compiles(distinct_estimate, "postgresql")
def _distinct_postgresql(element: distinct_estimate, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(sa.func.count(sa.distinct(*element.clauses)), **kw))
