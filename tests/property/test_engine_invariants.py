"""Invariants of answers: children sum to their parent, pivot totals equal aggregates, rollup undoes drilldown."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cube_server.cut_syntax import parse_cuts, parse_drilldown
from cube_server.engine import CubeEngine
from cube_server.query import DrilldownItem, PivotQuery, Query

CUBE = "fixed_line_revenue"
ADDITIVE = ("revenue", "call_minutes", "record_count")
# (dimension, hierarchy, levels) pairs to drill; time stops at hour to keep cells few.
HIERARCHIES = [
    ("time", None, ["year", "quarter", "month", "day", "hour"]),
    ("time", "weekly", ["isoyear", "isoweek", "day"]),
    ("geography", None, ["scope", "continent", "country", "region", "province", "city"]),
    ("organisation", None, ["head_office", "province_branch", "city_branch"]),
    ("product", None, ["line", "product"]),
    ("customer", None, ["segment"]),
    ("channel", None, ["channel"]),
]
CUTS = [
    "",
    "time:2024",
    "time:2025,1-2025,2",
    "geography:domestic",
    "!geography:international",
    "product:ordinary_telephone",
    "customer:key_account",
    "channel:web_portal;account_manager",
    "time@weekly:2025,1",
    "geography:international,asia",
]
PROPERTY = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def drills(draw: st.DrawFn) -> tuple[str, str | None, list[str], int]:
    dimension, hierarchy, levels = draw(st.sampled_from(HIERARCHIES))
    return dimension, hierarchy, levels, draw(st.integers(1, len(levels)))


def _item(dimension: str, hierarchy: str | None, level: str) -> DrilldownItem:
    return DrilldownItem(dimension, hierarchy, level)


@PROPERTY
@given(drill=drills(), cut=st.sampled_from(CUTS))
def test_children_sum_to_parent_for_additive_measures(engine: CubeEngine, drill: tuple, cut: str) -> None:  # type: ignore[type-arg]
    dimension, hierarchy, levels, depth = drill
    query = Query(CUBE, parse_cuts(cut), (_item(dimension, hierarchy, levels[depth - 1]),), (*ADDITIVE, "subscribers"))
    result = engine.aggregate(query)
    for measure in ADDITIVE:
        assert sum((cell[measure] for cell in result.cells), Decimal(0)) == result.summary[measure]
    # Distinct counts are not additive: children may share subscribers, never exceed the parent's sum.
    assert sum(cell["subscribers"] for cell in result.cells) >= result.summary["subscribers"]
    if depth > 1:
        parent = engine.aggregate(
            Query(CUBE, parse_cuts(cut), (_item(dimension, hierarchy, levels[depth - 2]),), ADDITIVE)
        )
        parents = {tuple(c[f"{dimension}.{lv}"] for lv in levels[: depth - 1]): c for c in parent.cells}
        sums: dict[tuple, dict[str, Decimal]] = {}  # type: ignore[type-arg]
        for cell in result.cells:
            key = tuple(cell[f"{dimension}.{lv}"] for lv in levels[: depth - 1])
            for measure in ADDITIVE:
                sums.setdefault(key, {}).setdefault(measure, Decimal(0))
                sums[key][measure] += cell[measure]
        assert set(sums) == set(parents)
        for key, values in sums.items():
            for measure in ADDITIVE:
                assert values[measure] == parents[key][measure]


@PROPERTY
@given(rows=drills(), columns=drills(), cut=st.sampled_from(CUTS))
def test_pivot_totals_equal_aggregate_totals(engine: CubeEngine, rows: tuple, columns: tuple, cut: str) -> None:  # type: ignore[type-arg]
    if rows[0] == columns[0]:
        return
    row_item = _item(rows[0], rows[1], rows[2][min(rows[3], 2) - 1])
    column_item = _item(columns[0], columns[1], columns[2][min(columns[3], 2) - 1])
    measures = ("revenue", "subscribers", "arpu")
    pivot = engine.pivot(PivotQuery(CUBE, (row_item,), (column_item,), parse_cuts(cut), measures))
    summary = engine.aggregate(Query(CUBE, parse_cuts(cut), (), measures)).summary
    assert pivot.grand_total == [summary[m] for m in measures]
    by_rows = engine.aggregate(Query(CUBE, parse_cuts(cut), (row_item,), measures))
    assert pivot.row_totals == [[cell[m] for m in measures] for cell in by_rows.cells]
    by_columns = engine.aggregate(Query(CUBE, parse_cuts(cut), (column_item,), measures))
    assert pivot.column_totals == [[cell[m] for m in measures] for cell in by_columns.cells]


@PROPERTY
@given(drill=drills(), cut=st.sampled_from(CUTS), other=st.sampled_from(["", "channel", "product:line"]))
def test_rollup_of_drilldown_equals_parent(engine: CubeEngine, drill: tuple, cut: str, other: str) -> None:  # type: ignore[type-arg]
    dimension, hierarchy, levels, depth = drill
    others = tuple(d for d in parse_drilldown(other) if d.dimension != dimension)
    drilled = Query(
        CUBE, parse_cuts(cut), (*others, _item(dimension, hierarchy, levels[depth - 1])), ("revenue", "subscribers")
    )
    rolled = engine.rollup(drilled, dimension, 1)
    parent_drilldown = others if depth == 1 else (*others, _item(dimension, hierarchy, levels[depth - 2]))
    parent = engine.aggregate(Query(CUBE, parse_cuts(cut), parent_drilldown, ("revenue", "subscribers")))
    assert rolled.cells == parent.cells
    assert rolled.summary == parent.summary
