"""``/metrics``: the app's Prometheus metrics, in the text exposition format.

Public, like ``/health``: scrapers seldom hold keys, and route templates and counts are no data. The
``CUBE_METRICS`` setting switches it off (404).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from api.errors import ServiceNotReadyError, error_responses

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    summary="Prometheus metrics: requests, cuboid hits, refreshes, the store version",
    responses={200: {"content": {"text/plain": {}}}, **error_responses(404, 503)},
)
def metrics(request: Request) -> Response:
    engine = getattr(request.app.state, "engine", None)
    if engine is None:  # whether metrics are on is a setting the engine brings
        raise ServiceNotReadyError("the server is still loading")
    if not engine.settings.metrics:
        raise StarletteHTTPException(404, "Not Found")
    return Response(generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
