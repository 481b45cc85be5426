"""``/cube/{cube}/aggregate``: the engine's aggregation as Cubes' result, with ``split`` and the cardinality guard.

The response keys and their presence follow Cubes: ``summary``, ``remainder`` (always ``{}``),
``cells``, ``total_cell_count`` and ``levels`` (only with a drilldown or split), ``aggregates``,
``cell``, ``attributes``, ``has_split``. Rows are keyed by attribute refs, then aggregate names.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from api.request_context import note_cell_answer
from api.slicer.cells import cut_object
from api.slicer.params import Paging
from api.slicer.refs import WireRefs
from cube_server.access.restricted import RestrictedEngine
from cube_server.calculations.syntax import Calculation
from cube_server.cardinality import check_low_cardinality
from cube_server.errors import InvalidParameterError
from cube_server.query import Cut, DrilldownItem, OrderItem, Query
from cube_server.resolve import DrillLevels, bind_cuts, bind_drilldown

SPLIT = "__within_split__"
SPLIT_LABEL = "Matches Filters"


@dataclass(frozen=True, slots=True)
class AggregateRequest:
    cube: str
    cuts: tuple[Cut, ...] = ()
    drilldown: tuple[DrilldownItem, ...] = ()
    aggregates: tuple[str, ...] = ()
    order: tuple[OrderItem, ...] = ()  # in the engine's names
    paging: Paging = Paging()
    split: tuple[Cut, ...] = ()
    calculations: tuple[Calculation, ...] = ()  # our extension: ``calc=``, as on /v1


@dataclass(frozen=True, slots=True)
class AggregateAnswer:
    body: dict[str, Any]
    columns: list[str]  # the row keys, in order (CSV columns)
    labels: list[str]  # their labels (CSV header)


def run_aggregate(
    engine: RestrictedEngine, request: AggregateRequest, refs: WireRefs, record_limit: int | None
) -> AggregateAnswer:
    """Aggregate; ``record_limit`` caps the cells returned (JSON), None returns them all (CSV)."""
    cube = engine.cube(request.cube)
    bound = bind_cuts(cube, request.cuts)
    # The implicit levels (a dimension without a level) are fixed by the request's own cuts and the caller's
    # restriction (a branch drills from its own level), before a split adds its cut.
    fixing = bind_cuts(cube, (*request.cuts, *engine.restriction(cube.name)))
    drills = bind_drilldown(cube, request.drilldown, fixing)
    check_low_cardinality(fixing, drills, request.paging.is_paged)
    drilldown = tuple(DrilldownItem(d.dimension.name, d.hierarchy.name, d.level.name) for d in drills)
    query = Query(
        cube.name, request.cuts, drilldown, request.aggregates, request.order, calculations=request.calculations
    )
    if request.split and request.calculations:
        raise InvalidParameterError("calc cannot be combined with split")
    attributes = [wire for drill in drills for level in drill.levels for _, wire in refs.level_columns(level)]
    calculated: list[str] = []
    if request.split:
        cells, total, summary, names, levels = _split(engine, query, request, drills, refs, record_limit)
    else:
        limit, offset = request.paging.window(record_limit)
        result = engine.aggregate(replace(query, limit=limit, offset=offset))
        note_cell_answer(result.meta)
        calculated = [column.name for column in result.columns if column.kind == "calculation"]
        cells = [_row(cell, drills, refs, [*result.measures, *calculated]) for cell in result.cells]
        total, summary, names, levels = result.total_cell_count, result.summary, result.measures, result.levels
    body: dict[str, Any] = {"summary": summary, "remainder": {}, "cells": cells}
    if drills or request.split:
        body["total_cell_count"] = total
    body["aggregates"] = names
    if calculated:
        body["calculations"] = calculated  # our extension: the calc= columns, after the aggregates in each cell
    body["cell"] = [cut_object(each) for each in bound]
    if drills or request.split:
        body["levels"] = levels
    body["attributes"] = attributes
    body["has_split"] = bool(request.split)
    columns = [*attributes, *([SPLIT] if request.split else []), *names, *calculated]
    labels = [_label(column, refs, engine, cube.name) for column in columns]
    return AggregateAnswer(body, columns, labels)


def _label(column: str, refs: WireRefs, engine: RestrictedEngine, cube: str) -> str:
    if column == SPLIT:
        return SPLIT_LABEL
    attribute = refs.attribute(column)
    if attribute is not None:
        return attribute.label
    model = engine.cube(cube)
    return model.measure(column).label if column in {m.name for m in model.measures} else column


def _row(
    cell: dict[str, Any],
    drills: tuple[DrillLevels, ...],
    refs: WireRefs,
    measures: list[str],
    split: bool | None = None,
) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for drill in drills:
        for level in drill.levels:
            for column, wire in refs.level_columns(level):
                row[wire] = cell[column]
    if split is not None:
        row[SPLIT] = split
    for name in measures:
        row[name] = cell[name]
    return row


def _split(
    engine: RestrictedEngine,
    query: Query,
    request: AggregateRequest,
    drills: tuple[DrillLevels, ...],
    refs: WireRefs,
    record_limit: int | None,
) -> tuple[list[dict[str, Any]], int, dict[str, Any], list[str], dict[str, list[str]]]:
    """Cells inside and outside the split cut, each marked; the summary is the whole cell's."""
    if len(request.split) != 1:
        raise InvalidParameterError("split takes one cut (its complement must be one cut too)")
    (inside_cut,) = request.split
    outside_cut = replace(inside_cut, invert=not inside_cut.invert)
    inside = engine.aggregate(replace(query, cuts=(*query.cuts, inside_cut)))
    outside = engine.aggregate(replace(query, cuts=(*query.cuts, outside_cut)))
    whole = engine.aggregate(replace(query, drilldown=()))
    if drills:
        rows = [_row(cell, drills, refs, whole.measures, False) for cell in outside.cells]
        rows += [_row(cell, drills, refs, whole.measures, True) for cell in inside.cells]
    else:
        # Without a drilldown each side is one cell: its summary (an empty side too, with its empty values).
        rows = [_row(outside.summary, drills, refs, whole.measures, False)]
        rows += [_row(inside.summary, drills, refs, whole.measures, True)]
    keys = [wire for drill in drills for level in drill.levels for _, wire in refs.level_columns(level)[:1]]
    order = [(_order_column(item, drills, refs), item.descending) for item in request.order]
    rows = sort_rows(rows, [*order, *((key, False) for key in keys), (SPLIT, False)])
    limit, offset = request.paging.window(record_limit)
    page = rows[offset : None if limit is None else offset + limit]
    levels = {**{drill.key: [level.name for level in drill.levels] for drill in drills}, SPLIT: [SPLIT]}
    return page, len(rows), whole.summary, whole.measures, levels


def _order_column(item: OrderItem, drills: tuple[DrillLevels, ...], refs: WireRefs) -> str:
    """The row key an engine order item reads: an aggregate, or a drilled level's key or label attribute."""
    for drill in drills:
        for level in drill.levels:
            for column, wire in refs.level_columns(level):
                if column == item.ref:
                    return wire
    return item.ref


def sort_rows(rows: list[dict[str, Any]], keys: list[tuple[str, bool]]) -> list[dict[str, Any]]:
    """Rows sorted by ``(column, descending)`` keys, nulls last either way (stable passes, last key first).

    >>> sort_rows([{"a": 2}, {"a": None}, {"a": 1}], [("a", True)])
    [{'a': 2}, {'a': 1}, {'a': None}]
    """
    for column, descending in reversed(keys):
        present = [row for row in rows if row.get(column) is not None]
        missing = [row for row in rows if row.get(column) is None]
        present.sort(key=lambda row: row[column], reverse=descending)
        rows = present + missing
    return rows
