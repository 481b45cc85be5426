"""Benchmark: the engine answering from the raw facts, against hand-written SQL run directly on DuckDB.

    python benchmarks/facts_baseline.py --rows 10000000 [--data DIR] [--repeat 3]

Generates the telecom demo data (or reuses DIR when it holds a complete dataset), then times each
query both ways, side by side in one process, and prints a Markdown table. The ratio shows the engine's
overhead over a direct scan (parsing, planning, joins, shaping, decimal-exact JSON-ready values); the
aggregate store is what will make answers orders of magnitude faster than a scan.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cube_server.cut_syntax import parse_cuts, parse_drilldown  # noqa: E402
from cube_server.project import load_project, open_engine  # noqa: E402
from cube_server.query import Query  # noqa: E402
from cube_server.settings import Settings  # noqa: E402
from cube_server.telecom import generate_telecom  # noqa: E402

STAR = """
CREATE VIEW star AS SELECT f.*, coalesce(p.line, 'unknown') AS line, g.region AS region
FROM read_parquet('{data}/facts/*.parquet') f
LEFT JOIN read_parquet('{data}/product.parquet') p ON f.product_code = p.product_code
LEFT JOIN read_parquet('{data}/geography.parquet') g ON f.geography_code = g.geography_code
"""
# (name, cut, drilldown, measures, equivalent SQL over the star view)
QUERIES = [
    ("total revenue", "", "", ("revenue",), "SELECT sum(revenue) FROM star"),
    ("revenue by year", "", "time:year", ("revenue",),
     "SELECT year(charged_at), sum(revenue) FROM star GROUP BY 1 ORDER BY 1"),
    ("revenue by month of 2025", "time:2025", "time:month", ("revenue",),
     "SELECT quarter(charged_at), month(charged_at), sum(revenue) FROM star WHERE year(charged_at) = 2025 "
     "GROUP BY 1, 2 ORDER BY 1, 2"),
    ("revenue and subscribers by line", "", "product:line", ("revenue", "subscribers"),
     "SELECT line, sum(revenue), count(DISTINCT customer_code) FROM star GROUP BY 1 ORDER BY 1"),
    ("revenue by region, 2025", "time:2025", "geography:region", ("revenue",),
     "SELECT region, sum(revenue) FROM star WHERE year(charged_at) = 2025 GROUP BY 1 ORDER BY 1"),
]  # fmt: skip


def _median_ms(run, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    data = args.data or Path(tempfile.mkdtemp(prefix="cube-bench-"))
    if not (data / "manifest.json").exists():
        print(f"generating {args.rows:,} rows into {data} ...", file=sys.stderr)
        generate_telecom(data, args.rows, args.seed)
    project_dir = Path(tempfile.mkdtemp(prefix="cube-bench-project-"))
    config = (ROOT / "examples" / "telecom" / "cube-server.toml").read_text(encoding="utf-8")
    config = config.replace('model = "model.json"', f'model = "{ROOT / "examples" / "telecom" / "model.json"}"')
    (project_dir / "cube-server.toml").write_text(config.replace('root = "data"', f'root = "{data}"'), encoding="utf-8")
    engine = open_engine(load_project(project_dir), Settings(query_timeout_ms=3_600_000))
    direct = duckdb.connect()
    direct.execute(STAR.format(data=data))
    rows = direct.execute("SELECT count(*) FROM star").fetchone()[0]
    print(f"rows: {rows:,}; machine: {platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}, "
          f"duckdb {duckdb.__version__}; median of {args.repeat}\n")  # fmt: skip
    print("| query | engine ms | direct DuckDB ms | ratio |\n|---|---:|---:|---:|")
    for name, cut, drilldown, measures, sql in QUERIES:
        query = Query("fixed_line_revenue", parse_cuts(cut), parse_drilldown(drilldown), measures)
        engine_ms = _median_ms(lambda q=query: engine.aggregate(q), args.repeat)
        direct_ms = _median_ms(lambda s=sql: direct.execute(s).fetchall(), args.repeat)
        print(f"| {name} | {engine_ms:,.0f} | {direct_ms:,.0f} | {engine_ms / direct_ms:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
