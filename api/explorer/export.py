"""``GET /v1/cubes/{cube}/workbook``: the explorer's current view (a pivot, with its calculations) as Excel.

The pivot comes from the engine's pivot (cells, row, column and grand totals, each its own query, so distinct
counts stay exact); calculations come from one aggregate over the same levels, read from the same store
version, and sit beside their measure under each column member, as the explorer shows them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from api.dependencies import REQUIRE_PRINCIPAL, EngineDep
from api.encoding import content_disposition, download_name
from api.errors import error_responses
from api.explorer.workbook import XLSX_MEDIA_TYPE, PivotView, workbook_bytes
from api.operations import calculations_of, cuts_of, levels_of, names_of
from cube_server.query import PivotQuery
from cube_server.query import Query as CellQuery

router = APIRouter(prefix="/v1/cubes/{cube}", tags=["query"], dependencies=REQUIRE_PRINCIPAL)


class WorkbookParams(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    rows: list[str] = Field([], max_length=16, description="comma-separated level references, e.g. geography:province")
    columns: list[str] = Field([], max_length=16, description="comma-separated level references, e.g. time:quarter")
    measures: list[str] = Field([], max_length=64, description="comma-separated measure names (default: all)")
    cut: list[str] = Field([], max_length=64, description="cut string(s), e.g. time:2025|product:data_services")
    calc: list[str] = Field(
        [], max_length=32, description="analyst calculations, as for aggregate; each adds a column per measure block"
    )
    version: str | None = Field(None, max_length=100, description="read this store version (meta.version)")


@router.get(
    "/workbook",
    summary="A pivot with its totals and analyst calculations as an Excel workbook (the explorer's export)",
    responses={
        200: {"content": {XLSX_MEDIA_TYPE: {}}, "description": "the workbook"},
        **error_responses(400, 401, 404, 410, 503, 504),
    },
)
def workbook(cube: str, params: Annotated[WorkbookParams, Query()], engine: EngineDep) -> Response:
    rows, columns = levels_of(params.rows), levels_of(params.columns)
    cuts, measures = cuts_of(params.cut), names_of(params.measures)
    pivot = engine.pivot(PivotQuery(cube, rows, columns, cuts, measures, True, params.version))
    calculated = None
    calculations = calculations_of(params.calc)
    if calculations:
        # The calculations compare cells, so they need the pivot's cells as an aggregate of the same levels.
        query = CellQuery(
            cube=cube, cuts=cuts, drilldown=rows + columns, measures=measures, version=pivot.meta.version,
            calculations=calculations,
        )  # fmt: skip
        calculated = engine.aggregate(query)
    model = engine.cube(cube)
    view = PivotView(model, pivot, calculated, tuple(params.cut), tuple(params.calc))
    name = download_name(model.name, "pivot")
    headers = {"Content-Disposition": content_disposition(name, "xlsx"), "X-Cube-Version": pivot.meta.version}
    return Response(workbook_bytes(view), media_type=XLSX_MEDIA_TYPE, headers=headers)
