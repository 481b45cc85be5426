"""Spark Connect builds and refreshes the store through the command line, as DuckDB builds and refreshes it.

A Spark Connect server runs on 127.0.0.1 for the session (``spark_connect``: pyspark's own server class,
``local[2]`` behind it); ``cube-server build``/``refresh --engine spark --spark-master sc://127.0.0.1:PORT`` talk
to it from processes of their own, as they are run. (In this process a Connect session would switch pyspark
into Connect mode for good, and the contract suite's local cluster could not start after it.) From the
session's 60,000 charges:

- the build publishes the store DuckDB builds: the same declared cuboids, rows, levels, measures and
  partitions in the manifest, and files holding the same rows with the same Parquet types;
- every cuboid answers its grain's question from itself exactly as DuckDB's store answers it, and as the facts do;
- an appended file refreshed over Connect (partials merged, distinct counts recomputed) leaves a store that
  answers as the grown facts do.

Under CI (``CI=true``) the server must start: the tests fail rather than skip (tests/contract/conftest.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest
from conftest import CUBE, ROOT, store_project

from aggregates.lattice import declared_cuboids
from aggregates.store import CuboidStore
from contract.test_spark_build import store_rows
from contract.test_store_build import (
    Built,
    answer,
    assert_every_cuboid_answers_alike,
    build_with_duckdb,
    grain_query,
    served,
)
from cube_server.build import build_store
from cube_server.planning import plan_store
from cube_server.project import open_engine
from cube_server.query import Query
from cube_server.settings import Settings

# declared cuboids a refresh recomputes (few: every one is several Spark jobs), the first partitioned by year
REFRESHED_DECLARED = ("month_city_product", "segment_branch")
COMMAND_S = 600  # one command's limit: a hung Connect client fails the test instead of the whole run


def cube_server(*args: str) -> str:
    """Run ``cube-server ARGS`` as its own process, as an operator does; its standard output."""
    environment = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1"}
    command = [sys.executable, "-m", "api.cli", *args]
    done = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=COMMAND_S)
    assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{done.stderr}"
    assert f"starting Spark on {args[args.index('--spark-master') + 1]}" in done.stderr
    return done.stdout


def closed(built: Built) -> None:
    for engine in (built.routed, built.facts):
        engine.backend.close()


@pytest.fixture(scope="module")
def duckdb_store(telecom_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    built = build_with_duckdb(tmp_path_factory.mktemp("duckdb"), telecom_data, tmp_path_factory.mktemp("work"))
    yield built
    closed(built)


@pytest.fixture(scope="module")
def connect_store(spark_connect: str, telecom_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Built]:
    """The declared cuboids (``--budget 0``: the DuckDB reference's) built over Spark Connect by the command line."""
    project = store_project(tmp_path_factory.mktemp("connect"), telecom_data)
    cube_server("build", str(project.root), "--engine", "spark", "--spark-master", spark_connect, "--budget", "0")
    manifest = CuboidStore(project.store_dir).current()
    assert manifest is not None
    built = served("spark-connect", project, manifest)
    yield built
    closed(built)


def test_the_connect_build_publishes_duckdbs_store(connect_store: Built, duckdb_store: Built) -> None:
    def listed(built: Built) -> dict[str, tuple[object, ...]]:
        return {
            c.name: (c.rows, c.levels, c.measures, c.grain, c.partition_level, c.partitions, c.path)
            for c in built.manifest.cuboids
        }

    assert listed(connect_store) == listed(duckdb_store)
    assert len(connect_store.manifest.cuboids) == 9  # the telecom model's declared cuboids
    connect, duck = connect_store.manifest, duckdb_store.manifest
    assert (connect.model_hash, connect.facts_version) == (duck.model_hash, duck.facts_version)
    assert connect_store.routed.snapshot().status == "serving"
    assert store_rows(connect_store.project, connect_store.manifest) == store_rows(
        duckdb_store.project, duckdb_store.manifest
    )


def test_every_cuboid_answers_as_duckdbs_store(connect_store: Built, duckdb_store: Built) -> None:
    assert_every_cuboid_answers_alike(connect_store, duckdb_store.routed, connect_store.facts)


def test_an_append_refreshed_over_connect_answers_as_the_facts(
    spark_connect: str, telecom_data: Path, tmp_path: Path
) -> None:
    """DuckDB builds a private copy's store, whose cuboids ``cube-server refresh --append --engine spark`` over
    Connect then refreshes: two selected ones (their measures merge) and two declared ones holding the exact
    distinct count of subscribers (their touched cells recomputed), one partitioned by time and one not."""
    shutil.copytree(telecom_data, tmp_path / "data")
    project = store_project(tmp_path / "project", tmp_path / "data")
    building = open_engine(project, Settings(), use_store=False)
    planned = plan_store(building, replace(project.plan_options, budget=2.0, max_cuboids=2)).specs_by_cube()[CUBE]
    declared = {spec.name for spec in declared_cuboids(building.catalog.cube(CUBE))}
    specs = [spec for spec in planned if spec.name in REFRESHED_DECLARED or spec.name not in declared]
    assert len(specs) == 4, [spec.name for spec in planned]
    build_store(building, CuboidStore(project.store_dir), specs={CUBE: specs})
    building.backend.close()
    before = CuboidStore(project.store_dir).current()
    assert before is not None
    partitioned = {c.name: c.partition_level for c in before.cuboids}
    assert partitioned["month_city_product"] and not partitioned["segment_branch"], partitioned
    appended = tmp_path / "appended.parquet"
    facts = sorted((project.data_root / "facts").glob("*.parquet"))[0]
    duckdb.sql(
        f"COPY (SELECT * REPLACE (charge_id + 10000000 AS charge_id) FROM read_parquet('{facts}') LIMIT 500) "
        f"TO '{appended}' (FORMAT parquet)"
    )

    printed = cube_server(
        "refresh", str(project.root), "--append", str(appended), "--engine", "spark", "--spark-master", spark_connect
    )

    assert "merged the new facts' partials" in printed and "recomputed" in printed, printed
    after = CuboidStore(project.store_dir).current()
    assert after is not None and after.version != before.version
    assert [c.name for c in after.cuboids] == [c.name for c in before.cuboids]
    refreshed = served("spark-connect", project, after)
    try:
        for cuboid in after.cuboids:
            query = grain_query(refreshed, cuboid)
            from_store = refreshed.routed.aggregate(query)
            assert from_store.meta.source == f"cuboid:{cuboid.name}", cuboid.name
            assert answer(from_store) == answer(refreshed.facts.aggregate(query)), cuboid.name
        total = refreshed.routed.aggregate(Query(CUBE, measures=("record_count",)))
        assert total.summary["record_count"] == 60_500
    finally:
        closed(refreshed)
