"""The FastAPI application factory: routers, the error envelope, middleware, metrics, engine loading.

The engine loads in a background thread when the app starts, so ``/health`` answers at once and
``/ready`` (and every ``/v1`` route) answers 503 ``not_ready`` until the project is loaded.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.errors import (
    cube_error_handler,
    http_error_handler,
    unexpected_error_handler,
    validation_error_handler,
)
from api.explorer.site import mount_explorer
from api.metrics import ServerMetrics
from api.middleware import RequestGuard
from api.observation import RequestObserver
from api.routes import admin, cubes, health, metrics, query, reports
from api.slicer import routes as slicer
from api.slicer.cors import SlicerCors
from api.slicer.paths import is_slicer_path
from cube_models.errors import CubeError
from cube_server.access import AccessControl
from cube_server.access.rate_limit import RateLimiter
from cube_server.engine import CubeEngine
from cube_server.project import Project
from cube_server.settings import Settings

log = logging.getLogger("cube_server.api")
EngineLoader = Callable[[], CubeEngine]


def create_app(
    engine: CubeEngine | None = None,
    *,
    loader: EngineLoader | None = None,
    project: Project | None = None,
    access: AccessControl | None = None,
    settings: Settings | None = None,
) -> FastAPI:
    """Serve ``engine`` if given, else load one with ``loader`` in the background at startup.

    ``project``: the directory the engine serves, for the admin API (which changes its files).
    ``access``: who may call (keys, roles, anonymous access). None leaves the app open, every caller with
    every right and no rate limit, for a program embedding it behind its own access control;
    ``cube-server serve`` and ``demo`` always pass one built from the settings.
    ``settings``: the limits the HTTP edge applies before the engine has loaded (rate limit, body and URL
    length); None takes the engine's settings, or the defaults when the engine is loaded later.
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.engine is None and loader is not None:
            thread = threading.Thread(target=_load, args=(app, loader), name="engine-loader", daemon=True)
            thread.start()
        yield

    app = FastAPI(
        title="cube-server",
        version="0.1.0",
        summary="OLAP cube server: drill-down, roll-up, slice/dice and pivot over JSON cube models.",
        lifespan=lifespan,
        exception_handlers={
            CubeError: cube_error_handler,
            RequestValidationError: validation_error_handler,
            StarletteHTTPException: http_error_handler,
            Exception: unexpected_error_handler,
        },
    )
    app.state.engine = engine
    app.state.project = project
    app.state.load_error = None
    app.state.access = access if access is not None else AccessControl.open()
    app.state.settings = settings or (engine.settings if engine is not None else Settings())
    app.state.rate_limiter = RateLimiter.from_settings(app.state.settings)
    app.state.metrics = ServerMetrics(lambda: app.state.engine)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(cubes.router)
    app.include_router(query.router)
    app.include_router(admin.router)
    app.include_router(reports.router)
    app.include_router(slicer.router)
    mount_explorer(app)
    # The last added runs first: the observer sees every request, refused ones too, and gives it its id.
    app.add_middleware(SlicerCors)
    limits = app.state.settings
    app.add_middleware(RequestGuard, max_body_bytes=limits.max_body_bytes, max_url_length=limits.max_url_length)
    app.add_middleware(RequestObserver, metrics=app.state.metrics)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI documents a 422 for parameter errors; this server answers them 400 in the error envelope.

    Every operation also declares the refusals answered before routing (413 and 414), and the rate limit (429)
    of those needing a principal, in its surface's error shape.
    """
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
        for route, path in schema.get("paths", {}).items():
            slicer = is_slicer_path(route)
            for operation in path.values():
                responses = operation.get("responses", {})
                if responses.pop("422", None) is not None and "400" not in responses:
                    responses["400"] = _envelope_response("invalid_parameter")
                if "401" in responses:  # a route needing a principal counts against its rate limit
                    responses.setdefault("429", _error_response("rate_limited", slicer))
                responses.setdefault("413", _error_response("request" if slicer else "body_too_large", slicer))
                responses.setdefault("414", _error_response("request" if slicer else "url_too_long", slicer))
        schemas = schema.get("components", {}).get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        app.openapi_schema = schema
    return app.openapi_schema


def _envelope_response(code: str) -> dict[str, Any]:
    return {
        "description": f"error envelope; code {code}",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}},
    }


def _error_response(code: str, slicer: bool) -> dict[str, Any]:
    """The envelope, or on the Slicer surface Cubes' flat error of that type."""
    if not slicer:
        return _envelope_response(code)
    return {
        "description": f"Cubes' flat error; type {code}",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SlicerError"}}},
    }


def _load(app: FastAPI, loader: EngineLoader) -> None:
    try:
        app.state.engine = loader()
        log.info("engine ready")
    except Exception as exc:  # noqa: BLE001 - reported by /ready and logged; the process stays up for diagnosis
        app.state.load_error = exc
        log.exception("the engine failed to load")

