"""The fact files a refresh changes: checking a new file, the time column and range, and the switch's recovery.

A refresh never edits a fact file: it writes new ones beside them (``*.parquet.tmp``, which no table glob
matches), then switches them in together with the store version built for them through a journal
(:mod:`cube_server.fact_switch`); whoever comes after a crash rolls the journal forward.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from aggregates.errors import BuildInProgressError
from aggregates.store import CuboidStore
from cube_server.build import quote_path
from cube_server.engine import CubeEngine
from cube_server.errors import RefreshError
from cube_server.fact_switch import JOURNAL, finish_switches
from cube_server.project import Project

__all__ = ["JOURNAL", "finish_interrupted_switch"]


def finish_interrupted_switch(project: Project) -> bool:
    """Complete a switch a crashed refresh left behind, under the store's lock; True if there was one.

    When a build or refresh holds the lock, nothing is done here: that live command finishes the switch.
    """
    try:
        with CuboidStore(project.store_dir).lock():
            return finish_switches(project.table_directories())
    except BuildInProgressError:
        return False


def glob_directory(project: Project, table: str) -> Path:
    spec = next(spec for spec in project.table_specs if spec.name == table)
    return project.table_directory(spec)


def fact_table_files(engine: CubeEngine, project: Project) -> tuple[str, Path, list[Path]]:
    """The fact table the refresh changes, the directory its files live in, and its files now."""
    if engine.backend.name != "duckdb":
        raise RefreshError(
            f"append and replace change Parquet fact files, and these facts are in {engine.backend.name}: change "
            "them there, then rebuild the store (cube-server build)"
        )
    tables = sorted({cube.fact for cube in engine.catalog.cubes})
    if len(tables) != 1:
        raise RefreshError(f"the project's cubes read several fact tables ({', '.join(tables)}); refresh needs one")
    table = tables[0]
    spec = next((spec for spec in project.table_specs if spec.name == table), None)
    if spec is None or spec.format != "parquet" or spec.key or not any(c in Path(spec.path).name for c in "*?["):
        raise RefreshError(
            f"table {table!r} must be a glob of Parquet files (such as facts/*.parquet) without a synthetic key "
            "for facts to be added or replaced"
        )
    return table, glob_directory(project, table), project.table_files()[table]


def stage_incoming(engine: CubeEngine, table: str, file: Path, target: Path, *, allow_empty: bool = False) -> Path:
    """Copy ``file`` beside the facts with the fact table's columns and types (checked before anything changes)."""
    columns = engine.backend.table_columns[table]
    if not file.is_file():
        raise RefreshError(f"no such file: {file}")
    try:
        described = engine.backend.run_statement(f"DESCRIBE SELECT * FROM read_parquet('{quote_path(file)}')")
    except Exception as exc:  # any DuckDB failure here means the file is not Parquet we can read
        raise RefreshError(f"{file} is not a readable Parquet file") from exc
    present = [row[0] for row in described]
    missing = [name for name in columns if name not in present]
    extra = [name for name in present if name not in columns]
    if missing or extra:
        raise RefreshError(
            f"{file} does not have the columns of table {table!r}"
            + (f"; missing: {', '.join(missing)}" if missing else "")
            + (f"; unexpected: {', '.join(extra)}" if extra else "")
        )
    select = ", ".join(f'CAST("{name}" AS {sql_type}) AS "{name}"' for name, sql_type in columns.items())
    try:
        engine.backend.run_statement(
            f"COPY (SELECT {select} FROM read_parquet('{quote_path(file)}')) "
            f"TO '{quote_path(target)}' (FORMAT parquet, COMPRESSION zstd)"
        )
    except Exception as exc:
        target.unlink(missing_ok=True)
        raise RefreshError(f"the values of {file} do not fit the types of table {table!r}") from exc
    if not allow_empty and not count_file(engine, target):
        target.unlink()
        raise RefreshError(f"{file} holds no rows")
    return target


def time_column(engine: CubeEngine, table: str) -> str:
    """The fact column the time dimension reads its levels from (replace selects facts by it)."""
    for cube in engine.catalog.cubes:
        for dimension in cube.dimensions:
            if dimension.role != "time":
                continue
            refs = {cube.physical(level.key_attribute.ref) for level in dimension.levels}
            columns = {(ref.table, ref.column) for ref in refs if ref.extract}
            if len(columns) == 1 and all(ref.extract for ref in refs) and next(iter(columns))[0] == table:
                return next(iter(columns))[1]
    raise RefreshError("replace needs a time dimension whose levels are extracted from one date or timestamp column")


def parse_range(start: str, end: str) -> tuple[str, str, bool]:
    """The range as SQL timestamp literals, and whether its end is inclusive; a date ``end`` covers its day."""
    try:
        low = dt.datetime.fromisoformat(start)
        high = dt.datetime.fromisoformat(end)
    except ValueError as exc:
        raise RefreshError(f"the range must be ISO dates or timestamps (such as 2025-03-14): {exc}") from exc
    whole_day = len(end.strip()) == 10
    if whole_day:
        high += dt.timedelta(days=1)
    if high < low or (whole_day and high == low):
        raise RefreshError(f"the range {start} .. {end} is empty")
    return low.isoformat(sep=" "), high.isoformat(sep=" "), not whole_day


def range_sql(column: str, low: str, high: str, high_inclusive: bool) -> str:
    upper = "<=" if high_inclusive else "<"
    return f"{quoted(column)} >= TIMESTAMP '{low}' AND {quoted(column)} {upper} TIMESTAMP '{high}'"


def count_file(engine: CubeEngine, path: Path) -> int:
    return int(engine.backend.run_statement(f"SELECT count(*) FROM read_parquet('{quote_path(path)}')")[0][0])


def file_list(files: list[Path]) -> str:
    return "[" + ", ".join(f"'{quote_path(path)}'" for path in files) + "]"


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
