"""Compute calculations over the cells of a drilldown and the lookups beside them.

Semantics (the README's "Analyst calculations" states them for users):

* A cell is compared with cells alike in every other drilled dimension: its previous month is the
  same province's previous month.
* A period with no facts (a *missing* period) has the value the engine answers for an empty cell: 0 for
  sums and counts, NULL for min, max and averages. So growth over a missing month is NULL (a zero
  denominator), its change is the cell's whole value, and a moving average counts it as 0.
* The cell itself contributes the value shown; the other periods are whole periods (a cut on the time
  dimension decides which periods are shown, never what a reference period holds).
* Ranks are competition ranks (ties share a rank, the next rank is skipped); a NULL value has no rank
  and is never in a top or bottom N.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from cube_models import Cube, Measure
from cube_server.calculations.arithmetic import add, difference, empty_value, merge, ratio
from cube_server.calculations.bind import RUNNING, BoundCalculation, base_measures
from cube_server.calculations.periods import PeriodScheme, UndecodablePeriodError
from cube_server.calculations.syntax import (
    Comparison,
    MovingAverage,
    PeriodComparison,
    Rank,
    Reference,
    RunningPeriod,
    RunningTotal,
    Share,
    ShareOf,
    TopN,
)
from cube_server.errors import CalculationError
from cube_server.formula import evaluate
from cube_server.plan import CellQuery
from cube_server.resolve import DrillLevels

Bases = dict[str, Any]  # stored (base) measure name -> value


@dataclass(slots=True)
class CellRows:
    """The cells of one statement: shaped (level keys and measures) and their base values."""

    shaped: list[dict[str, Any]]
    bases: list[Bases]
    empty: Bases  # the base values of a cell with no facts

    @classmethod
    def read(cls, cell: CellQuery, table: pa.Table, shaped: list[dict[str, Any]] | None = None) -> CellRows:
        """The cells of ``table`` (``shaped``: the same cells, already shaped by ``cell``)."""
        rows = table.to_pylist()
        names = [m.name for m in cell.base]
        bases = [{name: row[f"v{i}"] for i, name in enumerate(names)} for row in rows]
        types = {name: table.schema.field(f"v{i}").type for i, name in enumerate(names)}
        empty = {m.name: empty_value(m.function, types[m.name]) for m in cell.base}
        return cls(cell.shape_cells(table) if shaped is None else shaped, bases, empty)

    @classmethod
    def concatenated(cls, parts: list[CellRows]) -> CellRows:
        """The cells of several lookups of the same drilldown and measures (over separate ranges)."""
        return cls(
            [c for part in parts for c in part.shaped], [b for part in parts for b in part.bases], parts[0].empty
        )


def key_of(cell: dict[str, Any], drilldown: tuple[DrillLevels, ...]) -> tuple[Any, ...]:
    return tuple(cell[level.ref] for drill in drilldown for level in drill.levels)


def value_of(cube: Cube, measure: Measure, bases: Bases) -> Any:
    """A measure's value from its stored parts, as the engine computes it per cell."""
    if measure.formula is None:
        return bases.get(measure.name)
    values = {name: value_of(cube, cube.measure(name), bases) for name in measure.formula.names()}
    return evaluate(measure.formula, values, measure.scale)


class PeriodSeries:
    """A lookup's cells by (other dimensions' keys, period ordinal), each key's ordinals sorted."""

    def __init__(self, scheme: PeriodScheme, along: DrillLevels, others: tuple[DrillLevels, ...], rows: CellRows):
        self.scheme = scheme
        self.empty = rows.empty
        by_key: dict[tuple[Any, ...], dict[int, Bases]] = {}
        for cell, bases in zip(rows.shaped, rows.bases, strict=True):
            path = tuple(cell[level.ref] for level in along.levels)
            try:
                ordinal = scheme.ordinal(path)
            except UndecodablePeriodError:
                continue  # a member that is no period (NULL) is never anyone's reference
            by_key.setdefault(key_of(cell, others), {})[ordinal] = bases
        self.by_key = by_key
        self.ordinals = {key: sorted(periods) for key, periods in by_key.items()}

    def at(self, key: tuple[Any, ...], ordinal: int | None) -> Bases | None:
        """The base values of one period; an empty cell's when it has no facts; None when there is none."""
        if ordinal is None:
            return None
        return self.by_key.get(key, {}).get(ordinal, self.empty)

    def before(self, key: tuple[Any, ...], start: int, stop: int) -> list[Bases]:
        """The periods in [start, stop) that have cells, in order (missing ones hold an empty cell)."""
        ordinals = self.ordinals.get(key, [])
        periods = self.by_key.get(key, {})
        return [periods[o] for o in ordinals[bisect_left(ordinals, start) : bisect_left(ordinals, stop)]]


class Evaluator:
    """Computes each calculation's column over the cells shown (``main``), given the lookups' cells."""

    def __init__(
        self,
        cube: Cube,
        main: CellRows,
        summary: dict[str, Any],
        references: dict[str, CellRows | None],
        parents: dict[str, CellRows | None],
    ) -> None:
        self.cube = cube
        self.main = main
        self.summary = summary
        self.references = references
        self.parents = parents

    def column(self, calc: BoundCalculation) -> list[Any]:
        spec = calc.spec
        if isinstance(spec, Share):
            return self._share(calc) if spec.of is ShareOf.PARENT else self._share_of_total(calc)
        if isinstance(spec, (Rank, TopN)):
            return self._rank(calc, ascending=isinstance(spec, TopN) and spec.bottom)
        series = self._series(calc)
        ordinals = self._ordinals(calc)
        keys = [key_of(cell, calc.others) for cell in self.main.shaped]
        if isinstance(spec, PeriodComparison):
            return self._comparison(calc, spec, series, ordinals, keys)
        if isinstance(spec, RunningTotal):
            return self._running(calc, spec, series, ordinals, keys)
        assert isinstance(spec, MovingAverage)
        return self._moving_average(calc, spec, series, ordinals, keys)

    # ---- shares and ranks ------------------------------------------------------------------------
    def _share_of_total(self, calc: BoundCalculation) -> list[Any]:
        total = self.summary.get(calc.measure.name)
        return [ratio(cell[calc.measure.name], total) for cell in self.main.shaped]

    def _share(self, calc: BoundCalculation) -> list[Any]:
        assert calc.along is not None
        parents = self.parents[calc.along.dimension.name]
        name = calc.measure.name
        if parents is None:
            return self._share_of_total(calc)
        by_key = {key_of(cell, calc.parent): cell[name] for cell in parents.shaped}
        return [ratio(cell[name], by_key.get(key_of(cell, calc.parent))) for cell in self.main.shaped]

    def _rank(self, calc: BoundCalculation, *, ascending: bool) -> list[Any]:
        name = calc.measure.name
        groups: dict[tuple[Any, ...], list[Any]] = {}
        keys = [key_of(cell, calc.parent) for cell in self.main.shaped]
        for key, cell in zip(keys, self.main.shaped, strict=True):
            if cell[name] is not None:
                groups.setdefault(key, []).append(cell[name])
        for values in groups.values():
            values.sort(reverse=not ascending)
        ranks = []
        for key, cell in zip(keys, self.main.shaped, strict=True):
            value = cell[name]
            if value is None:
                ranks.append(None)
                continue
            values = groups[key]
            # 1 + how many come strictly before it: the sorted list's first position holding the value
            ranks.append(1 + (_first_index(values, value, descending=not ascending)))
        return ranks

    # ---- periods ---------------------------------------------------------------------------------
    def _series(self, calc: BoundCalculation) -> PeriodSeries:
        assert calc.along is not None and calc.scheme is not None
        rows = self.references[calc.along.dimension.name] or self.main
        return PeriodSeries(calc.scheme, calc.along, calc.others, rows)

    def _ordinals(self, calc: BoundCalculation) -> list[int | None]:
        assert calc.along is not None and calc.scheme is not None
        ordinals: list[int | None] = []
        for cell in self.main.shaped:
            path = tuple(cell[level.ref] for level in calc.along.levels)
            try:
                ordinals.append(calc.scheme.ordinal(path))
            except UndecodablePeriodError as exc:
                if any(key is None for key in path):
                    ordinals.append(None)  # the NULL member is no period: its calculations are NULL
                    continue
                raise CalculationError(
                    f"{calc.name}: the member {list(path)} of {calc.along.level.ref!r} does not read as a "
                    f"{calc.scheme.grain} (keys of the levels above it should give its year)",
                    calculation=calc.name,
                ) from exc
        return ordinals

    def _comparison(
        self,
        calc: BoundCalculation,
        spec: PeriodComparison,
        series: PeriodSeries,
        ordinals: list[int | None],
        keys: list[tuple[Any, ...]],
    ) -> list[Any]:
        assert calc.scheme is not None
        values = []
        for cell, ordinal, key in zip(self.main.shaped, ordinals, keys, strict=True):
            reference_ordinal = None
            if ordinal is not None:
                previous = spec.reference is Reference.PREVIOUS
                reference_ordinal = ordinal - 1 if previous else calc.scheme.last_year(ordinal)
            bases = series.at(key, reference_ordinal)
            reference = None if bases is None else value_of(self.cube, calc.measure, bases)
            change = difference(cell[calc.measure.name], reference)
            values.append(change if spec.result is Comparison.CHANGE else ratio(change, reference))
        return values

    def _running(
        self,
        calc: BoundCalculation,
        spec: RunningTotal,
        series: PeriodSeries,
        ordinals: list[int | None],
        keys: list[tuple[Any, ...]],
    ) -> list[Any]:
        scheme = calc.scheme
        assert scheme is not None
        start_of: Callable[[int], int] = (
            scheme.year_start if spec.period is RunningPeriod.YEAR else scheme.quarter_start
        )
        merges = {base.name: RUNNING[base.function] for base in base_measures(self.cube, calc.measure)}  # type: ignore[index]
        cumulative = _Cumulative(series, start_of, merges)
        values = []
        for own, ordinal, key in zip(self.main.bases, ordinals, keys, strict=True):
            if ordinal is None:
                values.append(None)
                continue
            before = cumulative.before(key, ordinal)
            merged = {name: merge([before.get(name), own.get(name)], how) for name, how in merges.items()}
            values.append(value_of(self.cube, calc.measure, merged))
        return values

    def _moving_average(
        self,
        calc: BoundCalculation,
        spec: MovingAverage,
        series: PeriodSeries,
        ordinals: list[int | None],
        keys: list[tuple[Any, ...]],
    ) -> list[Any]:
        name = calc.measure.name
        empty = value_of(self.cube, calc.measure, series.empty)
        window = _Window(series, lambda bases: value_of(self.cube, calc.measure, bases))
        values = []
        for cell, ordinal, key in zip(self.main.shaped, ordinals, keys, strict=True):
            if ordinal is None:
                values.append(None)
                continue
            total, count, periods = window.total(key, ordinal - spec.periods + 1, ordinal)
            missing = spec.periods - 1 - periods
            if empty is not None and missing:
                total, count = add(total, empty * missing), count + missing
            if cell[name] is not None:
                total, count = add(total, cell[name]), count + 1
            values.append(ratio(total, count) if count else None)
        return values


class _Window:
    """Sums of a measure's values over runs of periods, from prefix sums (exact values) or slices (floats)."""

    def __init__(self, series: PeriodSeries, value: Callable[[Bases], Any]) -> None:
        self.series = series
        self.values = {
            key: [value(series.by_key[key][ordinal]) for ordinal in ordinals]
            for key, ordinals in series.ordinals.items()
        }
        self.prefix: dict[tuple[Any, ...], tuple[list[Any], list[int]]] = {}
        for key, values in self.values.items():
            if any(isinstance(v, float) for v in values):
                continue
            sums: list[Any] = [0]
            counts = [0]
            for v in values:
                sums.append(sums[-1] if v is None else add(sums[-1], v))
                counts.append(counts[-1] + (v is not None))
            self.prefix[key] = (sums, counts)

    def total(self, key: tuple[Any, ...], start: int, stop: int) -> tuple[Any, int, int]:
        """(sum, count) of the non-NULL values of periods in [start, stop), and how many periods have cells."""
        ordinals = self.series.ordinals.get(key, [])
        first, last = bisect_left(ordinals, start), bisect_left(ordinals, stop)
        if key in self.prefix:
            sums, counts = self.prefix[key]
            return difference(sums[last], sums[first]), counts[last] - counts[first], last - first
        present = [v for v in self.values.get(key, [])[first:last] if v is not None]
        return (merge(present, "sum") if present else 0), len(present), last - first


class _Cumulative:
    """Per key, the merged base values of the periods from their period start up to each period."""

    def __init__(self, series: PeriodSeries, start_of: Callable[[int], int], merges: dict[str, str]) -> None:
        self.series = series
        self.start_of = start_of
        self.running: dict[tuple[Any, ...], list[Bases]] = {}
        for key, ordinals in series.ordinals.items():
            totals: list[Bases] = []
            for index, ordinal in enumerate(ordinals):
                bases = series.by_key[key][ordinal]
                fresh = index == 0 or start_of(ordinals[index - 1]) != start_of(ordinal)
                previous: Bases = {} if fresh else totals[-1]
                totals.append({name: merge([previous.get(name), bases.get(name)], how) for name, how in merges.items()})
            self.running[key] = totals

    def before(self, key: tuple[Any, ...], ordinal: int) -> Bases:
        """Merged values of the periods in [start of the ordinal's year or quarter, ordinal)."""
        ordinals = self.series.ordinals.get(key, [])
        index = bisect_left(ordinals, ordinal) - 1
        if index < 0 or self.start_of(ordinals[index]) != self.start_of(ordinal):
            return {}
        return self.running[key][index]


def _first_index(values: list[Any], value: Any, *, descending: bool) -> int:
    """Position of the first occurrence of ``value`` in ``values`` sorted in that direction."""
    low, high = 0, len(values)
    while low < high:
        middle = (low + high) // 2
        before = values[middle] > value if descending else values[middle] < value
        if before:
            low = middle + 1
        else:
            high = middle
    return low
