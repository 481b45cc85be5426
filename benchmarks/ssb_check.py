"""The full Star Schema Benchmark check: the 13 SSB queries through the engine and directly on DuckDB.

Usage (from the checkout, after ``python -m pip install -e .``)::

    python benchmarks/ssb_check.py [--data-root DIR] [--repeat N]

It opens the ``examples/ssb`` project (data root as configured in its ``cube-server.toml``, about 6M order
lines at scale factor 1, unless ``--data-root`` moves it), runs each query of ``examples/ssb/queries.py``
through the engine (``CubeEngine.aggregate``, every statement it plans) and its hand-written
SQL on a separate in-memory DuckDB connection over the same Parquet files, checks that every answer is
identical (all cells with their keys, labels and values, the summary and the cell count), and prints a
table: query, cells, best engine time, best direct DuckDB time (of ``--repeat`` runs after one warm-up
run each) and their ratio. Exits 1 on any mismatch. ``CUBE_DUCKDB_THREADS`` / ``CUBE_DUCKDB_MEMORY_LIMIT``
apply to both connections.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb

from api.config import settings_from_env
from cube_server.project import load_project, open_engine

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "examples" / "ssb"


def load_queries(project: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("ssb_queries", project / "queries.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


def best_ms(run: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """One warm-up run, then the best of ``repeat`` timed runs; returns (ms, the last answer)."""
    answer = run()
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        answer = run()
        best = min(best, (time.perf_counter() - started) * 1000)
    return best, answer


def first_difference(got: dict[str, Any], want: dict[str, Any]) -> str:
    for key in ("summary", "total_cell_count"):
        if got[key] != want[key]:
            return f"{key}: engine {got[key]!r}, SQL {want[key]!r}"
    if len(got["cells"]) != len(want["cells"]):
        return f"{len(got['cells'])} cells from the engine, {len(want['cells'])} from SQL"
    for index, (a, b) in enumerate(zip(got["cells"], want["cells"], strict=True)):
        if a != b:
            return f"cell {index}: engine {a!r}, SQL {b!r}"
    return "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", type=Path, help="directory of the SSB Parquet files (default: as configured)")
    parser.add_argument("--project", type=Path, default=PROJECT, help="the SSB project directory")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per query after one warm-up (default 3)")
    args = parser.parse_args(argv)

    queries = load_queries(args.project)
    settings = settings_from_env()
    started = time.perf_counter()
    project = load_project(args.project, args.data_root)
    engine = open_engine(project, settings)
    open_ms = (time.perf_counter() - started) * 1000

    config: dict[str, Any] = {}
    if settings.duckdb_threads:
        config["threads"] = settings.duckdb_threads
    if settings.duckdb_memory_limit:
        config["memory_limit"] = settings.duckdb_memory_limit
    direct = duckdb.connect(":memory:", config=config)
    tables = queries.parquet_tables({name: [str(p) for p in paths] for name, paths in project.table_files().items()})
    rows = direct.execute(f"SELECT COUNT(*) FROM {tables['lineorder']}").fetchone()[0]  # type: ignore[index]
    print(
        f"SSB over {project.data_root} ({rows:,} order lines); engine opened in {open_ms:.0f} ms; "
        f"duckdb {duckdb.__version__}; best of {args.repeat} after a warm-up"
    )

    header = f"{'query':<6} {'cells':>6} {'engine ms':>10} {'duckdb ms':>10} {'ratio':>6}  result"
    print(header)
    print("-" * len(header))
    failures = 0
    total_engine = total_direct = 0.0
    for query in queries.SSB_QUERIES:
        engine_ms, got = best_ms(lambda q=query: queries.engine_answer(engine, q), args.repeat)
        direct_ms, want = best_ms(lambda q=query: queries.expected_answer(direct, q, tables), args.repeat)
        total_engine += engine_ms
        total_direct += direct_ms
        same = got == want
        failures += not same
        cells = str(len(got["cells"])) if query.drilldown else "-"
        result = "ok" if same else "MISMATCH: " + first_difference(got, want)
        ratio = engine_ms / direct_ms
        print(f"{query.name:<6} {cells:>6} {engine_ms:>10.1f} {direct_ms:>10.1f} {ratio:>6.2f}  {result}")
    print("-" * len(header))
    print(f"{'total':<6} {'':>6} {total_engine:>10.1f} {total_direct:>10.1f} {total_engine / total_direct:>6.2f}")
    if failures:
        print(f"{failures} of {len(queries.SSB_QUERIES)} answers differ", file=sys.stderr)
        return 1
    print(f"all {len(queries.SSB_QUERIES)} answers identical (cells, keys, labels, values, summary, cell count)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
