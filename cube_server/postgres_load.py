"""Copy a project's tables from their files into PostgreSQL (``cube-server load-postgres``).

Each table is read as the DuckDB engine reads it (CSV column types and renames, the synthetic key in file
order) and written to a table of the same name, with the PostgreSQL types of the same values, through
``COPY … FROM STDIN``. All tables are replaced in one transaction, so a server never sees half a load.
Afterwards the tables are analysed and the server's statistics flushed, so the facts' fingerprint a build
records is the one a server reads.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa

from cube_server.backend import DuckDBBackend
from cube_server.errors import BackendError, ProjectError
from cube_server.postgres import engine_url, identifier
from cube_server.project import Project
from cube_server.settings import Settings

CHUNK_BYTES = 1 << 20
_SIMPLE = {
    "BOOLEAN": "boolean",
    "TINYINT": "smallint",
    "UTINYINT": "smallint",
    "SMALLINT": "smallint",
    "USMALLINT": "integer",
    "INTEGER": "integer",
    "UINTEGER": "bigint",
    "BIGINT": "bigint",
    "UBIGINT": "numeric(20,0)",
    "HUGEINT": "numeric(38,0)",
    "FLOAT": "real",
    "DOUBLE": "double precision",
    "VARCHAR": "text",
    "DATE": "date",
    "TIME": "time",
    "TIMESTAMP": "timestamp",
    "TIMESTAMP WITH TIME ZONE": "timestamptz",
}


def postgres_type(duckdb_type: str) -> str:
    """The PostgreSQL type holding the values of a DuckDB type.

    >>> postgres_type("DECIMAL(12,2)"), postgres_type("BIGINT"), postgres_type("VARCHAR")
    ('numeric(12,2)', 'bigint', 'text')
    """
    kind = duckdb_type.strip().upper()
    decimal = re.fullmatch(r"DECIMAL\((\d+),\s*(\d+)\)", kind)
    if decimal:
        return f"numeric({decimal.group(1)},{decimal.group(2)})"
    return _SIMPLE.get(kind, "text")


def load_postgres(
    project: Project, url: str, settings: Settings, progress: Callable[[str, int], None] | None = None
) -> dict[str, int]:
    """Replace the project's tables in the database at ``url`` by the rows of its files; rows per table."""
    missing = project.missing_tables()
    if missing:
        raise ProjectError(f"no data files for table(s): {', '.join(missing)}")
    files = DuckDBBackend(project.table_sources(), settings)
    connect_args: dict[str, Any] = {}
    parsed = engine_url(url)
    if settings.engine_password and parsed.password is None:
        connect_args["password"] = settings.engine_password
    engine = sa.create_engine(parsed, poolclass=sa.NullPool, connect_args=connect_args)
    loaded: dict[str, int] = {}
    try:
        pooled = engine.raw_connection()
    except sa.exc.SQLAlchemyError as exc:
        raise BackendError(f"cannot connect to {parsed.render_as_string(hide_password=True)}") from exc
    try:
        connection: psycopg.Connection[Any] = pooled.driver_connection  # type: ignore[assignment]
        with tempfile.TemporaryDirectory(prefix="cube-load-") as scratch:
            for spec in project.table_specs:
                loaded[spec.name] = _load_table(files, connection, spec.name, Path(scratch) / "rows.csv")
                if progress:
                    progress(spec.name, loaded[spec.name])
        connection.commit()
        connection.autocommit = True
        for name in loaded:
            connection.execute(f"ANALYZE {identifier(name)}")  # type: ignore[arg-type]
        # The statistics the facts' fingerprint reads are flushed as this session goes idle, not later.
        connection.execute("SELECT pg_stat_force_next_flush()")
    except psycopg.Error as exc:
        raise BackendError(f"loading into PostgreSQL failed: {str(exc).strip().splitlines()[0]}") from exc
    finally:
        pooled.close()
        engine.dispose()
        files.close()
    return loaded


def _load_table(files: DuckDBBackend, connection: psycopg.Connection[Any], table: str, scratch: Path) -> int:
    columns = files.table_columns[table]
    definition = ", ".join(f"{identifier(name)} {postgres_type(kind)}" for name, kind in columns.items())
    connection.execute(f"DROP TABLE IF EXISTS {identifier(table)}")  # type: ignore[arg-type]
    connection.execute(f"CREATE TABLE {identifier(table)} ({definition})")  # type: ignore[arg-type]
    # DuckDB writes NULL as an empty field and the empty string as "": PostgreSQL's CSV reads them back so.
    target = str(scratch).replace("'", "''")
    files.run_statement(f"COPY (SELECT * FROM {identifier(table)}) TO '{target}' (FORMAT csv, HEADER false)")
    with connection.cursor() as cursor:
        with cursor.copy(f"COPY {identifier(table)} FROM STDIN (FORMAT csv)") as copy:  # type: ignore[arg-type]
            with open(scratch, "rb") as rows:
                while chunk := rows.read(CHUNK_BYTES):
                    copy.write(chunk)
        return cursor.rowcount
