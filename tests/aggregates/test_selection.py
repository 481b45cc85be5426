"""HRU greedy view selection: the paper's example, agreement with a brute-force greedy, and the telecom lattice.

The reference implementation here works straight from the definitions (``issubset`` over every pair, a full
re-evaluation each round); the module under test must agree with it while doing far less work.
"""

from __future__ import annotations

import doctest
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aggregates.selection
from aggregates.lattice import CuboidSpec
from aggregates.selection import Selection, grain_of, lattice_candidates, select_cuboids
from cube_models import Cube, load_model

TELECOM_MODEL = Path(__file__).resolve().parents[2] / "examples/telecom/model.json"
PROPERTY = settings(max_examples=60, deadline=None)


@pytest.fixture(scope="module")
def telecom() -> Cube:
    return load_model(TELECOM_MODEL).cube("fixed_line_revenue")


# ---- the reference: straight from the definitions ----------------------------------------------------
def clamped(size: int, top_rows: int) -> int:
    return min(max(size, 1), top_rows)


def cost_of(query: CuboidSpec, selected: Sequence[tuple[CuboidSpec, int]], top_rows: int) -> int:
    """Rows of the smallest selected view (the facts included) that can answer ``query``."""
    return min([top_rows] + [rows for view, rows in selected if query.levels.issubset(view.levels)])


def brute_benefit(
    view: CuboidSpec,
    view_rows: int,
    queries: Sequence[CuboidSpec],
    weight: Mapping[str, float],
    selected: Sequence[tuple[CuboidSpec, int]],
    top_rows: int,
) -> float:
    return sum(
        weight[query.name] * max(0, cost_of(query, selected, top_rows) - view_rows)
        for query in queries
        if query.levels.issubset(view.levels)
    )


def weight_of(candidates: Sequence[CuboidSpec], weights: Mapping[str, float] | None) -> dict[str, float]:
    return {spec.name: 1.0 if weights is None else weights.get(spec.name, 0.0) for spec in candidates}


@dataclass(frozen=True)
class Problem:
    candidates: list[CuboidSpec]
    shuffled: list[CuboidSpec]
    sizes: dict[str, int]
    top_rows: int
    budget_rows: int
    weights: dict[str, float] | None
    mandatory: list[CuboidSpec]
    max_count: int | None
    rank: str

    def select(self, candidates: Sequence[CuboidSpec] | None = None) -> Selection:
        return select_cuboids(
            self.candidates if candidates is None else candidates,
            self.sizes,
            top_rows=self.top_rows,
            budget_rows=self.budget_rows,
            weights=self.weights,
            mandatory=self.mandatory,
            max_count=self.max_count,
            rank=self.rank,
        )

    def rows(self, spec: CuboidSpec) -> int:
        return clamped(self.sizes[spec.name], self.top_rows)

    def naive_greedy(self) -> list[tuple[str, float]]:
        """Every round, evaluate every fitting candidate afresh and take the best (ties: smallest name)."""
        weight = weight_of(self.candidates, self.weights)
        selected = [(spec, self.rows(spec)) for spec in self.mandatory]
        left = self.budget_rows - sum(rows for _, rows in selected)
        picks: list[tuple[str, float]] = []
        while self.max_count is None or len(picks) < self.max_count:
            best: tuple[tuple[float, str], CuboidSpec, float] | None = None
            for view in self.candidates:
                stored = any(view.name == spec.name or view.levels == spec.levels for spec, _ in selected)
                if stored or self.rows(view) > left:
                    continue
                gain = brute_benefit(view, self.rows(view), self.candidates, weight, selected, self.top_rows)
                key = (-(gain / self.rows(view) if self.rank == "per_row" else gain), view.name)
                if best is None or key < best[0]:
                    best = (key, view, gain)
            if best is None or best[2] <= 0:
                return picks
            _, view, gain = best
            picks.append((view.name, gain))
            selected.append((view, self.rows(view)))
            left -= self.rows(view)
        return picks


def chain_lattice(depths: Sequence[int]) -> list[CuboidSpec]:
    """Every non-empty grain over dimensions d0, d1... whose single hierarchy is the chain l0 > l1 > ..."""
    specs = []
    for choice in itertools.product(*[[None, *range(depth)] for depth in depths]):
        kept = [(f"d{position}", deepest) for position, deepest in enumerate(choice) if deepest is not None]
        if kept:
            specs.append(
                CuboidSpec(
                    "v_" + "_".join(f"{dimension}l{deepest}" for dimension, deepest in kept),
                    tuple((dimension, "default", f"l{deepest}") for dimension, deepest in kept),
                    frozenset(f"{dimension}.l{level}" for dimension, deepest in kept for level in range(deepest + 1)),
                )
            )
    return specs


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    lattice = chain_lattice(draw(st.lists(st.integers(1, 3), min_size=2, max_size=3)))
    by_name = st.sampled_from(lattice)
    candidates = draw(st.lists(by_name, min_size=1, unique_by=lambda spec: spec.name))
    top_rows = draw(st.integers(1, 400))
    # Sizes outside 1..top_rows exercise the clamping.
    sizes = {spec.name: draw(st.integers(-3, top_rows + 40)) for spec in lattice}
    # Multiples of 0.5 keep every sum exact, so benefits compare with ==, whatever order they are added in.
    weight_values = st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.5])
    names = st.sampled_from([spec.name for spec in candidates])
    weights = draw(st.none() | st.dictionaries(names, weight_values))
    total = sum(clamped(size, top_rows) for size in sizes.values())
    return Problem(
        candidates=candidates,
        shuffled=draw(st.permutations(candidates)),
        sizes=sizes,
        top_rows=top_rows,
        budget_rows=draw(st.integers(0, total)),
        weights=weights,
        mandatory=draw(st.lists(by_name, max_size=2, unique_by=lambda spec: spec.name)),
        max_count=draw(st.none() | st.integers(0, 5)),
        rank=draw(st.sampled_from(["per_row", "benefit"])),
    )


# ---- the HRU paper's example ----------------------------------------------------------------------------
def hru_views() -> dict[str, CuboidSpec]:
    """Harinarayan, Rajaraman, Ullman (1996), figure 4; each view stores the views below it (and itself).

    b, c under a; d, e under b; e, f under c; g under d, e; h under e, f. Stored levels are the down-sets, so
    the subset order between them is exactly this lattice.
    """
    below = {"a": "bc", "b": "de", "c": "ef", "d": "g", "e": "gh", "f": "h", "g": "", "h": ""}

    def down(view: str) -> set[str]:
        return {view}.union(*(down(child) for child in below[view]))

    return {
        view: CuboidSpec(view, (("p", "default", view),), frozenset(f"p.{x}" for x in down(view))) for view in below
    }


HRU_SIZES = {"a": 100, "b": 50, "c": 75, "d": 20, "e": 30, "f": 40, "g": 1, "h": 10}


def test_hru_paper_example_picks_b_f_d() -> None:
    views = hru_views()
    assert views["e"].levels == {"p.e", "p.g", "p.h"}
    assert views["c"].levels < views["a"].levels and not views["c"].levels <= views["b"].levels
    candidates = [views[name] for name in "hgfedcb"]  # the facts (a) are the top, not a candidate

    selection = select_cuboids(candidates, HRU_SIZES, top_rows=100, budget_rows=10_000, rank="benefit", max_count=3)

    assert [(chosen.spec.name, chosen.benefit) for chosen in selection.picked()] == [("b", 250), ("f", 70), ("d", 60)]
    assert selection.used_rows == 50 + 40 + 20
    every_view = list(views.values())
    picked = [(chosen.spec, chosen.rows) for chosen in selection.picked()]
    assert sum(cost_of(view, [], 100) for view in every_view) == 800
    assert sum(cost_of(view, picked, 100) for view in every_view) == 420


def test_hru_example_per_row_prefers_the_tiny_views() -> None:
    views = hru_views()
    candidates = [views[name] for name in "bcdefgh"]
    selection = select_cuboids(candidates, HRU_SIZES, top_rows=100, budget_rows=11)
    # g (1 row) gains 99 per row, far ahead; then only h (10 rows, gaining 90) still fits the budget.
    assert [chosen.spec.name for chosen in selection.picked()] == ["g", "h"]
    assert selection.used_rows == 11


def test_mandatory_cuboids_count_first_and_are_not_picked_again() -> None:
    views = hru_views()
    candidates = [views[name] for name in "bcdefgh"]
    options = {"top_rows": 100, "rank": "benefit", "max_count": 1}

    selection = select_cuboids(candidates, HRU_SIZES, budget_rows=1_000, mandatory=[views["b"]], **options)

    assert [(chosen.spec.name, chosen.mandatory, chosen.benefit) for chosen in selection.chosen[:1]] == [("b", True, 0)]
    # With b stored, the best is f: f itself (60) and h (50 - 40).
    assert [(chosen.spec.name, chosen.benefit) for chosen in selection.picked()] == [("f", 70)]
    assert selection.used_rows == 90

    over = select_cuboids(candidates, HRU_SIZES, budget_rows=30, mandatory=[views["b"]], **options)
    assert [chosen.spec.name for chosen in over.chosen] == ["b"] and over.picked() == ()
    assert over.used_rows == 50


def test_bad_arguments_are_refused() -> None:
    views = hru_views()
    with pytest.raises(ValueError, match="rank"):
        select_cuboids([views["b"]], HRU_SIZES, top_rows=100, budget_rows=100, rank="cheapest")
    with pytest.raises(ValueError, match="unique"):
        select_cuboids([views["b"], views["b"]], HRU_SIZES, top_rows=100, budget_rows=100)
    with pytest.raises(ValueError, match="size"):
        select_cuboids([views["b"]], {}, top_rows=100, budget_rows=100)
    with pytest.raises(ValueError, match="negative"):
        select_cuboids([views["b"]], HRU_SIZES, top_rows=100, budget_rows=100, weights={"b": -1.0})


def test_module_doctest() -> None:
    assert doctest.testmod(aggregates.selection).failed == 0


# ---- agreement with the reference on random lattices ---------------------------------------------------
@PROPERTY
@given(problems())
def test_reported_benefits_match_the_definition(problem: Problem) -> None:
    selection = problem.select()
    weight = weight_of(problem.candidates, problem.weights)
    selected = [(chosen.spec, chosen.rows) for chosen in selection.chosen if chosen.mandatory]
    assert [spec for spec, _ in selected] == problem.mandatory
    for chosen in selection.picked():
        assert chosen.rows == problem.rows(chosen.spec)
        assert chosen.benefit > 0
        assert chosen.benefit == brute_benefit(
            chosen.spec, chosen.rows, problem.candidates, weight, selected, problem.top_rows
        )
        selected.append((chosen.spec, chosen.rows))


@PROPERTY
@given(problems())
def test_lazy_greedy_picks_what_the_naive_greedy_picks(problem: Problem) -> None:
    selection = problem.select()
    assert [(chosen.spec.name, chosen.benefit) for chosen in selection.picked()] == problem.naive_greedy()
    if problem.max_count is not None:
        assert len(selection.picked()) <= problem.max_count


@PROPERTY
@given(problems())
def test_the_budget_holds_whenever_the_mandatory_cuboids_fit(problem: Problem) -> None:
    selection = problem.select()
    mandatory_rows = sum(problem.rows(spec) for spec in problem.mandatory)
    assert selection.used_rows == sum(chosen.rows for chosen in selection.chosen)
    if mandatory_rows <= problem.budget_rows:
        assert selection.used_rows <= problem.budget_rows
    else:
        assert selection.picked() == ()
    picked_names = [chosen.spec.name for chosen in selection.picked()]
    assert len(set(picked_names)) == len(picked_names)
    assert not set(picked_names) & {spec.name for spec in problem.mandatory}


@PROPERTY
@given(problems(), st.lists(st.floats(0.01, 10.0), min_size=63, max_size=63))
def test_the_candidates_order_does_not_matter(problem: Problem, floats: list[float]) -> None:
    assert problem.select(problem.shuffled) == problem.select()
    # Down to the last bit of every benefit, even with weights whose sums depend on the order of addition.
    weights = {spec.name: weight for spec, weight in zip(problem.candidates, floats, strict=False)}
    uneven = replace(problem, weights=weights)
    assert uneven.select(uneven.shuffled) == uneven.select()


# ---- the telecom lattice -------------------------------------------------------------------------------
def test_lattice_candidates_on_telecom(telecom: Cube) -> None:
    specs = lattice_candidates(telecom)
    names = [spec.name for spec in specs]
    assert names == sorted(set(names))
    assert [spec.name for spec in lattice_candidates(telecom)] == names
    high = {level.ref for dimension in telecom.dimensions for level in dimension.levels if level.cardinality == "high"}
    assert high == {"time.minute", "time.second", "customer.customer"}
    assert all(not spec.levels & high for spec in specs)
    assert all(1 <= len(spec.dimensions) <= 3 for spec in specs)
    assert len({spec.levels for spec in specs}) == len(specs)
    # Distinct level sets per dimension: time has year..hour on the default hierarchy and isoyear, isoweek and
    # the weekly day on the other; customer keeps only its segment.
    choices = {"time": 8, "geography": 6, "organisation": 3, "product": 2, "customer": 1, "channel": 1}
    expected = sum(math.prod(combo) for count in (1, 2, 3) for combo in itertools.combinations(choices.values(), count))
    assert len(specs) == expected

    by_name = {spec.name: spec for spec in specs}
    assert by_name["auto_time_day"].levels == {"time.year", "time.quarter", "time.month", "time.day"}
    assert by_name["auto_time_weekly_day"].levels == {"time.isoyear", "time.isoweek", "time.day"}
    assert by_name["auto_time_weekly_isoweek_product_line"].grain == (
        ("product", "default", "line"),
        ("time", "weekly", "isoweek"),
    )


def test_lattice_candidates_options(telecom: Cube) -> None:
    everything = lattice_candidates(telecom, max_dimensions=6, include_high_cardinality=True)
    assert len(everything) == 11 * 7 * 4 * 3 * 3 * 2 - 1  # each dimension absent or one of its level sets
    assert any("time.second" in spec.levels and "customer.customer" in spec.levels for spec in everything)

    wide = grain_of(telecom, frozenset({"time.month", "geography.city", "product.line", "channel.channel"}))
    assert wide is not None and wide.name == "auto_time_month_geography_city_product_line_channel_channel"
    again = grain_of(telecom, frozenset({"time.month", "product.line"}))
    assert again is not None
    with_extra = lattice_candidates(telecom, extra=[wide, again])
    assert len(with_extra) == len(lattice_candidates(telecom)) + 1
    assert wide in with_extra


def test_grain_of(telecom: Cube) -> None:
    spec = grain_of(telecom, frozenset({"time.month", "product.line"}))
    assert spec is not None
    assert spec.levels == {"time.year", "time.quarter", "time.month", "product.line"}
    assert spec.grain == (("product", "default", "line"), ("time", "default", "month"))
    assert spec in lattice_candidates(telecom)  # same grain, same name

    assert grain_of(telecom, frozenset({"time.year", "time.isoweek"})) is None
    weekly = grain_of(telecom, frozenset({"time.isoweek", "time.day"}))
    assert weekly is not None and weekly.name == "auto_time_weekly_day"
    day = grain_of(telecom, frozenset({"time.day"}))  # on both hierarchies: the default one wins
    assert day is not None and day.name == "auto_time_day" and "time.month" in day.levels
    assert grain_of(telecom, frozenset()) is None


# ---- scale ------------------------------------------------------------------------------------------------
def test_thousands_of_candidates_need_few_evaluations(telecom: Cube) -> None:
    candidates = lattice_candidates(telecom, max_dimensions=6, include_high_cardinality=True)
    assert len(candidates) > 5_000

    def estimated_rows(spec: CuboidSpec) -> int:
        # Each level multiplies its parent's members by 6: a grain has 6 ** (sum of depths) rows.
        depths = (
            telecom.dimension(dimension).hierarchy(hierarchy).depth_of(level)
            for dimension, hierarchy, level in spec.grain
        )
        return 6 ** sum(depths)

    sizes = {spec.name: estimated_rows(spec) for spec in candidates}
    top_rows = 50_000_000
    selection = select_cuboids(candidates, sizes, top_rows=top_rows, budget_rows=top_rows // 2)

    picks = len(selection.picked())
    assert picks > 50
    assert selection.used_rows <= selection.budget_rows
    assert selection.evaluations < len(candidates) * picks / 2

    k_views = select_cuboids(candidates, sizes, top_rows=top_rows, budget_rows=top_rows, rank="benefit", max_count=20)
    assert len(k_views.picked()) == 20
    benefits = [chosen.benefit for chosen in k_views.picked()]
    assert benefits == sorted(benefits, reverse=True)  # submodular: each pick gains no more than the one before
