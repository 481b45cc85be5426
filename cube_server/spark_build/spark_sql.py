"""Spark SQL from the SQLAlchemy Core statements the DuckDB build runs, so both engines compute the same thing.

A small dialect: identifiers quoted with backticks, string literals escaped the way Spark reads them,
DECIMAL instead of NUMERIC, a multi-column GROUPING() as Spark's ``grouping_id()`` (the same bit mask), and
each date part extracted as DuckDB extracts it (``dow`` counts from Sunday = 0, the ISO year and week).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import default
from sqlalchemy.sql import compiler, elements, functions

# How Spark computes each of DuckDB's date parts (the star renders "isoweek" as DuckDB's "week").
_EXTRACT_SQL = {
    "year": "year({})",
    "quarter": "quarter({})",
    "month": "month({})",
    "day": "dayofmonth({})",
    "hour": "hour({})",
    "minute": "minute({})",
    "second": "second({})",
    "isoyear": "extract(YEAROFWEEK FROM {})",
    "week": "weekofyear({})",
    "isoweek": "weekofyear({})",
    "dow": "(dayofweek({}) - 1)",
    "isodow": "extract(DAYOFWEEK_ISO FROM {})",
    "doy": "dayofyear({})",
}


class SparkIdentifierPreparer(compiler.IdentifierPreparer):
    def __init__(self, dialect: default.DefaultDialect) -> None:
        super().__init__(dialect, initial_quote="`", escape_quote="`")

    def _requires_quotes(self, value: str) -> bool:
        return True  # Spark's reserved words are not SQLAlchemy's: quote every name


class SparkTypeCompiler(compiler.GenericTypeCompiler):
    def visit_NUMERIC(self, type_: Any, **kw: Any) -> str:  # noqa: N802 (SQLAlchemy's name)
        return self.visit_DECIMAL(type_, **kw)

    def visit_DOUBLE(self, type_: Any, **kw: Any) -> str:  # noqa: N802 (SQLAlchemy's name)
        return "DOUBLE"

    def visit_VARCHAR(self, type_: Any, **kw: Any) -> str:  # noqa: N802 (SQLAlchemy's name)
        return "STRING"

    def visit_TEXT(self, type_: Any, **kw: Any) -> str:  # noqa: N802 (SQLAlchemy's name)
        return "STRING"


class SparkCompiler(compiler.SQLCompiler):
    def visit_extract(self, extract: elements.Extract, **kw: Any) -> str:
        template = _EXTRACT_SQL.get(extract.field)
        if template is None:
            raise ValueError(f"no Spark SQL for the date part {extract.field!r}")
        return template.format(self.process(extract.expr, **kw))

    def visit_function(self, func: functions.Function[Any], **kw: Any) -> str:
        if func.name.lower() == "grouping":
            # GROUPING() takes one column in Spark; grouping_id() is the standard multi-column mask.
            return f"grouping_id({self.process(func.clause_expr.element, **kw)})"
        return super().visit_function(func, **kw)

    def render_literal_value(self, value: Any, type_: Any) -> str:
        if isinstance(value, str):
            # Spark reads backslash escapes inside string literals; a doubled quote would end the literal.
            return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return super().render_literal_value(value, type_)  # type: ignore[no-any-return]


class SparkDialect(default.DefaultDialect):
    name = "spark"
    statement_compiler = SparkCompiler
    preparer = SparkIdentifierPreparer
    type_compiler_cls = SparkTypeCompiler
    supports_native_boolean = True
    supports_simple_order_by_label = True


_DIALECT = SparkDialect()


def spark_sql(statement: sa.sql.ClauseElement) -> str:
    """Spark SQL text with values inlined (statements built from the model alone, never from callers)."""
    return str(statement.compile(dialect=_DIALECT, compile_kwargs={"literal_binds": True}))


def quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


# DuckDB's column types (as DESCRIBE names them) and the Spark types that Parquet stores the same way.
_SPARK_TYPES = {
    "BOOLEAN": "BOOLEAN",
    "TINYINT": "TINYINT",
    "SMALLINT": "SMALLINT",
    "INTEGER": "INT",
    "BIGINT": "BIGINT",
    "HUGEINT": "DECIMAL(38,0)",
    "FLOAT": "FLOAT",
    "DOUBLE": "DOUBLE",
    "VARCHAR": "STRING",
    "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMP_NTZ",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMP",
}


def spark_type(duckdb_type: str) -> str:
    """The Spark type to cast a column to so that its Parquet type is the one DuckDB writes."""
    upper = duckdb_type.upper()
    if upper.startswith("DECIMAL"):
        return upper.replace(" ", "")
    if upper in _SPARK_TYPES:
        return _SPARK_TYPES[upper]
    raise ValueError(f"a cuboid column of type {duckdb_type} cannot be built with Spark")
