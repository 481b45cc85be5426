"""Cuboids as Parquet files (the DuckDB backend's store): writing them, and where a built cuboid's files are.

``STORE/versions/<version>/<cube>/<cuboid>/data.parquet``, or one ``<key>=<value>/`` directory per partition
when the cuboid keeps the time dimension's top level. Written and read through DuckDB.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from aggregates.store import BuiltCuboid


class RunsStatements(Protocol):
    def run_statement(self, sql: str) -> list[tuple[Any, ...]]: ...


def quote_path(path: Path) -> str:
    return str(path).replace("'", "''")


def cuboid_glob(target: Path, partitioned: bool) -> str:
    return str(target / "**" / "*.parquet") if partitioned else str(target / "data.parquet")


def cuboid_files(version_dir: Path, path: str, partitioned: bool) -> str:
    """The glob of a built cuboid's Parquet files."""
    return cuboid_glob(version_dir / path, partitioned)


def files_intact(version_dir: Path, cuboid: BuiltCuboid) -> bool:
    """The cuboid's files are all there, with the bytes the build wrote (a cheap check, no reading)."""
    directory = version_dir / cuboid.path
    return directory.is_dir() and sum(p.stat().st_size for p in directory.rglob("*.parquet")) == cuboid.bytes


def write_select(backend: RunsStatements, sql: str, target: Path, key_column: str | None) -> None:
    """Write a query's rows as a cuboid's Parquet files under ``target`` (one directory per partition)."""
    target.mkdir(parents=True, exist_ok=True)
    options = "FORMAT parquet, COMPRESSION zstd"
    if key_column:
        options += f', PARTITION_BY ("{key_column}"), WRITE_PARTITION_COLUMNS true'
        destination = target
    else:
        destination = target / "data.parquet"
    backend.run_statement(f"COPY ({sql}) TO '{quote_path(destination)}' ({options})")


def describe_written(backend: RunsStatements, target: Path, key_column: str | None) -> tuple[int, dict[str, int], int]:
    """Rows, rows per partition and bytes of the cuboid files under ``target``."""
    files = f"read_parquet('{quote_path(Path(cuboid_glob(target, bool(key_column))))}', hive_partitioning = false)"
    rows = int(backend.run_statement(f"SELECT count(*) FROM {files}")[0][0])
    partitions: dict[str, int] = {}
    if key_column:
        counts = backend.run_statement(f'SELECT CAST("{key_column}" AS VARCHAR), count(*) FROM {files} GROUP BY 1')
        partitions = {str(value): int(count) for value, count in counts}
    size = sum(path.stat().st_size for path in target.rglob("*.parquet"))
    return rows, partitions, size
