"""The one error envelope of ``/v1`` and the one place where error classes become HTTP statuses.

``{"error": {"code", "message", "details", "request_id"}}`` for every non-2xx answer. A status is
found by walking the exception's class hierarchy to the nearest entry of ``STATUS_BY_ERROR``.
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
from cube_models.errors import (
    ConflictError,
    CubeError,
    ForbiddenError,
    GoneError,
    InternalError,
    NotFoundError,
    UserError,
)
from cube_server.errors import QueryTimeoutError

log = logging.getLogger("cube_server.api")


class ServiceNotReadyError(CubeError):
    """The engine is still loading (or failed to load); try again shortly."""

    code = "not_ready"


STATUS_BY_ERROR: dict[type[BaseException], int] = {
    UserError: 400,
    ForbiddenError: 403,
    NotFoundError: 404,
    ConflictError: 409,
    GoneError: 410,
    QueryTimeoutError: 504,
    ServiceNotReadyError: 503,
    InternalError: 500,
    CubeError: 500,
}

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
    403: ["forbidden"],
    404: ["cube_not_found", "not_found"],
    405: ["method_not_allowed"],
    409: ["build_in_progress", "store_not_current"],
    410: ["version_unavailable"],
    500: ["internal_error"],
    503: ["not_ready"],
    504: ["query_timeout"],
}


def status_for(error: BaseException) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500


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


async def cube_error_handler(request: Request, error: Exception) -> Response:
    assert isinstance(error, CubeError)
    status = status_for(error)
    if status >= 500 and not isinstance(error, (QueryTimeoutError, ServiceNotReadyError)):
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
    return envelope(request, 400, "invalid_parameter", message, {"problems": problems})


async def http_error_handler(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    code = {400: "invalid_parameter", 404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
    response = envelope(request, error.status_code, code, str(error.detail))
    for name, value in (error.headers or {}).items():
        response.headers[name] = value
    return response


async def unexpected_error_handler(request: Request, error: Exception) -> Response:
    log.error("unhandled error %s", request_id(request), exc_info=error)
    return envelope(request, 500, "internal_error", "internal server error; see the server log")


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries: every route declares the errors it can answer with."""
    result: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        codes = ", ".join(ERROR_CODES_BY_STATUS.get(status, []))
        result[status] = {"model": ErrorEnvelope, "description": f"error envelope; codes: {codes}"}
    return result
