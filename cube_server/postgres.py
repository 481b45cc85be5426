"""The PostgreSQL backend: facts, dimension tables and cuboids in a PostgreSQL server, through SQLAlchemy and psycopg 3.

Connections come from a SQLAlchemy pool (``engine_pool_size``); each statement runs with its own
``statement_timeout`` (the time left before the query's deadline), so a query that outlives it is cancelled
by the server and answered as :class:`QueryTimeoutError`. Statements are compiled with the PostgreSQL dialect
(:mod:`cube_server.sql_dialect` spells what differs from DuckDB), and rows come back as Arrow tables with the
types DuckDB would give (:mod:`cube_server.postgres_arrow`).

Cuboids are tables in a schema of their own (``store_schema``, default ``cube_store``), one per cuboid and
version, named ``v<version>_<hash of cube and cuboid>``; the store's manifest and its ``CURRENT`` pointer stay in
the store directory. A build writes each cuboid with ``CREATE TABLE … AS SELECT`` (GROUPING SETS passes land in
unlogged tables first), and drops the tables of versions the store no longer keeps.

The facts' fingerprint (which tells whether a store was built from the facts there are now) is read from
the server's statistics: each table's file node and its counts of inserted, updated and deleted rows.
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect

from aggregates.store import BuiltCuboid
from cube_server.backends import CompiledStatement, WrittenCuboid
from cube_server.errors import BackendError, EngineUnavailableError, ProjectError, QueryTimeoutError
from cube_server.postgres_arrow import arrow_batch, arrow_schema, type_name
from cube_server.settings import Settings

DEFAULT_STORE_SCHEMA = "cube_store"  # as cube_server.project names it
SCALE_SAMPLE_ROWS = 100_000  # rows read at startup for the scale of an unconstrained NUMERIC expression
FINGERPRINT_TTL_S = 1.0  # the facts' fingerprint is read again at most this often
_TIMEOUT = "the query took longer than the configured timeout"


def _dialect(paramstyle: str) -> sa.engine.Dialect:
    dialect = psycopg_dialect.dialect(paramstyle=paramstyle)
    # Servers since 9.1 keep standard_conforming_strings on: a backslash in a literal is just a backslash.
    dialect._backslash_escapes = False  # type: ignore[attr-defined]
    return dialect


_POSITIONAL = _dialect("format")
_LITERAL = _dialect("qmark")  # no placeholders left once values are inlined, so no %% escaping either


def compile_postgres(statement: sa.sql.ClauseElement) -> CompiledStatement:
    """Compile a Core statement for PostgreSQL with positional (``%s``) bound parameters."""
    compiled = statement.compile(dialect=_POSITIONAL, compile_kwargs={"render_postcompile": True})
    names = compiled.positiontup or []
    return CompiledStatement(str(compiled), tuple(compiled.params[name] for name in names))


def compile_postgres_literal(statement: sa.sql.ClauseElement) -> str:
    """SQL text with values inlined, for statements built from the model alone (cuboid builds)."""
    return str(statement.compile(dialect=_LITERAL, compile_kwargs={"literal_binds": True}))


def identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def version_tag(version: str) -> str:
    """A version as the prefix of its cuboid tables' names (lower case, no punctuation)."""
    return "v" + re.sub(r"[^0-9a-z]", "_", version.lower())


def engine_url(url: str) -> sa.URL:
    """Parse an engine URL; only PostgreSQL through psycopg 3 is a server engine."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ProjectError(f"cannot read the engine URL: {exc}") from exc
    if parsed.get_backend_name() != "postgresql":
        raise ProjectError(f"engine URL {parsed.render_as_string()!r}: only postgresql+psycopg:// is supported")
    return parsed.set(drivername="postgresql+psycopg")


class PostgresBackend:
    name = "postgresql"
    max_grouping_columns = 31  # GROUPING() is a 32-bit integer here
    max_sample_rows = 20_000  # estimates count distinct cells exactly (no HyperLogLog): a sample this large at most

    def __init__(
        self, url: str, tables: list[str], settings: Settings, store_schema: str = DEFAULT_STORE_SCHEMA
    ) -> None:
        self.settings = settings
        self.store_schema = store_schema
        parsed = engine_url(url)
        self.url_text = parsed.render_as_string(hide_password=True)
        connect_args: dict[str, Any] = {"application_name": "cube-server"}
        if settings.engine_password and parsed.password is None:
            connect_args["password"] = settings.engine_password
        self._engine = sa.create_engine(
            parsed,
            pool_size=settings.engine_pool_size,
            max_overflow=settings.engine_pool_size,
            pool_pre_ping=True,
            connect_args=connect_args,
        )
        self.table_columns: dict[str, dict[str, str]] = {}
        self._fingerprint: tuple[float, str] | None = None
        self._fingerprint_lock = threading.Lock()
        self._scan_tables: dict[str, str] = {}  # scan table name -> its table in the store schema
        for table in tables:
            columns = self._columns(f"SELECT * FROM {identifier(table)}", (), table)
            self.table_columns[table] = columns

    def __repr__(self) -> str:
        return f"PostgresBackend({self.url_text!r})"

    # ---- connections ----------------------------------------------------------------------------
    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            pooled = self._engine.raw_connection()
        except (sa.exc.SQLAlchemyError, psycopg.Error) as exc:
            raise EngineUnavailableError(f"cannot connect to {self.url_text}: {_reason(exc)}") from exc
        try:
            yield pooled.driver_connection  # type: ignore[misc]
        finally:
            pooled.close()  # back to the pool, rolled back

    @staticmethod
    def _limit_time(connection: psycopg.Connection[Any], deadline: float) -> None:
        remaining_ms = int((deadline - time.monotonic()) * 1000)
        if remaining_ms <= 0:
            raise QueryTimeoutError(_TIMEOUT)
        connection.execute("SELECT set_config('statement_timeout', %s, true)", (str(remaining_ms),))

    # ---- statements -----------------------------------------------------------------------------
    def compile(self, statement: sa.sql.ClauseElement) -> CompiledStatement:
        return compile_postgres(statement)

    def compile_literal(self, statement: sa.sql.ClauseElement) -> str:
        return compile_postgres_literal(statement)

    def table_clause(self, name: str) -> sa.TableClause:
        return sa.table(name, *(sa.column(column) for column in self.table_columns[name]))

    def _columns(self, sql: str, parameters: tuple[Any, ...], table: str | None = None) -> dict[str, str]:
        with self._connection() as connection:
            try:
                cursor = connection.execute(f"SELECT * FROM ({sql}) AS described LIMIT 0", parameters)
            except psycopg.Error as exc:
                if table is not None:
                    raise ProjectError(f"cannot read table {table!r}: {_reason(exc)}", table=table) from exc
                raise ProjectError(f"the model does not fit the data: {_reason(exc)}") from exc
            return {column.name: type_name(column) for column in cursor.description or []}

    def describe(self, statement: sa.sql.Select[Any]) -> dict[str, str]:
        """Column types; an unconstrained NUMERIC (an expression mixing decimals and integers, which DuckDB types
        as a DECIMAL of the larger scale) takes the largest scale of its first ``SCALE_SAMPLE_ROWS`` values."""
        compiled = self.compile(statement)
        columns = self._columns(compiled.sql, compiled.parameters)
        loose = [name for name, kind in columns.items() if kind == "DECIMAL"]
        if loose:
            scales = ", ".join(f"max(scale({identifier(name)}))" for name in loose)
            sample = f"SELECT {scales} FROM ({compiled.sql} LIMIT {SCALE_SAMPLE_ROWS}) AS sampled"
            with self._connection() as connection:
                try:
                    row = connection.execute(sample, compiled.parameters).fetchone()  # type: ignore[arg-type]
                except psycopg.Error as exc:
                    raise ProjectError(f"the model does not fit the data: {_reason(exc)}") from exc
            for name, scale in zip(loose, row or (), strict=False):
                columns[name] = f"DECIMAL(38,{scale or 0})"
        return columns

    def execute(self, statement: CompiledStatement, deadline: float) -> pa.Table:
        """Run one statement; raise :class:`QueryTimeoutError` if ``deadline`` (monotonic) passes."""
        with self._connection() as connection:
            try:
                self._limit_time(connection, deadline)
                cursor = connection.execute(statement.sql, statement.parameters)  # type: ignore[arg-type]
                rows = cursor.fetchall()
                schema = arrow_schema(cursor.description or [], rows)
                return pa.Table.from_batches([arrow_batch(schema, rows)], schema=schema)
            except psycopg.Error as exc:
                raise _query_error(exc, deadline) from exc

    def stream(self, statement: CompiledStatement, deadline: float, batch_rows: int) -> PostgresBatches:
        """Run one statement through a server-side cursor and read its rows in batches of ``batch_rows``.

        The first batch is read now (a bad statement raises here, and its rows fix the Arrow types); the
        others while they are read. Each fetch runs with the time left before the deadline.
        """
        context = self._connection()
        connection = context.__enter__()
        try:
            self._limit_time(connection, deadline)
            cursor = connection.cursor(name="cube_server_rows")
            cursor.execute(statement.sql, statement.parameters)  # type: ignore[arg-type]
            first = cursor.fetchmany(batch_rows)
            schema = arrow_schema(cursor.description or [], first)
        except BaseException as exc:
            context.__exit__(None, None, None)
            if isinstance(exc, psycopg.Error):
                raise _query_error(exc, deadline) from exc
            raise
        return PostgresBatches(schema, first, cursor, connection, context, deadline, batch_rows, self._limit_time)

    def run_statement(self, sql: str) -> list[tuple[Any, ...]]:
        """Run SQL the server wrote itself (builds, the store); no caller input reaches it. Committed."""
        with self._connection() as connection:
            try:
                cursor = connection.execute(sql)  # type: ignore[arg-type]
                rows = cursor.fetchall() if cursor.description else []
                connection.commit()
                return rows
            except psycopg.Error as exc:
                raise BackendError(f"statement failed: {_reason(exc)}") from exc

    def facts_fingerprint(self) -> str:
        """The tables' file nodes and row change counts (read again at most once a second)."""
        with self._fingerprint_lock:
            now = time.monotonic()
            if self._fingerprint is not None and now - self._fingerprint[0] < FINGERPRINT_TTL_S:
                return self._fingerprint[1]
            names = [identifier(table) for table in sorted(self.table_columns)]
            with self._connection() as connection:
                try:
                    rows = connection.execute(
                        "SELECT c.relname, c.relfilenode, coalesce(s.n_tup_ins, 0), coalesce(s.n_tup_upd, 0), "
                        "coalesce(s.n_tup_del, 0) FROM unnest(%s::text[]) AS t(name) "
                        "JOIN pg_class c ON c.oid = to_regclass(t.name) "
                        "LEFT JOIN pg_stat_all_tables s ON s.relid = c.oid ORDER BY c.relname",
                        (names,),
                    ).fetchall()
                except psycopg.Error as exc:
                    raise BackendError(f"cannot read the tables' statistics: {_reason(exc)}") from exc
            text = "\n".join("|".join(str(value) for value in row) for row in rows)
            fingerprint = hashlib.sha256(text.encode()).hexdigest()[:12]
            self._fingerprint = (now, fingerprint)
            return fingerprint

    def close(self) -> None:
        self._engine.dispose()

    # ---- the cuboid store: tables in the store schema -------------------------------------------
    def _qualified(self, table: str) -> str:
        return f"{identifier(self.store_schema)}.{identifier(table)}"

    def _store_table(self, path: str) -> sa.TableClause:
        """A table of the store schema (``path`` is its name, as the manifest records it), with its columns."""
        columns = self._columns(f"SELECT * FROM {self._qualified(path)}", ())
        return sa.table(path, *(sa.column(column) for column in columns), schema=self.store_schema)

    def open_cuboid(
        self, name: str, version_dir: Path, cuboid: BuiltCuboid, in_memory: bool
    ) -> tuple[sa.TableClause, str | None]:
        return self._store_table(cuboid.path), None

    def cuboid_intact(self, version_dir: Path, cuboid: BuiltCuboid) -> bool:
        """The cuboid's table is there, with the size the build wrote (its main fork: no reading)."""
        rows = self.run_statement(f"SELECT pg_relation_size(to_regclass({literal(self._qualified(cuboid.path))}))")
        return bool(rows) and rows[0][0] == cuboid.bytes

    def drop_relation(self, name: str) -> None:
        self.run_statement(f"DROP TABLE IF EXISTS {self._qualified(name)}")

    def create_scan_table(self, name: str, select: sa.sql.Select[Any]) -> sa.TableClause:
        table = "scan_" + hashlib.sha256(name.encode()).hexdigest()[:20]
        self._scan_tables[name] = table
        self.run_statement(f"CREATE SCHEMA IF NOT EXISTS {identifier(self.store_schema)}")
        self.run_statement(
            f"DROP TABLE IF EXISTS {self._qualified(table)}; "
            f"CREATE UNLOGGED TABLE {self._qualified(table)} AS {compile_postgres_literal(select)}"
        )
        return self._store_table(table)

    def drop_scan_tables(self, prefix: str) -> None:
        for name in [name for name in self._scan_tables if name.startswith(prefix)]:
            self.drop_relation(self._scan_tables.pop(name))

    def built_cuboid(self, name: str, staging: Path, cuboid: BuiltCuboid) -> sa.TableClause:
        return self._store_table(cuboid.path)

    def write_cuboid(
        self, select: sa.sql.Select[Any], staging: Path, version: str, cube: str, cuboid: str, key_column: str | None
    ) -> WrittenCuboid:
        table = f"{version_tag(version)}_{hashlib.sha256(f'{cube}/{cuboid}'.encode()).hexdigest()[:12]}"
        qualified = self._qualified(table)
        self.run_statement(f"CREATE SCHEMA IF NOT EXISTS {identifier(self.store_schema)}")
        self.run_statement(
            f"DROP TABLE IF EXISTS {qualified}; CREATE TABLE {qualified} AS {compile_postgres_literal(select)}"
        )
        self.run_statement(f"ANALYZE {qualified}")
        rows = int(self.run_statement(f"SELECT count(*) FROM {qualified}")[0][0])
        partitions: dict[str, int] = {}
        if key_column:
            counts = self.run_statement(
                f"SELECT CAST({identifier(key_column)} AS TEXT), count(*) FROM {qualified} GROUP BY 1"
            )
            partitions = {str(value): int(count) for value, count in counts}
        size = int(self.run_statement(f"SELECT pg_relation_size(to_regclass({literal(qualified)}))")[0][0])
        return WrittenCuboid(table, rows, partitions, size)

    def collect_garbage(self, versions: set[str]) -> None:
        """Drop the store schema's tables of versions no longer kept, and scan tables a crash left behind."""
        kept = tuple(version_tag(version) + "_" for version in versions)
        for (table,) in self.run_statement(
            f"SELECT tablename FROM pg_tables WHERE schemaname = {literal(self.store_schema)}"
        ):
            if not table.startswith(kept) and table not in self._scan_tables.values():
                self.drop_relation(table)


class PostgresBatches:
    """The record batches of one statement read through a server-side cursor; reading to the end, or
    :meth:`close`, ends it and gives the connection back."""

    def __init__(
        self,
        schema: pa.Schema,
        first: list[tuple[Any, ...]],
        cursor: psycopg.ServerCursor[Any],
        connection: psycopg.Connection[Any],
        context: Any,
        deadline: float,
        batch_rows: int,
        limit_time: Any,
    ) -> None:
        self.schema = schema
        self._first = first
        self._cursor = cursor
        self._connection = connection
        self._context = context
        self._deadline = deadline
        self._batch_rows = batch_rows
        self._limit_time = limit_time
        self._closed = False

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        try:
            rows = self._first
            while rows:
                yield arrow_batch(self.schema, rows)
                if len(rows) < self._batch_rows:
                    return
                try:
                    self._limit_time(self._connection, self._deadline)
                    rows = self._cursor.fetchmany(self._batch_rows)
                except psycopg.Error as exc:
                    raise _query_error(exc, self._deadline) from exc
        finally:
            self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._cursor.close()
        except psycopg.Error:
            pass  # the transaction failed already; the pool rolls it back
        self._context.__exit__(None, None, None)


def _reason(exc: BaseException) -> str:
    """An error's first line, without connection parameters (the message of a failed connect can name them)."""
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return re.sub(r"password=\S+", "password=***", text[0]) if text else type(exc).__name__


def _query_error(exc: psycopg.Error, deadline: float) -> Exception:
    if isinstance(exc, psycopg.errors.QueryCanceled) or time.monotonic() >= deadline:
        return QueryTimeoutError(_TIMEOUT)
    if isinstance(exc, psycopg.OperationalError):  # the connection broke: the server went away mid-query
        return EngineUnavailableError(f"the database connection failed: {_reason(exc)}")
    return BackendError(f"query failed: {_reason(exc)}")
