"""The error shapes of each surface and the one place where error classes become HTTP statuses.

``/v1`` answers every non-2xx with the envelope ``{"error": {"code", "message", "details", "request_id"}}``.
The Slicer-compatible surface (``/info``, ``/cubes``, ``/cube/...``) answers in Cubes' flat shape
``{"error": type, "message": ...}`` with Cubes' types and statuses, so Cubes clients understand it.
A status is found by walking the exception's class hierarchy to the nearest entry of
``STATUS_BY_ERROR`` (with ``SLICER_STATUS_BY_ERROR`` first on the Slicer surface); a Slicer type the same
way in ``SLICER_TYPE_BY_ERROR``.
"""

from __future__ import annotations

import logging
from typing import Any

import simplejson
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from api.schemas import ErrorEnvelope
from api.slicer.paths import is_slicer_path
from cube_models.errors import (
    ConflictError,
    CubeError,
    DimensionNotFoundError,
    ForbiddenError,
    GoneError,
    HierarchyNotFoundError,
    InternalError,
    LevelNotFoundError,
    NotFoundError,
    UserError,
)
from cube_server.errors import (
    DrilldownError,
    DrilldownSyntaxError,
    EngineUnavailableError,
    InvalidParameterError,
    PathTooLongError,
    QueryTimeoutError,
    RateLimitedError,
    UnauthenticatedError,
)

log = logging.getLogger("cube_server.api")


class ServiceNotReadyError(CubeError):
    """The engine is still loading (or failed to load); try again shortly."""

    code = "not_ready"


STATUS_BY_ERROR: dict[type[BaseException], int] = {
    UserError: 400,
    UnauthenticatedError: 401,
    ForbiddenError: 403,
    NotFoundError: 404,
    ConflictError: 409,
    GoneError: 410,
    RateLimitedError: 429,
    QueryTimeoutError: 504,
    ServiceNotReadyError: 503,
    EngineUnavailableError: 503,
    InternalError: 500,
    CubeError: 500,
}

# Where Cubes answers another status than /v1: an unknown dimension is a missing object there.
SLICER_STATUS_BY_ERROR: dict[type[BaseException], int] = {DimensionNotFoundError: 404}

# Cubes' error types: missing_object (404), hierarchy (levels and paths), unknown_user_error (any other
# argument error); request for bad parameters (Cubes sent those nested; here every error is flat).
SLICER_TYPE_BY_ERROR: dict[type[BaseException], str] = {
    NotFoundError: "missing_object",
    DimensionNotFoundError: "missing_object",
    HierarchyNotFoundError: "hierarchy",
    LevelNotFoundError: "hierarchy",
    DrilldownError: "hierarchy",
    DrilldownSyntaxError: "unknown_user_error",
    PathTooLongError: "hierarchy",
    InvalidParameterError: "request",
    ForbiddenError: "not_authorized",
    UnauthenticatedError: "not_authenticated",
    ConflictError: "conflict",
    GoneError: "gone",
    RateLimitedError: "rate_limited",
    UserError: "unknown_user_error",
    QueryTimeoutError: "query_timeout",
    CubeError: "internal_server_error",
}
SLICER_OBJECT_TYPES = ("fact", "dimension", "cube")
SLICER_INTERNAL_HINT = "Server administrators can learn more about the error from the server log"
# RFC 6750: a 401 names the scheme the server accepts (API keys travel as bearer tokens).
WWW_AUTHENTICATE = 'Bearer realm="cube-server"'

ERROR_CODES_BY_STATUS = {
    400: [
        "unknown_dimension",
        "unknown_level",
        "unknown_hierarchy",
        "unknown_measure",
        "unknown_attribute",
        "invalid_cut",
        "invalid_drilldown",
        "invalid_calculation",
        "invalid_parameter",
        "result_too_large",
        "invalid_refresh",
    ],
    401: ["unauthenticated"],
    403: ["forbidden"],
    404: ["cube_not_found", "not_found"],
    405: ["method_not_allowed"],
    409: ["build_in_progress", "store_not_current"],
    410: ["version_unavailable"],
    429: ["rate_limited"],
    500: ["internal_error"],
    503: ["not_ready", "engine_unavailable"],
    504: ["query_timeout"],
}


def status_for(error: BaseException, *, slicer: bool = False) -> int:
    table = {**STATUS_BY_ERROR, **SLICER_STATUS_BY_ERROR} if slicer else STATUS_BY_ERROR
    for cls in type(error).__mro__:
        if cls in table:
            return table[cls]
    return 500


def slicer_type_for(error: BaseException) -> str:
    for cls in type(error).__mro__:
        if cls in SLICER_TYPE_BY_ERROR:
            return SLICER_TYPE_BY_ERROR[cls]
    return "internal_server_error"


def is_slicer(request: Request) -> bool:
    return is_slicer_path(request.url.path)


def request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", ""))


def envelope(request: Request, status: int, code: str, message: str, details: dict[str, Any] | None = None) -> Response:
    body = {"error": {"code": code, "message": message, "details": details or {}, "request_id": request_id(request)}}
    return Response(
        simplejson.dumps(body, use_decimal=True, ensure_ascii=False, default=str),
        status_code=status,
        media_type="application/json",
        headers={"X-Request-ID": request_id(request)},
    )


def flat_error(
    request: Request, status: int, error_type: str, message: str, extra: dict[str, Any] | None = None
) -> Response:
    """Cubes' flat error: ``{"error": type, "message": ...}`` plus ``object``/``object_type`` or ``hint``."""
    body = {"error": error_type, "message": message, **(extra or {})}
    return Response(
        simplejson.dumps(body, use_decimal=True, ensure_ascii=False, default=str),
        status_code=status,
        media_type="application/json",
        headers={"X-Request-ID": request_id(request)},
    )


def refusal(request: Request, status: int, code: str, message: str) -> Response:
    """A request refused before routing (too long, too large): the envelope, or Cubes' flat ``request`` error."""
    if is_slicer(request):
        return flat_error(request, status, "request", message)
    return envelope(request, status, code, message)


def _slicer_internal_error(request: Request) -> Response:
    return flat_error(request, 500, "internal_server_error", "Internal server error", {"hint": SLICER_INTERNAL_HINT})


def _slicer_error(request: Request, error: CubeError) -> Response:
    status = status_for(error, slicer=True)
    error_type = slicer_type_for(error)
    if isinstance(error, ServiceNotReadyError | EngineUnavailableError):
        error_type = "not_ready"
    elif status >= 500 and not isinstance(error, QueryTimeoutError):
        log.error("internal error %s: %s", request_id(request), error.message, exc_info=error)
        return _slicer_internal_error(request)
    extra: dict[str, Any] = {}
    if error_type == "missing_object":
        object_type = next((name for name in SLICER_OBJECT_TYPES if name in error.details), None)
        if object_type is not None:
            extra = {"object": error.details[object_type], "object_type": object_type}
    return flat_error(request, status, error_type, error.message, extra)


async def cube_error_handler(request: Request, error: Exception) -> Response:
    assert isinstance(error, CubeError)
    response = _cube_error(request, error)
    if isinstance(error, UnauthenticatedError):
        response.headers["WWW-Authenticate"] = WWW_AUTHENTICATE
    if isinstance(error, RateLimitedError):
        response.headers["Retry-After"] = str(error.details["retry_after_s"])
    return response


def _cube_error(request: Request, error: CubeError) -> Response:
    if is_slicer(request):
        return _slicer_error(request, error)
    status = status_for(error)
    if status >= 500 and not isinstance(error, (QueryTimeoutError, ServiceNotReadyError, EngineUnavailableError)):
        log.error("internal error %s: %s", request_id(request), error.message, exc_info=error)
        return envelope(request, status, "internal_error", "internal server error; see the server log")
    return envelope(request, status, error.code, error.message, error.details)


async def validation_error_handler(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    problems = [
        {"location": ".".join(str(part) for part in item.get("loc", ())), "message": item.get("msg", "")}
        for item in error.errors()
    ]
    first = problems[0] if problems else {"location": "", "message": "invalid request"}
    message = f"invalid parameter {first['location']}: {first['message']}"
    if is_slicer(request):
        return flat_error(request, 400, "request", message)
    return envelope(request, 400, "invalid_parameter", message, {"problems": problems})


async def http_error_handler(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    code = {400: "invalid_parameter", 404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
    if is_slicer(request):
        error_type = "request" if code == "invalid_parameter" else code
        message = "The requested URL was not found on the server." if error.status_code == 404 else str(error.detail)
        response = flat_error(request, error.status_code, error_type, message)
    else:
        response = envelope(request, error.status_code, code, str(error.detail))
    for name, value in (error.headers or {}).items():
        response.headers[name] = value
    return response


async def unexpected_error_handler(request: Request, error: Exception) -> Response:
    log.error("unhandled error %s", request_id(request), exc_info=error)
    if is_slicer(request):
        return _slicer_internal_error(request)
    return envelope(request, 500, "internal_error", "internal server error; see the server log")


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries: every route declares the errors it can answer with."""
    result: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        codes = ", ".join(ERROR_CODES_BY_STATUS.get(status, []))
        result[status] = {"model": ErrorEnvelope, "description": f"error envelope; codes: {codes}"}
    return result
