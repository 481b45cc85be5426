"""The request observer: every request gets an id, a log line, its metrics and, when it reads a cube or runs
an admin operation, an audit entry.

The outermost middleware (pure ASGI). The id comes from the caller's ``X-Request-ID`` (at most 64 characters)
or is made up; it is in the answer's ``X-Request-ID`` header, in error envelopes and in every log line
written while the request is served. After the answer's last byte (or its failure), the observer reads what
the app left in the request's state (``principal``, set when the caller authenticated; ``admin_operation``,
set by the admin routes) and in its scope (the route matched, its path parameters), and in the
:class:`~api.request_context.RequestContext` (where the cell answers came from).
"""

from __future__ import annotations

import logging
import time
import uuid
from pathlib import Path
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.json_logging import FIELDS, REQUEST_LOGGER
from api.metrics import ServerMetrics
from api.request_context import CURRENT, RequestContext, source_kind
from cube_server.audit import AuditLog, audit_path

log = logging.getLogger(REQUEST_LOGGER)
MAX_REQUEST_ID = 64
UNMATCHED = "unmatched"  # the route label of a request no route took (an unknown path, or refused before routing)
ADMIN_PREFIX = "/v1/admin/"
REFRESH_ROUTE = "/v1/admin/refresh"
REPORT_ROUTE = "/v1/reports/{name}"


class RequestObserver:
    def __init__(self, app: ASGIApp, *, metrics: ServerMetrics | None = None) -> None:
        self.app = app
        self.metrics = metrics
        self._audit_logs: dict[Path, AuditLog] = {}  # one per file, so its lock serialises this process's writes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = Headers(scope=scope).get("x-request-id", "")[:MAX_REQUEST_ID] or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        context = RequestContext(request_id)
        answer: dict[str, Any] = {}

        async def observed_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
                answer["status"] = message["status"]
                answer["source"] = headers.get("x-cube-source")
            await send(message)

        token = CURRENT.set(context)
        started = time.perf_counter()
        failed = False
        try:
            await self.app(scope, receive, observed_send)
        except BaseException:
            failed = True
            raise
        finally:
            CURRENT.reset(token)
            try:
                self._observe(scope, context, answer, time.perf_counter() - started, failed)
            except Exception:  # noqa: BLE001 - observing must never change the answer
                logging.getLogger("cube_server.api").exception("could not record request %s", request_id)

    # ---- after the answer ------------------------------------------------------------------------------
    def _observe(
        self, scope: Scope, context: RequestContext, answer: dict[str, Any], seconds: float, failed: bool
    ) -> None:
        # No answer started: the server answers 500. An answer started, then failed: it was cut off.
        status = int(answer.get("status", 500))
        aborted = failed and "status" in answer
        route = _route_template(scope)
        method = str(scope.get("method", ""))
        state = scope.get("state", {})
        principal = state.get("principal")
        cube = scope.get("path_params", {}).get("cube")
        if self.metrics is not None:
            self.metrics.observe_request(method, route, status, seconds)
            for answered_cube, source in context.answers:
                self.metrics.cell_answers.labels(answered_cube, source_kind(source)).inc()
            operation = state.get("admin_operation")
            if route == REFRESH_ROUTE and isinstance(operation, dict) and operation.get("mode"):
                self.metrics.observe_refresh(str(operation["mode"]), status, seconds)
        fields: dict[str, Any] = {
            "event": "request",
            "request_id": context.request_id,
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
            "principal": getattr(principal, "name", None),
            "cube": cube,
            "source": context.source or answer.get("source"),
        }
        if aborted:
            fields["aborted"] = True
        fields = {key: value for key, value in fields.items() if value is not None}
        # A 500 is a bug and a cut-off answer a failure; a 503 (still loading) or 504 (timeout) a warning.
        level = logging.ERROR if aborted or status == 500 else logging.WARNING if status > 500 else logging.INFO
        message = f"{method} {route} {status}" + (" aborted mid-answer" if aborted else "")
        log.log(level, message, extra={FIELDS: fields})
        self._audit(scope, route, method, status, fields)

    def _audit(self, scope: Scope, route: str, method: str, status: int, fields: dict[str, Any]) -> None:
        params = scope.get("path_params", {})
        is_admin = route.startswith(ADMIN_PREFIX)
        if not is_admin and "cube" not in params and route != REPORT_ROUTE:
            return
        audit = self._audit_log(scope)
        if audit is None:
            return
        state = scope.get("state", {})
        principal = state.get("principal")
        common: dict[str, Any] = {
            "via": "http",
            "principal": getattr(principal, "name", None),
            "principal_kind": getattr(principal, "kind", None),
            "method": method,
            "route": route,
            "status": status,
            "request_id": fields["request_id"],
        }
        if is_admin:
            operation = state.get("admin_operation")
            details = dict(operation) if isinstance(operation, dict) else {}
            audit.record(
                "admin",
                action=route.removeprefix(ADMIN_PREFIX),
                outcome=_outcome(status, fields.get("aborted", False)),
                **common,
                **details,
                version=_serving_version(scope) if status < 400 else None,
                duration_ms=fields["duration_ms"],
            )
        else:
            audit.record(
                "read",
                **common,
                cube=params.get("cube"),
                report=params.get("name") if route == REPORT_ROUTE else None,
                source=fields.get("source"),
            )

    def _audit_log(self, scope: Scope) -> AuditLog | None:
        """The app's audit file: from the engine's settings (so none before it has loaded) and the project."""
        app = scope.get("app")
        engine = getattr(getattr(app, "state", None), "engine", None)
        if engine is None:
            return None
        project = getattr(app.state, "project", None)
        path = audit_path(engine.settings, project.root if project is not None else None)
        if path is None:
            return None
        if path not in self._audit_logs:
            self._audit_logs[path] = AuditLog(path)
        return self._audit_logs[path]


def _route_template(scope: Scope) -> str:
    """The path template of the route that took the request (``/v1/cubes/{cube}/aggregate``), never the path."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str) and path:
        return f"{path}/{{path}}" if hasattr(route, "routes") else path  # a mount is a prefix
    if "app_root_path" in scope:  # a mount took it without naming itself (FastAPI's own router does so)
        prefix = str(scope.get("root_path", ""))[len(str(scope["app_root_path"])) :]
        if prefix:
            return f"{prefix}/{{path}}"
    return UNMATCHED


def _outcome(status: int, aborted: bool) -> str:
    if aborted or status >= 500:
        return "failed"
    return "ok" if status < 400 else "refused"


def _serving_version(scope: Scope) -> str | None:
    """The store version serving after an admin operation (a refresh switches to the one it built)."""
    engine = getattr(scope["app"].state, "engine", None)
    if engine is None:
        return None
    snapshot = engine.snapshot()
    return snapshot.manifest.version if snapshot.manifest is not None else None
