"""``/v1/admin``: refresh the store over HTTP (the same three modes as ``cube-server refresh``).

Off unless the server runs with ``CUBE_ADMIN=true``, and then only for a server started on a project
directory (the facts and the store are files of that project). Paths name files on the server's machine, inside
the directory ``CUBE_ADMIN_FILES`` (``incoming/`` of the project by default; relative names start there).
The caller also needs a role with the admin right (403 otherwise).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from aggregates.store import CuboidStore
from api.dependencies import REQUIRE_PRINCIPAL, FullEngineDep, PrincipalDep
from api.encoding import json_response
from api.errors import error_responses
from cube_models.errors import ForbiddenError
from cube_server.admin_files import admin_file
from cube_server.build import build_store
from cube_server.errors import InvalidParameterError
from cube_server.fact_files import finish_interrupted_switch
from cube_server.planning import plan_store
from cube_server.project import Project
from cube_server.query_log import NAME as QUERY_LOG
from cube_server.refresh import append_facts, replace_facts

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=REQUIRE_PRINCIPAL)


class RefreshBody(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    mode: Literal["full", "append", "replace"]
    file: str | None = Field(None, max_length=4096, description="a Parquet file in CUBE_ADMIN_FILES (append, replace)")
    start: str | None = Field(None, max_length=40, alias="from", description="replace: first day or instant")
    end: str | None = Field(None, max_length=40, alias="to", description="replace: last day or instant (inclusive)")


@router.post(
    "/refresh",
    summary="Rebuild the store, or add or replace facts, into a new store version",
    responses=error_responses(400, 401, 403, 409, 503),
)
def refresh(
    body: Annotated[RefreshBody, Body()], engine: FullEngineDep, principal: PrincipalDep, request: Request
) -> Response:
    request.state.admin_operation = body.model_dump(by_alias=True, exclude_none=True)  # for the audit log
    principal.require_admin()  # before the switch below, so a non-admin learns nothing of the configuration
    project: Project | None = getattr(request.app.state, "project", None)
    if not engine.settings.admin:
        raise ForbiddenError("the admin API is off; start the server with CUBE_ADMIN=true to use it")
    if project is None:
        raise ForbiddenError("the admin API needs a server started on a project directory")
    store = CuboidStore(project.store_dir, engine.settings.version_grace_s)
    if body.mode == "full":
        finish_interrupted_switch(project)
        plan = plan_store(engine, project.plan_options, project.store_dir / QUERY_LOG)
        built = build_store(engine, store, specs=plan.specs_by_cube())
        return json_response({"mode": "full", "version": built.manifest.version, "elapsed_s": built.elapsed_s})
    if not body.file:
        raise InvalidParameterError(f"{body.mode} needs a file")
    file = admin_file(engine.settings, project.root, body.file)
    if body.mode == "append":
        report = append_facts(engine, project, store, file)
    else:
        if not body.start or not body.end:
            raise InvalidParameterError("replace needs from and to")
        report = replace_facts(engine, project, store, body.start, body.end, file)
    return json_response(
        {
            "mode": report.mode,
            "version": report.manifest.version,
            "elapsed_s": report.elapsed_s,
            "rows_added": report.rows_added,
            "rows_removed": report.rows_removed,
            "cuboids": report.cuboids,
        }
    )
