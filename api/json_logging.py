"""Structured logs: one JSON object per line on stderr, for ``cube-server serve`` and ``demo``.

Every line has ``time`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``; a line logged while a request
is served also has its ``request_id``, the id its answer carries in ``X-Request-ID``. The request log
(logger ``cube_server.requests``) adds one line per request with its fields (see :data:`REQUEST_LOGGER`).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from api.request_context import current_request_id

REQUEST_LOGGER = "cube_server.requests"
FIELDS = "fields"  # the ``extra`` key whose dict a line carries as top-level keys


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _utc_text(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id:
            entry["request_id"] = request_id
        fields = getattr(record, FIELDS, None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _utc_text(timestamp: float) -> str:
    """``2025-06-01T08:30:00.125Z``"""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def configure_logging(level: str = "info") -> None:
    """JSON lines on stderr for every logger (uvicorn's too); replaces the root logger's handlers."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # uvicorn's own handlers would print its lines a second time, as text: let them reach the root.
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
