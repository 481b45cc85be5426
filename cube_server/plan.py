"""Plans: the statements an operation will run, and how their results are shaped.

``CubeEngine.query`` runs a plan and ``CubeEngine.explain`` prints it: both come from the same
builders here, so what explain shows is exactly what runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from cube_models import AggFunc, Cube, Level, Measure
from cube_server.errors import InvalidParameterError
from cube_server.formula import evaluate
from cube_server.render import CutRenderer, InnerSelect, cut_refs, measure_columns
from cube_server.resolve import BoundCut, BoundOrder, DrillLevels
from cube_server.result import Column, Meta, Rows
from cube_server.star import Star

MERGEABLE = (AggFunc.SUM, AggFunc.COUNT, AggFunc.COUNT_NONEMPTY, AggFunc.MIN, AggFunc.MAX)


@dataclass
class Plan:
    operation: str
    cube: Cube
    grain: list[str]
    measures: list[str]
    statements: dict[str, sa.Select[Any]]
    shape: Callable[[dict[str, pa.Table]], Any]
    source: str = "facts"
    # (statement name, limit, message): checked right after that statement runs, before the next.
    guards: list[tuple[str, int, str]] = field(default_factory=list)
    # every cuboid the router considered, and why it was taken or not
    candidates: list[dict[str, Any]] = field(default_factory=list)
    version: str = ""
    # paged row plans (members, facts): how their rows are named, so they can also be streamed
    layout: RowLayout | None = None


@dataclass(frozen=True, slots=True)
class RowLayout:
    """A paged row plan's page and count statements, and the output name of each SQL label, in order."""

    page: str
    count: str
    names: tuple[tuple[str, str], ...]  # (SQL label, output name)
    kind: str
    meta: Meta

    def columns(self, schema: pa.Schema) -> list[Column]:
        return [Column(name, self.kind, schema.field(label).type) for label, name in self.names]

    def output_schema(self, schema: pa.Schema) -> pa.Schema:
        return pa.schema([schema.field(label).with_name(name) for label, name in self.names])

    def rename(self, batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
        return pa.RecordBatch.from_arrays([batch.column(label) for label, _ in self.names], schema=schema)

    def shape(self, tables: dict[str, pa.Table]) -> Rows:
        table = tables[self.page]
        rows = [{name: row[label] for label, name in self.names} for row in table.to_pylist()]
        return Rows(self.columns(table.schema), rows, int(tables[self.count].column(0)[0].as_py()), self.meta)


def calculated_type(measure: Measure) -> pa.DataType:
    return pa.decimal128(38, measure.scale) if measure.scale is not None else pa.float64()


class CellQuery:
    """Builds the grouped statement of a cell at a drilldown, with its summary and count."""

    def __init__(
        self,
        star: Star,
        cuts: CutRenderer,
        bound_cuts: tuple[BoundCut, ...],
        drilldown: tuple[DrillLevels, ...],
        measures: tuple[Measure, ...],
        base: tuple[Measure, ...],
        summary_source: tuple[Any, CutRenderer] | None = None,
    ) -> None:
        self.star = star
        self.summary_source_name = "facts"
        self.drilldown = drilldown
        self.measures = measures
        self.base = base
        attributes: list[str] = []
        for drill in drilldown:
            for level in drill.levels:
                attributes.extend(_level_refs(level))
        conditions = [cuts.condition(bound) for bound in bound_cuts]
        self.inner_select = InnerSelect.make(star, conditions, attributes, base, cut_refs(bound_cuts))
        self.inner = self.inner_select.subquery(base)
        self.values = measure_columns(self.inner, star, self.inner_select.measure_labels, base)
        self.value_by_name = {m.name: v for m, v in zip(base, self.values, strict=True)}
        self.group_columns = [self.inner.c[label] for label in self.inner_select.attribute_labels.values()]
        # The summary reads only what the cuts and measures need: no joins for the drilled levels. It is a
        # coarser question than the cells, so it may come from another source: a distinct count that a
        # cuboid serves per year cannot be summed over the years.
        summary_star, summary_cuts = summary_source or (star, cuts)
        summary_conditions = [summary_cuts.condition(bound) for bound in bound_cuts]
        summary_select = InnerSelect.make(summary_star, summary_conditions, [], base, cut_refs(bound_cuts))
        self.summary_inner = summary_select.subquery(base)
        self.summary_values = measure_columns(self.summary_inner, summary_star, summary_select.measure_labels, base)

    def column(self, ref: str) -> sa.ColumnElement[Any]:
        return self.inner.c[self.inner_select.attribute_labels[ref]]

    def cells(self, order: tuple[BoundOrder, ...], limit: int | None, offset: int) -> sa.Select[Any]:
        statement = sa.select(*self.group_columns, *self.values).group_by(*self.group_columns)
        statement = statement.order_by(*self.order_by(order))
        if limit is not None:
            statement = statement.limit(limit)
        if offset:
            statement = statement.offset(offset)
        return statement

    @property
    def is_mergeable(self) -> bool:
        """Every stored measure merges from its cells' values (a distinct count or an average does not)."""
        return all(m.function in MERGEABLE for m in self.base)

    def merged_summary(self, table: pa.Table) -> dict[str, Any]:
        """The summary row merged from all the cells of ``table``: sums add up, min and max compare."""
        row: dict[str, Any] = {}
        for index, measure in enumerate(self.base):
            name = f"v{index}"
            values = [value for value in table.column(name).to_pylist() if value is not None]
            if measure.function in (AggFunc.MIN, AggFunc.MAX):
                pick = min if measure.function is AggFunc.MIN else max
                row[name] = pick(values) if values else None
            else:
                arrow_type = table.schema.field(name).type
                zero = Decimal(0).scaleb(-arrow_type.scale) if pa.types.is_decimal(arrow_type) else 0
                row[name] = sum(values, zero)
        return row

    def summary(self) -> sa.Select[Any]:
        # select_from: a COUNT(*) alone names no column of the cell, and must still read from it.
        return sa.select(*self.summary_values).select_from(self.summary_inner)

    def count(self) -> sa.Select[Any]:
        grouped = sa.select(*self.group_columns).group_by(*self.group_columns).subquery("groups")
        return sa.select(sa.func.count().label("n")).select_from(grouped)

    def order_by(self, order: tuple[BoundOrder, ...]) -> list[sa.ColumnElement[Any]]:
        clauses: list[sa.ColumnElement[Any]] = []
        for item in order:
            if item.kind == "measure":
                expression = self.measure_expression(item.ref)
            else:
                level = self._level(item.ref)
                attribute = level.label_attribute if item.kind == "label" and level.label_attribute else level.key
                expression = self.column(level.attribute(attribute).ref)
            clauses.append((expression.desc() if item.descending else expression.asc()).nulls_last())
        # The levels' natural order breaks ties, so pages are stable.
        for drill in self.drilldown:
            for level in drill.levels:
                expression = self.column(level.attribute(level.order_attribute).ref)
                clauses.append((expression.desc() if level.order == "desc" else expression.asc()).nulls_last())
                if level.order_attribute != level.key:
                    clauses.append(self.column(level.key_attribute.ref).asc().nulls_last())
        return clauses

    def measure_expression(self, name: str) -> sa.ColumnElement[Any]:
        if name in self.value_by_name:
            return self.value_by_name[name]
        measure = self.star.cube.measure(name)
        assert measure.formula is not None
        return self.star.render(measure.formula, self.measure_expression)

    def _level(self, ref: str) -> Level:
        for drill in self.drilldown:
            for level in drill.levels:
                if level.ref == ref:
                    return level
        raise InvalidParameterError(f"{ref!r} is not a drilled level")

    # ---- shaping -----------------------------------------------------------------------------
    def output_columns(self, table: pa.Table) -> list[Column]:
        columns = []
        labels = self.inner_select.attribute_labels
        for drill in self.drilldown:
            for level in drill.levels:
                columns.append(Column(level.ref, "level", table.schema.field(labels[level.key_attribute.ref]).type))
                if level.label_attribute:
                    label_ref = level.attribute(level.label_attribute).ref
                    columns.append(Column(f"{level.ref}.label", "label", table.schema.field(labels[label_ref]).type))
        columns.extend(self.measure_output_columns(table))
        return columns

    def measure_output_columns(self, table: pa.Table) -> list[Column]:
        positions = {m.name: i for i, m in enumerate(self.base)}
        columns = []
        for measure in self.measures:
            if measure.formula is not None:
                columns.append(Column(measure.name, "measure", calculated_type(measure)))
            else:
                columns.append(Column(measure.name, "measure", table.schema.field(f"v{positions[measure.name]}").type))
        return columns

    def shape_cells(self, table: pa.Table) -> list[dict[str, Any]]:
        labels = self.inner_select.attribute_labels
        cells = []
        for row in table.to_pylist():
            cell: dict[str, Any] = {}
            for drill in self.drilldown:
                for level in drill.levels:
                    cell[level.ref] = row[labels[level.key_attribute.ref]]
                    if level.label_attribute:
                        cell[f"{level.ref}.label"] = row[labels[level.attribute(level.label_attribute).ref]]
            cell.update(self.measure_values(row))
            cells.append(cell)
        return cells

    def measure_values(self, row: dict[str, Any]) -> dict[str, Any]:
        base_values = {m.name: row[f"v{i}"] for i, m in enumerate(self.base)}
        result: dict[str, Any] = {}
        for measure in self.measures:
            if measure.formula is not None:
                result[measure.name] = evaluate(
                    measure.formula, _with_nested(self.star.cube, base_values, measure), measure.scale
                )
            else:
                result[measure.name] = base_values[measure.name]
        return result


def _with_nested(cube: Cube, values: dict[str, Any], measure: Measure) -> dict[str, Any]:
    """Values of the formula's names, computing nested calculated measures first."""
    assert measure.formula is not None
    result = dict(values)
    for name in measure.formula.names():
        if name not in result:
            nested = cube.measure(name)
            if nested.formula is not None:
                result[name] = evaluate(nested.formula, _with_nested(cube, values, nested), nested.scale)
    return result


def _level_refs(level: Level) -> list[str]:
    refs = [level.key_attribute.ref]
    if level.label_attribute:
        refs.append(level.attribute(level.label_attribute).ref)
    if level.order_attribute not in (level.key, level.label_attribute):
        refs.append(level.attribute(level.order_attribute).ref)
    return refs


def summary_from(table: pa.Table, query: CellQuery) -> dict[str, Any]:
    rows = table.to_pylist()
    row = rows[0] if rows else {f"v{i}": None for i in range(len(query.base))}
    return query.measure_values(row)
