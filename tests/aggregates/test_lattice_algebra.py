"""The lattice (which levels a cuboid stores, which queries it covers, the default set, the build order) and
the measure algebra (partials per measure, and when a stored distinct count may be merged)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, TELECOM_MODEL
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregates.algebra import PARTIALS, can_merge, partial_column, partials
from aggregates.lattice import CuboidSpec, build_order, covers, declared_cuboids, default_cuboids, make_spec
from cube_models import AggFunc, Cube, Measure, load_model, model_from_dict

EXAMPLES = ROOT / "examples"


def cube_of(path: Path, name: str | None = None) -> Cube:
    catalog = load_model(path)
    return catalog.cube(name) if name else catalog.cubes[0]


@pytest.fixture(scope="module")
def telecom() -> Cube:
    return cube_of(TELECOM_MODEL)


def hello_model() -> dict[str, Any]:
    return json.loads((EXAMPLES / "hello_world" / "model.json").read_text(encoding="utf-8"))


# ---- covers / make_spec ----------------------------------------------------------------------------
def test_make_spec_stores_the_path_from_the_top_and_sorts_the_grain(telecom: Cube) -> None:
    spec = make_spec(telecom, "x", (("time", "default", "month"), ("geography", "default", "province")))
    assert spec.name == "x"
    assert spec.grain == (("geography", "default", "province"), ("time", "default", "month"))
    assert spec.dimensions == ("geography", "time")
    assert spec.levels == frozenset(
        {
            "time.year",
            "time.quarter",
            "time.month",
            "geography.scope",
            "geography.continent",
            "geography.country",
            "geography.region",
            "geography.province",
        }
    )
    assert spec.levels_of("time") == frozenset({"time.year", "time.quarter", "time.month"})
    assert spec.levels_of("product") == frozenset()


def test_make_spec_follows_the_named_hierarchy(telecom: Cube) -> None:
    weekly = make_spec(telecom, "w", (("time", "weekly", "day"),))
    assert weekly.levels == frozenset({"time.isoyear", "time.isoweek", "time.day"})
    calendar = make_spec(telecom, "d", (("time", "default", "day"),))
    assert calendar.levels == frozenset({"time.year", "time.quarter", "time.month", "time.day"})
    top = make_spec(telecom, "t", (("channel", "default", "channel"),))
    assert top.levels == frozenset({"channel.channel"})
    empty = make_spec(telecom, "all", ())
    assert empty.levels == frozenset() and empty.dimensions == ()


def test_covers_is_storing_every_needed_level(telecom: Cube) -> None:
    spec = make_spec(telecom, "m", (("time", "default", "month"), ("product", "default", "line")))
    assert covers(spec, frozenset())
    assert covers(spec, frozenset({"time.year"}))
    assert covers(spec, frozenset({"time.year", "time.quarter", "time.month", "product.line"}))
    assert not covers(spec, frozenset({"time.day"}))
    assert not covers(spec, frozenset({"time.year", "product.product"}))
    assert not covers(spec, frozenset({"channel.channel"}))
    # a calendar cuboid does not cover a question on ISO weeks, though both reach the day
    day = make_spec(telecom, "d", (("time", "default", "day"),))
    assert not covers(day, frozenset({"time.isoyear", "time.isoweek", "time.day"}))
    assert covers(make_spec(telecom, "all", ()), frozenset())


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_covers_matches_subset_of_levels(data: st.DataObject) -> None:
    universe = [f"d{i}.l{j}" for i in range(3) for j in range(3)]
    stored = frozenset(data.draw(st.sets(st.sampled_from(universe))))
    needed = frozenset(data.draw(st.sets(st.sampled_from(universe))))
    spec = CuboidSpec("c", (), stored)
    assert covers(spec, needed) == all(level in stored for level in needed)


# ---- declared and default cuboids --------------------------------------------------------------------
def test_declared_cuboids_of_telecom_are_the_models(telecom: Cube) -> None:
    raw = json.loads(TELECOM_MODEL.read_text(encoding="utf-8"))["cubes"][0]["cuboids"]
    specs = declared_cuboids(telecom)
    assert [s.name for s in specs] == [c["name"] for c in raw]
    by_name = {s.name: s for s in specs}
    assert by_name["month_city_product"].grain == (
        ("geography", "default", "city"),
        ("product", "default", "product"),
        ("time", "default", "month"),
    )
    assert by_name["isoweek_day_line"].levels == frozenset({"time.isoyear", "time.isoweek", "time.day", "product.line"})
    assert by_name["segment_branch"].levels == frozenset(
        {"customer.segment", "organisation.head_office", "organisation.province_branch", "organisation.city_branch"}
    )


def test_default_cuboids_one_per_hierarchy_at_the_deepest_level_before_high_cardinality(telecom: Cube) -> None:
    names = {s.name: s.grain for s in default_cuboids(telecom)}
    assert names == {
        "time_hour": (("time", "default", "hour"),),  # minute and second are high-cardinality
        "time_weekly_day": (("time", "weekly", "day"),),
        "geography_city": (("geography", "default", "city"),),
        "organisation_city_branch": (("organisation", "default", "city_branch"),),
        "product_product": (("product", "default", "product"),),
        "customer_segment": (("customer", "default", "segment"),),  # customer is high-cardinality
        "channel_channel": (("channel", "default", "channel"),),
    }
    assert default_cuboids(telecom) != declared_cuboids(telecom)


def test_models_without_cuboids_get_the_default_set() -> None:
    for path, cube_name in (
        (EXAMPLES / "hello_world" / "model.json", "irbd_balance"),
        (EXAMPLES / "foodmart" / "model.json", "sales"),
        (EXAMPLES / "foodmart" / "model.json", "warehouse"),
    ):
        cube = cube_of(path, cube_name)
        assert not cube.cuboids
        assert declared_cuboids(cube) == default_cuboids(cube)
    hello = cube_of(EXAMPLES / "hello_world" / "model.json")
    assert [(s.name, s.levels) for s in default_cuboids(hello)] == [
        ("item_line_item", frozenset({"item.category", "item.subcategory", "item.line_item"})),
        ("year_year", frozenset({"year.year"})),
    ]
    sales = cube_of(EXAMPLES / "foodmart" / "model.json", "sales")
    names = [s.name for s in default_cuboids(sales)]
    # product and customers stop above their high-cardinality bottom level; time has two hierarchies
    assert {"product_brand", "customers_city", "time_month", "time_weekly_day", "store_name"} <= set(names)
    assert len(names) == len(set(names))


def test_a_dimension_whose_top_level_is_high_cardinality_gets_no_default_cuboid() -> None:
    raw = hello_model()
    raw["dimensions"][0]["levels"][0]["cardinality"] = "high"
    cube = model_from_dict(raw).cubes[0]
    assert [s.name for s in default_cuboids(cube)] == ["year_year"]
    # a high level in the middle stops the cuboid above it, even though the level below it is not high
    raw = hello_model()
    raw["dimensions"][0]["levels"][1]["cardinality"] = "high"
    cube = model_from_dict(raw).cubes[0]
    assert [(s.name, s.levels) for s in default_cuboids(cube)][0] == ("item_category", frozenset({"item.category"}))


# ---- build order ---------------------------------------------------------------------------------------
def test_build_order_puts_finer_cuboids_first(telecom: Cube) -> None:
    specs = declared_cuboids(telecom)
    ordered = build_order(specs)
    assert sorted(s.name for s in ordered) == sorted(s.name for s in specs)
    for earlier, later in itertools.combinations(ordered, 2):
        # an ancestor (a strict superset of levels) is never built after its descendant
        assert not earlier.levels < later.levels, (earlier.name, later.name)
    sizes = [len(s.levels) for s in ordered]
    assert sizes == sorted(sizes, reverse=True)
    # ties by name, so the order is deterministic
    assert build_order(list(reversed(specs))) == ordered


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sets(st.sampled_from([f"d{i}.l{j}" for i in range(3) for j in range(3)])), max_size=8))
def test_build_order_every_ancestor_first(level_sets: list[set[str]]) -> None:
    specs = [CuboidSpec(f"c{i}", (), frozenset(levels)) for i, levels in enumerate(level_sets)]
    ordered = build_order(specs)
    assert sorted(s.name for s in ordered) == sorted(s.name for s in specs)
    position = {s.name: i for i, s in enumerate(ordered)}
    for parent, child in itertools.permutations(specs, 2):
        if child.levels < parent.levels:
            assert position[parent.name] < position[child.name]


# ---- the measure algebra ----------------------------------------------------------------------------
def measure(function: AggFunc | None, determined: tuple[str, ...] = ()) -> Measure:
    return Measure(f"m_{function}", "m", function=function, column="x", determined_dimensions=determined)


def test_partials_of_each_function() -> None:
    assert set(PARTIALS) == set(AggFunc)
    assert partials(measure(AggFunc.SUM)) == (("sum", "sum", "sum"),)
    assert partials(measure(AggFunc.COUNT)) == (("count", "count_rows", "sum"),)
    assert partials(measure(AggFunc.COUNT_NONEMPTY)) == (("count", "count", "sum"),)
    assert partials(measure(AggFunc.MIN)) == (("min", "min", "min"),)
    assert partials(measure(AggFunc.MAX)) == (("max", "max", "max"),)
    # an average is kept as a sum and a count, both summed
    assert partials(measure(AggFunc.AVG)) == (("sum", "sum", "sum"), ("count", "count", "sum"))
    assert partials(measure(AggFunc.COUNT_DISTINCT)) == (("distinct", "count_distinct", "sum"),)
    assert partial_column(Measure("revenue", "R", function=AggFunc.SUM), "sum") == "revenue__sum"
    with pytest.raises(AssertionError):
        partials(Measure("arpu", "ARPU"))  # calculated measures are never stored


def test_telecom_subscribers_declares_its_determined_dimensions(telecom: Cube) -> None:
    subscribers = telecom.measure("subscribers")
    assert subscribers.function is AggFunc.COUNT_DISTINCT
    assert set(subscribers.determined_dimensions) == {"customer", "organisation"}


MONTH = frozenset({"time.year", "time.quarter", "time.month"})
YEAR = frozenset({"time.year"})
SEGMENT = frozenset({"customer.segment"})
BRANCH = frozenset({"organisation.head_office", "organisation.province_branch", "organisation.city_branch"})
CHANNEL = frozenset({"channel.channel"})

# (cuboid levels per dimension, levels the query keeps apart per dimension, distinct count mergeable?)
DISTINCT_TABLE = [
    ({}, {}, True),  # a cuboid of no dimension: one row, nothing to merge
    ({"time": MONTH}, {"time": MONTH}, True),  # every row kept apart
    ({"time": MONTH}, {"time": MONTH | {"time.day"}}, True),  # kept apart by more than the cuboid stores
    ({"time": MONTH}, {"time": YEAR}, False),  # months merged into years: accounts counted twice
    ({"time": MONTH}, {}, False),
    ({"time": YEAR}, {"time": YEAR}, True),
    ({"customer": SEGMENT}, {}, True),  # an account has one segment: per-segment counts add up
    ({"customer": SEGMENT, "organisation": BRANCH}, {}, True),  # and one home branch
    ({"time": YEAR, "customer": SEGMENT, "organisation": BRANCH}, {"time": YEAR}, True),
    ({"time": YEAR, "customer": SEGMENT, "organisation": BRANCH}, {}, False),  # years merged
    ({"time": MONTH, "customer": SEGMENT, "channel": CHANNEL}, {"time": MONTH}, False),  # channels merged
    ({"time": MONTH, "customer": SEGMENT, "channel": CHANNEL}, {"time": MONTH, "channel": CHANNEL}, True),
    ({"channel": CHANNEL}, {"channel": CHANNEL, "time": YEAR}, True),  # extra fixed dimensions do not matter
    ({"channel": CHANNEL}, {"time": YEAR}, False),
]


@pytest.mark.parametrize(("cuboid", "fixed", "expected"), DISTINCT_TABLE)
def test_can_merge_distinct_count_truth_table(
    cuboid: dict[str, frozenset[str]], fixed: dict[str, frozenset[str]], expected: bool
) -> None:
    subscribers = measure(AggFunc.COUNT_DISTINCT, ("customer", "organisation"))
    assert can_merge(subscribers, cuboid, fixed) is expected
    # without determined dimensions, only rows the query keeps apart may be summed
    plain = measure(AggFunc.COUNT_DISTINCT)
    apart = all(levels <= fixed.get(dimension, frozenset()) for dimension, levels in cuboid.items())
    assert can_merge(plain, cuboid, fixed) is apart
    # every other function merges always
    for function in AggFunc:
        if function is not AggFunc.COUNT_DISTINCT:
            assert can_merge(measure(function), cuboid, fixed) is True


def test_can_merge_uses_the_measures_own_determined_dimensions(telecom: Cube) -> None:
    subscribers = telecom.measure("subscribers")
    assert can_merge(subscribers, {"customer": SEGMENT, "organisation": BRANCH}, {})
    assert can_merge(subscribers, {"organisation": BRANCH}, {})
    assert not can_merge(subscribers, {"product": frozenset({"product.line"})}, {})
    assert can_merge(telecom.measure("revenue"), {"product": frozenset({"product.line"})}, {})
    assert can_merge(telecom.measure("record_count"), {"time": MONTH}, {})


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_can_merge_rule(data: st.DataObject) -> None:
    """Every cuboid dimension is kept apart by the query (all its stored levels fixed) or determined by the key."""
    dimensions = ["a", "b", "c", "d"]
    levels = {d: [f"{d}.l{i}" for i in range(3)] for d in dimensions}

    def level_map() -> dict[str, frozenset[str]]:
        chosen = data.draw(st.sets(st.sampled_from(dimensions)))
        return {d: frozenset(levels[d][: data.draw(st.integers(1, 3))]) for d in chosen}

    cuboid, fixed = level_map(), level_map()
    determined = tuple(data.draw(st.sets(st.sampled_from(dimensions))))
    expected = all(d in determined or cuboid[d] <= fixed.get(d, frozenset()) for d in cuboid)
    assert can_merge(measure(AggFunc.COUNT_DISTINCT, determined), cuboid, fixed) is expected
    assert can_merge(measure(AggFunc.SUM, determined), cuboid, fixed) is True
