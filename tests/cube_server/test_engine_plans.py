"""Which statements a plan runs, and that the shortcuts give the same answers as the long way."""

from __future__ import annotations

from decimal import Decimal

import pytest

from cube_server.cut_syntax import parse_cuts, parse_drilldown
from cube_server.engine import CubeEngine
from cube_server.errors import ResultTooLargeError
from cube_server.query import Query

CUBE = "fixed_line_revenue"
ADDITIVE = ("revenue", "call_minutes", "record_count")


def _names(engine: CubeEngine, query: Query) -> list[str]:
    return [statement.name for statement in engine.explain(engine.plan_aggregate(query)).statements]


def test_unpaged_additive_drilldown_runs_one_statement(engine: CubeEngine) -> None:
    query = Query(CUBE, parse_cuts("time:2025"), parse_drilldown("geography:region"), ADDITIVE)
    assert _names(engine, query) == ["cells"]


def test_distinct_counts_keep_their_own_summary_statement(engine: CubeEngine) -> None:
    query = Query(CUBE, (), parse_drilldown("product:line"), ("revenue", "subscribers"))
    assert _names(engine, query) == ["summary", "cells"]


def test_paged_drilldown_counts_cells_with_its_own_statement(engine: CubeEngine) -> None:
    query = Query(CUBE, (), parse_drilldown("customer:customer"), ("revenue",), limit=5)
    assert _names(engine, query) == ["summary", "count", "cells"]


@pytest.mark.parametrize(
    ("cut", "drilldown"),
    [
        ("", "time:month"),
        ("time:2024|!geography:international", "organisation:province_branch"),
        ("time:2031", "channel"),
    ],
)
def test_merged_summary_equals_summary_from_facts(engine: CubeEngine, cut: str, drilldown: str) -> None:
    merged = engine.aggregate(Query(CUBE, parse_cuts(cut), parse_drilldown(drilldown), ADDITIVE))
    # A page forces the summary statement: the same numbers must come back, with the same types and scales.
    scanned = engine.aggregate(Query(CUBE, parse_cuts(cut), parse_drilldown(drilldown), ADDITIVE, limit=10_000))
    assert merged.summary == scanned.summary
    for name in ADDITIVE:
        assert type(merged.summary[name]) is type(scanned.summary[name])
        if isinstance(scanned.summary[name], Decimal):
            assert merged.summary[name].as_tuple().exponent == scanned.summary[name].as_tuple().exponent
    assert merged.total_cell_count == scanned.total_cell_count == len(merged.cells)


def test_unpaged_drilldown_over_max_cells_is_refused(make_engine) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(max_cells=50)
    with pytest.raises(ResultTooLargeError):
        engine.aggregate(Query(CUBE, (), parse_drilldown("time:day"), ("revenue",)))
    assert len(engine.aggregate(Query(CUBE, (), parse_drilldown("time:month"), ("revenue",))).cells) == 24
