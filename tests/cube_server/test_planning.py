"""Planning the store: size estimates, the budget, the query log's weights, and builds of the plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CUBE
from hypothesis import given
from hypothesis import strategies as st

from aggregates.store import CuboidStore
from api.cli import main
from cube_models import load_model
from cube_server.build import build_store
from cube_server.engine import CubeEngine
from cube_server.planning import PlanOptions, estimate_rows, plan_store, scale_distinct
from cube_server.project import Project, load_project, open_engine
from cube_server.query import DrilldownItem, Query
from cube_server.query_log import NAME as QUERY_LOG
from cube_server.query_log import QueryLog, read_query_log
from cube_server.settings import Settings


def test_the_plan_keeps_the_declared_cuboids_and_fits_the_budget(engine: CubeEngine) -> None:
    # At 60,000 facts the declared cuboids alone hold some 36,000 rows.
    options = PlanOptions(budget=1.0, max_cuboids=10)
    plan = plan_store(engine, options)
    (cube,) = plan.cubes
    declared = [chosen for chosen in cube.chosen if chosen.mandatory]
    assert [c.spec.name for c in declared] == [d.name for d in engine.cube(CUBE).cuboids]
    picked = cube.selection.picked()
    assert 0 < len(picked) <= 10
    assert all(chosen.benefit > 0 for chosen in picked)
    overhead = -(-cube.fact_rows // 1000)
    used = sum(chosen.rows + overhead for chosen in cube.chosen)
    assert used <= cube.selection.budget_rows == cube.fact_rows
    # Deterministic: the same plan twice.
    again = plan_store(engine, options).cubes[0]
    assert [(c.spec.name, c.rows, c.benefit) for c in again.chosen] == [
        (c.spec.name, c.rows, c.benefit) for c in cube.chosen
    ]
    assert plan_store(engine, PlanOptions(budget=0)).cubes[0].selection.picked() == ()


def test_size_estimates_are_close_to_the_built_rows(engine: CubeEngine, tmp_path: Path) -> None:
    manifest = build_store(engine, CuboidStore(tmp_path / "store")).manifest
    cube = engine.cube(CUBE)
    specs = [built.spec for built in manifest.cuboids]
    fact_rows, sampled, sizes = estimate_rows(engine, cube, specs, sample_rows=10**9)
    assert sampled == fact_rows == 60_000
    for built in manifest.cuboids:
        # HyperLogLog over every row: within some percent of the true number of cells.
        assert abs(sizes[built.name] - built.rows) <= max(3, 0.1 * built.rows), built.name
    # A sample reads fewer rows, the same ones every time, and scales the counts back up.
    _, sampled_small, small = estimate_rows(engine, cube, specs, sample_rows=6_000)
    assert 4_000 < sampled_small < 8_000
    assert estimate_rows(engine, cube, specs, sample_rows=6_000)[2] == small
    for built in manifest.cuboids:
        assert small[built.name] <= fact_rows
        assert small[built.name] >= min(built.rows, sampled_small) * 0.3, built.name


@given(distinct=st.integers(1, 10_000), sampled=st.integers(1, 10_000), total=st.integers(1, 10**8))
def test_scaled_counts_stay_between_what_was_seen_and_the_rows(distinct: int, sampled: int, total: int) -> None:
    distinct = min(distinct, sampled)
    total = max(total, sampled)
    scaled = scale_distinct(distinct, sampled, total)
    assert distinct <= scaled <= total
    # More distinct values seen in the same sample never means fewer in the table.
    if distinct < sampled:
        assert scale_distinct(distinct + 1, sampled, total) >= scaled


def test_the_engine_records_what_it_is_asked(telecom_project: Project, tmp_path: Path) -> None:
    log = QueryLog(tmp_path / QUERY_LOG, max_bytes=10_000)
    engine = open_engine(telecom_project, Settings(), use_store=False)
    engine.query_log = log
    engine.aggregate(Query(CUBE, drilldown=(DrilldownItem("time", None, "month"),), measures=("revenue",)))
    counts = read_query_log(log.path)
    assert counts == {(CUBE, frozenset({"time.year", "time.quarter", "time.month"})): 1}
    # A full log stops growing instead of failing queries.
    for _ in range(200):
        log.record(CUBE, frozenset({"product.line"}))
    assert log.path.stat().st_size <= 10_000
    (log.path.parent / "torn.jsonl").write_text('{"cube": "x", "levels": ["a"]}\n{"cube": ', encoding="utf-8")
    assert sum(read_query_log(log.path.parent / "torn.jsonl").values()) == 1


def test_logged_queries_steer_the_choice(engine: CubeEngine, tmp_path: Path) -> None:
    # A four-dimension grain is no candidate on its own (max_dimensions = 3), until it is asked for often.
    levels = frozenset(
        {"time.year", "time.quarter", "time.month", "product.line", "channel.channel", "customer.segment"}
    )
    path = tmp_path / QUERY_LOG
    path.write_text(json.dumps({"cube": CUBE, "levels": sorted(levels)}) + "\n" * 1, encoding="utf-8")
    with path.open("a", encoding="utf-8") as handle:
        for _ in range(50):
            handle.write(json.dumps({"cube": CUBE, "levels": sorted(levels)}) + "\n")
        handle.write(json.dumps({"cube": CUBE, "levels": ["time.nonsense"]}) + "\n")  # an older model's level
    options = PlanOptions(budget=1.5, max_cuboids=5)
    logged = plan_store(engine, options, path).cubes[0]
    even = plan_store(engine, options).cubes[0]
    assert logged.logged_queries == 51 and even.logged_queries == 0
    assert logged.candidates == even.candidates + 1
    first = logged.selection.picked()[0]
    assert levels <= first.spec.levels
    assert not any(levels <= chosen.spec.levels for chosen in even.selection.picked())


def test_a_planned_build_answers_from_a_selected_cuboid(telecom_project: Project, tmp_path: Path) -> None:
    project = load_project(telecom_project.root)
    facts = open_engine(project, Settings(), use_store=False)
    plan = plan_store(facts, PlanOptions(budget=1.0, max_cuboids=4))
    store = CuboidStore(tmp_path / "store")
    manifest = build_store(facts, store, specs=plan.specs_by_cube()).manifest
    picked = plan.cubes[0].selection.picked()
    assert {c.spec.name for c in picked} <= {c.name for c in manifest.cuboids}
    declared = {c.name for c in facts.cube(CUBE).cuboids}
    selected = next(c for c in manifest.cuboids if c.name not in declared)
    drilldown = tuple(DrilldownItem(d, h, level) for d, h, level in selected.grain)
    measures = ("revenue", "record_count", "call_minutes")
    served = CubeEngine(
        facts.catalog,
        facts.backend,
        facts.settings,
        facts.version,
        store=store,
        model_hash=facts.model_hash,
        facts_version=lambda: facts.facts_version,
    )
    answer = served.aggregate(Query(CUBE, drilldown=drilldown, measures=measures))
    assert answer.meta.source == f"cuboid:{selected.name}"
    # A selected cuboid holds the measures that merge; the exact distinct count goes elsewhere.
    assert selected.measures == ("revenue", "call_minutes", "record_count")
    distinct = served.aggregate(Query(CUBE, drilldown=drilldown, measures=("subscribers",)))
    assert distinct.meta.source != f"cuboid:{selected.name}"
    assert distinct.cells == facts.aggregate(Query(CUBE, drilldown=drilldown, measures=("subscribers",))).cells
    expected = facts.aggregate(Query(CUBE, drilldown=drilldown, measures=measures))
    assert expected.meta.source == "facts"
    assert answer.cells == expected.cells and answer.summary == expected.summary


def test_the_command_line_builds_within_the_given_budget(
    telecom_project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = (telecom_project.root / "cube-server.toml").read_text(encoding="utf-8")
    project = tmp_path / "project"
    project.mkdir()
    (project / "cube-server.toml").write_text(config, encoding="utf-8")
    assert main(["build", str(project), "--budget", "0"]) == 0
    store = CuboidStore(project / "store")
    manifest = store.current()
    declared = {c.name for c in load_model(telecom_project.model_path).cube(CUBE).cuboids}
    assert manifest is not None and {c.name for c in manifest.cuboids} == declared
    assert main(["build", str(project), "--budget", "1.5"]) == 0
    bigger = store.current()
    assert bigger is not None and len(bigger.cuboids) > len(manifest.cuboids)
    assert "selected beside the declared" in capsys.readouterr().err


def test_the_command_line_plans(telecom_project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", str(telecom_project.root), "--budget", "1.5"]) == 0
    out = capsys.readouterr().out
    assert "declared" in out and "selected" in out and "budget 90,000 rows (1.5 of the facts)" in out
    assert main(["plan", str(telecom_project.root), "--budget", "-1"]) == 2
