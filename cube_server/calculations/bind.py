"""Bind calculation specs to a query: the measure, the drilled dimension each works along, its periods.

Errors are ``invalid_calculation`` (400) when a calculation does not fit the query: no drilldown, a
period calculation along a dimension that is not ``role: time``, a level that is not a calendar period,
a running total of a measure whose values do not add up. Unknown names keep their own codes
(``unknown_measure``, ``unknown_dimension``).
"""

from __future__ import annotations

from dataclasses import dataclass

from cube_models import AggFunc, Cube, Measure
from cube_server.calculations.periods import PERIODS_PER_YEAR, PeriodScheme
from cube_server.calculations.syntax import (
    PERIOD_CALCULATIONS,
    Calculation,
    RunningPeriod,
    RunningTotal,
    Share,
    ShareOf,
)
from cube_server.errors import CalculationError
from cube_server.resolve import DrillLevels

MAX_CALCULATIONS = 32
# Measures whose values over consecutive periods merge into the value over all of them.
RUNNING = {
    AggFunc.SUM: "sum",
    AggFunc.COUNT: "sum",
    AggFunc.COUNT_NONEMPTY: "sum",
    AggFunc.MIN: "min",
    AggFunc.MAX: "max",
}


@dataclass(frozen=True, slots=True)
class BoundCalculation:
    spec: Calculation
    measure: Measure
    # The drilled dimension the calculation works along (None for a share of the total).
    along: DrillLevels | None
    # The cells' other drilled dimensions, in drilldown order: a calculation compares cells alike in them.
    others: tuple[DrillLevels, ...]
    # The drilldown one level coarser along ``along`` (the parent cells), in drilldown order.
    parent: tuple[DrillLevels, ...]
    scheme: PeriodScheme | None = None

    @property
    def name(self) -> str:
        return self.spec.name


def bind_calculations(
    cube: Cube, specs: tuple[Calculation, ...], drilldown: tuple[DrillLevels, ...]
) -> tuple[BoundCalculation, ...]:
    if not specs:
        return ()
    if len(specs) > MAX_CALCULATIONS:
        raise CalculationError(f"at most {MAX_CALCULATIONS} calculations per query", count=len(specs))
    if not drilldown:
        raise CalculationError(
            "calculations compare the cells of a drilldown: add one, e.g. drilldown=time:month",
            calculation=specs[0].name,
        )
    taken = {m.name for m in cube.measures} | {level.ref for d in drilldown for level in d.levels}
    bound = []
    for spec in specs:
        if spec.name in taken:
            raise CalculationError(
                f"calculation {spec.name!r} is asked twice or names a measure or level", calculation=spec.name
            )
        taken.add(spec.name)
        bound.append(_bind(cube, spec, drilldown))
    return tuple(bound)


def _bind(cube: Cube, spec: Calculation, drilldown: tuple[DrillLevels, ...]) -> BoundCalculation:
    measure = cube.measure(spec.measure)
    if isinstance(spec, Share) and spec.of is ShareOf.TOTAL:
        return BoundCalculation(spec, measure, None, drilldown, ())
    along = _along(cube, spec, drilldown)
    others = tuple(d for d in drilldown if d.dimension.name != along.dimension.name)
    parent = tuple(
        DrillLevels(d.dimension, d.hierarchy, d.levels[:-1]) if d is along else d
        for d in drilldown
        if d is not along or len(d.levels) > 1
    )
    scheme = None
    if isinstance(spec, PERIOD_CALCULATIONS):
        scheme = _scheme(spec, along)
        if isinstance(spec, RunningTotal):
            _check_running(cube, spec, measure, scheme)
    return BoundCalculation(spec, measure, along, others, parent, scheme)


def _along(cube: Cube, spec: Calculation, drilldown: tuple[DrillLevels, ...]) -> DrillLevels:
    if spec.dimension is not None:
        dimension = cube.dimension(spec.dimension)
        for drill in drilldown:
            if drill.dimension.name == dimension.name:
                return drill
        raise CalculationError(
            f"{spec.name}: dimension {dimension.name!r} is not in the drilldown", calculation=spec.name
        )
    if not isinstance(spec, PERIOD_CALCULATIONS):
        return drilldown[-1]
    timed = [drill for drill in drilldown if drill.dimension.role == "time"]
    if len(timed) != 1:
        dimensions = [d.name for d in cube.dimensions if d.role == "time"]
        problem = "needs a role: time dimension in the drilldown" if not timed else "cannot choose a time dimension"
        raise CalculationError(
            f"{spec.name} {problem}; time dimensions: {', '.join(dimensions) or 'none'} "
            f"(drill one, e.g. drilldown={dimensions[0] if dimensions else 'time'}:month, or name it)",
            calculation=spec.name,
        )
    return timed[0]


def _scheme(spec: Calculation, along: DrillLevels) -> PeriodScheme:
    if along.dimension.role != "time":
        raise CalculationError(
            f"{spec.name} compares periods: dimension {along.dimension.name!r} is not a role: time dimension",
            calculation=spec.name,
            dimension=along.dimension.name,
        )
    grain = along.level.role
    if grain not in PERIODS_PER_YEAR:
        raise CalculationError(
            f"{spec.name}: level {along.level.ref!r} is not a calendar period (its role is {grain!r}; periods are "
            f"{', '.join(PERIODS_PER_YEAR)})",
            calculation=spec.name,
            level=along.level.ref,
        )
    return PeriodScheme(grain, tuple(level.role for level in along.levels))


def _check_running(cube: Cube, spec: RunningTotal, measure: Measure, scheme: PeriodScheme) -> None:
    if spec.period is RunningPeriod.QUARTER and not scheme.has_quarters:
        raise CalculationError(
            f"{spec.name}: a {scheme.grain} has no quarter to run from; drill to a quarter or finer",
            calculation=spec.name,
        )
    for base in base_measures(cube, measure):
        if base.function not in RUNNING:
            raise CalculationError(
                f"{spec.name}: the values of {base.name!r} ({base.function}) over several periods do not add up "
                "to its value over all of them; a running total needs sums, counts, min or max",
                calculation=spec.name,
                measure=base.name,
            )


def base_measures(cube: Cube, measure: Measure) -> list[Measure]:
    """The stored measures a measure is computed from (itself, when it is stored)."""
    if measure.formula is None:
        return [measure]
    found: dict[str, Measure] = {}
    for name in sorted(measure.formula.names()):
        for base in base_measures(cube, cube.measure(name)):
            found.setdefault(base.name, base)
    return list(found.values())


def with_calculated_measures(names: tuple[str, ...], calculations: tuple[BoundCalculation, ...]) -> tuple[str, ...]:
    """The requested measures plus those the calculations read (all measures, when none are named)."""
    if not names:
        return names
    return tuple(dict.fromkeys([*names, *(c.measure.name for c in calculations)]))
