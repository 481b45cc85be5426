"""``cube-server build`` as a real process, killed with SIGKILL at random points: the previous version keeps serving.

A module fixture generates 150,000 telecom rows (a build then takes a couple of seconds, long enough to be
interrupted in the middle) into a temporary project whose store is in the same temporary directory. After
every kill a fresh engine over the project must serve a whole version (the previous one, unless the killed
build had already switched) with answers equal to the facts; the next complete build switches the version
and leaves no staging directory behind. A build started while another holds the store's lock exits non-zero
with a one-line message, not a traceback.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest
from conftest import CUBE, ROOT, write_project

from aggregates.store import CuboidStore
from cube_server.cut_syntax import parse_cuts, parse_drilldown
from cube_server.project import Project, load_project, open_engine
from cube_server.query import Query
from cube_server.settings import Settings
from cube_server.telecom import generate_telecom

pytestmark = pytest.mark.e2e

ROWS = 150_000
SEED = 20251123
KILLS = 4
EARLY_KILLS = 1  # the first ones at a random time from process start; the others while cuboids are written
QUERIES = [
    # (cut, drilldown, measures): each answered from a cuboid when a version is serving
    ("time:2025", "geography:province", ("revenue", "record_count")),
    ("", "customer:segment", ("revenue", "subscribers", "arpu")),
    ("time:2024", "customer:segment|organisation:province_branch", ("subscribers",)),
    ("", "product:line|time:month", ("revenue", "call_minutes")),
]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    base = tmp_path_factory.mktemp("build-crash")
    generate_telecom(base / "data", ROWS, 11, chunk_rows=100_000)
    directory = write_project(base / "project", base / "data")
    config = directory / "cube-server.toml"
    config.write_text(config.read_text(encoding="utf-8") + f'\n[store]\ndirectory = "{base / "store"}"\n')
    return load_project(directory)


@pytest.fixture(scope="module")
def facts(project: Project) -> list[tuple[Query, tuple[object, ...]]]:
    """The queries and their answers from the facts (the data never changes here)."""
    engine = open_engine(project, Settings(), use_store=False)
    answers = []
    for cut, drilldown, measures in QUERIES:
        query = Query(CUBE, parse_cuts(cut), parse_drilldown(drilldown), measures)
        expected = engine.aggregate(query)
        answers.append((query, (expected.cells, expected.summary, expected.total_cell_count)))
    return answers


def start_build(project: Project) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "api.cli", "build", str(project.root)],
        cwd=ROOT,
        # No grace period: versions switched away from go at the next build, as the checks below expect.
        env={**os.environ, "CUBE_VERSION_GRACE_S": "0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def staging_dirs(store: CuboidStore) -> list[str]:
    versions = store.root / "versions"
    return sorted(p.name for p in versions.iterdir() if p.name.startswith(".staging-")) if versions.is_dir() else []


def finished_versions(store: CuboidStore) -> list[str]:
    versions = store.root / "versions"
    return sorted(p.name for p in versions.iterdir() if not p.name.startswith(".")) if versions.is_dir() else []


def wait_for_staging(store: CuboidStore, process: subprocess.Popen[str], before: list[str]) -> bool:
    """Wait until the build has taken the lock and started writing (a new staging directory); False if it ended."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if set(staging_dirs(store)) - set(before):
            return True
        if process.poll() is not None:
            return False
        time.sleep(0.005)
    raise AssertionError("the build never started writing")


Answers = list[tuple[Query, tuple[object, ...]]]


def assert_serves_whole_version(project: Project, facts: Answers, version: str) -> None:
    """A fresh engine over the project serves ``version`` from its cuboids, with the facts' answers."""
    engine = open_engine(project, Settings())
    snapshot = engine.snapshot()
    assert snapshot.status == "serving", snapshot.status
    assert snapshot.manifest is not None and snapshot.manifest.version == version
    for query, expected in facts:
        routed = engine.aggregate(query)
        assert routed.meta.source.startswith("cuboid:"), (query, routed.meta)
        assert routed.meta.version == version
        assert (routed.cells, routed.summary, routed.total_cell_count) == expected, query


def test_kill_9_at_random_points_leaves_the_previous_version_serving(project: Project, facts: Answers) -> None:
    store = CuboidStore(project.store_dir)
    started = time.monotonic()
    first = start_build(project)
    assert wait_for_staging(store, first, [])
    writing = time.monotonic()
    out, err = first.communicate(timeout=300)
    build_seconds = time.monotonic() - writing
    assert first.returncode == 0, err
    serving = store.current_version()
    assert serving is not None and f"version {serving}: 9 cuboid(s)" in out
    assert_serves_whole_version(project, facts, serving)
    startup_seconds = writing - started

    rng = random.Random(SEED)
    mid_build_kills = 0
    unswitched: list[str] = []  # finished versions a kill left without switching CURRENT to them
    for attempt in range(KILLS):
        before_staging = staging_dirs(store)
        before_finished = finished_versions(store)
        process = start_build(project)
        if attempt < EARLY_KILLS:
            # anywhere from process start: often before the lock is even taken
            delay = rng.uniform(0.05, 1.5)
            time.sleep(delay)
        else:
            # somewhere while it writes cuboids
            assert wait_for_staging(store, process, before_staging)
            delay = rng.uniform(0.0, 0.9 * build_seconds)
            time.sleep(delay)
        writing_now = bool(set(staging_dirs(store)) - set(before_staging))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        _, err = process.communicate(timeout=60)
        context = f"attempt {attempt} (seed {SEED}, delay {delay:.3f} s, startup {startup_seconds:.2f} s): {err[-500:]}"
        current = store.current_version()
        if process.returncode == 0:
            # it finished before the kill: its version switched in, whole
            assert current != serving, context
            serving = current
        else:
            assert process.returncode == -signal.SIGKILL, context
            mid_build_kills += writing_now
            new = sorted(set(finished_versions(store)) - set(before_finished))
            if current != serving:
                # killed after its switch: only a whole version it had finished may be current
                assert new == [current], context
                serving = current
            else:
                unswitched += new
                if writing_now:
                    # killed mid-way: its half-written staging directory is left for the next build to remove
                    assert set(staging_dirs(store)) - set(before_staging) or new, context
        assert serving is not None
        assert_serves_whole_version(project, facts, serving)
    assert mid_build_kills >= 1, "no kill landed while a build was writing cuboids"

    # the next build completes, switches, and cleans up the leftovers of the killed ones
    last = start_build(project)
    out, err = last.communicate(timeout=300)
    assert last.returncode == 0, err
    current = store.current_version()
    assert current is not None and current != serving and f"version {current}:" in out
    assert staging_dirs(store) == []
    if not unswitched:
        # the previous version stays for queries still reading it; older ones go
        assert finished_versions(store) == sorted([serving, current])
    assert_serves_whole_version(project, facts, current)


def test_a_second_build_while_the_lock_is_held_exits_with_a_message(project: Project, facts: Answers) -> None:
    store = CuboidStore(project.store_dir)
    if store.current_version() is None:
        assert start_build(project).wait(timeout=300) == 0
    before = store.current_version()
    assert before is not None
    holder = start_build(project)
    try:
        assert wait_for_staging(store, holder, staging_dirs(store))
        os.kill(holder.pid, signal.SIGSTOP)  # frozen mid-build, holding the lock
        second = subprocess.run(
            [sys.executable, "-m", "api.cli", "build", str(project.root)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode != 0
        assert "error: another build or refresh of this store is running" in second.stderr, second.stderr
        assert "Traceback" not in second.stderr + second.stdout
        assert store.current_version() == before
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # and then killed: the lock dies with it
        holder.communicate(timeout=60)
    assert store.current_version() == before
    assert_serves_whole_version(project, facts, before)
    with store.lock():  # released by the kill
        pass
