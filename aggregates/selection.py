"""Which cuboids to precompute: the greedy view selection of Harinarayan, Rajaraman and Ullman (HRU, 1996).

The queries are the candidate grains themselves (HRU's assumption), each weighted by how often it is asked.
A query costs the rows of the smallest selected cuboid covering it; the facts (``top_rows``) cover everything.
Each round picks the candidate with the best benefit per row (or the best benefit, for the k-view variant)
that still fits the row budget, until nothing fits or nothing helps.

>>> month = CuboidSpec("month", (("time", "default", "month"),), frozenset({"time.year", "time.month"}))
>>> year = CuboidSpec("year", (("time", "default", "year"),), frozenset({"time.year"}))
>>> selection = select_cuboids([month, year], {"month": 12, "year": 1}, top_rows=1000, budget_rows=20)
>>> [(chosen.spec.name, chosen.benefit) for chosen in selection.picked()], selection.used_rows
([('year', 999.0), ('month', 988.0)], 13)
"""

from __future__ import annotations

import heapq
import itertools
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aggregates.lattice import CuboidSpec, _deepest_low_cardinality, make_spec
from cube_models import Cube, Dimension, Hierarchy

RANKS = ("per_row", "benefit")


@dataclass(frozen=True, slots=True)
class Chosen:
    spec: CuboidSpec
    rows: int  # estimated rows
    benefit: float  # weighted benefit when it was picked (0 for mandatory ones)
    mandatory: bool  # given by the caller, not picked by the algorithm


@dataclass(frozen=True, slots=True)
class Selection:
    chosen: tuple[Chosen, ...]  # mandatory first (in the given order), then the picked ones in pick order
    top_rows: int
    budget_rows: int
    used_rows: int  # rows of every chosen cuboid, mandatory included
    evaluations: int  # benefit evaluations the lazy greedy did

    def picked(self) -> tuple[Chosen, ...]:
        return tuple(chosen for chosen in self.chosen if not chosen.mandatory)


def select_cuboids(
    candidates: Sequence[CuboidSpec],
    sizes: Mapping[str, int],
    *,
    top_rows: int,
    budget_rows: int,
    weights: Mapping[str, float] | None = None,
    mandatory: Sequence[CuboidSpec] = (),
    max_count: int | None = None,
    rank: str = "per_row",
    overhead_rows: int = 0,
) -> Selection:
    """Greedily pick candidates while they fit ``budget_rows`` (mandatory rows included) and still help.

    ``sizes`` holds the estimated rows of every candidate and mandatory spec, clamped to ``1..top_rows``.
    ``weights`` are query frequencies by candidate name (a missing name weighs 0); without them, 1 each.
    ``overhead_rows`` is the fixed space of a cuboid beside its rows (its files, its build step, one more
    candidate to route over): it counts against the budget and in the benefit per row, so near-empty
    cuboids are not picked by the hundred. ``used_rows`` counts rows only.
    """
    if rank not in RANKS:
        raise ValueError(f"rank must be one of {RANKS}, not {rank!r}")
    # Sorted by name, every index (and so every float sum) is independent of the caller's order.
    specs = sorted(candidates, key=lambda spec: spec.name)
    if len({spec.name for spec in specs}) != len(specs):
        raise ValueError("candidate names must be unique")
    weight = [1.0 if weights is None else float(weights.get(spec.name, 0.0)) for spec in specs]
    if any(value < 0 for value in weight):
        raise ValueError("weights must not be negative")

    def rows_of(spec: CuboidSpec) -> int:
        if spec.name not in sizes:
            raise ValueError(f"no size estimate for cuboid {spec.name!r}")
        return min(max(int(sizes[spec.name]), 1), top_rows)

    rows = [rows_of(spec) for spec in specs]
    coverage = _covered_lists([*specs, *mandatory], specs)
    # Only weighted queries can gain anything, so the lists skip the others.
    covered = [[query for query in found if weight[query] > 0] for found in coverage[: len(specs)]]
    cost = [top_rows] * len(specs)  # rows of the smallest selected cuboid covering each query
    chosen = [Chosen(spec, rows_of(spec), 0.0, True) for spec in mandatory]
    for required, found in zip(chosen, coverage[len(specs) :], strict=True):
        for query in found:
            cost[query] = min(cost[query], required.rows)
    mandatory_names = {spec.name for spec in mandatory}
    taken = {spec.levels for spec in mandatory}  # grains already stored: never picked (again)
    budget_left = budget_rows - sum(required.rows + overhead_rows for required in chosen)

    def benefit(candidate: int) -> float:
        size = rows[candidate]
        return sum(weight[query] * (cost[query] - size) for query in covered[candidate] if cost[query] > size)

    def score(candidate: int, gain: float) -> float:
        return gain / (rows[candidate] + overhead_rows) if rank == "per_row" else gain

    # Lazy greedy: a benefit only shrinks as the selection grows (submodularity), so a stale heap entry is an
    # upper bound. An entry evaluated since the last pick is exact; popped first, it beats every other bound.
    # Keys (-score, name) make ties go to the smallest name, as a full re-evaluation each round would.
    heap: list[tuple[float, str, int, int, float]] = []
    evaluations = 0
    for candidate, spec in enumerate(specs):
        if spec.name in mandatory_names or spec.levels in taken:
            continue
        gain = benefit(candidate)
        evaluations += 1
        heap.append((-score(candidate, gain), spec.name, candidate, 0, gain))
    heapq.heapify(heap)
    picks = 0
    while heap and (max_count is None or picks < max_count):
        _, name, candidate, evaluated_at, gain = heapq.heappop(heap)
        if rows[candidate] + overhead_rows > budget_left or specs[candidate].levels in taken:
            continue  # the budget only shrinks and a grain is stored once: drop it for good
        if evaluated_at < picks:
            gain = benefit(candidate)
            evaluations += 1
            heapq.heappush(heap, (-score(candidate, gain), name, candidate, picks, gain))
            continue
        if gain <= 0:
            break  # the best exact score helps nobody, and every other bound is no better
        for query in covered[candidate]:
            cost[query] = min(cost[query], rows[candidate])
        budget_left -= rows[candidate] + overhead_rows
        taken.add(specs[candidate].levels)
        chosen.append(Chosen(specs[candidate], rows[candidate], gain, False))
        picks += 1
    used = sum(each.rows for each in chosen)
    return Selection(tuple(chosen), top_rows, budget_rows, used, evaluations)


def _covered_lists(specs: Sequence[CuboidSpec], queries: Sequence[CuboidSpec]) -> list[tuple[int, ...]]:
    """For each of ``specs``, the positions of the ``queries`` it covers, without comparing every pair.

    A spec's levels split into one option per dimension (the levels it stores there, empty when absent), and
    ``w`` is covered by ``v`` iff each option of ``w`` is a subset of ``v``'s. Queries sit in a trie keyed by
    their options, dimension after dimension; a walk enters only the branches whose option fits, and memoises
    each (subtree, remaining options) answer, which specs differing only in their first dimensions share.
    """
    split = {levels: _by_dimension(levels) for levels in {spec.levels for spec in [*specs, *queries]}}
    dimensions = sorted({dimension for by_dimension in split.values() for dimension in by_dimension})

    def options_of(spec: CuboidSpec) -> tuple[frozenset[str], ...]:
        return tuple(split[spec.levels].get(dimension, frozenset()) for dimension in dimensions)

    trie: dict[frozenset[str] | None, Any] = {}  # the None key holds the positions of a leaf's queries
    for position, query in enumerate(queries):
        node = trie
        for option in options_of(query):
            node = node.setdefault(option, {})
        node.setdefault(None, []).append(position)
    memo: dict[tuple[int, tuple[frozenset[str], ...]], tuple[int, ...]] = {}

    def below(node: dict[frozenset[str] | None, Any], options: tuple[frozenset[str], ...]) -> tuple[int, ...]:
        if not options:
            return tuple(node.get(None, ()))
        key = (id(node), options)
        if key not in memo:
            first, rest = options[0], options[1:]
            fitting = (below(child, rest) for option, child in node.items() if option is not None and option <= first)
            memo[key] = tuple(itertools.chain.from_iterable(fitting))
        return memo[key]

    return [below(trie, options_of(spec)) for spec in specs]


def _by_dimension(levels: frozenset[str]) -> dict[str, frozenset[str]]:
    grouped: dict[str, set[str]] = defaultdict(set)
    for level in levels:
        grouped[level.split(".", 1)[0]].add(level)
    return {dimension: frozenset(levels) for dimension, levels in grouped.items()}


def lattice_candidates(
    cube: Cube,
    *,
    max_dimensions: int = 3,
    include_high_cardinality: bool = False,
    extra: Sequence[CuboidSpec] = (),
) -> list[CuboidSpec]:
    """Every grain keeping 1..``max_dimensions`` dimensions, one level each, plus ``extra``; sorted by name.

    Levels marked high-cardinality, and those below them, are left out unless ``include_high_cardinality``.
    The grand total is left out: any cuboid answers it. Specs storing the same levels appear once.
    """
    choices = [_level_choices(dimension, include_high_cardinality) for dimension in cube.dimensions]
    by_levels: dict[frozenset[str], CuboidSpec] = {}
    for count in range(1, max_dimensions + 1):
        for present in itertools.combinations(choices, count):
            for grain in itertools.product(*present):
                spec = make_spec(cube, _auto_name(cube, grain), grain)
                by_levels.setdefault(spec.levels, spec)
    for spec in extra:
        if spec.levels:
            by_levels.setdefault(spec.levels, spec)
    specs = sorted(by_levels.values(), key=lambda spec: spec.name)
    clashes = sorted(name for name, count in Counter(spec.name for spec in specs).items() if count > 1)
    if clashes:
        raise ValueError(f"different grains share the names {clashes}")  # sizes and weights are keyed by name
    return specs


def grain_of(cube: Cube, levels: frozenset[str]) -> CuboidSpec | None:
    """The smallest grain storing every ``dimension.level`` in ``levels``, named as :func:`lattice_candidates` does.

    Per dimension it takes the first hierarchy (the default one first) holding all the needed levels, down to the
    deepest of them. ``None`` when no single hierarchy of some dimension holds them, or when nothing is needed.
    """
    needed: dict[str, set[str]] = defaultdict(set)
    for reference in levels:
        dimension_name, level_name = reference.split(".", 1)
        cube.dimension(dimension_name).level(level_name)  # raises for a name the cube does not know
        needed[dimension_name].add(level_name)
    grain: list[tuple[str, str, str]] = []
    for dimension in cube.dimensions:
        wanted = needed.get(dimension.name)
        if not wanted:
            continue
        hierarchy = next((each for each in _default_first(dimension) if wanted <= set(each.levels)), None)
        if hierarchy is None:
            return None
        grain.append((dimension.name, hierarchy.name, max(wanted, key=hierarchy.depth_of)))
    if not grain:
        return None
    return make_spec(cube, _auto_name(cube, tuple(grain)), tuple(grain))


def _level_choices(dimension: Dimension, include_high_cardinality: bool) -> list[tuple[str, str, str]]:
    """One (dimension, hierarchy, level) per distinct set of stored levels; hierarchies share their top levels."""
    seen: set[frozenset[str]] = set()
    choices: list[tuple[str, str, str]] = []
    for hierarchy in _default_first(dimension):
        usable = hierarchy.levels
        if not include_high_cardinality:
            deepest = _deepest_low_cardinality(dimension, hierarchy.levels)
            usable = hierarchy.levels[: hierarchy.depth_of(deepest)] if deepest else ()
        for depth, level in enumerate(usable, start=1):
            path = frozenset(usable[:depth])
            if path not in seen:
                seen.add(path)
                choices.append((dimension.name, hierarchy.name, level))
    return choices


def _default_first(dimension: Dimension) -> list[Hierarchy]:
    return sorted(dimension.hierarchies, key=lambda hierarchy: hierarchy.name != dimension.default_hierarchy_name)


def _auto_name(cube: Cube, grain: tuple[tuple[str, str, str], ...]) -> str:
    order = {dimension.name: position for position, dimension in enumerate(cube.dimensions)}
    parts = []
    for dimension_name, hierarchy_name, level in sorted(grain, key=lambda kept: order[kept[0]]):
        default = cube.dimension(dimension_name).default_hierarchy_name
        named = level if hierarchy_name == default else f"{hierarchy_name}_{level}"
        parts.append(f"{dimension_name}_{named}")
    return "auto_" + "_".join(parts)
