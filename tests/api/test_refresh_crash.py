"""``cube-server refresh`` (append and replace) killed with SIGKILL at random and at chosen points, under a server.

A module fixture generates 150,000 telecom rows into a project with its store beside them and builds it; a
real ``cube-server serve`` process answers throughout. Each refresh is the real command in a child process,
killed after a seeded random delay, or exactly at a step of its commit (the test's own wrapper, injected
into that child only, sends SIGKILL to it there). After every kill the server answers from one whole state:
the previous version with exactly the answers it gave before the kill, or (when the kill came after the
refresh's commit point, its journal) the new version with the answers of the new facts; never a version
that was half written, and never the new facts under the old version. Then a complete refresh runs, and
the answers equal the oracle: DuckDB on the raw Parquet files, never through the server.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import duckdb
import httpx
import pytest
from conftest import CUBE, ROOT, write_project
from server_process import running_server

from aggregates.store import CuboidStore
from cube_server.build import build_store
from cube_server.fact_files import JOURNAL, finish_interrupted_switch
from cube_server.project import Project, load_project, open_engine
from cube_server.settings import Settings
from cube_server.telecom import generate_telecom

pytestmark = pytest.mark.e2e

ROWS = 150_000
SEED = 20251124
RANDOM_KILLS = 3  # per mode
CHECKS = {  # name: (parameters, the key of each cell)
    "years": ({"drilldown": "time:year", "measures": "revenue,record_count"}, "time.year"),
    "segments": (
        {"cut": "time:2025", "drilldown": "customer:segment", "measures": "revenue,record_count"},
        "customer.segment",
    ),
    "days": ({"cut": "time:2025,1,3", "drilldown": "time:day", "measures": "revenue,record_count"}, "time.day"),
}
# Stops the refresh child with SIGKILL inside a step of its commit (an injected wrapper, like a debugger's
# breakpoint): "publish" is after the journal is on disk and the facts are renamed, before the version switch;
# "removals" after the switch, before the replaced fact files are removed.
KILL_AT = r"""
import os, signal, sys
import aggregates.store as store
from pathlib import Path
point = os.environ["KILL_AT"]
if point == "publish":
    store.CuboidStore.publish_prepared = lambda self, version: os.kill(os.getpid(), signal.SIGKILL)
elif point == "removals":
    original = store.CuboidStore.publish_prepared
    def publish_then_die(self, version):
        original(self, version)
        Path.unlink = lambda self, missing_ok=False: os.kill(os.getpid(), signal.SIGKILL)
    store.CuboidStore.publish_prepared = publish_then_die
from api.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    base = tmp_path_factory.mktemp("refresh-crash")
    generate_telecom(base / "data", ROWS, 11, chunk_rows=50_000)
    generate_telecom(base / "pool", 40_000, 9, chunk_rows=40_000)
    directory = write_project(base / "project", base / "data")
    config = directory / "cube-server.toml"
    config.write_text(config.read_text(encoding="utf-8") + f'\n[store]\ndirectory = "{base / "store"}"\n')
    project = load_project(directory)
    build_store(open_engine(project, Settings(), use_store=False), CuboidStore(project.store_dir))
    return project


def oracle(project: Project) -> dict[str, list[list[str]]]:
    """The check queries' cells from the Parquet files (a charge with an unknown customer: segment unknown)."""
    facts = f"read_parquet('{project.data_root}/facts/*.parquet')"
    customers = f"read_parquet('{project.data_root}/customer.parquet')"
    db = duckdb.connect()
    sums = "sum(f.revenue), count(*)"
    queries = {
        "years": f"SELECT year(charged_at), {sums} FROM {facts} f GROUP BY 1",
        "segments": f"SELECT CASE WHEN c.customer_code IS NULL THEN 'unknown' ELSE c.segment END, {sums} "
        f"FROM {facts} f LEFT JOIN {customers} c USING (customer_code) WHERE year(charged_at) = 2025 GROUP BY 1",
        "days": f"SELECT day(charged_at), {sums} FROM {facts} f "
        "WHERE year(charged_at) = 2025 AND month(charged_at) = 3 GROUP BY 1",
    }
    return {name: sorted([str(v) for v in row] for row in db.execute(sql).fetchall()) for name, sql in queries.items()}


def ask(base: str) -> tuple[str, dict[str, list[list[str]]]]:
    """The version the server answers from, and its cells for the check queries (all of one version)."""
    answers, versions = {}, set()
    with httpx.Client(base_url=base, timeout=60) as http:
        for name, (params, key) in CHECKS.items():
            response = http.get(f"/v1/cubes/{CUBE}/aggregate", params=params)
            assert response.status_code == 200, response.text
            body = json.loads(response.text, parse_float=Decimal)
            versions.add(body["meta"]["version"])
            cells = body["cells"]
            answers[name] = sorted([str(c[key]), str(c["revenue"]), str(c["record_count"])] for c in cells)
    assert len(versions) == 1, versions
    return versions.pop(), answers


def refresh_command(project: Project, mode: list[str]) -> list[str]:
    return [sys.executable, "-m", "api.cli", "refresh", str(project.root), *mode]


def input_file(project: Project, mode: str, step: int) -> list[str]:
    """A refresh's arguments: a day of new charges (fresh keys) to append, or a day's charges changed."""
    day = f"2025-03-{step % 28 + 1:02d}"
    path = project.root.parent / f"{mode}-{step}.parquet"
    in_day = f"charged_at >= TIMESTAMP '{day}' AND charged_at < TIMESTAMP '{day}' + INTERVAL 1 DAY"
    if mode == "append":
        source = f"read_parquet('{project.root.parent}/pool/facts/*.parquet')"
        select = f"SELECT * REPLACE (charge_id + {(step + 1) * 10**8} AS charge_id) FROM {source} WHERE {in_day}"
        arguments = ["--append", str(path)]
    else:
        source = f"read_parquet('{project.data_root}/facts/*.parquet')"
        select = f"SELECT * REPLACE (revenue * 2 AS revenue) FROM {source} WHERE {in_day} AND charge_id % 3 <> 0"
        arguments = ["--replace", day, day, str(path)]
    duckdb.connect().execute(f"COPY ({select}) TO '{path}' (FORMAT parquet)")
    return arguments


def leftovers(project: Project) -> list[str]:
    facts = project.data_root / "facts"
    staged = [p.name for p in facts.iterdir() if p.name.endswith(".tmp") or p.name == JOURNAL]
    versions = CuboidStore(project.store_dir).root / "versions"
    return staged + [p.name for p in versions.iterdir() if p.name.startswith(".staging-")]


def complete_refresh(project: Project, mode: str, step: int) -> None:
    done = subprocess.run(
        refresh_command(project, input_file(project, mode, step)), cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("mode", ["append", "replace"])
def test_kill_9_of_a_refresh_leaves_one_whole_version_serving(project: Project, mode: str, tmp_path: Path) -> None:
    rng = random.Random(f"{SEED}-{mode}")
    store = CuboidStore(project.store_dir)
    with running_server(project.root, tmp_path / "server.log", version_grace_s="0") as base:
        # One complete refresh first: how long it takes, from process start.
        started = time.monotonic()
        complete_refresh(project, mode, 0)
        seconds = time.monotonic() - started
        points: list[str | float] = [rng.uniform(0.2, 1.0) * seconds for _ in range(RANDOM_KILLS)]
        points += ["publish"] + (["removals"] if mode == "replace" else [])
        committed_kills = 0
        for step, point in enumerate(points, start=1):
            version, answers = ask(base)
            assert (version, answers) == (store.current_version(), oracle(project))
            arguments = refresh_command(project, input_file(project, mode, step))
            env = dict(os.environ)
            if isinstance(point, str):
                arguments[1:4] = ["-c", KILL_AT, "refresh"]
                env["KILL_AT"] = point
            process = subprocess.Popen(arguments, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            if isinstance(point, float):
                try:
                    process.wait(timeout=point)
                except subprocess.TimeoutExpired:
                    os.kill(process.pid, signal.SIGKILL)
            _, err = process.communicate(timeout=300)
            context = f"{mode} kill {step} at {point!r} (seed {SEED}), rc {process.returncode}: {err[-800:]!r}"
            assert process.returncode in (0, -signal.SIGKILL), context
            committed = (project.data_root / "facts" / JOURNAL).exists() or store.current_version() != version
            committed_kills += committed and process.returncode != 0
            # The running server answers from one whole state: before the kill, or after the commit.
            after_version, after = ask(base)
            if after_version == version:
                assert after == answers, context
            else:
                assert committed and after_version == store.current_version(), context
                assert after == oracle(project), context
            # Whoever comes next finishes a committed switch (here the command line's recovery, or the
            # server's own when it noticed the renamed facts first); an uncommitted refresh leaves nothing.
            finish_interrupted_switch(project)
            final_version, final = ask(base)
            assert final == oracle(project), context
            assert (final_version != version) == bool(committed), context
            # A fresh engine (a restarted server) serves that same version from its cuboids.
            snapshot = open_engine(load_project(project.root), Settings()).snapshot()
            assert snapshot.status == "serving" and snapshot.manifest is not None, context
            assert snapshot.manifest.version == final_version, context
        assert committed_kills >= 1, "no kill landed after a commit point"
        # The next refresh completes, cleans up, and answers equal the oracle.
        complete_refresh(project, mode, len(points) + 1)
        assert leftovers(project) == []
        version, answers = ask(base)
        assert version == store.current_version() and answers == oracle(project)
