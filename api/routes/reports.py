"""``/v1/reports``: the project's named reports, listed, and run for a month or a year as a file download.

The same definitions and files as ``cube-server report``: an Excel workbook by default, or CSV, Parquet or
Arrow (a zip of one file per query, unless ``query`` picks one).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.dependencies import REQUIRE_PRINCIPAL, EngineDep, PrincipalDep
from api.encoding import content_disposition, json_response
from api.errors import error_responses
from api.report_files import write_report
from cube_server.access import Principal
from cube_server.reports import Report, find_report, load_reports, parse_period, run_report

router = APIRouter(prefix="/v1/reports", tags=["reports"], dependencies=REQUIRE_PRINCIPAL)
FILE_TYPES = {
    media: {}
    for media in (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "text/csv",
        "application/vnd.apache.parquet",
        "application/vnd.apache.arrow.stream",
        "application/zip",
    )
}


def _reports(request: Request, principal: Principal) -> dict[str, Report]:
    """The reports over cubes the caller may read; the others are as absent as an unknown name."""
    project = getattr(request.app.state, "project", None)
    reports = load_reports(project.reports_dir if project is not None else None)
    return {name: report for name, report in reports.items() if principal.can_read(report.cube)}


@router.get("", summary="List the project's reports the caller may run", responses=error_responses(401, 503))
def list_reports(request: Request, engine: EngineDep, principal: PrincipalDep) -> Response:
    del engine  # listed once the server is ready, like every other /v1 route
    return json_response({"reports": [report.describe() for report in _reports(request, principal).values()]})


@router.get(
    "/{name}",
    summary="Run a report for a month or a year and download it",
    responses={
        200: {"content": FILE_TYPES, "description": "the report file"},
        **error_responses(400, 401, 404, 503, 504),
    },
)
def run(
    request: Request,
    engine: EngineDep,
    principal: PrincipalDep,
    name: str,
    period: Annotated[str, Query(max_length=20, description="2025-06 (a month) or 2025 (a year)")],
    format: Annotated[Literal["xlsx", "csv", "parquet", "arrow"], Query()] = "xlsx",  # noqa: A002
    query: Annotated[str | None, Query(max_length=64, description="only this query of the report")] = None,
) -> Response:
    report = find_report(_reports(request, principal), name)
    result = run_report(engine, report, parse_period(period))
    written = write_report(result, format, query)
    stem, _, extension = written.name.rpartition(".")
    headers = {"Content-Disposition": content_disposition(stem, extension), "X-Cube-Version": result.version}
    return Response(written.content, media_type=written.media_type, headers=headers)
