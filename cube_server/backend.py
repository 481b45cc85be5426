"""The DuckDB backend: in-process views over Parquet files, statements compiled from SQLAlchemy Core.

Facts stay in Parquet read through DuckDB, so the server, the CLI and the tests can read the same data
at once (a DuckDB database file held read-write would lock every other process out). Each query runs
on its own cursor, which a timer interrupts when the query outlives its deadline.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import duckdb_engine
import pyarrow as pa
import sqlalchemy as sa

from cube_server.errors import BackendError, ProjectError, QueryTimeoutError
from cube_server.settings import Settings

_DIALECT = duckdb_engine.Dialect(paramstyle="qmark")


@dataclass(frozen=True, slots=True)
class CompiledStatement:
    sql: str
    parameters: tuple[Any, ...]


def compile_statement(statement: sa.sql.ClauseElement) -> CompiledStatement:
    """Compile a Core statement for DuckDB with positional bound parameters."""
    compiled = statement.compile(dialect=_DIALECT, compile_kwargs={"render_postcompile": True})
    names = compiled.positiontup or []
    return CompiledStatement(str(compiled), tuple(compiled.params[name] for name in names))


class DuckDBBackend:
    name = "duckdb"

    def __init__(self, tables: dict[str, list[Path]], settings: Settings) -> None:
        self.settings = settings
        config: dict[str, Any] = {}
        if settings.duckdb_threads:
            config["threads"] = settings.duckdb_threads
        if settings.duckdb_memory_limit:
            config["memory_limit"] = settings.duckdb_memory_limit
        self._connection = duckdb.connect(":memory:", config=config)
        self._lock = threading.Lock()
        self.table_columns: dict[str, dict[str, str]] = {}
        for name, files in tables.items():
            self._create_view(name, files)

    def _create_view(self, name: str, files: list[Path]) -> None:
        if not files:
            raise ProjectError(f"table {name!r} has no data files", table=name)
        # View and file names come from the project configuration, never from callers. DDL takes
        # no bound parameters, so both are quoted here: the name as an identifier, paths as literals.
        quoted = '"' + name.replace('"', '""') + '"'
        file_list = ", ".join("'" + str(path).replace("'", "''") + "'" for path in files)
        try:
            self._connection.execute(f"CREATE OR REPLACE VIEW {quoted} AS SELECT * FROM read_parquet([{file_list}])")
            described = self._connection.execute(f"DESCRIBE {quoted}").fetchall()
        except duckdb.Error as exc:
            raise ProjectError(f"cannot read table {name!r}: {exc}", table=name) from exc
        self.table_columns[name] = {row[0]: str(row[1]) for row in described}

    def table_clause(self, name: str) -> sa.TableClause:
        return sa.table(name, *(sa.column(column) for column in self.table_columns[name]))

    def describe(self, statement: sa.sql.Select[Any]) -> dict[str, str]:
        compiled = compile_statement(statement)
        with self._lock:
            cursor = self._connection.cursor()
        try:
            rows = cursor.execute(f"DESCRIBE {compiled.sql}", list(compiled.parameters)).fetchall()
        except duckdb.Error as exc:
            raise ProjectError(f"the model does not fit the data: {exc}") from exc
        finally:
            cursor.close()
        return {row[0]: str(row[1]) for row in rows}

    def execute(self, statement: CompiledStatement, deadline: float) -> pa.Table:
        """Run one statement; raise :class:`QueryTimeoutError` if ``deadline`` (monotonic) passes."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise QueryTimeoutError("the query took longer than the configured timeout")
        with self._lock:
            cursor = self._connection.cursor()
        timer = threading.Timer(remaining, cursor.interrupt)
        timer.start()
        try:
            return cursor.sql(statement.sql, params=list(statement.parameters)).to_arrow_table()
        except duckdb.InterruptException as exc:
            raise QueryTimeoutError("the query took longer than the configured timeout") from exc
        except duckdb.Error as exc:
            if time.monotonic() >= deadline:
                raise QueryTimeoutError("the query took longer than the configured timeout") from exc
            raise BackendError(f"query failed: {exc}") from exc
        finally:
            timer.cancel()
            cursor.close()

    def close(self) -> None:
        self._connection.close()
