"""The Slicer-compatible routes: ``/info``, ``/version``, ``/cubes`` and ``/cube/{cube}/...``.

Each route parses Cubes' parameters (:mod:`api.slicer.params`), calls the engine through the modules
of this package and answers in Cubes' shapes. Errors are answered in Cubes' flat shape by
:mod:`api.errors`, which knows these paths.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.responses import Response

from api.dependencies import REQUIRE_PRINCIPAL, EngineDep, PrincipalDep
from api.slicer import model as model_json
from api.slicer.aggregate import AggregateRequest, run_aggregate
from api.slicer.details import cut_with_details
from api.slicer.output import CSV_TYPE, JSON_LINES_TYPE, csv_answer, json_answer, json_lines_answer
from api.slicer.params import (
    aggregate_order_of,
    aggregates_of,
    cuts_of,
    depth_and_level,
    drilldown_of,
    fact_order_of,
    fields_of,
    format_of,
    header_of,
    is_true,
    measures_filter,
    now_of,
    paging_of,
    record_limit,
)
from api.slicer.refs import WireRefs
from api.slicer.report import ReportContext, run_report
from api.slicer.rows import MembersRequest, RowsAnswer, fact_body, run_facts, run_members
from cube_models import Cube
from cube_server.access.restricted import RestrictedEngine
from cube_server.calculations.syntax import parse_calculations
from cube_server.errors import InvalidParameterError
from cube_server.resolve import bind_cuts

router = APIRouter(tags=["slicer"], dependencies=REQUIRE_PRINCIPAL)
LISTING_FORMATS = ("json", "csv", "json_lines")


class SlicerError(BaseModel):
    error: str
    message: str


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    types = {
        400: "unknown_user_error, hierarchy, request",
        401: "not_authenticated",
        404: "missing_object, not_found",
        503: "not_ready",
    }
    return {
        status: {"model": SlicerError, "description": f"Cubes' flat error; types: {types.get(status, 'see README')}"}
        for status in statuses
    }


ERRORS = _errors(400, 401, 404, 503, 504)
# The listings answer JSON, or CSV and JSON lines with format=csv / json_lines.
LISTING = {
    200: {"content": {"application/json": {}, CSV_TYPE.split(";")[0]: {}, JSON_LINES_TYPE: {}}},
    **ERRORS,
}


def _pretty(request: Request) -> bool:
    return is_true(request.query_params.get("prettyprint"))


def _refs(engine: RestrictedEngine, cube: Cube) -> WireRefs:
    return WireRefs(cube, engine.settings.slicer_bare_flat_refs)


@router.get("/version", summary="Server and Slicer API version", responses=_errors(401, 503))
def version(request: Request) -> Response:
    return json_answer(model_json.version_body(), _pretty(request))


@router.get("/info", summary="Server and data information (Cubes clients call it first)", responses=_errors(401, 503))
def info(request: Request, engine: EngineDep, principal: PrincipalDep) -> Response:
    body = model_json.info_body(engine.catalog, engine.settings)
    if principal.kind in ("key", "token"):  # anonymous and open callers used no authentication, as Cubes says it
        body["authentication"] = {"type": "api_key" if principal.kind == "key" else "jwt", "identity": principal.name}
    return json_answer(body, _pretty(request))


@router.get("/cubes", summary="The cubes: name, label, category, info", responses=_errors(401, 503))
def cubes(request: Request, engine: EngineDep, principal: PrincipalDep) -> Response:
    readable = [cube for cube in model_json.cubes_body(engine.catalog) if principal.can_read(cube["name"])]
    return json_answer(readable, _pretty(request))


@router.get("/cube/{cube}/model", summary="A cube's logical model, as Cubes serves it", responses=ERRORS)
def cube_model(cube: str, request: Request, engine: EngineDep) -> Response:
    model = engine.cube(cube)
    return json_answer(model_json.cube_body(model, _refs(engine, model)), _pretty(request))


@router.get(
    "/cube/{cube}/aggregate", summary="Aggregate a cell, optionally drilled down (Cubes' result)", responses=LISTING
)
def aggregate(cube: str, request: Request, engine: EngineDep) -> Response:
    params = request.query_params
    model = engine.cube(cube)
    refs = _refs(engine, model)
    fmt = format_of(params.get("format"), LISTING_FORMATS)
    settings = engine.settings
    aggregates = aggregates_of(params.getlist("aggregates")) or measures_filter(model, params.getlist("measures"))
    now = now_of(request, settings)
    query = AggregateRequest(
        model.name,
        cuts_of(model, params.getlist("cut"), settings, now),
        drilldown_of(params.getlist("drilldown")),
        aggregates,
        aggregate_order_of(refs, params.getlist("order")),
        paging_of(params.get("page"), params.get("pagesize")),
        cuts_of(model, params.getlist("split"), settings, now),
        tuple(spec for text in params.getlist("calc") for spec in parse_calculations(text)),
    )
    if fmt == "json":
        answer = run_aggregate(engine, query, refs, record_limit(settings))
        return json_answer(answer.body, _pretty(request))
    header = header_of(params.get("header"))
    answer = run_aggregate(engine, query, refs, None)
    if fmt == "json_lines":
        return json_lines_answer(answer.body["cells"], "aggregate")
    return csv_answer(answer.columns, _header(header, answer.columns, answer.labels), answer.body["cells"], "aggregate")


def _header(kind: str, names: list[str], labels: list[str]) -> list[str] | None:
    return {"labels": labels, "names": names, "none": None}[kind]


def _listing(fmt: str, params: QueryParams, answer: RowsAnswer, name: str) -> Response:
    if fmt == "json_lines":
        return json_lines_answer(answer.all_rows(), name)
    header = _header(header_of(params.get("header")), answer.columns, answer.labels)
    return csv_answer(answer.columns, header, answer.all_rows(), name)


@router.get("/cube/{cube}/facts", summary="The facts of a cell (drill-through)", responses=LISTING)
def facts(cube: str, request: Request, engine: EngineDep) -> Response:
    params = request.query_params
    model = engine.cube(cube)
    refs = _refs(engine, model)
    fmt = format_of(params.get("format"), LISTING_FORMATS)
    settings = engine.settings
    answer = run_facts(
        engine,
        model.name,
        cuts_of(model, params.getlist("cut"), settings, now_of(request, settings)),
        fields_of(refs, params.getlist("fields")),
        fact_order_of(refs, params.getlist("order")),
        paging_of(params.get("page"), params.get("pagesize")),
        refs,
        record_limit(settings) if fmt == "json" else settings.max_page_size,
    )
    if fmt == "json":
        return json_answer(answer.first, _pretty(request))
    return _listing(fmt, params, answer, "facts")


@router.get("/cube/{cube}/fact/{fact_id}", summary="One fact by its key", responses=ERRORS)
def fact(cube: str, fact_id: str, request: Request, engine: EngineDep) -> Response:
    model = engine.cube(cube)
    return json_answer(fact_body(engine, model.name, fact_id, _refs(engine, model)), _pretty(request))


@router.get("/cube/{cube}/members/{dimension}", summary="The members of a dimension's levels", responses=LISTING)
def members(cube: str, dimension: str, request: Request, engine: EngineDep) -> Response:
    params = request.query_params
    model = engine.cube(cube)
    refs = _refs(engine, model)
    fmt = format_of(params.get("format"), LISTING_FORMATS)
    settings = engine.settings
    depth, level = depth_and_level(params.get("depth"), params.get("level"))
    query = MembersRequest(
        model.name,
        dimension,
        params.get("hierarchy") or None,
        depth,
        level,
        cuts_of(model, params.getlist("cut"), settings, now_of(request, settings)),
        paging_of(params.get("page"), params.get("pagesize")),
    )
    limit = record_limit(settings) if fmt == "json" else settings.max_page_size
    head, answer = run_members(engine, query, refs, limit)
    if fmt == "json":
        return json_answer({**head, "data": answer.first}, _pretty(request))
    return _listing(fmt, params, answer, "members")


@router.get("/cube/{cube}/cell", summary="The cuts of a cell, with the members they name", responses=ERRORS)
def cell(cube: str, request: Request, engine: EngineDep) -> Response:
    model = engine.cube(cube)
    refs = _refs(engine, model)
    cuts = cuts_of(model, request.query_params.getlist("cut"), engine.settings, now_of(request, engine.settings))
    bound = bind_cuts(model, cuts)
    body = {"cube": model.name, "cuts": [cut_with_details(engine, model.name, each, refs) for each in bound]}
    return json_answer(body, _pretty(request))


REPORT = "/cube/{cube}/report"


@router.get(REPORT, summary="Several queries over one cell, given as a JSON body", responses=ERRORS)
async def report_get(cube: str, request: Request, engine: EngineDep) -> Response:
    return await _report_request(cube, request, engine)


@router.post(REPORT, summary="Several queries over one cell, given as a JSON body", responses=ERRORS)
async def report_post(cube: str, request: Request, engine: EngineDep) -> Response:
    return await _report_request(cube, request, engine)


async def _report_request(cube: str, request: Request, engine: RestrictedEngine) -> Response:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError):
        raise InvalidParameterError("the report request body is not JSON") from None
    except RecursionError:
        raise InvalidParameterError("the report request body is nested too deeply") from None
    return await run_in_threadpool(_report, engine, cube, body, request)


def _report(engine: RestrictedEngine, cube: str, body: Any, request: Request) -> Response:
    model = engine.cube(cube)
    settings = engine.settings
    now = now_of(request, settings)
    context = ReportContext(engine, model, _refs(engine, model), record_limit(settings), now)
    result = run_report(context, body, cuts_of(model, request.query_params.getlist("cut"), settings, now))
    return json_answer(result, _pretty(request))
