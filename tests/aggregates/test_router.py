"""The router: every cuboid is a candidate with a reason; the usable one with the fewest estimated rows wins;
partition pruning in the estimate; distinct counts never merged across members their key does not determine.

Cuboids here are the telecom model's declared ones (``make_spec``) with made-up row counts, and query needs
come from real cuts and drilldowns bound to the model (``cube_server.routing.needs_of``), or are written out.
"""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from conftest import TELECOM_MODEL
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregates.algebra import can_merge
from aggregates.lattice import CuboidSpec, declared_cuboids, make_spec
from aggregates.router import QueryNeeds, estimate_rows, route
from aggregates.store import BuiltCuboid
from cube_models import AggFunc, Cube, Measure, load_model
from cube_server.cut_syntax import parse_cuts, parse_drilldown
from cube_server.resolve import bind_cuts, bind_drilldown, bind_measures
from cube_server.routing import candidates_of, needs_of, source_label

STORED = ("revenue", "call_minutes", "record_count", "subscribers")


@pytest.fixture(scope="module")
def cube() -> Cube:
    return load_model(TELECOM_MODEL).cubes[0]


def built(
    spec: CuboidSpec,
    rows: int,
    measures: Iterable[str] = STORED,
    partitions: dict[str, int] | None = None,
    partition_level: str | None = None,
) -> BuiltCuboid:
    if partitions and partition_level is None:
        partition_level = "time.year"
    return BuiltCuboid(
        name=spec.name,
        cube="fixed_line_revenue",
        grain=spec.grain,
        levels=tuple(sorted(spec.levels)),
        measures=tuple(measures),
        path=f"fixed_line_revenue/{spec.name}",
        rows=rows,
        bytes=rows * 10,
        built_at="2025-01-01T00:00:00Z",
        built_from="facts",
        partition_level=partition_level,
        partitions=partitions or {},
    )


@pytest.fixture(scope="module")
def declared(cube: Cube) -> list[BuiltCuboid]:
    """The declared cuboids, with row counts in the proportions of a real build."""
    rows = {
        "month_city_product": 16558,
        "month_segment_branch": 3769,
        "hour_line": 12172,
        "day_line": 787,
        "month_segment_channel": 218,
        "year_segment_branch": 390,
        "isoweek_day_line": 787,
        "segment_branch": 206,
        "line_segment": 11,
    }
    return [built(spec, rows[spec.name]) for spec in declared_cuboids(cube)]


def needs(cube: Cube, cut: str = "", drilldown: str = "", measures: tuple[str, ...] = ()) -> QueryNeeds:
    bound = bind_cuts(cube, parse_cuts(cut))
    _, base = bind_measures(cube, measures)
    return needs_of(bound, bind_drilldown(cube, parse_drilldown(drilldown), bound), base)


def verdicts(cuboids: list[BuiltCuboid], query: QueryNeeds) -> dict[str, tuple[bool, str, int | None]]:
    result = route(cuboids, query)
    return {c.cuboid: (c.usable, c.reason, c.estimated_rows) for c in result.candidates}


# ---- candidates and the choice ---------------------------------------------------------------------------
def test_every_cuboid_is_a_candidate_with_a_reason(cube: Cube, declared: list[BuiltCuboid]) -> None:
    revenue_only = built(make_spec(cube, "revenue_by_segment", (("customer", "default", "segment"),)), 5, ["revenue"])
    cuboids = [*declared, revenue_only]
    query = needs(cube, drilldown="customer:segment", measures=("revenue", "subscribers"))
    result = route(cuboids, query)
    assert [c.cuboid for c in result.candidates] == [c.name for c in cuboids]
    reasons = verdicts(cuboids, query)
    assert reasons["month_city_product"] == (False, "does not store customer.segment", None)
    assert reasons["hour_line"] == (False, "does not store customer.segment", None)
    assert reasons["revenue_by_segment"] == (False, "does not hold subscribers", None)
    merged = "subscribers would be merged across members its key does not determine"
    assert reasons["month_segment_branch"] == (False, merged, None)  # months merged
    assert reasons["month_segment_channel"] == (False, merged, None)  # months and channels merged
    assert reasons["line_segment"] == (False, merged, None)  # product lines merged
    assert reasons["segment_branch"] == (True, "chosen: fewest rows to scan", 206)
    assert result.chosen is not None and result.chosen.name == "segment_branch"
    assert source_label(result) == "cuboid:segment_branch"
    assert candidates_of(result)[0] == {
        "cuboid": "month_city_product",
        "usable": False,
        "reason": "does not store customer.segment",
        "estimated_rows": None,
    }
    # the missing levels are all named
    two = verdicts(cuboids, needs(cube, drilldown="channel|geography:province", measures=("revenue",)))
    assert two["line_segment"][1] == (
        "does not store channel.channel, geography.continent, geography.country, geography.province, "
        "geography.region, geography.scope"
    )


def test_the_usable_cuboid_with_the_fewest_rows_is_chosen(cube: Cube, declared: list[BuiltCuboid]) -> None:
    query = needs(cube, drilldown="customer:segment", measures=("revenue", "record_count"))
    result = route(declared, query)
    usable = {c.cuboid: c.estimated_rows for c in result.candidates if c.usable}
    # revenue merges anywhere: every cuboid that stores the segment is usable
    assert set(usable) == {
        "month_segment_branch",
        "month_segment_channel",
        "segment_branch",
        "year_segment_branch",
        "line_segment",
    }
    assert result.chosen is not None and result.chosen.name == "line_segment"
    assert usable["line_segment"] == min(usable.values())
    for candidate in result.candidates:
        if candidate.usable and candidate.cuboid != "line_segment":
            assert candidate.reason == "covers the query"


def test_ties_are_broken_by_name_and_nothing_usable_means_facts(cube: Cube) -> None:
    a = built(make_spec(cube, "b_line", (("product", "default", "line"),)), 7)
    b = built(make_spec(cube, "a_line", (("product", "default", "line"),)), 7)
    result = route([a, b], needs(cube, drilldown="product:line", measures=("revenue",)))
    assert result.chosen is not None and result.chosen.name == "a_line"
    nothing = route([a, b], needs(cube, drilldown="channel", measures=("revenue",)))
    assert nothing.chosen is None and source_label(nothing) == "facts"
    assert [c.usable for c in nothing.candidates] == [False, False]
    empty = route([], needs(cube))
    assert empty.chosen is None and empty.candidates == ()


@st.composite
def routing_cases(draw: st.DrawFn) -> tuple[list[BuiltCuboid], QueryNeeds]:
    dimensions = ["a", "b", "c"]
    levels = {d: [f"{d}.l{i}" for i in range(3)] for d in dimensions}
    measures = [
        Measure("s", "s", function=AggFunc.SUM, column="x"),
        Measure("n", "n", function=AggFunc.COUNT),
        Measure("d", "d", function=AggFunc.COUNT_DISTINCT, column="k", determined_dimensions=("c",)),
    ]
    cuboids = []
    for index in range(draw(st.integers(0, 6))):
        kept = draw(st.sets(st.sampled_from(dimensions)))
        grain = tuple(sorted((d, "default", levels[d][draw(st.integers(0, 2))][2:]) for d in kept))
        stored = {f"{d}.l{i}" for d, _, level in grain for i in range(int(level[1:]) + 1)}
        spec = CuboidSpec(f"c{index}", grain, frozenset(stored))
        held = draw(st.sets(st.sampled_from([m.name for m in measures]), min_size=1))
        cuboids.append(built(spec, draw(st.integers(0, 20)), sorted(held)))
    fixed = {}
    needed: set[str] = set()
    for d in draw(st.sets(st.sampled_from(dimensions))):
        refs = frozenset(levels[d][: draw(st.integers(1, 3))])
        needed |= refs
        if draw(st.booleans()):
            fixed[d] = refs
    query = QueryNeeds(frozenset(needed), fixed, tuple(draw(st.sets(st.sampled_from(measures), min_size=1))), {})
    return cuboids, query


@settings(max_examples=100, deadline=None)
@given(routing_cases())
def test_route_chooses_the_cheapest_usable_cuboid(case: tuple[list[BuiltCuboid], QueryNeeds]) -> None:
    cuboids, query = case
    result = route(cuboids, query)
    assert [c.cuboid for c in result.candidates] == [c.name for c in cuboids]
    usable = {}
    for cuboid, candidate in zip(cuboids, result.candidates, strict=True):
        spec = cuboid.spec
        expected = (
            query.levels <= spec.levels
            and all(m.name in cuboid.measures for m in query.measures)
            and all(can_merge(m, {d: spec.levels_of(d) for d in spec.dimensions}, query.fixed) for m in query.measures)
        )
        assert candidate.usable is expected, (candidate, cuboid)
        assert candidate.reason
        assert (candidate.estimated_rows is not None) is expected
        if expected:
            usable[cuboid.name] = cuboid.rows
    if not usable:
        assert result.chosen is None
    else:
        assert result.chosen is not None
        assert (result.chosen.rows, result.chosen.name) == min((rows, name) for name, rows in usable.items())
        chosen = [c for c in result.candidates if c.reason == "chosen: fewest rows to scan"]
        assert [c.cuboid for c in chosen] == [result.chosen.name]


# ---- partition pruning -------------------------------------------------------------------------------------
def test_estimate_counts_only_the_partitions_a_cut_allows(cube: Cube) -> None:
    spec = make_spec(cube, "month_line", (("time", "default", "month"), ("product", "default", "line")))
    partitioned = built(spec, 300, partitions={"2023": 100, "2024": 120, "2025": 80})

    def estimate(cut: str) -> int:
        return estimate_rows(partitioned, needs(cube, cut=cut, drilldown="product:line", measures=("revenue",)))

    assert estimate("") == 300
    assert estimate("time:2025") == 80
    assert estimate("time:2025,3") == 80  # a deeper point still names its year
    assert estimate("time:2024;2025") == 200
    assert estimate("time:2024;2025|time:2025,1") == 80  # two cuts on the year: both must allow it
    assert estimate("time:02025") == 80  # the partition is named by the key's text, 2025
    assert estimate("time:2031") == 0  # no such partition: nothing to scan
    assert estimate("time:2024-2025") == 300  # ranges do not prune
    assert estimate("!time:2025") == 300  # nor do negations
    assert estimate("time@weekly:2025") == 300  # the ISO year is not the partition level
    assert estimate("product:data_services") == 300


def test_needs_of_records_partition_values_on_the_cut_hierarchys_top_level(cube: Cube) -> None:
    assert needs(cube, cut="time:2025,1").partition_values == {"time.year": frozenset({"2025"})}
    assert needs(cube, cut="time:2024;2025,2").partition_values == {"time.year": frozenset({"2024", "2025"})}
    assert needs(cube, cut="time:2024-2025").partition_values == {}
    assert needs(cube, cut="!time:2024").partition_values == {}
    assert needs(cube, cut="time@weekly:2025,3").partition_values == {"time.isoyear": frozenset({"2025"})}
    assert needs(cube, cut="product:data_services").partition_values == {"product.line": frozenset({"data_services"})}


def test_pruning_can_make_a_larger_partitioned_cuboid_the_cheapest(cube: Cube) -> None:
    spec = make_spec(cube, "month_line", (("time", "default", "month"), ("product", "default", "line")))
    partitioned = built(spec, 300, partitions={"2024": 250, "2025": 50})
    small = built(make_spec(cube, "day_line", (("time", "default", "day"), ("product", "default", "line"))), 200)
    whole = route([partitioned, small], needs(cube, drilldown="product:line", measures=("revenue",)))
    assert whole.chosen is not None and whole.chosen.name == "day_line"
    pruned = route([partitioned, small], needs(cube, cut="time:2025", drilldown="product:line", measures=("revenue",)))
    assert pruned.chosen is not None and pruned.chosen.name == "month_line"
    assert {c.cuboid: c.estimated_rows for c in pruned.candidates} == {"month_line": 50, "day_line": 200}


# ---- distinct counts ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cut", "drilldown", "usable"),
    [
        # per segment: customer and organisation are determined by the account, time and channel are not
        ("", "customer:segment", {"segment_branch"}),
        # per month and segment: the branch is determined, channels would be merged
        ("", "time:month|customer:segment", {"month_segment_branch"}),
        ("", "time:month|customer:segment|channel", {"month_segment_channel"}),
        # a point cut on the year keeps the years apart; a set, range or negated cut does not
        ("time:2025", "customer:segment", {"year_segment_branch"}),
        ("time:2024;2025", "customer:segment", set()),
        ("time:2024-2025", "customer:segment", set()),
        ("!time:2025", "customer:segment", set()),
        ("time:2025,1,2", "customer:segment", {"month_segment_branch"}),
        # per product line: the segments are determined, days, hours and cities are not
        ("", "product:line", {"line_segment"}),
        ("", "product:line|time:day", {"day_line"}),
        ("", "product:line|time:hour", {"hour_line"}),
        ("time:2025,1,1", "product:line", set()),  # a month: day_line's days would be merged
        ("time:2025,1,1,15", "product:line", {"day_line"}),  # a day: kept apart
        ("time:2025,1,1,15", "product:line|time:day", {"day_line"}),
        ("", "time@weekly:day|product:line", {"isoweek_day_line"}),
        ("", "", {"segment_branch"}),  # the total: only cuboids of determined dimensions
    ],
)
def test_distinct_counts_only_from_cuboids_whose_merged_dimensions_are_determined(
    cube: Cube, declared: list[BuiltCuboid], cut: str, drilldown: str, usable: set[str]
) -> None:
    distinct = verdicts(declared, needs(cube, cut, drilldown, ("subscribers",)))
    assert {name for name, (ok, _, _) in distinct.items() if ok} == usable
    for ok, reason, _ in distinct.values():
        if not ok and not reason.startswith("does not store"):
            assert reason == "subscribers would be merged across members its key does not determine"
    # the same question without the distinct count may use every cuboid that stores its levels
    summed = verdicts(declared, needs(cube, cut, drilldown, ("revenue", "record_count")))
    covering = {name for name, (_, reason, _) in distinct.items() if not reason.startswith("does not store")}
    assert {name for name, (ok, _, _) in summed.items() if ok} == covering
    assert usable <= covering


def test_calculated_measures_need_their_stored_parts(cube: Cube, declared: list[BuiltCuboid]) -> None:
    # arpu = revenue / subscribers: routed like subscribers
    arpu = verdicts(declared, needs(cube, drilldown="customer:segment", measures=("arpu",)))
    subscribers = verdicts(declared, needs(cube, drilldown="customer:segment", measures=("subscribers",)))
    assert {n for n, v in arpu.items() if v[0]} == {n for n, v in subscribers.items() if v[0]} == {"segment_branch"}
    assert needs(cube, measures=("arpu",)).measures == (cube.measure("revenue"), cube.measure("subscribers"))
