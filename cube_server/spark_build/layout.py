"""Spark's output files moved into the store's layout, which the server reads as DuckDB writes it.

DuckDB writes ``<cuboid>/data.parquet``, or ``<cuboid>/<key>=<value>/data_<n>.parquet`` per partition with
the partition column kept inside the files. Spark names its files ``part-…`` and drops a partition column
from them, so it partitions by a copy of the column and its files are renamed afterwards.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from cube_server.spark_build.spark_sql import quoted

PARTITION_COPY = "cube_server_partition"
# Spark's directory name for a NULL partition value, and DuckDB's.
_SPARK_NULL, _DUCKDB_NULL = "__HIVE_DEFAULT_PARTITION__", "NULL"


def write_cuboid(frame: Any, target: Path, key_column: str | None) -> None:
    """Write a cuboid's rows under ``target`` (one directory per value of ``key_column``, if any)."""
    scratch = target.with_name(f".{target.name}.spark")
    shutil.rmtree(scratch, ignore_errors=True)
    target.mkdir(parents=True, exist_ok=True)
    if key_column:
        copied = frame.selectExpr("*", f"{quoted(key_column)} AS {quoted(PARTITION_COPY)}")
        copied.write.option("compression", "zstd").partitionBy(PARTITION_COPY).parquet(str(scratch))
        for directory in sorted(scratch.glob(f"{PARTITION_COPY}=*")):
            value = directory.name.split("=", 1)[1]
            destination = target / f"{key_column}={_DUCKDB_NULL if value == _SPARK_NULL else value}"
            destination.mkdir(parents=True, exist_ok=True)
            for index, path in enumerate(sorted(directory.glob("*.parquet"))):
                os.replace(path, destination / f"data_{index}.parquet")
    else:
        # One file, as DuckDB writes: the aggregation stays parallel, only the write is a single task.
        frame.repartition(1).write.option("compression", "zstd").parquet(str(scratch))
        written = sorted(scratch.glob("*.parquet"))
        if len(written) != 1:
            raise AssertionError(f"Spark wrote {len(written)} files for one partition under {scratch}")
        os.replace(written[0], target / "data.parquet")
    shutil.rmtree(scratch)
