"""CORS for the Slicer-compatible surface, as Cubes' Slicer sends it, for browser clients on other origins.

``CUBE_SLICER_CORS_ORIGINS`` is ``*`` (any origin: the request's ``Origin`` is echoed back, or ``*``
when there is none) or a comma-separated list of origins (a listed ``Origin`` is echoed back, others
get no CORS headers). Every answer then carries ``Access-Control-Allow-Origin``,
``-Allow-Credentials: true``, ``-Allow-Methods: GET, POST, OPTIONS`` and ``-Max-Age``; a preflight
``OPTIONS`` is answered 200 at once, with ``-Allow-Headers``.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.slicer.paths import is_slicer_path

ALLOW_METHODS = "GET, POST, OPTIONS"
ALLOW_HEADERS = "X-Requested-With, Content-Type"
MAX_AGE = "1728000"


def allowed_origin(setting: str, origin: str | None) -> str | None:
    """The ``Access-Control-Allow-Origin`` value for a request's ``Origin``, or None for no CORS headers.

    >>> allowed_origin("*", "http://localhost:8080"), allowed_origin("*", None)
    ('http://localhost:8080', '*')
    >>> allowed_origin("http://a.example, http://b.example", "http://b.example"), allowed_origin("", "http://a")
    ('http://b.example', None)
    """
    setting = setting.strip()
    if not setting:
        return None
    if setting == "*":
        return origin or "*"
    allowed = {item.strip() for item in setting.split(",") if item.strip()}
    return origin if origin in allowed else None


def cors_headers(allow_origin: str) -> dict[str, str]:
    return {
        "Access-Control-Allow-Origin": allow_origin,
        "Access-Control-Allow-Credentials": "true",
        "Access-Control-Allow-Methods": ALLOW_METHODS,
        "Access-Control-Max-Age": MAX_AGE,
        "Vary": "Origin",
    }


class SlicerCors:
    """ASGI middleware: CORS headers on the Slicer surface's answers (errors included), preflights answered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if not is_slicer_path(request.url.path):
            await self.app(scope, receive, send)
            return
        engine = getattr(request.app.state, "engine", None)
        setting = engine.settings.slicer_cors_origins if engine is not None else ""
        allow = allowed_origin(setting, request.headers.get("origin"))
        if allow is None:
            await self.app(scope, receive, send)
            return
        headers = cors_headers(allow)
        if request.method == "OPTIONS":
            preflight = Response(status_code=200, headers={**headers, "Access-Control-Allow-Headers": ALLOW_HEADERS})
            await preflight(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(headers)
            await send(message)

        await self.app(scope, receive, send_with_cors)
