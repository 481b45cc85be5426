"""The request guard: URLs and bodies over the limits are refused before any route runs.

Pure ASGI middleware (not Starlette's ``BaseHTTPMiddleware``), so a streamed answer passes through untouched
and a stream that fails midway reaches the server as an exception, which aborts the connection: the client
sees a broken transfer instead of a short file that looks complete.

The body limit holds for the bytes actually received, not only for a declared ``Content-Length``: a chunked
body, or one longer than it said, is cut off once past the limit and answered 413 ``body_too_large``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import refusal
from cube_server.settings import Settings

# The defaults; create_app passes the settings' (CUBE_MAX_BODY_BYTES, CUBE_MAX_URL_LENGTH).
MAX_BODY_BYTES: int = Settings().max_body_bytes
MAX_URL_LENGTH: int = Settings().max_url_length


class _BodyTooLarge(Exception):
    """Raised into the app by ``receive`` once the body passed the limit; the guard answers 413 itself."""


class RequestGuard:
    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int = MAX_BODY_BYTES, max_url_length: int = MAX_URL_LENGTH
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_url_length = max_url_length

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if len(str(request.url)) > self.max_url_length:
            message = f"the URL is longer than {self.max_url_length} characters"
            await refusal(request, 414, "url_too_long", message)(scope, receive, send)
            return
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            await self._too_large(request, scope, receive, send)
            return
        await self._with_body_limit(request, scope, receive, send)

    async def _with_body_limit(self, request: Request, scope: Scope, receive: Receive, send: Send) -> None:
        received = 0
        exceeded = started = False

        async def counted_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # whatever the app answers to a body cut off (often a 400) gives way to the 413 below
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, guarded_send)
        except _BodyTooLarge:
            if started:
                raise
        except Exception:
            if not exceeded or started:
                raise
        if exceeded:
            if started:  # the answer began before the body ended: it cannot be finished, so abort it
                raise _BodyTooLarge
            await self._too_large(request, scope, receive, send)

    async def _too_large(self, request: Request, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"the request body is larger than {self.max_body_bytes} bytes"
        await refusal(request, 413, "body_too_large", message)(scope, receive, send)
