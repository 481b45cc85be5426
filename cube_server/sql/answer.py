"""Answer a SELECT on a cube table through an engine, and explain it.

The engine is a ``RestrictedEngine`` at every edge, so the principal's cubes and row restrictions
apply; the query goes through ``aggregate``, so it is routed to a cuboid exactly like the HTTP API's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from sqlglot import exp

from cube_models import ModelCatalog
from cube_server.cut_syntax import format_cuts, format_drilldown
from cube_server.errors import SqlAggregationError
from cube_server.plan import Plan
from cube_server.query import MembersQuery, Query
from cube_server.result import CellSet, Explanation, Rows
from cube_server.settings import Settings
from cube_server.sql.select import MERGEABLE, CubeSelect, Output, SortKey, translate
from cube_server.sql.tables import AttributeColumn, CubeTable, cube_table
from cube_server.sql.where import evaluate


class SqlEngine(Protocol):
    """What SQL needs of an engine: a ``CubeEngine``, or the ``RestrictedEngine`` every edge holds."""

    @property
    def catalog(self) -> ModelCatalog: ...
    @property
    def settings(self) -> Settings: ...
    def attribute_types(self, cube: str) -> dict[str, str]: ...
    def measure_types(self, cube: str) -> dict[str, str]: ...
    def aggregate(self, query: Query, *, operation: str = ..., extra: dict[str, Any] | None = ...) -> CellSet: ...
    def members(self, query: MembersQuery) -> Rows: ...
    def plan_aggregate(self, query: Query, operation: str = ...) -> Plan: ...
    def explain(self, plan: Plan) -> Explanation: ...


@dataclass(slots=True)
class SqlAnswer:
    columns: list[tuple[str, str]]  # (name, SQL type)
    rows: list[tuple[Any, ...]]
    source: str | None = None  # the cuboid (or the facts) the engine answered from


def cube_tables(engine: SqlEngine) -> dict[str, CubeTable]:
    """The cube tables the engine's principal may read, by name."""
    return {
        cube.name: cube_table(cube, engine.attribute_types(cube.name), engine.measure_types(cube.name))
        for cube in engine.catalog.cubes
    }


def plan_select(engine: SqlEngine, select: exp.Select, table: CubeTable) -> CubeSelect:
    settings = engine.settings
    return translate(
        select,
        table,
        lambda dimension, hierarchy, level: _members(engine, table.name, dimension, hierarchy, level),
        max_members=settings.max_cells,
        max_page_size=settings.max_page_size,
    )


def _members(engine: SqlEngine, cube: str, dimension: str, hierarchy: str, level: str) -> Iterator[dict[str, Any]]:
    page = engine.settings.max_page_size
    offset = 0
    while True:
        rows = engine.members(MembersQuery(cube, dimension, level, hierarchy, limit=page, offset=offset)).rows
        yield from rows
        if len(rows) < page:
            return
        offset += page


def answer_select(engine: SqlEngine, plan: CubeSelect) -> SqlAnswer:
    columns = [(output.name, output.sql_type) for output in plan.outputs]
    if plan.empty:
        cells = [] if plan.grouped else [_empty_cell(plan)]
        return SqlAnswer(columns, [_row(plan.outputs, cell) for cell in _paged(plan, cells)])
    result = engine.aggregate(plan.query)
    cells = result.cells if plan.grouped else [result.summary]
    for column in plan.looked_up:
        _look_up(engine, plan, column, cells)
    if plan.merge:
        cells = _merged(plan, cells)
    if plan.having is not None:
        having = plan.having
        cells = [cell for cell in cells if evaluate(having, _cell_value(plan, cell)) is True]
    if plan.sort:
        cells = sorted(cells, key=functools.cmp_to_key(lambda a, b: _compare(plan, a, b)))
    return SqlAnswer(columns, [_row(plan.outputs, cell) for cell in _paged(plan, cells)], result.meta.source)


def _look_up(engine: SqlEngine, plan: CubeSelect, column: AttributeColumn, cells: list[dict[str, Any]]) -> None:
    """Set an attribute the cells lack (neither key nor label) from the members of its level, by member path."""
    dimension = column.dimension
    item = next(d for d in plan.query.drilldown if d.dimension == dimension.name)
    hierarchy = dimension.hierarchy(item.hierarchy)
    path = dimension.levels_of(hierarchy)[: hierarchy.depth_of(column.level.name)]
    values = {
        tuple(row.get(level.ref) for level in path): row.get(column.attribute_ref)
        for row in _members(engine, plan.table.name, dimension.name, hierarchy.name, column.level.name)
    }
    for cell in cells:
        cell[column.attribute_ref] = values.get(tuple(cell.get(level.ref) for level in path))


def explain_select(engine: SqlEngine, plan: CubeSelect) -> list[str]:
    """The plan as lines of text (PostgreSQL's EXPLAIN shape): the source first, then the SQL that runs."""
    explanation = engine.explain(engine.plan_aggregate(plan.query))
    query = plan.query
    lines = [
        f"Cube query on {explanation.cube}",
        f"  source: {explanation.source}",
        f"  grain: {', '.join(explanation.grain) or '(all)'}",
        f"  cut: {format_cuts(query.cuts) or '(none)'}",
        f"  drilldown: {format_drilldown(query.drilldown) or '(none)'}",
        f"  measures: {', '.join(explanation.measures)}",
    ]
    if plan.empty:
        lines.append("  no member matches WHERE: answered without a query")
    if plan.merge:
        lines.append("  cells sharing a group are merged here (GROUP BY leaves out levels above the deepest one)")
    for column in plan.looked_up:
        lines.append(f"  {column.name} looked up in the members of {column.level.ref}")
    if plan.having is not None:
        lines.append(f"  HAVING applied here to every cell: {plan.having.sql(dialect='postgres')}")
    if plan.sort or plan.limit is not None or plan.offset:
        lines.append("  ORDER BY / LIMIT / OFFSET applied here to every cell")
    for candidate in explanation.candidates:
        rows = candidate.get("estimated_rows")
        size = f", ~{rows:,} rows" if rows is not None else ""
        verdict = "usable" if candidate.get("usable") else f"not usable: {candidate.get('reason')}"
        lines.append(f"  candidate cuboid {candidate.get('cuboid')} ({verdict}{size})")
    for statement in explanation.statements:
        lines.append(f"  {statement.name}: {' '.join(statement.sql.split())}")
        if statement.parameters:
            lines.append(f"    parameters: {list(statement.parameters)}")
    return lines


def _empty_cell(plan: CubeSelect) -> dict[str, Any]:
    """The summary of no rows, as the engine answers it: 0 for sums and counts, NULL otherwise."""
    return {
        output.measure.name: (output.measure.function.empty_value if output.measure.function else None)
        for output in plan.outputs
        if output.measure is not None
    }


def _row(outputs: list[Output], cell: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(_value(output, cell) for output in outputs)


def _value(output: Output, cell: dict[str, Any]) -> Any:
    if output.attribute is not None:
        return cell.get(output.attribute.cell_key)
    if output.measure is not None:
        return cell.get(output.measure.name)
    return output.constant


def _paged(plan: CubeSelect, cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    end = None if plan.limit is None else plan.offset + plan.limit
    return cells[plan.offset : end]


def _merged(plan: CubeSelect, cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One cell per group of the SELECT, merging the engine's cells that share its level columns."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for cell in cells:
        groups.setdefault(tuple(cell.get(column.cell_key) for column in plan.group), []).append(cell)
    measures = {output.measure.name: output.measure for output in plan.outputs if output.measure is not None}
    for key in plan.sort:
        if key.measure is not None:
            measures.setdefault(key.measure, plan.table.cube.measure(key.measure))
    for name in plan.having_measures:
        measures.setdefault(name, plan.table.cube.measure(name))
    merged = []
    for key, members in groups.items():
        if len(members) == 1:
            merged.append(members[0])
            continue
        cell = dict(members[0])
        for name, measure in measures.items():
            how = MERGEABLE.get(measure.function) if measure.function else None
            if how is None:
                shown = ", ".join(f"{c.name} = {v!r}" for c, v in zip(plan.group, key, strict=True))
                raise SqlAggregationError(
                    f"{name} cannot be merged over the {len(members)} members that share {shown}: group by the levels "
                    "above too (each member's value is exact; their merge would not be)",
                    measure=name,
                )
            values = [c.get(name) for c in members if c.get(name) is not None]
            merge = sum if how == "sum" else min if how == "min" else max
            cell[name] = merge(values) if values else None
        merged.append(cell)
    return merged


def _cell_value(plan: CubeSelect, cell: dict[str, Any]) -> Callable[[exp.Column], Any]:
    """HAVING's references (``measure:revenue``, ``attribute:product_line``) read from one cell."""

    def value(node: exp.Column) -> Any:
        kind, _, name = node.name.partition(":")
        if kind == "measure":
            return cell.get(name)
        column = plan.table.column(name)
        return cell.get(column.cell_key) if isinstance(column, AttributeColumn) else None

    return value


def _sort_value(plan: CubeSelect, key: SortKey, cell: dict[str, Any]) -> Any:
    if key.output is not None:
        return _value(plan.outputs[key.output], cell)
    if key.measure is not None:
        return cell.get(key.measure)
    assert key.attribute is not None
    return cell.get(key.attribute.cell_key)


def _compare(plan: CubeSelect, a: dict[str, Any], b: dict[str, Any]) -> int:
    """PostgreSQL's order: NULLs sort as larger than any value unless NULLS FIRST says otherwise."""
    for key in plan.sort:
        x, y = _sort_value(plan, key, a), _sort_value(plan, key, b)
        if x is None and y is None:
            continue
        if x is None or y is None:
            null_first = key.nulls_first
            return (-1 if x is None else 1) if null_first else (1 if x is None else -1)
        if x == y:
            continue
        result = -1 if x < y else 1
        return -result if key.descending else result
    return 0
