"""The lookups calculations need beside the cells shown, planned as statements of their own.

* Period calculations (change, growth, running totals, moving averages) need the values of periods the
  cut may leave out: the previous month of the first month shown, the months of the year before it. A
  *reference* lookup reads the same drilldown with the cuts on the time dimension replaced by a range
  of the periods needed (:mod:`~cube_server.calculations.spans`; two lookups when the same period last
  year lies apart from the others). Its cells are only looked up, never shown. With no cut on the time
  dimension, the cells shown are the reference.
* A share of the parent needs the parent's value: a *parent* lookup reads the drilldown one level
  coarser along the dimension, under the same cut (a parent above the top level is the summary).

Each lookup is routed like any query (to the smallest cuboid that answers it exactly), guarded by
``max_cells`` and listed by explain under its name (``reference:time``, ``parent:geography``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from cube_server.calculations.bind import BoundCalculation
from cube_server.calculations.spans import reference_ranges
from cube_server.calculations.syntax import Share, ShareOf
from cube_server.plan import CellQuery
from cube_server.query import Cut
from cube_server.resolve import BoundCut, DrillLevels

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

    references: dict[str, list[Lookup] | None] = field(default_factory=dict)
    parents: dict[str, Lookup | None] = field(default_factory=dict)

    def all(self) -> list[Lookup]:
        found = [lookup for lookups in self.references.values() for lookup in lookups or []]
        return found + [lookup for lookup in self.parents.values() if lookup is not None]

    def statements(self, max_cells: int) -> dict[str, sa.Select[Any]]:
        return {lookup.statement: lookup.cell.cells((), max_cells + 1, 0) for lookup in self.all()}

    def guards(self, max_cells: int) -> list[tuple[str, int, str]]:
        message = "the calculations would look up more than {limit} cells; cut the time dimension further"
        return [(lookup.statement, max_cells, message) for lookup in self.all()]

    def sources(self) -> dict[str, str]:
        return {lookup.statement: lookup.source for lookup in self.all()}


def plan_lookups(
    calculations: tuple[BoundCalculation, ...],
    cuts: tuple[BoundCut, ...],
    lookup: CellLookup,
    key_types: dict[str, str],
) -> Lookups:
    lookups = Lookups()
    by_dimension: dict[str, list[BoundCalculation]] = {}
    for calc in calculations:
        if calc.scheme is not None and calc.along is not None:
            by_dimension.setdefault(calc.along.dimension.name, []).append(calc)
    for dimension, calcs in by_dimension.items():
        along = calcs[0].along
        assert along is not None
        if not any(bound.dimension.name == dimension for bound in cuts):
            lookups.references[dimension] = None  # no cut on the time dimension: the cells shown have every period
            continue
        kept = tuple(bound.cut for bound in cuts if bound.dimension.name != dimension)
        ranges = reference_ranges(cuts, along, calcs, key_types)
        found = []
        for index, span in enumerate(ranges, start=1):
            cell, source = lookup(kept if span is None else (*kept, span), (*calcs[0].others, along), _names(calcs))
            name = f"reference:{dimension}" if len(ranges) == 1 else f"reference:{dimension}:{index}"
            found.append(Lookup(name, cell, source))
        lookups.references[dimension] = found
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
