"""Refreshes: after any sequence of appends and replacements the store equals a full rebuild, cell for cell.

Each example copies a small generated dataset, builds its store, applies random appends (rows of another
generated dataset, moved to fresh keys) and replacements (a day range replaced by a changed subset of its
rows, another dataset's rows, or nothing), then builds a second store from the final facts and compares
every cuboid. The telecom model holds an exact distinct count, so its cuboids recompute touched cells; the
same model without it merges partials, so both refresh paths are checked.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import TELECOM_MODEL, write_project
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregates.store import CuboidStore, Manifest
from api.cli import main
from cube_models.errors import ConflictError
from cube_server.build import build_store
from cube_server.errors import RefreshError, StoreNotCurrentError
from cube_server.fact_files import JOURNAL, finish_interrupted_switch
from cube_server.planning import PlanOptions, plan_store
from cube_server.project import Project, load_project, open_engine
from cube_server.query import Query
from cube_server.refresh import append_facts, replace_facts
from cube_server.settings import Settings
from cube_server.telecom import generate_telecom

CUBE = "fixed_line_revenue"
FIRST_DAY = dt.date(2024, 1, 1)
DAYS = 731  # the generator spreads charges over 2024 and 2025


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("refresh")
    base, pool = root / "base", root / "pool"
    generate_telecom(base, 6_000, 5, chunk_rows=2_000)
    generate_telecom(pool, 4_000, 9, chunk_rows=4_000)
    raw = json.loads(TELECOM_MODEL.read_text(encoding="utf-8"))
    cube = raw["cubes"][0]
    cube["aggregates"] = [a for a in cube["aggregates"] if a.get("function") != "count_distinct" and "formula" not in a]
    (root / "mergeable.json").write_text(json.dumps(raw), encoding="utf-8")
    return {"base": base, "pool": pool, "mergeable": root / "mergeable.json"}


def copy_project(datasets: dict[str, Path], where: Path, model: Path = TELECOM_MODEL) -> Project:
    data = where / "data"
    shutil.copytree(datasets["base"], data)
    return load_project(write_project(where / "project", data, model))


def engine_of(project: Project) -> Any:
    return open_engine(load_project(project.root), Settings(), use_store=False)


def write_rows(path: Path, sql: str) -> Path:
    duckdb.connect().execute(f"COPY ({sql}) TO '{path}' (FORMAT parquet)")
    return path


def day(offset: int) -> dt.date:
    return FIRST_DAY + dt.timedelta(days=offset % DAYS)


def cuboid_rows(store: CuboidStore, manifest: Manifest, name: str) -> list[tuple[Any, ...]]:
    cuboid = next(c for c in manifest.cuboids if c.name == name)
    files = store.version_dir(manifest.version) / cuboid.path / "**" / "*.parquet"
    sql = f"SELECT * FROM read_parquet('{files}', hive_partitioning = false) ORDER BY ALL"
    return duckdb.connect().execute(sql).fetchall()


def assert_equals_full_rebuild(project: Project, where: Path) -> None:
    store = CuboidStore(project.store_dir)
    refreshed = store.current()
    assert refreshed is not None
    full_store = CuboidStore(where / "full-store")
    specs = {refreshed.cuboids[0].cube: [c.spec for c in refreshed.cuboids]}
    full = build_store(engine_of(project), full_store, specs=specs).manifest
    assert sorted(c.name for c in refreshed.cuboids) == sorted(c.name for c in full.cuboids)
    for cuboid in full.cuboids:
        mine = next(c for c in refreshed.cuboids if c.name == cuboid.name)
        assert cuboid_rows(store, refreshed, cuboid.name) == cuboid_rows(full_store, full, cuboid.name), cuboid.name
        assert (mine.rows, mine.partitions) == (cuboid.rows, cuboid.partitions), cuboid.name
    # The refreshed store serves: the engine sees the new files and the new version at once.
    assert open_engine(load_project(project.root), Settings()).snapshot().status == "serving"


operations = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(0, DAYS - 1), st.integers(0, 3)),
        st.tuples(
            st.just("replace"), st.integers(0, DAYS - 1), st.integers(0, 2), st.sampled_from(["scaled", "pool", "none"])
        ),
    ),
    min_size=1,
    max_size=3,
)


def apply(project: Project, datasets: dict[str, Path], where: Path, step: int, operation: tuple[Any, ...]) -> None:
    facts = f"'{project.data_root}/facts/*.parquet'"
    pool = f"'{datasets['pool']}/facts/*.parquet'"
    kind, start, length = operation[0], day(operation[1]), operation[2]
    end = min(start + dt.timedelta(days=length), dt.date(2025, 12, 31))
    in_range = f"charged_at >= DATE '{start}' AND charged_at < DATE '{end}' + INTERVAL 1 DAY"
    path = where / f"step{step}.parquet"
    fresh_keys = f"SELECT * REPLACE (charge_id + {(step + 1) * 10_000_000} AS charge_id)"
    store = CuboidStore(project.store_dir)
    if kind == "append":
        # Fresh keys: the appended charges are new ones, not copies.
        write_rows(
            path,
            f"{fresh_keys} FROM read_parquet({pool}) WHERE {in_range}",
        )
        if duckdb.connect().execute(f"SELECT count(*) FROM '{path}'").fetchone()[0] == 0:
            return
        append_facts(engine_of(project), project, store, path)
        return
    source = operation[3]
    if source == "scaled":
        write_rows(
            path,
            f"SELECT * REPLACE (revenue * 3 AS revenue) FROM read_parquet({facts}) "
            f"WHERE charge_id % 2 = 0 AND {in_range}",
        )
    elif source == "pool":
        write_rows(
            path,
            f"{fresh_keys} FROM read_parquet({pool}) WHERE {in_range}",
        )
    else:
        write_rows(path, f"SELECT * FROM read_parquet({facts}) WHERE false")
    replace_facts(engine_of(project), project, store, start.isoformat(), end.isoformat(), path)


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    """A directory per hypothesis example (function-scoped fixtures are shared between examples)."""
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


@pytest.mark.parametrize("model", ["telecom", "mergeable", "planned"])
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=operations)
def test_any_refresh_sequence_equals_a_full_rebuild(datasets: dict[str, Path], model: str, steps: list[Any]) -> None:
    with scratch() as where:
        project = copy_project(datasets, where, datasets["mergeable"] if model == "mergeable" else TELECOM_MODEL)
        # "planned": selected cuboids (which merge) beside declared ones (which recompute), in one store.
        plan = plan_store(engine_of(project), PlanOptions(budget=2.0, max_cuboids=4)) if model == "planned" else None
        build_store(engine_of(project), CuboidStore(project.store_dir), specs=plan.specs_by_cube() if plan else None)
        for step, operation in enumerate(steps):
            apply(project, datasets, where, step, operation)
        assert_equals_full_rebuild(project, where)


@pytest.fixture
def built(datasets: dict[str, Path], tmp_path: Path) -> Project:
    project = copy_project(datasets, tmp_path)
    build_store(engine_of(project), CuboidStore(project.store_dir))
    return project


def state_of(project: Project) -> tuple[list[str], str | None]:
    files = sorted(path.name for path in (project.data_root / "facts").iterdir())
    return files, CuboidStore(project.store_dir).current_version()


def test_append_is_seen_by_a_running_engine(built: Project, datasets: dict[str, Path], tmp_path: Path) -> None:
    serving = open_engine(built, Settings())
    before = serving.aggregate(Query(CUBE, measures=("record_count",))).summary["record_count"]
    pool = f"'{datasets['pool']}/facts/*.parquet'"
    path = write_rows(
        tmp_path / "new.parquet",
        f"SELECT * REPLACE (charge_id + 10000000 AS charge_id) FROM read_parquet({pool}) LIMIT 25",
    )
    report = append_facts(engine_of(built), built, CuboidStore(built.store_dir), path)
    assert report.rows_added == 25 and report.mode == "append"
    cells = serving.aggregate(Query(CUBE, measures=("record_count",)))
    assert cells.summary["record_count"] == before + 25
    assert cells.meta.version == report.manifest.version  # answered from the refreshed store, not from the facts


@pytest.mark.parametrize(
    ("select", "message"),
    [
        ("SELECT * EXCLUDE (revenue)", "missing: revenue"),
        ("SELECT *, 1 AS bonus", "unexpected: bonus"),
        ("SELECT * REPLACE ('a lot' AS revenue)", "do not fit the types"),
    ],
)
def test_a_file_that_does_not_fit_changes_nothing(built: Project, tmp_path: Path, select: str, message: str) -> None:
    facts = f"'{built.data_root}/facts/*.parquet'"
    path = write_rows(tmp_path / "bad.parquet", f"{select} FROM read_parquet({facts}) LIMIT 5")
    before = state_of(built)
    with pytest.raises(RefreshError, match=message):
        append_facts(engine_of(built), built, CuboidStore(built.store_dir), path)
    assert state_of(built) == before


def test_replace_refuses_rows_outside_the_range(built: Project, tmp_path: Path) -> None:
    facts = f"'{built.data_root}/facts/*.parquet'"
    path = write_rows(
        tmp_path / "day.parquet", f"SELECT * FROM read_parquet({facts}) WHERE charged_at::DATE = DATE '2024-03-02'"
    )
    before = state_of(built)
    with pytest.raises(RefreshError, match="fall outside 2024-03-01 .. 2024-03-01"):
        replace_facts(engine_of(built), built, CuboidStore(built.store_dir), "2024-03-01", "2024-03-01", path)
    with pytest.raises(RefreshError, match="ISO dates"):
        replace_facts(engine_of(built), built, CuboidStore(built.store_dir), "March", "2024-03-01", path)
    with pytest.raises(RefreshError, match="is empty"):
        replace_facts(engine_of(built), built, CuboidStore(built.store_dir), "2024-03-02", "2024-03-01", path)
    with pytest.raises(RefreshError, match="no such file"):
        append_facts(engine_of(built), built, CuboidStore(built.store_dir), tmp_path / "absent.parquet")
    assert state_of(built) == before


def test_refresh_needs_a_current_store(datasets: dict[str, Path], tmp_path: Path) -> None:
    project = copy_project(datasets, tmp_path)
    path = write_rows(
        tmp_path / "new.parquet", f"SELECT * FROM read_parquet('{project.data_root}/facts/*.parquet') LIMIT 3"
    )
    with pytest.raises(StoreNotCurrentError, match="no cuboid store yet") as raised:
        append_facts(engine_of(project), project, CuboidStore(project.store_dir), path)
    assert isinstance(raised.value, ConflictError)
    build_store(engine_of(project), CuboidStore(project.store_dir))
    shutil.copy(path, project.data_root / "facts" / "dropped-in.parquet")  # facts changed behind the store
    with pytest.raises(StoreNotCurrentError, match="not current"):
        append_facts(engine_of(project), project, CuboidStore(project.store_dir), path)


def test_an_interrupted_switch_is_completed(built: Project) -> None:
    facts = built.data_root / "facts"
    first = sorted(facts.glob("*.parquet"))[0]
    staged = facts / "replace-x.parquet.tmp"
    shutil.copy(first, staged)
    (facts / JOURNAL).write_text(
        json.dumps({"moves": [[str(staged), str(facts / "replace-x.parquet")]], "removals": [str(first)]}),
        encoding="utf-8",
    )
    assert finish_interrupted_switch(built)
    assert not (facts / JOURNAL).exists() and not first.exists() and (facts / "replace-x.parquet").exists()
    assert not finish_interrupted_switch(built)


def test_the_command_line_refreshes(built: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    facts = f"'{built.data_root}/facts/*.parquet'"
    path = write_rows(
        tmp_path / "fix.parquet",
        f"SELECT * FROM read_parquet({facts}) WHERE charged_at::DATE = DATE '2024-05-05' LIMIT 1",
    )
    assert main(["refresh", str(built.root), "--replace", "2024-05-05", "2024-05-05", str(path)]) == 0
    out = capsys.readouterr().out
    assert "(replace): 1 fact row(s) added" in out and "recomputed" in out
    assert main(["refresh", str(built.root), "--append", str(tmp_path / "absent.parquet")]) == 2
    assert "no such file" in capsys.readouterr().err
