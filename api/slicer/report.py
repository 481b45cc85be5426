"""``/cube/{cube}/report``: several named queries over one cell, in one JSON request.

The body is ``{"queries": {name: {"query": kind, ...}}, "cell": [cut objects]?}``; ``cell`` replaces the
URL's ``cut``. Kinds: ``aggregate``, ``facts``, ``fact``, ``members`` (or ``values``), ``cell`` and
``details``. A query's ``rollup`` (a dimension, a list of them, or ``{dimension: level}``) lifts the
cell's point cuts on those dimensions one level, or to the level, before the query runs. Paging keys are
``page`` and ``page_size`` here. The answer is ``{name: result}``; members are a bare array.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from api.slicer.aggregate import AggregateRequest, run_aggregate
from api.slicer.cells import cut_from_object
from api.slicer.details import cut_details, cut_with_details
from api.slicer.params import (
    aggregate_order_of,
    aggregates_of,
    cuts_of,
    depth_and_level,
    drilldown_of,
    fact_order_of,
    fields_of,
    paging_of,
)
from api.slicer.refs import WireRefs
from api.slicer.rows import MembersRequest, fact_body, run_facts, run_members
from cube_models import Cube
from cube_server.access.restricted import RestrictedEngine
from cube_server.errors import InvalidParameterError
from cube_server.query import Cut, PointCut
from cube_server.relative_time import resolve_relative_cuts
from cube_server.resolve import bind_cuts

MAX_QUERIES = 64


@dataclass(frozen=True, slots=True)
class ReportContext:
    engine: RestrictedEngine
    cube: Cube
    refs: WireRefs
    record_limit: int
    now: datetime  # relative time cuts count from it


def run_report(context: ReportContext, body: Any, url_cuts: tuple[Cut, ...]) -> dict[str, Any]:
    if not isinstance(body, dict) or "queries" not in body:
        raise InvalidParameterError("Report request does not contain 'queries' key")
    queries = body["queries"]
    if not isinstance(queries, dict) or len(queries) > MAX_QUERIES:
        raise InvalidParameterError(f"'queries' must be an object of at most {MAX_QUERIES} named queries")
    cuts = url_cuts
    if body.get("cell") is not None:
        if not isinstance(body["cell"], list):
            raise InvalidParameterError("a report's 'cell' must be a list of cut objects")
        settings = context.engine.settings
        cuts = tuple(cut_from_object(item) for item in body["cell"])
        cuts = resolve_relative_cuts(context.cube, cuts, context.now, settings.first_weekday)
    results: dict[str, Any] = {}
    for name, spec in queries.items():
        if not isinstance(spec, dict):
            raise InvalidParameterError(f"report query {name!r} must be an object")
        kind = spec.get("query")
        handler = HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            raise InvalidParameterError(
                f"report query {name!r} has unknown type {kind!r}; types: {', '.join(HANDLERS)}", query=name
            )
        results[name] = handler(context, spec, rolled_up(context.cube, cuts, spec.get("rollup")))
    return results


def _texts(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return list(value)
    raise InvalidParameterError(f"{name!r} must be a string or a list of strings")


def _order_texts(value: Any) -> list[str]:
    """``order`` as strings, or as ``[ref, direction]`` pairs."""
    if isinstance(value, list) and all(isinstance(item, list) for item in value):
        return [":".join(str(part) for part in item) for item in value]
    return _texts(value, "order")


def _drilldown_texts(value: Any) -> list[str]:
    if isinstance(value, dict):  # Cubes' older form {dimension: level}
        return [f"{dimension}:{level}" if level else str(dimension) for dimension, level in value.items()]
    return _texts(value, "drilldown")


def _aggregate(context: ReportContext, spec: dict[str, Any], cuts: tuple[Cut, ...]) -> Any:
    refs, settings = context.refs, context.engine.settings
    request = AggregateRequest(
        context.cube.name,
        cuts,
        drilldown_of(_drilldown_texts(spec.get("drilldown"))),
        aggregates_of(_texts(spec.get("aggregates"), "aggregates")),
        aggregate_order_of(refs, _order_texts(spec.get("order"))),
        paging_of(spec.get("page"), spec.get("page_size")),
        cuts_of(context.cube, _texts(spec.get("split"), "split"), settings, context.now),
    )
    return run_aggregate(context.engine, request, refs, context.record_limit).body


def _facts(context: ReportContext, spec: dict[str, Any], cuts: tuple[Cut, ...]) -> Any:
    refs = context.refs
    answer = run_facts(
        context.engine,
        context.cube.name,
        cuts,
        fields_of(refs, _texts(spec.get("fields"), "fields")),
        fact_order_of(refs, _order_texts(spec.get("order"))),
        paging_of(spec.get("page"), spec.get("page_size")),
        refs,
        context.record_limit,
    )
    return answer.first


def _fact(context: ReportContext, spec: dict[str, Any], cuts: tuple[Cut, ...]) -> Any:
    key = spec.get("key", spec.get("id"))
    if key is None or isinstance(key, dict | list):
        raise InvalidParameterError("a fact query needs a key (or id)")
    return fact_body(context.engine, context.cube.name, str(key), context.refs)


def _members(context: ReportContext, spec: dict[str, Any], cuts: tuple[Cut, ...]) -> Any:
    dimension = spec.get("dimension")
    if not isinstance(dimension, str):
        raise InvalidParameterError("a members query needs a dimension")
    depth, level = depth_and_level(spec.get("depth"), spec.get("level"))
    request = MembersRequest(
        context.cube.name,
        dimension,
        spec.get("hierarchy") if isinstance(spec.get("hierarchy"), str) else None,
        depth,
        level,
        cuts,
        paging_of(spec.get("page"), spec.get("page_size")),
    )
    _, answer = run_members(context.engine, request, context.refs, context.record_limit)
    return answer.first


def _cell(context: ReportContext, spec: dict[str, Any], cuts: tuple[Cut, ...]) -> Any:
    bound = bind_cuts(context.cube, cuts)
    cube = context.cube.name
    return {"cube": cube, "cuts": [cut_with_details(context.engine, cube, each, context.refs) for each in bound]}


def _details(context: ReportContext, spec: dict[str, Any], cuts: tuple[Cut, ...]) -> Any:
    bound = bind_cuts(context.cube, cuts)
    return [cut_details(context.engine, context.cube.name, each, context.refs) for each in bound]


Handler = Callable[[ReportContext, dict[str, Any], tuple[Cut, ...]], Any]
HANDLERS: dict[str, Handler] = {
    "aggregate": _aggregate,
    "facts": _facts,
    "fact": _fact,
    "members": _members,
    "values": _members,
    "cell": _cell,
    "details": _details,
}


def rolled_up(cube: Cube, cuts: tuple[Cut, ...], rollup: Any) -> tuple[Cut, ...]:
    """The cell with its point cuts on the rolled-up dimensions lifted one level (or to the named level)."""
    if rollup is None:
        return cuts
    if isinstance(rollup, str):
        targets: dict[str, Any] = {rollup: None}
    elif isinstance(rollup, list) and all(isinstance(item, str) for item in rollup):
        targets = dict.fromkeys(rollup)
    elif isinstance(rollup, dict):
        targets = rollup
    else:
        raise InvalidParameterError("rollup must be a dimension, a list of dimensions or {dimension: level}")
    result: list[Cut] = []
    for cut in cuts:
        if cut.dimension not in targets or not isinstance(cut, PointCut) or cut.invert:
            result.append(cut)
            continue
        level = targets[cut.dimension]
        if level is None:
            depth = len(cut.path) - 1
        else:
            dimension = cube.dimension(cut.dimension)
            hierarchy = dimension.hierarchy(cut.hierarchy)
            dimension.level(str(level))
            if level not in hierarchy.levels:
                raise InvalidParameterError(f"level {level!r} is not in hierarchy {hierarchy.name!r}")
            depth = hierarchy.depth_of(level)
        if depth > 0:
            result.append(replace(cut, path=cut.path[:depth]))
    for name in targets:
        cube.dimension(name)  # rolling up an unknown dimension is an error
    return tuple(result)
