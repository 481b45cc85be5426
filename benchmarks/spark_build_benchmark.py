"""Benchmark: the telecom store built from the same facts by DuckDB and by Spark, timed, and compared.

    python benchmarks/spark_build_benchmark.py --data DIR [--master 'local-cluster[1,2,2048]'] [--budget R]
                                              [--conf KEY=VALUE ...] [--work DIR]

``--data`` is a generated telecom dataset (``cube-server generate --rows 1000000 --out DIR``). Two projects
over it (stores under ``--work``, a temporary directory by default) get the same plan (``cube-server plan``:
declared and selected cuboids, ``--budget`` as on the command line), built once by DuckDB in this process and
once by Spark on ``--master``. Prints one line per engine (cuboids, rows, seconds; Spark's session start
apart) and checks that both stores hold the same rows per cuboid. Set ``SPARK_LOCAL_IP=127.0.0.1`` to keep a
local cluster on the loopback address.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import duckdb

from aggregates.store import CuboidStore, Manifest
from cube_server.build import build_store
from cube_server.planning import plan_store
from cube_server.project import Project, load_project, open_engine
from cube_server.settings import Settings
from cube_server.spark_build.build import build_store_with_spark
from cube_server.spark_build.session import open_session, parse_conf

ROOT = Path(__file__).resolve().parent.parent
TELECOM = ROOT / "examples" / "telecom"


def project_over(directory: Path, data: Path) -> Project:
    directory.mkdir(parents=True, exist_ok=True)
    text = (TELECOM / "cube-server.toml").read_text(encoding="utf-8")
    text = text.replace('model = "model.json"', f'model = "{TELECOM / "model.json"}"')
    text = text.replace('root = "data"', f'root = "{data.resolve()}"')
    (directory / "cube-server.toml").write_text(text + f'\n[store]\ndirectory = "{directory / "store"}"\n')
    return load_project(directory)


def rows_of(project: Project, manifest: Manifest) -> dict[str, int]:
    version_dir = CuboidStore(project.store_dir).version_dir(manifest.version)
    connection = duckdb.connect()
    counted = {}
    for cuboid in manifest.cuboids:
        files = f"read_parquet('{version_dir / cuboid.path}/**/*.parquet', hive_partitioning = false)"
        counted[cuboid.name] = connection.execute(f"SELECT count(*) FROM {files}").fetchall()[0][0]
    return counted


class CuboidTimer:
    """A build's progress callback printing how long each cuboid took (the time until the next one starts)."""

    def __init__(self) -> None:
        self.current: str | None = None
        self.started = time.monotonic()

    def __call__(self, index: int, total: int, name: str) -> None:
        self.finish()
        self.current, self.started = f"{index}/{total} {name}", time.monotonic()

    def finish(self) -> None:
        if self.current is not None:
            print(f"  {self.current}: {time.monotonic() - self.started:.1f} s", flush=True)
        self.current = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--master", default="local-cluster[1,2,2048]")
    parser.add_argument("--budget", type=float, default=None)
    parser.add_argument("--conf", action="append", default=[])
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--per-cuboid", action="store_true", help="print each cuboid's Spark build time")
    args = parser.parse_args()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    work = args.work or Path(tempfile.mkdtemp(prefix="spark-build-benchmark-"))
    duck_project, spark_project = project_over(work / "duckdb", args.data), project_over(work / "spark", args.data)
    engine = open_engine(duck_project, Settings(), use_store=False)
    options = (
        duck_project.plan_options if args.budget is None else replace(duck_project.plan_options, budget=args.budget)
    )
    started = time.monotonic()
    plan = plan_store(engine, options)
    planned = sum(len(specs) for specs in plan.specs_by_cube().values())
    print(f"plan: {planned} cuboids in {time.monotonic() - started:.1f} s")
    report = build_store(engine, CuboidStore(duck_project.store_dir), specs=plan.specs_by_cube())
    facts = engine.backend.run_statement("SELECT count(*) FROM charges")[0][0]
    print(f"duckdb: {facts:,} facts, {len(report.manifest.cuboids)} cuboids, build {report.elapsed_s:.1f} s")
    conf = {"spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false", **parse_conf(args.conf)}
    started = time.monotonic()
    spark = open_session(args.master, conf, app_name="cube-server benchmark")
    session_s = time.monotonic() - started
    spark_engine = open_engine(spark_project, Settings(), use_store=False)
    timer = CuboidTimer() if args.per_cuboid else None
    spark_report = build_store_with_spark(
        spark_engine,
        spark_project,
        CuboidStore(spark_project.store_dir),
        spark,
        specs=plan.specs_by_cube(),
        progress=timer,
    )
    if timer is not None:
        timer.finish()  # the last cuboid's time includes publishing the version
    spark.stop()
    print(
        f"spark {args.master}: {len(spark_report.manifest.cuboids)} cuboids, build {spark_report.elapsed_s:.1f} s "
        f"(session start {session_s:.1f} s)"
    )
    same = rows_of(duck_project, report.manifest) == rows_of(spark_project, spark_report.manifest)
    print(f"rows per cuboid {'equal' if same else 'DIFFERENT'}; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
