"""Which cuboids a build makes: the declared ones, plus the most useful others that fit the space budget.

Candidates are the grains of up to ``max_dimensions`` dimensions (levels marked high-cardinality left out),
plus every grain the query log shows was asked for. Their sizes are estimated without building anything:
one pass over a deterministic sample of the facts counts the approximate distinct keys of every candidate
(HyperLogLog), scaled up to the whole table. The HRU greedy (:mod:`aggregates.selection`) then picks by
benefit per row. Without a query log every candidate grain weighs the same; with one, 90% of the weight
follows what was asked and 10% stays spread evenly, so a grain nobody asked for yet is not worthless.
Selected cuboids hold the measures that merge (not exact distinct counts); declared ones hold every measure.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from aggregates.lattice import CuboidSpec, declared_cuboids
from aggregates.selection import Chosen, Selection, grain_of, lattice_candidates, select_cuboids
from cube_models import AggFunc, Cube
from cube_models.errors import CubeError
from cube_server.engine import CubeEngine
from cube_server.query_log import read_query_log
from cube_server.sql_dialect import distinct_estimate, hash_combine, row_hash

LOGGED_SHARE = 0.9


@dataclass(frozen=True, slots=True)
class PlanOptions:
    budget: float = 0.1  # rows of all cuboids of a cube, as a fraction of its fact rows
    max_dimensions: int = 3
    sample_rows: int = 250_000
    max_cuboids: int = 32  # picked ones, beside the declared
    overhead: float = 0.001  # the space a cuboid takes beside its rows, as a fraction of the fact rows


@dataclass(frozen=True, slots=True)
class CubePlan:
    cube: str
    fact_rows: int
    sampled_rows: int
    candidates: int
    logged_queries: int
    selection: Selection
    selected_measures: tuple[str, ...] | None = None  # what a selected cuboid holds (None: every measure)

    @property
    def chosen(self) -> tuple[Chosen, ...]:
        return self.selection.chosen

    def specs(self) -> list[CuboidSpec]:
        """Declared cuboids as declared; selected ones holding the measures that merge."""
        return [
            chosen.spec if chosen.mandatory else replace(chosen.spec, measures=self.selected_measures)
            for chosen in self.selection.chosen
        ]


@dataclass(frozen=True, slots=True)
class StorePlan:
    cubes: tuple[CubePlan, ...]
    options: PlanOptions
    elapsed_s: float

    def specs_by_cube(self) -> dict[str, list[CuboidSpec]]:
        return {plan.cube: plan.specs() for plan in self.cubes}


def plan_store(engine: CubeEngine, options: PlanOptions, query_log: Path | None = None) -> StorePlan:
    started = time.monotonic()
    engine.snapshot()  # reopens fact files a refresh added or replaced since the engine last looked
    logged = read_query_log(query_log) if query_log is not None else Counter()
    plans = tuple(_plan_cube(engine, cube, options, logged) for cube in engine.catalog.cubes)
    return StorePlan(plans, options, time.monotonic() - started)


def _plan_cube(
    engine: CubeEngine, cube: Cube, options: PlanOptions, logged: Counter[tuple[str, frozenset[str]]]
) -> CubePlan:
    declared = declared_cuboids(cube)
    # A selected cuboid holds only the measures that merge: an exact distinct count would serve its own grain
    # alone (the benefit counts every finer query) and would make each refresh re-read the facts' history.
    stored = [m for m in cube.measures if m.formula is None]
    merging = tuple(m.name for m in stored if m.function is not AggFunc.COUNT_DISTINCT)
    selected_measures = None if len(merging) == len(stored) else merging
    asked: Counter[str] = Counter()
    extra: dict[str, CuboidSpec] = {}
    for (name, levels), count in logged.items():
        if name != cube.name:
            continue
        try:
            spec = grain_of(cube, levels)
        except CubeError:  # a level of an older model: not a candidate any more
            continue
        if spec is not None:
            extra[spec.name] = spec
            asked[spec.name] += count
    candidates = lattice_candidates(cube, max_dimensions=options.max_dimensions, extra=list(extra.values()))
    # A logged grain equal to a generated one goes by the generated name.
    by_levels = {spec.levels: spec.name for spec in candidates}
    weights_by_name: Counter[str] = Counter()
    for name, count in asked.items():
        weights_by_name[by_levels.get(extra[name].levels, name)] += count
    fact_rows, sampled, sizes = estimate_rows(engine, cube, [*declared, *candidates], options.sample_rows)
    weights = None
    total = sum(weights_by_name.values())
    if total:
        even = (1 - LOGGED_SHARE) / max(len(candidates), 1)
        weights = {spec.name: LOGGED_SHARE * weights_by_name[spec.name] / total + even for spec in candidates}
    selection = select_cuboids(
        candidates,
        sizes,
        top_rows=max(fact_rows, 1),
        budget_rows=int(options.budget * fact_rows) if merging else 0,
        weights=weights,
        mandatory=declared,
        max_count=options.max_cuboids,
        overhead_rows=math.ceil(options.overhead * fact_rows),
    )
    return CubePlan(cube.name, fact_rows, sampled, len(candidates), total, selection, selected_measures)


def estimate_rows(
    engine: CubeEngine, cube: Cube, specs: list[CuboidSpec], sample_rows: int
) -> tuple[int, int, dict[str, int]]:
    """Fact rows, rows sampled, and the estimated rows of every spec, from one pass over a sample."""
    star = engine.star(cube.name)
    facts = star.sources[cube.fact]
    fact_rows = int(engine.backend.run_statement(f'SELECT count(*) FROM "{facts.name}"')[0][0])
    # An engine without approximate distinct counts (PostgreSQL) counts exactly, so it reads a smaller sample.
    sample_rows = min(sample_rows, engine.backend.max_sample_rows)
    fraction = 1.0 if fact_rows <= sample_rows else sample_rows / fact_rows
    # Each level path (a dimension's keys from its top down to a level) is hashed once per row; a cuboid's
    # cells are then told apart by hashing the few path hashes of its grain, not its many key strings.
    paths = sorted({grain for spec in specs for grain in spec.grain})
    columns = [
        row_hash(*(star.attribute(ref) for ref in _path_keys(cube, grain))).label(f"p{index}")
        for index, grain in enumerate(paths)
    ] or [sa.literal(1).label("one")]
    refs = {ref for grain in paths for ref in _path_keys(cube, grain)}
    inner = sa.select(*columns).select_from(star.from_clause_for(refs))
    if fraction < 1:
        # A sample chosen by a hash of each fact row: the same rows every time, so plans are reproducible.
        row = [facts.c[cube.key]] if cube.key and cube.key in facts.c else list(facts.c)
        inner = inner.where(row_hash(*row) % 1_000_000 < math.ceil(fraction * 1_000_000))
    sample = inner.subquery("sample")
    position = {grain: index for index, grain in enumerate(paths)}
    counts: list[Any] = [sa.func.count().label("n")]
    for index, spec in enumerate(specs):
        hashed = [sample.c[f"p{position[grain]}"] for grain in spec.grain]
        cell = hashed[0] if len(hashed) == 1 else hash_combine(*hashed)
        counts.append(distinct_estimate(cell).label(f"s{index}"))
    row_counts = engine.backend.run_statement(engine.backend.compile_literal(sa.select(*counts)))[0]
    sampled = int(row_counts[0])
    sizes = {
        spec.name: scale_distinct(int(value), sampled, fact_rows)
        for spec, value in zip(specs, row_counts[1:], strict=True)
    }
    return fact_rows, sampled, sizes


def _path_keys(cube: Cube, grain: tuple[str, str, str]) -> list[str]:
    dimension_name, hierarchy_name, level_name = grain
    dimension = cube.dimension(dimension_name)
    hierarchy = dimension.hierarchy(hierarchy_name)
    return [dimension.level(name).key_attribute.ref for name in hierarchy.levels[: hierarchy.depth_of(level_name)]]


def scale_distinct(sample_distinct: int, sampled: int, total: int) -> int:
    """Distinct values in ``total`` rows, from ``sample_distinct`` seen in ``sampled`` of them.

    Assumes values equally likely: ``D`` of them fill ``D·(1 − e^(−n/D))`` distinct slots in ``n`` draws.
    Solve that for ``D`` from the sample, then evaluate it for the whole table. Skewed data makes this an
    underestimate, which the greedy tolerates (sizes only rank candidates; the build measures real ones).

    >>> scale_distinct(10, 1000, 1_000_000)  # ten values, all seen already
    10
    >>> scale_distinct(1000, 1000, 1_000_000)  # every sampled row distinct: as many as rows
    1000000
    """
    if sampled >= total or sample_distinct <= 0:
        return max(sample_distinct, 0)
    if sample_distinct >= sampled * 0.999:
        return total

    def seen(distinct: float, draws: int) -> float:
        return distinct * -math.expm1(-draws / distinct)

    low, high = float(sample_distinct), float(total) * 1e3
    for _ in range(200):
        middle = (low + high) / 2
        if seen(middle, sampled) < sample_distinct:
            low = middle
        else:
            high = middle
    return min(total, max(sample_distinct, round(seen(high, total))))
