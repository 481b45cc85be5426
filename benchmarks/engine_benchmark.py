"""Build time and query latency of the telecom store on DuckDB and on PostgreSQL, at one fact count.

    python benchmarks/engine_benchmark.py --rows 1000000 --data /tmp/gen1m [--url postgresql+psycopg://…]

Generates the telecom data into ``--data`` when absent, loads it into PostgreSQL (a throw-away cluster on
127.0.0.1, the tests' one, unless ``--url`` names a database), builds the declared cuboids with each engine,
then times, for every cuboid, a query shaped after it (its grain drilled, first 1,000 cells) from the store
and from the facts, median of ``--repeat`` runs, in process (no HTTP). Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.append(str(ROOT / "tests"))

from aggregates.store import CuboidStore  # noqa: E402
from cube_server.build import build_store  # noqa: E402
from cube_server.engine import CubeEngine  # noqa: E402
from cube_server.postgres_load import load_postgres  # noqa: E402
from cube_server.project import load_project, open_engine  # noqa: E402
from cube_server.query import DrilldownItem, Query  # noqa: E402
from cube_server.settings import Settings  # noqa: E402
from cube_server.telecom import generate_telecom  # noqa: E402

CUBE = "fixed_line_revenue"


def write_project(directory: Path, data: Path, engine: str = "") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    text = (ROOT / "examples" / "telecom" / "cube-server.toml").read_text(encoding="utf-8")
    text = text.replace('model = "model.json"', f'model = "{ROOT / "examples" / "telecom" / "model.json"}"')
    text = text.replace('root = "data"', f'root = "{data}"')
    text += f'\n[store]\ndirectory = "{directory / "store"}"\n' + engine
    (directory / "cube-server.toml").write_text(text, encoding="utf-8")
    return directory


@contextlib.contextmanager
def database(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    from pg_cluster import running_cluster

    with running_cluster() as cluster:
        yield cluster.create_database("benchmark")


def timed(call: object, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()  # type: ignore[operator]
        runs.append((time.perf_counter() - started) * 1000)
    return statistics.median(runs)


def grain_query(cuboid: object) -> Query:
    grain = cuboid.grain  # type: ignore[attr-defined]
    drilldown = tuple(DrilldownItem(dimension, hierarchy, level) for dimension, hierarchy, level in grain)
    return Query(CUBE, drilldown=drilldown, measures=cuboid.measures, limit=1_000)  # type: ignore[attr-defined]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--url", help="an existing PostgreSQL database (default: a throw-away cluster)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-facts", action="store_true", help="time the store only (facts take minutes at 10M)")
    args = parser.parse_args()
    if not (args.data / "facts").is_dir():
        started = time.monotonic()
        generate_telecom(args.data, args.rows, 42)
        print(f"generated {args.rows:,} facts in {time.monotonic() - started:.1f} s", file=sys.stderr)
    work = Path(tempfile.mkdtemp(prefix="engine-benchmark-"))
    duck_project = load_project(write_project(work / "duckdb", args.data))
    started = time.monotonic()
    duck_building = open_engine(duck_project, Settings(), use_store=False)
    duck_report = build_store(duck_building, CuboidStore(duck_project.store_dir))
    duck_build = time.monotonic() - started
    with database(args.url) as url:
        pg_project = load_project(write_project(work / "postgresql", args.data, f'[engine]\nurl = "{url}"\n'))
        started = time.monotonic()
        loaded = load_postgres(pg_project, url, Settings())
        load_s = time.monotonic() - started
        pg_building = open_engine(pg_project, Settings(), use_store=False)
        started = time.monotonic()
        pg_report = build_store(pg_building, CuboidStore(pg_project.store_dir))
        pg_build = time.monotonic() - started
        patient = Settings(query_timeout_ms=600_000)  # a grain read from a million facts takes a while
        engines: dict[str, CubeEngine] = {
            "duckdb store": open_engine(duck_project, patient),
            "duckdb facts": open_engine(duck_project, patient, use_store=False),
            "postgresql store": open_engine(pg_project, patient),
            "postgresql facts": open_engine(pg_project, patient, use_store=False),
        }
        if args.no_facts:
            engines = {name: engine for name, engine in engines.items() if name.endswith("store")}
        facts = loaded["charges"]
        print(f"\n## {facts:,} facts\n")
        print("| engine | load | build (declared cuboids) |")
        print("|---|---|---|")
        print(f"| DuckDB (Parquet files) | none (reads the files) | {duck_build:.1f} s |")
        print(f"| PostgreSQL 15 (fsync off) | {load_s:.1f} s (`load-postgres`) | {pg_build:.1f} s |")
        print("\n| cuboid | rows | " + " | ".join(f"{name} ms" for name in engines) + " |")
        print("|---|---|" + "---|" * len(engines))
        by_name = {cuboid.name: cuboid for cuboid in pg_report.manifest.cuboids}
        for cuboid in sorted(duck_report.manifest.cuboids, key=lambda c: c.rows):
            query = grain_query(cuboid)
            latencies = []
            for name, engine in engines.items():
                answer = engine.aggregate(query)  # warm: the first run also reads the cuboid's files or pages
                if name.endswith("store"):
                    assert answer.meta.source == f"cuboid:{cuboid.name}", (name, answer.meta.source)
                latencies.append(timed(lambda engine=engine, query=query: engine.aggregate(query), args.repeat))
            assert by_name[cuboid.name].rows == cuboid.rows
            print(f"| {cuboid.name} | {cuboid.rows:,} | " + " | ".join(f"{ms:.1f}" for ms in latencies) + " |")
        for engine in engines.values():
            engine.backend.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
