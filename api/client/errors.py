"""The server's error envelope as typed exceptions, one per family of stable error codes.

Every non-2xx ``/v1`` answer is ``{"error": {"code", "message", "details", "request_id"}}``. The
exception class is chosen by the code where a code has a family of its own (``result_too_large``,
``version_unavailable``, ``query_timeout``, ``not_ready``), else by the HTTP status; each carries
``code``, ``message``, ``status``, ``details`` and ``request_id``, so callers can catch broadly
(:class:`InvalidQueryError`) or match on ``code``.
"""

from __future__ import annotations

import json
from typing import Any


class CubeClientError(Exception):
    """Root of every error the client raises."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        status: int | None,
        details: dict[str, Any] | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.details = details or {}
        self.request_id = request_id

    def __str__(self) -> str:
        where = f"HTTP {self.status} " if self.status is not None else ""
        return f"{where}{self.code}: {self.message}"


class InvalidQueryError(CubeClientError):
    """400 (and 405, 413, 414): the query is wrong; ``code`` says how (``invalid_cut``, ``unknown_level``...)."""


class ResultTooLargeError(InvalidQueryError):
    """``result_too_large``: more cells than the server answers unpaged; add a limit or cut further."""


class ForbiddenError(CubeClientError):
    """403: the operation is switched off on this server."""


class NotFoundError(CubeClientError):
    """404: no such cube (``cube_not_found``) or path."""


class ConflictError(CubeClientError):
    """409: the server's state does not allow it now (a build in progress)."""


class GoneError(CubeClientError):
    """410 ``version_unavailable``: the pinned store version is no longer kept; ask without ``version``."""


class RateLimitedError(CubeClientError):
    """429: too many requests; ``retry_after`` is the server's advice in seconds, when it gave one."""

    retry_after: float | None = None


class ServerError(CubeClientError):
    """5xx: not the caller's fault."""


class NotReadyError(ServerError):
    """503 ``not_ready``: the server is still loading its project."""


class QueryTimeoutError(ServerError):
    """504 ``query_timeout``: the query ran longer than the server's timeout."""


class TransportError(CubeClientError):
    """No complete answer: the server could not be reached, or the connection broke mid-answer."""


BY_CODE: dict[str, type[CubeClientError]] = {
    "result_too_large": ResultTooLargeError,
    "version_unavailable": GoneError,
    "query_timeout": QueryTimeoutError,
    "not_ready": NotReadyError,
}
BY_STATUS: dict[int, type[CubeClientError]] = {
    400: InvalidQueryError,
    403: ForbiddenError,
    404: NotFoundError,
    405: InvalidQueryError,
    409: ConflictError,
    410: GoneError,
    413: InvalidQueryError,
    414: InvalidQueryError,
    429: RateLimitedError,
    503: NotReadyError,
    504: QueryTimeoutError,
}


def error_from_response(status: int, body: bytes, headers: Any) -> CubeClientError:
    """The typed exception for a non-2xx answer (its body need not be an envelope: a proxy may answer)."""
    error: dict[str, Any] = {}
    try:
        parsed = json.loads(body)
        if isinstance(parsed, dict) and isinstance(parsed.get("error"), dict):
            error = parsed["error"]
    except ValueError:
        pass
    code = str(error.get("code") or "http_error")
    message = str(error.get("message") or f"HTTP {status}: {body[:200].decode('utf-8', 'replace')}")
    cls = BY_CODE.get(code) or BY_STATUS.get(status) or (ServerError if status >= 500 else CubeClientError)
    exception = cls(
        message,
        code=code,
        status=status,
        details=error.get("details") if isinstance(error.get("details"), dict) else None,
        request_id=error.get("request_id") or headers.get("x-request-id"),
    )
    if isinstance(exception, RateLimitedError):
        exception.retry_after = _seconds(headers.get("retry-after"))
    return exception


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: left to the caller's own clock
