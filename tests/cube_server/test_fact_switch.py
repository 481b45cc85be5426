"""A refresh switching fact files under a running engine: every answer belongs to exactly one version.

Without the engine asking again, a question that took its store version before a refresh's switch and read
the facts after it answered the new facts under the old version's name (the first test fails so). Here the
switch is made to land exactly between a question's planning and its statements, and a refresh dies after
its commit point with a running engine left to finish the switch.
"""

from __future__ import annotations

import json
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import CUBE, write_project

from aggregates.store import CuboidStore
from cube_server.build import build_store
from cube_server.cut_syntax import parse_cuts
from cube_server.engine import CubeEngine
from cube_server.fact_switch import JOURNAL
from cube_server.project import Project, load_project, open_engine
from cube_server.query import FactsQuery, Query
from cube_server.refresh import append_facts
from cube_server.settings import Settings
from cube_server.telecom import generate_telecom

JULY = parse_cuts("time:2025,3,7")


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fact-switch")
    generate_telecom(root / "base", 6_000, 5, chunk_rows=3_000)
    generate_telecom(root / "pool", 3_000, 9, chunk_rows=3_000)
    return root


@pytest.fixture
def project(source: Path, tmp_path: Path) -> Project:
    shutil.copytree(source / "base", tmp_path / "data")
    project = load_project(write_project(tmp_path / "project", tmp_path / "data"))
    build_store(open_engine(project, Settings(), use_store=False), CuboidStore(project.store_dir))
    return project


def july_rows(source: Path, path: Path) -> Path:
    """New charges of July 2025 (fresh keys), as an append file."""
    pool = f"read_parquet('{source}/pool/facts/*.parquet')"
    select = f"SELECT * REPLACE (charge_id + 10000000 AS charge_id) FROM {pool} WHERE month(charged_at) = 7"
    duckdb.connect().execute(f"COPY ({select} AND year(charged_at) = 2025) TO '{path}' (FORMAT parquet)")
    return path


def july_count(project: Project) -> int:
    facts = f"read_parquet('{project.data_root}/facts/*.parquet')"
    sql = f"SELECT count(*) FROM {facts} WHERE year(charged_at) = 2025 AND month(charged_at) = 7"
    return int(duckdb.connect().execute(sql).fetchone()[0])  # type: ignore[index]


def test_a_switch_between_planning_and_reading_answers_one_version(
    project: Project, source: Path, tmp_path: Path
) -> None:
    engine = open_engine(project, Settings())
    store = CuboidStore(project.store_dir)
    before = (store.current_version(), july_count(project))
    execute = engine.backend.execute
    calls = []

    def refresh_then_execute(*args: Any) -> Any:
        if not calls:
            # Another client's refresh switches the facts in, and another request's query reopens them.
            append_facts(open_engine(project, Settings()), project, store, july_rows(source, tmp_path / "july.parquet"))
            engine.snapshot()
        calls.append(args)
        return execute(*args)

    engine.backend.execute = refresh_then_execute  # type: ignore[method-assign]
    rows = engine.facts(FactsQuery(CUBE, JULY, limit=1))
    after = (store.current_version(), july_count(project))
    assert after != before
    assert (rows.meta.version, rows.total_count) == after  # the question was asked again, on the new version


def test_a_running_engine_finishes_the_switch_a_killed_refresh_committed(project: Project, source: Path) -> None:
    engine: CubeEngine = open_engine(project, Settings())
    store = CuboidStore(project.store_dir)
    before = store.current_version()
    # A refresh committed (its journal is on disk, the version prepared), renamed the facts, and was killed.
    killed = {}

    def die(self: CuboidStore, version: str) -> None:
        killed["version"] = version
        raise SystemExit("killed")

    original = CuboidStore.publish_prepared
    CuboidStore.publish_prepared = die  # type: ignore[method-assign]
    try:
        with pytest.raises(SystemExit):
            append_facts(
                open_engine(project, Settings()), project, store, july_rows(source, project.root / "j.parquet")
            )
    finally:
        CuboidStore.publish_prepared = original  # type: ignore[method-assign]
    journal = project.data_root / "facts" / JOURNAL
    assert journal.is_file() and json.loads(journal.read_text())["version"] == killed["version"]
    assert store.current_version() == before
    # The engine's next question finds the facts changed, finishes the switch, and answers the new version.
    rows = engine.facts(FactsQuery(CUBE, JULY, limit=1))
    assert not journal.exists() and store.current_version() == killed["version"]
    assert (rows.meta.version, rows.total_count) == (killed["version"], july_count(project))
    assert engine.snapshot().status == "serving"


def test_questions_asked_while_a_new_version_loads_are_answered_whole_from_the_previous_one(
    project: Project, source: Path, tmp_path: Path
) -> None:
    """The question that meets a switch loads the new version; nobody else waits behind that load.

    Before, every question queued behind the load (the lock of the store view), which at 10M facts put
    questions that take milliseconds past their timeout under load.
    """
    engine = open_engine(project, Settings())
    store = CuboidStore(project.store_dir)
    year = Query(CUBE, parse_cuts("time:2025"))

    def state() -> tuple[Any, ...]:
        rows = engine.facts(FactsQuery(CUBE, JULY, limit=1))
        cells = engine.aggregate(year)
        return rows.meta.version, rows.total_count, cells.meta.version, cells.meta.source, cells.summary

    before = state()
    append_facts(open_engine(project, Settings()), project, store, july_rows(source, tmp_path / "july.parquet"))
    loading, release = threading.Event(), threading.Event()
    open_cuboid = engine.backend.open_cuboid

    def slow_open(*args: Any) -> Any:
        loading.set()
        assert release.wait(60)
        return open_cuboid(*args)

    engine.backend.open_cuboid = slow_open  # type: ignore[method-assign]
    with ThreadPoolExecutor(1) as pool:
        first = pool.submit(state)
        assert loading.wait(60)
        meanwhile = state()  # answered while the other question holds the load
        release.set()
        after = first.result(timeout=60)
    assert meanwhile == before
    assert before[3].startswith("cuboid")  # the year total is read from a cuboid of the previous version
    assert after[0] == after[2] == store.current_version() != before[0]
    assert after[1] == july_count(project) > before[1]
    assert after[4]["record_count"] > before[4]["record_count"]
    assert state() == after


def test_a_switch_between_reading_the_facts_and_the_pointer_never_serves_a_stale_store(
    project: Project, source: Path, tmp_path: Path
) -> None:
    """The new version, read beside the facts of before, looked stale: questions went to the facts meanwhile.

    Found under load at 10M facts: a question read the fact files' fingerprint, a refresh then renamed its
    files and switched the pointer, and the question read the new pointer. The pair looked like a store built
    for other facts, so every question was answered from the facts (seconds each) until the next look.
    """
    engine = open_engine(project, Settings())
    store = engine.store_view.store
    assert store is not None
    before = store.current_version()
    pointer_stamp = store.pointer_stamp
    switched: list[str] = []

    def refresh_then_stamp() -> Any:
        if not switched:  # between this question's two reads, another client's refresh commits
            append_facts(
                open_engine(project, Settings()),
                project,
                CuboidStore(project.store_dir),
                july_rows(source, tmp_path / "july.parquet"),
            )
            switched.append(CuboidStore(project.store_dir).current_version() or "")
        return pointer_stamp()

    store.pointer_stamp = refresh_then_stamp  # type: ignore[method-assign]
    snapshot = engine.snapshot()
    assert switched and switched[0] != before
    assert snapshot.status == "serving" and snapshot.manifest is not None
    assert snapshot.manifest.version == switched[0]
    rows = engine.facts(FactsQuery(CUBE, JULY, limit=1))
    assert (rows.meta.version, rows.total_count) == (switched[0], july_count(project))


def test_a_question_asked_during_the_swap_answers_one_version(project: Project, source: Path, tmp_path: Path) -> None:
    """The fact tables are reopened, the new version not yet served: a question meeting that moment waits.

    Found under load at 10M facts: a fact page asked just after the fact tables were reopened, and answered
    before the swap ended, counted the new facts under the previous version's name.
    """
    engine = open_engine(project, Settings())
    store = CuboidStore(project.store_dir)
    before = store.current_version()
    append_facts(open_engine(project, Settings()), project, store, july_rows(source, tmp_path / "july.parquet"))
    view = engine.store_view
    reopen = view._reopen_facts
    assert reopen is not None
    answers: list[Any] = []
    askers: list[threading.Thread] = []

    def reopen_then_ask() -> object:
        reopened = reopen()
        asker = threading.Thread(target=lambda: answers.append(engine.facts(FactsQuery(CUBE, JULY, limit=1))))
        asker.start()
        askers.append(asker)
        asker.join(3)  # room for the question to be answered in the middle of the swap
        return reopened

    view._reopen_facts = reopen_then_ask
    assert engine.snapshot().manifest.version == store.current_version() != before  # type: ignore[union-attr]
    askers[0].join(60)
    assert [(rows.meta.version, rows.total_count) for rows in answers] == [
        (store.current_version(), july_count(project))
    ]
