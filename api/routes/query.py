"""``/v1/cubes/{cube}/...``: aggregate, drilldown, rollup, slice, pivot, members, facts, explain, query.

Every GET builds the same :class:`QueryBody` a POST sends, and both go through :func:`dispatch`,
so the query string and the JSON body cannot drift apart, and explain follows the running path.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from starlette.responses import Response

from api import encoding
from api.dependencies import REQUIRE_PRINCIPAL, EngineDep
from api.errors import error_responses
from api.operations import cell_query, facts_query, members_query, pivot_query
from api.schemas import (
    CellParams,
    CellsResponse,
    DrilldownParams,
    ExplainParams,
    ExplainResponse,
    FactsParams,
    MembersParams,
    PivotParams,
    PivotResponse,
    QueryBody,
    RollupParams,
    RowsResponse,
)
from cube_server.access.restricted import RestrictedEngine
from cube_server.errors import InvalidParameterError
from cube_server.plan import Plan

router = APIRouter(prefix="/v1/cubes/{cube}", tags=["query"], dependencies=REQUIRE_PRINCIPAL)
ERRORS = error_responses(400, 401, 404, 410, 503, 504)
TABLE_TYPES = {"text/csv": {}, encoding.ARROW_MEDIA_TYPE: {}}


def _responses(model: Any) -> dict[int | str, dict[str, Any]]:
    return {200: {"model": model, "content": TABLE_TYPES}, **ERRORS}


def dispatch(
    engine: RestrictedEngine, cube: str, body: QueryBody, request: Request, dimension: str | None = None
) -> Response:
    fmt = encoding.choose_format(request, body.format)
    operation = body.operation
    dimension = dimension or body.dimension
    if operation in ("aggregate", "slice", "drilldown", "rollup"):
        query = cell_query(
            cube, body.cut, body.drilldown, body.measures, body.order, body.limit, body.offset, body.version,
            body.calculations,
        )  # fmt: skip
        extra = None
        if operation == "drilldown":
            query = engine.drilldown_query(query, _required(dimension), body.depth)
        elif operation == "rollup":
            query, origin = engine.rollup_query(query, _required(dimension), body.steps)
            extra = {"rolled_up_from": origin}
        if body.explain:
            return _explain(engine, engine.plan_aggregate(query, operation))
        return encoding.render_cells(fmt, engine.aggregate(query, operation=operation, extra=extra), operation)
    if body.calculations:
        raise InvalidParameterError(
            f"calculations apply to aggregate, slice, drilldown and rollup, not {operation}", operation=operation
        )
    if operation == "pivot":
        pivot = pivot_query(cube, body)
        if body.explain:
            return _explain(engine, engine.plan_pivot(pivot))
        return encoding.render_pivot(fmt, engine.pivot(pivot))
    if operation == "members":
        members = members_query(cube, _required(dimension), body)
        if body.explain:
            return _explain(engine, engine.plan_members(members))
        if fmt != "json":  # streamed from DuckDB batch by batch, never held whole
            return encoding.stream_response(fmt, engine.stream_members(members), "members", members.dimension)
        return encoding.render_rows(fmt, engine.members(members), "members")
    facts = facts_query(cube, body)
    if body.explain:
        return _explain(engine, engine.plan_facts(facts))
    if fmt != "json":
        return encoding.stream_response(fmt, engine.stream_facts(facts), "facts")
    return encoding.render_rows(fmt, engine.facts(facts), "facts")


def _required(dimension: str | None) -> str:
    if not dimension:
        raise InvalidParameterError("this operation needs a dimension parameter")
    return dimension


def _explain(engine: RestrictedEngine, plan: Plan) -> Response:
    response = encoding.json_response(encoding.explain_body(engine.explain(plan)))
    response.headers["X-Cube-Source"] = plan.source
    return response


def _body(operation: str, params: Any, **extra: Any) -> QueryBody:
    return QueryBody(operation=operation, **_values(params), **extra)  # type: ignore[arg-type]


def _values(params: Any) -> dict[str, Any]:
    """Query-string parameters as body fields: GET's short ``calc`` is the body's ``calculations``."""
    values: dict[str, Any] = params.model_dump()
    if "calc" in values:
        values["calculations"] = values.pop("calc")
    return values


@router.get(
    "/aggregate", summary="Aggregate measures over a cell, optionally drilled down", responses=_responses(CellsResponse)
)
def aggregate(cube: str, params: Annotated[CellParams, Query()], engine: EngineDep, request: Request) -> Response:
    return dispatch(engine, cube, _body("aggregate", params), request)


@router.get(
    "/drilldown", summary="Children of the member the cut fixes on a dimension", responses=_responses(CellsResponse)
)
def drilldown(cube: str, params: Annotated[DrilldownParams, Query()], engine: EngineDep, request: Request) -> Response:
    return dispatch(engine, cube, _body("drilldown", params), request)


@router.get(
    "/rollup", summary="The same question some levels coarser on a dimension", responses=_responses(CellsResponse)
)
def rollup(cube: str, params: Annotated[RollupParams, Query()], engine: EngineDep, request: Request) -> Response:
    return dispatch(engine, cube, _body("rollup", params), request)


@router.get(
    "/slice", summary="The sub-cube given by the cuts (a dice when several)", responses=_responses(CellsResponse)
)
def slice_(cube: str, params: Annotated[CellParams, Query()], engine: EngineDep, request: Request) -> Response:
    return dispatch(engine, cube, _body("slice", params), request)


@router.get("/pivot", summary="Levels on rows and columns, with totals", responses=_responses(PivotResponse))
def pivot(cube: str, params: Annotated[PivotParams, Query()], engine: EngineDep, request: Request) -> Response:
    return dispatch(engine, cube, _body("pivot", params), request)


@router.get(
    "/members/{dimension}", summary="Members of a level, with labels, paginated", responses=_responses(RowsResponse)
)
def members(
    cube: str, dimension: str, params: Annotated[MembersParams, Query()], engine: EngineDep, request: Request
) -> Response:
    return dispatch(engine, cube, _body("members", params), request, dimension=dimension)


@router.get("/facts", summary="Drill through to fact rows, paginated", responses=_responses(RowsResponse))
def facts(cube: str, params: Annotated[FactsParams, Query()], engine: EngineDep, request: Request) -> Response:
    return dispatch(engine, cube, _body("facts", params), request)


@router.get(
    "/explain",
    summary="The plan and SQL of any operation, without running it",
    responses={200: {"model": ExplainResponse}, **ERRORS},
)
def explain(cube: str, params: Annotated[ExplainParams, Query()], engine: EngineDep, request: Request) -> Response:
    body = QueryBody(explain=True, **_values(params))
    return dispatch(engine, cube, body, request)


@router.post(
    "/query",
    summary="Any operation with its parameters in a JSON body (for long queries)",
    responses={200: {"description": "the same answer as the matching GET", "content": TABLE_TYPES}, **ERRORS},
)
def post_query(cube: str, body: Annotated[QueryBody, Body()], engine: EngineDep, request: Request) -> Response:
    return dispatch(engine, cube, body, request)
