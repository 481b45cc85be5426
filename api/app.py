"""The FastAPI application factory: routers, the error envelope, request ids, engine loading.

The engine loads in a background thread when the app starts, so ``/health`` answers at once and
``/ready`` (and every ``/v1`` route) answers 503 ``not_ready`` until the project is loaded.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from api.errors import (
    cube_error_handler,
    envelope,
    http_error_handler,
    unexpected_error_handler,
    validation_error_handler,
)
from api.routes import cubes, health, query
from cube_models.errors import CubeError
from cube_server.engine import CubeEngine

log = logging.getLogger("cube_server.api")
MAX_BODY_BYTES = 1_000_000
MAX_URL_LENGTH = 16_000
EngineLoader = Callable[[], CubeEngine]


def create_app(engine: CubeEngine | None = None, *, loader: EngineLoader | None = None) -> FastAPI:
    """Serve ``engine`` if given, else load one with ``loader`` in the background at startup."""

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
    app.state.load_error = None
    app.include_router(health.router)
    app.include_router(cubes.router)
    app.include_router(query.router)
    app.middleware("http")(_guard_request)
    return app


def _load(app: FastAPI, loader: EngineLoader) -> None:
    try:
        app.state.engine = loader()
        log.info("engine ready")
    except Exception as exc:  # noqa: BLE001 - reported by /ready and logged; the process stays up for diagnosis
        app.state.load_error = exc
        log.exception("the engine failed to load")


async def _guard_request(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    request.state.request_id = request.headers.get("x-request-id", "")[:64] or uuid.uuid4().hex
    if len(str(request.url)) > MAX_URL_LENGTH:
        return envelope(request, 414, "url_too_long", f"the URL is longer than {MAX_URL_LENGTH} characters")
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
        return envelope(request, 413, "body_too_large", f"the request body is larger than {MAX_BODY_BYTES} bytes")
    response = await call_next(request)
    response.headers["X-Request-ID"] = request.state.request_id
    return response
