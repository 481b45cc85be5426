"""The fact files a refresh changes: checking a new file, the time column and range, and the journaled switch.

A refresh never edits a fact file: it writes new ones beside them (``*.parquet.tmp``, which no table glob
matches), then switches them in through a journal (``.refresh-journal.json`` in the facts' directory) listing
the renames and removals. The journal is applied at once; a crash half-way leaves it behind, and the next
refresh or build applies it again (each step is idempotent), so the facts never stay half switched.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

from cube_server.build import quote_path
from cube_server.engine import CubeEngine
from cube_server.errors import RefreshError
from cube_server.project import Project

JOURNAL = ".refresh-journal.json"


def finish_interrupted_switch(project: Project) -> bool:
    """Complete a fact-file switch a crash interrupted (renames and removals are idempotent)."""
    finished = False
    for directory in {path.parent for paths in project.table_files().values() for path in paths} | {
        glob_directory(project, spec.name) for spec in project.table_specs
    }:
        journal = directory / JOURNAL
        if journal.is_file():
            apply_journal(journal)
            finished = True
    return finished


def apply_journal(journal: Path) -> None:
    """Do what the journal lists; steps another process already did are skipped, so two may race safely."""
    try:
        entries = json.loads(journal.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return
    for source, target in entries["moves"]:
        try:
            os.replace(source, target)
        except FileNotFoundError:
            pass  # moved already
    for path in entries["removals"]:
        Path(path).unlink(missing_ok=True)
    journal.unlink(missing_ok=True)


def switch_files(directory: Path, moves: dict[Path, Path], removals: list[Path]) -> None:
    journal = directory / JOURNAL
    text = json.dumps({"moves": [[str(a), str(b)] for a, b in moves.items()], "removals": [str(p) for p in removals]})
    with open(journal, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    apply_journal(journal)


def glob_directory(project: Project, table: str) -> Path:
    spec = next(spec for spec in project.table_specs if spec.name == table)
    path = Path(spec.path)
    return (path if path.is_absolute() else project.data_root / path).parent


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
