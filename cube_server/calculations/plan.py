"""A query's calculations as one plan: their lookups' statements, then the columns, filters and page.

With calculations, every cell of the drilldown is read (up to ``max_cells``): ranks and top-N look at all
siblings, and periods at their neighbours, before the order and the page (``limit``/``offset``) apply.
``order`` may name a calculation's column as it may a measure or a level.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from cube_models import Cube, Measure
from cube_server.calculations.arithmetic import fit, ratio_type, same_kind_type
from cube_server.calculations.bind import BoundCalculation
from cube_server.calculations.evaluate import CellRows, Evaluator
from cube_server.calculations.lookups import CellLookup, Lookup, Lookups, plan_lookups
from cube_server.calculations.syntax import Comparison, MovingAverage, PeriodComparison, Rank, Share, TopN
from cube_server.errors import InvalidParameterError
from cube_server.plan import CellQuery
from cube_server.query import OrderItem
from cube_server.resolve import BoundCut, DrillLevels
from cube_server.result import CellSet, Column


@dataclass(slots=True)
class CalculationPlan:
    cube: Cube
    calculations: tuple[BoundCalculation, ...]
    lookups: Lookups
    order: tuple[tuple[str, bool], ...]  # (key of the cell, descending)
    limit: int | None
    offset: int

    @classmethod
    def make(
        cls,
        cube: Cube,
        calculations: tuple[BoundCalculation, ...],
        cuts: tuple[BoundCut, ...],
        drilldown: tuple[DrillLevels, ...],
        measures: tuple[Measure, ...],
        page: tuple[tuple[OrderItem, ...], int | None, int],
        lookup: CellLookup,
        key_types: dict[str, str],
    ) -> CalculationPlan:
        """``key_types``: each attribute's SQL type (a reference range is spelled in the keys' types)."""
        order, limit, offset = page
        keys = _order_keys(order, drilldown, measures, calculations)
        return cls(cube, calculations, plan_lookups(calculations, cuts, lookup, key_types), keys, limit, offset)

    def statements(self, max_cells: int) -> dict[str, sa.Select[Any]]:
        return self.lookups.statements(max_cells)

    def guards(self, max_cells: int) -> list[tuple[str, int, str]]:
        return self.lookups.guards(max_cells)

    def apply(self, result: CellSet, main: CellQuery, tables: dict[str, pa.Table]) -> CellSet:
        """Add each calculation's column to every cell, keep the top/bottom N, then order and page."""
        rows = CellRows.read(main, tables["cells"], result.cells)  # the columns are added to these cells

        def read(lookups: list[Lookup] | None) -> CellRows | None:
            if lookups is None:
                return None
            return CellRows.concatenated([CellRows.read(lookup.cell, tables[lookup.statement]) for lookup in lookups])

        references = {dimension: read(lookups) for dimension, lookups in self.lookups.references.items()}
        parents = {
            dimension: read(None if lookup is None else [lookup]) for dimension, lookup in self.lookups.parents.items()
        }
        evaluator = Evaluator(self.cube, rows, result.summary, references, parents)
        types = {column.name: column.arrow_type for column in result.columns}
        for calc in self.calculations:
            arrow_type = column_type(calc, types[calc.measure.name])
            for cell, value in zip(result.cells, evaluator.column(calc), strict=True):
                cell[calc.name] = fit(value, arrow_type)
            result.columns.append(Column(calc.name, "calculation", arrow_type))
        cells = result.cells
        for calc in self.calculations:
            if isinstance(calc.spec, TopN):
                count = calc.spec.count
                cells = [cell for cell in cells if cell[calc.name] is not None and cell[calc.name] <= count]
        cells = ordered(cells, self.order)
        result.total_cell_count = len(cells)
        end = None if self.limit is None else self.offset + self.limit
        result.cells = cells[self.offset : end]
        result.meta.extra["calculations"] = [calc.name for calc in self.calculations]
        if self.lookups.sources():
            result.meta.extra["lookups"] = self.lookups.sources()
        return result


def column_type(calc: BoundCalculation, measure_type: pa.DataType) -> pa.DataType:
    spec = calc.spec
    if isinstance(spec, (Rank, TopN)):
        return pa.int64()
    if isinstance(spec, (Share, MovingAverage)):
        return ratio_type(measure_type)
    if isinstance(spec, PeriodComparison) and spec.result is Comparison.GROWTH:
        return ratio_type(measure_type)
    return same_kind_type(measure_type)


def _order_keys(
    items: tuple[OrderItem, ...],
    drilldown: tuple[DrillLevels, ...],
    measures: tuple[Measure, ...],
    calculations: tuple[BoundCalculation, ...],
) -> tuple[tuple[str, bool], ...]:
    """Order items as cell keys: a measure, a calculation, a drilled level or its label."""
    levels = {level.ref: level for drill in drilldown for level in drill.levels}
    values = {m.name for m in measures} | {c.name for c in calculations}
    keys = []
    for item in items:
        ref = item.ref
        if ref in values or ref in levels:
            keys.append((ref, item.descending))
        elif ref.endswith(".label") and ref[: -len(".label")] in levels:
            level = levels[ref[: -len(".label")]]
            keys.append((ref if level.label_attribute else level.ref, item.descending))
        else:
            raise InvalidParameterError(
                f"cannot order by {ref!r}: not a requested measure, a calculation or a drilled level",
                order=ref,
                allowed=[*values, *levels],
            )
    return tuple(keys)


def ordered(cells: list[dict[str, Any]], order: tuple[tuple[str, bool], ...]) -> list[dict[str, Any]]:
    """Cells sorted by the order keys, NULLs last either way; ties keep the levels' natural order.

    The cells come in the levels' natural order, and each stable sort (the last key first) keeps it.
    """
    for key, descending in reversed(order):
        present = [cell for cell in cells if cell.get(key) is not None]
        present.sort(key=lambda cell: cell[key], reverse=descending)  # noqa: B023 - used at once
        cells = present + [cell for cell in cells if cell.get(key) is None]
    return cells
