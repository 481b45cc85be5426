"""Cuboids as query sources: a built cuboid read through DuckDB, shaped like the star it summarises.

A :class:`CuboidSource` answers the same questions as :class:`~cube_server.star.Star` (the column of an
attribute, the inputs of a measure, how to aggregate them), so the planner and renderer work unchanged on
either; only the measure algebra differs: a cuboid's partials are merged, not aggregated from facts.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from aggregates.algebra import partial_column, partials
from aggregates.store import BuiltCuboid
from cube_models import AggFunc, Cube, Measure
from cube_models.expression import Expr
from cube_server.sql_dialect import merged_total
from cube_server.star import render_expression


def column_name(ref: str) -> str:
    """Cuboid files name attribute columns without dots (``time.year`` -> ``time__year``)."""
    return ref.replace(".", "__")


class CuboidSource:
    def __init__(
        self, cube: Cube, cuboid: BuiltCuboid, table: sa.TableClause, measure_types: dict[str, str] | None = None
    ) -> None:
        self.cube = cube
        self.cuboid = cuboid
        self.table = table
        self.measure_types = measure_types or {}  # measure name -> SQL type of its fact input

    def attribute(self, ref: str) -> sa.ColumnElement[Any]:
        return self.table.c[column_name(ref)]

    def from_clause_for(self, refs: set[str], measures: tuple[Measure, ...] = ()) -> sa.FromClause:
        return self.table

    def measure_inputs(self, measure: Measure) -> list[sa.ColumnElement[Any]]:
        return [self.table.c[partial_column(measure, name)] for name, _, _ in partials(measure)]

    def merge(self, measure: Measure, inputs: list[sa.ColumnElement[Any]]) -> sa.ColumnElement[Any]:
        return merge_partials(measure, inputs, self.measure_types.get(measure.name, ""))

    def render(self, expr: Expr, resolve_name: Any) -> sa.ColumnElement[Any]:
        return render_expression(expr, resolve_name)


def merge_partials(
    measure: Measure, inputs: list[sa.ColumnElement[Any]], input_type: str = ""
) -> sa.ColumnElement[Any]:
    """Roll partials up; results have the types the same measure has when aggregated from facts."""
    function = measure.function
    if function is AggFunc.SUM:
        return merged_total(inputs[0], input_type)
    if function in (AggFunc.COUNT, AggFunc.COUNT_NONEMPTY, AggFunc.COUNT_DISTINCT):
        return sa.cast(sa.func.coalesce(sa.func.sum(inputs[0]), 0), sa.BigInteger)
    if function is AggFunc.MIN:
        return sa.func.min(inputs[0])
    if function is AggFunc.MAX:
        return sa.func.max(inputs[0])
    if function is AggFunc.AVG:
        return sa.cast(sa.func.sum(inputs[0]), sa.Double()) / sa.func.nullif(sa.func.sum(inputs[1]), 0)
    raise AssertionError(function)
