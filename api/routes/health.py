"""Liveness and readiness at the root."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from api.dependencies import optional_principal
from api.errors import error_responses

router = APIRouter(tags=["health"])


@router.get("/health", summary="The process is up")
def health() -> dict[str, Any]:
    return {"status": "ok"}


@router.get("/ready", summary="The engine has loaded its project and answers queries", responses=error_responses(503))
def ready(request: Request) -> Any:
    engine = getattr(request.app.state, "engine", None)
    if engine is None:
        failed = getattr(request.app.state, "load_error", None) is not None
        body = {
            "error": {
                "code": "not_ready",
                "message": "failed to load" if failed else "loading",
                "details": {},
                "request_id": getattr(request.state, "request_id", ""),
            }
        }
        return JSONResponse(body, status_code=503)
    # Public, so it names only the cubes the caller could read (none for a caller without a credential).
    principal = optional_principal(request)
    cubes = principal.readable(engine.catalog.cube_names) if principal is not None else []
    return {"status": "ready", "version": engine.version, "cubes": cubes}
