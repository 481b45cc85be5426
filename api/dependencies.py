"""FastAPI dependencies: the engine of the running app (503 until it has loaded)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.errors import ServiceNotReadyError
from cube_server.engine import CubeEngine


def get_engine(request: Request) -> CubeEngine:
    engine = getattr(request.app.state, "engine", None)
    if engine is None:
        failure = getattr(request.app.state, "load_error", None)
        message = (
            "the server failed to load its project; see the server log" if failure else "the server is still loading"
        )
        raise ServiceNotReadyError(message)
    return engine  # type: ignore[no-any-return]


EngineDep = Annotated[CubeEngine, Depends(get_engine)]
