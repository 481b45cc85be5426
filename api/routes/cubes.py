"""``/v1/cubes``: the cubes and their models."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from api.dependencies import REQUIRE_PRINCIPAL, EngineDep, PrincipalDep
from api.encoding import json_response
from api.errors import error_responses
from api.model_json import cube_model, cube_summary
from api.schemas import CubeSummary

router = APIRouter(prefix="/v1", tags=["model"], dependencies=REQUIRE_PRINCIPAL)


@router.get(
    "/cubes",
    summary="List the cubes the caller may read",
    responses={200: {"model": list[CubeSummary]}, **error_responses(401, 503)},
)
def list_cubes(engine: EngineDep, principal: PrincipalDep) -> Response:
    return json_response([cube_summary(cube) for cube in engine.catalog.cubes])


@router.get(
    "/cubes/{cube}",
    summary="A cube's model: dimensions, hierarchies, levels, attributes, measures",
    responses=error_responses(401, 404, 503),
)
def get_cube(cube: str, engine: EngineDep) -> Response:
    model = engine.cube(cube)
    return json_response(cube_model(model, engine.attribute_types(model.name)))


@router.get(
    "/cubes/{cube}/cuboids",
    summary="The cuboids of the store version now serving: grain, rows and bytes (unless restricted), built at",
    responses=error_responses(401, 404, 503),
)
def list_cuboids(cube: str, engine: EngineDep) -> Response:
    return json_response(engine.cuboids(cube))
