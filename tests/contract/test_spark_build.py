"""Spark builds the telecom store from 1,000,000 generated charges exactly as DuckDB builds it.

A module fixture generates the demo's data (1M charges, seed 42), plans the store once (declared cuboids and
those the planner selects) and builds that plan twice from the same Parquet files: with DuckDB, and with Spark
on the session's local cluster (``spark`` fixture). Then

- both manifests list the same cuboids, with the same rows, partitions and levels;
- every cuboid's files hold the same rows with the same column names and Parquet types (decimals exact,
  distinct counts equal), in the same directory layout;
- the HTTP API answers every cuboid's grain and a mix of cut and rolled-up questions identically over the two
  stores, from cuboids;
- ``cube-server build --engine spark`` builds a serving store through the command line;
- an append and a replacement refreshed by Spark leave the store DuckDB's refreshes leave.

Under CI (``CI=true``) Spark must start: the tests fail rather than skip (tests/contract/conftest.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import CUBE, store_project
from fastapi.testclient import TestClient
from spark_cluster import MASTER

from aggregates.store import CuboidStore, Manifest
from api.app import create_app
from api.cli import main
from cube_server.build import build_store
from cube_server.errors import SparkBuildError
from cube_server.planning import plan_store
from cube_server.project import Project, load_project, open_engine
from cube_server.query_log import NAME as QUERY_LOG
from cube_server.refresh import append_facts, replace_facts
from cube_server.settings import Settings
from cube_server.spark_build.build import build_store_with_spark
from cube_server.spark_build.refresh import SparkCuboidRefresh
from cube_server.telecom import generate_telecom

ROWS = 1_000_000
BASE = f"/v1/cubes/{CUBE}"
QUESTIONS = [
    {"drilldown": "customer:segment", "measures": "revenue,subscribers,arpu"},
    {"cut": "time:2025", "drilldown": "geography:province", "measures": "revenue,call_minutes"},
    {"cut": "time:2025,1", "drilldown": "time:month|channel", "measures": "revenue,record_count"},
    {"cut": "time:2024", "drilldown": "customer:segment|organisation:province_branch", "measures": "subscribers"},
    {"drilldown": "time@weekly:isoweek", "cut": "time@weekly:2025", "measures": "call_minutes"},
    {"drilldown": "product:line|time:quarter", "measures": "revenue,record_count"},
    {"measures": "revenue,call_minutes,record_count,subscribers"},
]


@pytest.fixture(scope="module")
def stores(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Project, Manifest]]:
    data = tmp_path_factory.mktemp("spark-1m") / "data"
    generate_telecom(data, ROWS, 42)
    built = {}
    plan = None
    for name in ("duckdb", "spark"):
        project = store_project(tmp_path_factory.mktemp(f"store-{name}"), data)
        engine = open_engine(project, Settings(), use_store=False)
        plan = plan or plan_store(engine, project.plan_options, project.store_dir / QUERY_LOG).specs_by_cube()
        store = CuboidStore(project.store_dir)
        started = time.monotonic()
        if name == "duckdb":
            manifest = build_store(engine, store, specs=plan).manifest
        else:
            manifest = build_store_with_spark(engine, project, store, spark, specs=plan).manifest
        print(f"{name} built {len(manifest.cuboids)} cuboids from {ROWS:,} facts in {time.monotonic() - started:.1f} s")
        built[name] = (project, manifest)
    return built


def cuboid_files(project: Project, manifest: Manifest, name: str) -> tuple[Path, str]:
    cuboid = next(c for c in manifest.cuboids if c.name == name)
    directory = CuboidStore(project.store_dir).version_dir(manifest.version) / cuboid.path
    return directory, f"read_parquet('{directory}/**/*.parquet', hive_partitioning = false)"


def test_the_manifests_list_the_same_cuboids(stores: dict[str, tuple[Project, Manifest]]) -> None:
    (_, duck), (_, spark) = stores["duckdb"], stores["spark"]

    def listed(manifest: Manifest) -> dict[str, Any]:
        return {
            c.name: (c.grain, c.levels, c.measures, c.rows, c.partition_level, c.partitions, c.path)
            for c in manifest.cuboids
        }

    assert listed(spark) == listed(duck)
    assert len(duck.cuboids) > 9  # the declared nine and selected ones
    assert (spark.model_hash, spark.facts_version) == (duck.model_hash, duck.facts_version)
    rolled_up = {c.name: c.built_from for c in duck.cuboids if c.built_from not in ("facts", "facts (shared scan)")}
    assert rolled_up and {c.name: c.built_from for c in spark.cuboids if c.name in rolled_up} == rolled_up


def test_every_cuboid_holds_the_same_rows_and_types(stores: dict[str, tuple[Project, Manifest]]) -> None:
    connection = duckdb.connect()
    for cuboid in stores["duckdb"][1].cuboids:
        duck_dir, duck = cuboid_files(*stores["duckdb"], cuboid.name)
        spark_dir, spark = cuboid_files(*stores["spark"], cuboid.name)
        columns = connection.execute(f"DESCRIBE SELECT * FROM {duck}").fetchall()
        assert connection.execute(f"DESCRIBE SELECT * FROM {spark}").fetchall() == columns, cuboid.name
        different = connection.execute(
            f"SELECT count(*) FROM ((SELECT * FROM {duck} EXCEPT ALL SELECT * FROM {spark}) "
            f"UNION ALL (SELECT * FROM {spark} EXCEPT ALL SELECT * FROM {duck}))"
        ).fetchall()
        assert different == [(0,)], cuboid.name
        layout = {path.parent.relative_to(duck_dir) for path in duck_dir.rglob("*.parquet")}
        assert {path.parent.relative_to(spark_dir) for path in spark_dir.rglob("*.parquet")} == layout, cuboid.name
        assert not [path for path in spark_dir.rglob("*") if path.is_file() and path.suffix != ".parquet"]


def answer(response: Any) -> tuple[str, dict[str, Any]]:
    assert response.status_code == 200, response.text
    parsed = json.loads(response.text, parse_float=Decimal)
    return parsed.pop("meta")["source"], parsed


def test_the_api_answers_alike_from_both_stores(stores: dict[str, tuple[Project, Manifest]]) -> None:
    duck, spark = (TestClient(create_app(open_engine(stores[name][0], Settings()))) for name in ("duckdb", "spark"))
    questions = list(QUESTIONS)
    for cuboid in stores["spark"][1].cuboids:
        drilldown = "|".join(f"{d}{'' if h == 'default' else '@' + h}:{level}" for d, h, level in cuboid.grain)
        questions.append({"drilldown": drilldown, "measures": ",".join(cuboid.measures), "limit": "500"})
    for params in questions:
        source, expected = answer(duck.get(f"{BASE}/aggregate", params=params))
        assert source.startswith("cuboid:"), params
        assert answer(spark.get(f"{BASE}/aggregate", params=params)) == (source, expected), params


def test_the_command_line_builds_with_spark(spark: Any, telecom_data: Path, tmp_path: Path) -> None:
    """``cube-server build --engine spark`` (the session's cluster: a command reuses a running session)."""
    project = store_project(tmp_path / "project", telecom_data)
    assert main(["build", str(project.root), "--engine", "spark", "--spark-master", MASTER, "--budget", "0"]) == 0
    engine = open_engine(project, Settings())
    assert engine.snapshot().status == "serving"
    assert {c.name for c in engine.snapshot().manifest.cuboids} == {  # type: ignore[union-attr]
        "month_city_product",
        "day_line",
        "hour_line",
        "isoweek_day_line",
        "month_segment_branch",
        "month_segment_channel",
        "segment_branch",
        "year_segment_branch",
        "line_segment",
    }
    assert not spark.sparkContext._jsc.sc().isStopped()  # the command did not stop a session it did not start


def test_serving_never_imports_pyspark() -> None:
    code = (
        "import sys, api.app, api.cli, cube_server.spark_build.build, cube_server.spark_build.session; "
        "assert 'pyspark' not in sys.modules, sorted(m for m in sys.modules if m.startswith('pyspark'))"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])


def store_rows(project: Project, manifest: Manifest) -> dict[str, tuple[Any, ...]]:
    """Every cuboid's column types and sorted rows, and its manifest entry's rows and partitions."""
    connection = duckdb.connect()
    held = {}
    for cuboid in manifest.cuboids:
        _, files = cuboid_files(project, manifest, cuboid.name)
        columns = connection.execute(f"DESCRIBE SELECT * FROM {files}").fetchall()
        rows = connection.execute(f"SELECT * FROM {files} ORDER BY ALL").fetchall()
        held[cuboid.name] = (cuboid.rows, cuboid.partitions, columns, rows)
    return held


def test_refreshes_with_spark_equal_duckdbs(spark: Any, telecom_data: Path, tmp_path: Path) -> None:
    """An append then a day's replacement, refreshed by Spark in one copy of a project and by DuckDB in another.

    The store holds the declared cuboids (distinct counts: touched cells recomputed) and two selected ones
    (their measures merge: the new facts' partials merged in); after each refresh both stores hold the same
    rows, and each cuboid was refreshed the same way (the same number of touched cells recomputed).
    """
    projects = {}
    for name in ("duckdb", "spark"):
        shutil.copytree(telecom_data, tmp_path / name / "data")
        project = store_project(tmp_path / name / "project", tmp_path / name / "data")
        engine = open_engine(project, Settings(), use_store=False)
        options = replace(project.plan_options, budget=2.0, max_cuboids=2)  # two selected: they merge
        build_store(engine, CuboidStore(project.store_dir), specs=plan_store(engine, options).specs_by_cube())
        projects[name] = project
    facts = sorted((telecom_data / "facts").glob("*.parquet"))[0]
    appended, replacement = tmp_path / "appended.parquet", tmp_path / "replacement.parquet"
    duckdb.sql(
        f"COPY (SELECT * REPLACE (charge_id + 10000000 AS charge_id) FROM read_parquet('{facts}') LIMIT 400) "
        f"TO '{appended}' (FORMAT parquet)"
    )
    duckdb.sql(
        f"COPY (SELECT * REPLACE (revenue * 2 AS revenue) FROM read_parquet('{facts}') "
        f"WHERE charged_at >= TIMESTAMP '2025-03-14' AND charged_at < TIMESTAMP '2025-03-15' LIMIT 30) "
        f"TO '{replacement}' (FORMAT parquet)"
    )

    def refresh(name: str, step: Any) -> tuple[dict[str, str], dict[str, tuple[Any, ...]]]:
        project = projects[name]
        engine = open_engine(project, Settings(), use_store=False)
        cuboids = SparkCuboidRefresh(spark, project) if name == "spark" else None
        report = step(engine, project, CuboidStore(project.store_dir), cuboids)
        return report.cuboids, store_rows(project, report.manifest)

    steps = {
        "append": lambda engine, project, store, cuboids: append_facts(engine, project, store, appended, cuboids),
        "replace": lambda engine, project, store, cuboids: replace_facts(
            engine, project, store, "2025-03-14", "2025-03-14", replacement, cuboids
        ),
    }
    for mode, step in steps.items():
        duck_done, duck_rows = refresh("duckdb", step)
        spark_done, spark_rows = refresh("spark", step)
        assert spark_done == duck_done, mode
        ways = {what.split(" ", 1)[0] for what in duck_done.values()}
        assert ways == ({"merged", "recomputed"} if mode == "append" else {"recomputed"}), duck_done
        assert spark_rows == duck_rows, mode


def test_a_csv_table_is_refused_with_a_clear_error(spark: Any, tmp_path: Path) -> None:
    """The Cubes tutorial's project reads a CSV file with a synthetic key: Spark reads Parquet tables as they are."""
    example = Path(__file__).resolve().parents[2] / "examples" / "hello_world"
    text = (example / "cube-server.toml").read_text(encoding="utf-8")
    text = text.replace('model = "model.json"', f'model = "{example / "model.json"}"')
    text = text.replace('root = "../../../shared', f'root = "{(example / "../../../shared").resolve()}')
    (tmp_path / "cube-server.toml").write_text(text + f'\n[store]\ndirectory = "{tmp_path / "store"}"\n')
    project = load_project(tmp_path)
    with pytest.raises(SparkBuildError, match="'irbd_balance' is a CSV file"):
        build_store_with_spark(
            open_engine(project, Settings(), use_store=False), project, CuboidStore(project.store_dir), spark
        )
    assert CuboidStore(project.store_dir).current() is None
