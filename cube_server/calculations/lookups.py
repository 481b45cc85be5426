"""The lookups calculations need beside the cells shown, planned as statements of their own.

* Period calculations (change, growth, running totals, moving averages) need the values of periods the
  cut may leave out: the previous month of the first month shown, the months of the year before it. A
  *reference* lookup reads the same drilldown with the cut on the time dimension replaced by a range of
  whole years: from the first year the cut shows, less the years the calculations reach back, to the
  last (all years when the cut does not bound them). Its cells are only looked up, never shown. With no
  cut on the time dimension, the cells shown are the reference.
* A share of the parent needs the parent's value: a *parent* lookup reads the drilldown one level
  coarser along the dimension, under the same cut (a parent above the top level is the summary).

Each lookup is routed like any query (to the smallest cuboid that answers it exactly), guarded by
``max_cells`` and listed by explain under its name (``reference:time``, ``parent:geography``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from cube_server.calculations.bind import BoundCalculation
from cube_server.calculations.periods import PERIODS_PER_YEAR, YEAR_ROLES
from cube_server.calculations.syntax import MovingAverage, PeriodComparison, Share, ShareOf
from cube_server.plan import CellQuery
from cube_server.query import Cut, PointCut, RangeCut, SetCut
from cube_server.resolve import BoundCut, DrillLevels, cut_paths

# (cuts, drilldown, measure names) -> the cell query over the source that answers it, and that source's name
CellLookup = Callable[[tuple[Cut, ...], tuple[DrillLevels, ...], tuple[str, ...]], tuple[CellQuery, str]]


@dataclass(slots=True)
class Lookup:
    statement: str
    cell: CellQuery
    source: str


@dataclass(slots=True)
class Lookups:
    """The lookups of a query's calculations, by the dimension they are for (None: use what the query has)."""

    references: dict[str, Lookup | None] = field(default_factory=dict)
    parents: dict[str, Lookup | None] = field(default_factory=dict)

    def all(self) -> list[Lookup]:
        return [lookup for lookup in (*self.references.values(), *self.parents.values()) if lookup is not None]

    def statements(self, max_cells: int) -> dict[str, sa.Select[Any]]:
        return {lookup.statement: lookup.cell.cells((), max_cells + 1, 0) for lookup in self.all()}

    def guards(self, max_cells: int) -> list[tuple[str, int, str]]:
        message = "the calculations would look up more than {limit} cells; cut the time dimension further"
        return [(lookup.statement, max_cells, message) for lookup in self.all()]

    def sources(self) -> dict[str, str]:
        return {lookup.statement: lookup.source for lookup in self.all()}


def plan_lookups(calculations: tuple[BoundCalculation, ...], cuts: tuple[BoundCut, ...], lookup: CellLookup) -> Lookups:
    lookups = Lookups()
    by_dimension: dict[str, list[BoundCalculation]] = {}
    for calc in calculations:
        if calc.scheme is not None and calc.along is not None:
            by_dimension.setdefault(calc.along.dimension.name, []).append(calc)
    for dimension, calcs in by_dimension.items():
        along = calcs[0].along
        assert along is not None
        reference = reference_cuts(cuts, along, max(_years_back(c) for c in calcs))
        if reference is None:
            lookups.references[dimension] = None
            continue
        cell, source = lookup(reference, (*calcs[0].others, along), _names(calcs))
        lookups.references[dimension] = Lookup(f"reference:{dimension}", cell, source)
    parents: dict[str, list[BoundCalculation]] = {}
    for calc in calculations:
        if isinstance(calc.spec, Share) and calc.spec.of is ShareOf.PARENT and calc.along is not None:
            parents.setdefault(calc.along.dimension.name, []).append(calc)
    for dimension, calcs in parents.items():
        if not calcs[0].parent:
            lookups.parents[dimension] = None
            continue
        cell, source = lookup(tuple(bound.cut for bound in cuts), calcs[0].parent, _names(calcs))
        lookups.parents[dimension] = Lookup(f"parent:{dimension}", cell, source)
    return lookups


def _names(calcs: list[BoundCalculation]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(calc.measure.name for calc in calcs))


def _years_back(calc: BoundCalculation) -> int:
    """How many years before the first one shown the calculation may read."""
    spec = calc.spec
    if isinstance(spec, PeriodComparison):
        return 1
    if isinstance(spec, MovingAverage):
        assert calc.scheme is not None
        return math.ceil((spec.periods - 1) / PERIODS_PER_YEAR[calc.scheme.grain])
    return 0  # a running total starts within the year shown


def reference_cuts(cuts: tuple[BoundCut, ...], along: DrillLevels, years_back: int) -> tuple[Cut, ...] | None:
    """The query's cuts with those on the time dimension replaced by whole years (None: no time cut)."""
    dimension = along.dimension.name
    if not any(bound.dimension.name == dimension for bound in cuts):
        return None
    kept = [bound.cut for bound in cuts if bound.dimension.name != dimension]
    low, high = year_span(cuts, along)
    if low is not None or high is not None:
        kept.append(
            RangeCut(
                dimension,
                None if low is None else (str(low - years_back),),
                None if high is None else (str(high),),
                along.hierarchy.name,
            )
        )
    return tuple(kept)


def year_span(cuts: tuple[BoundCut, ...], along: DrillLevels) -> tuple[int | None, int | None]:
    """The years the cuts on the time dimension allow, as (first, last); None where they do not bound them.

    Only cuts on a hierarchy with the same top level, a year, bound the span; negated cuts never do.
    """
    top = along.levels[0]
    low: int | None = None
    high: int | None = None
    if top.role not in YEAR_ROLES:
        return None, None
    for bound in cuts:
        cut = bound.cut
        if bound.dimension.name != along.dimension.name or cut.invert or bound.levels[0] != top:
            continue
        try:
            first, last = _years_of(cut)
        except ValueError:
            continue  # a year that is not a number bounds nothing we can count back from
        low = first if low is None else (low if first is None else max(low, first))
        high = last if high is None else (high if last is None else min(high, last))
    return low, high


def _years_of(cut: Cut) -> tuple[int | None, int | None]:
    if isinstance(cut, (PointCut, SetCut)):
        years = [int(_year(path[0])) for path in cut_paths(cut)]
        return min(years), max(years)
    assert isinstance(cut, RangeCut)
    first = int(_year(cut.from_path[0])) if cut.from_path else None
    last = int(_year(cut.to_path[0])) if cut.to_path else None
    return first, last


def _year(element: str | None) -> str:
    if element is None:
        raise ValueError("the NULL member is no year")
    return element
