"""The DuckDB backend: in-process views over Parquet files, statements compiled from SQLAlchemy Core.

Facts stay in Parquet read through DuckDB, so the server, the CLI and the tests can read the same data
at once (a DuckDB database file held read-write would lock every other process out). Each query runs
on its own cursor, which a timer interrupts when the query outlives its deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import duckdb_engine
import pyarrow as pa
import sqlalchemy as sa

from aggregates.store import BuiltCuboid
from cube_server.backends import CompiledStatement, WrittenCuboid
from cube_server.errors import BackendError, ProjectError, QueryTimeoutError
from cube_server.parquet_files import cuboid_files, describe_written, files_intact, write_select
from cube_server.settings import Settings

_DIALECT = duckdb_engine.Dialect(paramstyle="qmark")


@dataclass(frozen=True, slots=True)
class TableSource:
    """One table of a project: its files, their format, column type overrides and an optional synthetic key."""

    name: str
    files: tuple[Path, ...]
    format: str = "parquet"
    types: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    key: str | None = None
    columns: tuple[str, ...] = ()  # CSV only: names replacing the header's (e.g. "Amount (US$, Millions)")


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def compile_literal(statement: sa.sql.ClauseElement) -> str:
    """SQL text with values inlined, for statements built from the model alone (cuboid builds), never from callers."""
    return str(statement.compile(dialect=_DIALECT, compile_kwargs={"literal_binds": True}))


def compile_statement(statement: sa.sql.ClauseElement) -> CompiledStatement:
    """Compile a Core statement for DuckDB with positional bound parameters."""
    compiled = statement.compile(dialect=_DIALECT, compile_kwargs={"render_postcompile": True})
    names = compiled.positiontup or []
    params = compiled.params  # built anew on every access: once, not once per parameter (a set cut has thousands)
    return CompiledStatement(str(compiled), tuple(params[name] for name in names))


class DuckDBBackend:
    name = "duckdb"
    max_grouping_columns = 60  # GROUPING() is a 64-bit mask here
    max_sample_rows = 10**12  # estimates count with HyperLogLog: as large a sample as configured

    def compile(self, statement: sa.sql.ClauseElement) -> CompiledStatement:
        return compile_statement(statement)

    def compile_literal(self, statement: sa.sql.ClauseElement) -> str:
        return compile_literal(statement)

    def facts_fingerprint(self) -> str | None:
        return None  # the project fingerprints the files themselves

    def __init__(self, tables: list[TableSource], settings: Settings) -> None:
        self.settings = settings
        config: dict[str, Any] = {}
        if settings.duckdb_threads:
            config["threads"] = settings.duckdb_threads
        if settings.duckdb_memory_limit:
            config["memory_limit"] = settings.duckdb_memory_limit
        self._connection = duckdb.connect(":memory:", config=config)
        self._lock = threading.Lock()
        self.table_columns: dict[str, dict[str, str]] = {}
        self._sources: dict[str, TableSource] = {}
        for table in tables:
            self._create(table)

    def reopen_changed(self, tables: list[TableSource]) -> list[str]:
        """Re-create the tables whose file lists changed (a refresh added or replaced fact files)."""
        changed = [table for table in tables if self._sources.get(table.name) != table]
        for table in changed:
            self._create(table)
        return [table.name for table in changed]

    def _create(self, table: TableSource) -> None:
        if not table.files:
            raise ProjectError(f"table {table.name!r} has no data files", table=table.name)
        # Names, paths and types come from the project configuration, never from callers. DDL takes no
        # bound parameters, so they are quoted here: names as identifiers, paths and types as literals.
        name = _identifier(table.name)
        files = "[" + ", ".join(_literal(str(path)) for path in table.files) + "]"
        if table.format == "csv":
            options = ["header = true"]
            if table.columns:
                options.append("names = [" + ", ".join(_literal(column) for column in table.columns) + "]")
            if table.types:
                types = ", ".join(
                    f"{_literal(column)}: {_literal(sql_type)}" for column, sql_type in table.types.items()
                )
                options.append(f"types = {{{types}}}")
            source = f"read_csv({files}, {', '.join(options)})"
        else:
            source = f"read_parquet({files})"
        columns = "*"
        if table.key:
            # A stable synthetic key for drill-through, in file order (insertion order is preserved).
            columns = f"row_number() OVER () AS {_identifier(table.key)}, *"
        # CSV is parsed once into memory (small reference data); Parquet is scanned in place.
        kind = "TABLE" if table.format == "csv" or table.key else "VIEW"
        try:
            self._connection.execute(f"CREATE OR REPLACE {kind} {name} AS SELECT {columns} FROM {source}")
            described = self._connection.execute(f"DESCRIBE {name}").fetchall()
        except duckdb.Error as exc:
            raise ProjectError(f"cannot read table {table.name!r}: {exc}", table=table.name) from exc
        self.table_columns[table.name] = {row[0]: str(row[1]) for row in described}
        self._sources[table.name] = table

    def run_statement(self, sql: str) -> list[tuple[Any, ...]]:
        """Run SQL the server wrote itself (builds, views); no caller input reaches it."""
        with self._lock:
            cursor = self._connection.cursor()
        try:
            return cursor.execute(sql).fetchall()
        except duckdb.Error as exc:
            raise BackendError(f"statement failed: {exc}") from exc
        finally:
            cursor.close()

    def parquet_view(self, name: str, files: str) -> sa.TableClause:
        """A view over Parquet files (a glob), as a table clause with its columns."""
        quoted = _identifier(name)
        source = f"read_parquet({_literal(files)}, hive_partitioning = false)"
        self.run_statement(f"CREATE OR REPLACE VIEW {quoted} AS SELECT * FROM {source}")
        return self.table_of(name)

    def files_view(self, name: str, files: list[Path]) -> sa.TableClause:
        """A view over a list of Parquet files (a refresh's facts before they are switched in)."""
        listed = "[" + ", ".join(_literal(str(path)) for path in files) + "]"
        self.run_statement(f"CREATE OR REPLACE VIEW {_identifier(name)} AS SELECT * FROM read_parquet({listed})")
        return self.table_of(name)

    def memory_table(self, name: str, files: str) -> sa.TableClause:
        """Parquet files (a glob) read once into an in-memory table: small cuboids answer without file reads."""
        source = f"read_parquet({_literal(files)}, hive_partitioning = false)"
        self.run_statement(f"CREATE OR REPLACE TABLE {_identifier(name)} AS SELECT * FROM {source}")
        return self.table_of(name)

    def drop_relation(self, name: str) -> None:
        """Drop a view or table the server created (whichever it is)."""
        kinds = self.run_statement(
            f"SELECT table_type FROM information_schema.tables WHERE table_name = {_literal(name)}"
        )
        for (kind,) in kinds:
            self.run_statement(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} IF EXISTS {_identifier(name)}")

    def table_of(self, name: str) -> sa.TableClause:
        """A table or view the server created, with its columns as they are now."""
        columns = [row[0] for row in self.run_statement(f"DESCRIBE {_identifier(name)}")]
        return sa.table(name, *(sa.column(column) for column in columns))

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

    def stream(self, statement: CompiledStatement, deadline: float, batch_rows: int) -> BatchStream:
        """Run one statement and read its rows in record batches as DuckDB produces them.

        The statement is bound now (a bad statement raises here); its rows are computed while they are
        read, so a large answer is never held whole. The deadline covers the reading too.
        """
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise QueryTimeoutError("the query took longer than the configured timeout")
        with self._lock:
            cursor = self._connection.cursor()
        timer = threading.Timer(remaining, cursor.interrupt)
        timer.start()
        try:
            # The relation API streams; a DB-API cursor's arrow reader would fetch every row first.
            reader = cursor.sql(statement.sql, params=list(statement.parameters)).to_arrow_reader(batch_rows)
        except duckdb.Error as exc:
            timer.cancel()
            cursor.close()
            raise _query_error(exc, deadline) from exc
        return BatchStream(reader, cursor, timer, deadline)

    def close(self) -> None:
        self._connection.close()

    # ---- the cuboid store: Parquet files ----------------------------------------------------------
    def open_cuboid(
        self, name: str, version_dir: Path, cuboid: BuiltCuboid, in_memory: bool
    ) -> tuple[sa.TableClause, str | None]:
        files = cuboid_files(version_dir, cuboid.path, cuboid.partition_level is not None)
        read = self.memory_table if in_memory else self.parquet_view
        return read(name, files), name

    def cuboid_intact(self, version_dir: Path, cuboid: BuiltCuboid) -> bool:
        return files_intact(version_dir, cuboid)

    def create_scan_table(self, name: str, select: sa.sql.Select[Any]) -> sa.TableClause:
        self.run_statement(f"CREATE OR REPLACE TABLE {_identifier(name)} AS {compile_literal(select)}")
        return self.table_of(name)

    def drop_scan_tables(self, prefix: str) -> None:
        for (name,) in self.run_statement(
            f"SELECT table_name FROM information_schema.tables WHERE starts_with(table_name, {_literal(prefix)})"
        ):
            self.drop_relation(name)

    def built_cuboid(self, name: str, staging: Path, cuboid: BuiltCuboid) -> sa.TableClause:
        return self.parquet_view(name, cuboid_files(staging, cuboid.path, cuboid.partition_level is not None))

    def write_cuboid(
        self, select: sa.sql.Select[Any], staging: Path, version: str, cube: str, cuboid: str, key_column: str | None
    ) -> WrittenCuboid:
        target = staging / cube / cuboid
        write_select(self, compile_literal(select), target, key_column)
        rows, partitions, size = describe_written(self, target, key_column)
        return WrittenCuboid(f"{cube}/{cuboid}", rows, partitions, size)

    def collect_garbage(self, versions: set[str]) -> None:
        """Nothing to do: a version's files are in its directory, which the store removes."""


def _query_error(exc: Exception, deadline: float) -> Exception:
    if isinstance(exc, duckdb.InterruptException) or time.monotonic() >= deadline:
        return QueryTimeoutError("the query took longer than the configured timeout")
    return BackendError(f"query failed: {exc}")


class BatchStream:
    """The record batches of one running statement; reading them to the end, or :meth:`close`, ends it."""

    def __init__(self, reader: pa.RecordBatchReader, cursor: Any, timer: threading.Timer, deadline: float) -> None:
        self.schema: pa.Schema = reader.schema
        self._reader = reader
        self._cursor = cursor
        self._timer = timer
        self._deadline = deadline

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        try:
            while True:
                try:
                    batch = self._reader.read_next_batch()
                except StopIteration:
                    return
                except (pa.ArrowException, OSError, duckdb.Error) as exc:
                    # An interrupt at the deadline surfaces from the reader as an Arrow I/O error.
                    raise _query_error(exc, self._deadline) from exc
                yield batch
        finally:
            self.close()

    def close(self) -> None:
        self._timer.cancel()
        self._cursor.close()
