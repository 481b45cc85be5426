"""What the engine needs of the database that holds the facts (and the cuboids): one interface, two engines.

:class:`~cube_server.backend.DuckDBBackend` reads Parquet and CSV files in process and keeps cuboids as
Parquet files; :class:`~cube_server.postgres.PostgresBackend` reads tables of a PostgreSQL server and keeps
cuboids as tables there. :class:`~cube_server.engine.CubeEngine`, the build and the store view use only what
this protocol names, and every statement is compiled by the backend that runs it (:meth:`Backend.compile`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import sqlalchemy as sa

from aggregates.store import BuiltCuboid
from cube_server.settings import Settings


@dataclass(frozen=True, slots=True)
class CompiledStatement:
    sql: str
    parameters: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class WrittenCuboid:
    """Where a build wrote a cuboid (relative to the version directory, or a table name) and what it holds."""

    path: str
    rows: int
    partitions: dict[str, int]
    bytes: int


class RowBatches(Protocol):
    schema: pa.Schema

    def __iter__(self) -> Iterator[pa.RecordBatch]: ...

    def close(self) -> None: ...


class Backend(Protocol):
    name: str
    settings: Settings
    table_columns: dict[str, dict[str, str]]  # table -> column -> SQL type (DuckDB's type names)
    max_grouping_columns: int  # most attributes one GROUPING SETS pass may tag with GROUPING()
    max_sample_rows: int  # most fact rows a store plan's size estimates read

    # ---- queries --------------------------------------------------------------------------------
    def compile(self, statement: sa.sql.ClauseElement) -> CompiledStatement: ...

    def compile_literal(self, statement: sa.sql.ClauseElement) -> str: ...

    def table_clause(self, name: str) -> sa.TableClause: ...

    def describe(self, statement: sa.sql.Select[Any]) -> dict[str, str]: ...

    def execute(self, statement: CompiledStatement, deadline: float) -> pa.Table: ...

    def stream(self, statement: CompiledStatement, deadline: float, batch_rows: int) -> RowBatches: ...

    def run_statement(self, sql: str) -> list[tuple[Any, ...]]: ...

    def facts_fingerprint(self) -> str | None:
        """A fingerprint of the tables' contents, when the backend reads tables rather than files."""
        ...

    def close(self) -> None: ...

    # ---- the cuboid store ---------------------------------------------------------------------------
    def open_cuboid(
        self, name: str, version_dir: Path, cuboid: BuiltCuboid, in_memory: bool
    ) -> tuple[sa.TableClause, str | None]:
        """A built cuboid as a table clause, and the relation created for it (dropped when unused), if any."""
        ...

    def cuboid_intact(self, version_dir: Path, cuboid: BuiltCuboid) -> bool: ...

    def drop_relation(self, name: str) -> None: ...

    def create_scan_table(self, name: str, select: sa.sql.Select[Any]) -> sa.TableClause: ...

    def drop_scan_tables(self, prefix: str) -> None: ...

    def built_cuboid(self, name: str, staging: Path, cuboid: BuiltCuboid) -> sa.TableClause:
        """A cuboid built earlier in the same (unpublished) version, to roll up from."""
        ...

    def write_cuboid(
        self, select: sa.sql.Select[Any], staging: Path, version: str, cube: str, cuboid: str, key_column: str | None
    ) -> WrittenCuboid: ...

    def collect_garbage(self, versions: set[str]) -> None:
        """Drop cuboids of versions other than ``versions`` (those still on disk) where they live outside it."""
        ...
