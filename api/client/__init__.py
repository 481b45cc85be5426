"""A Python client for the ``/v1`` API: Python arguments in, pyarrow Tables out, typed errors::

    from api.client import CubeClient, Range

    with CubeClient("http://127.0.0.1:8000") as cubes:
        result = cubes.aggregate("fixed_line_revenue", cut={"time": Range([2024, 4, 11], [2025, 1, 2])},
                                 drilldown=[("geography", "province")], measures=["revenue"])
        frame = result.to_pandas()

Only httpx and pyarrow are needed (and pandas or polars for ``to_pandas()``/``to_polars()``); the
client never imports the web framework or the engine, only the cut grammar's formatter.
"""

from __future__ import annotations

from api.client.arguments import AnyOf, Not, Range
from api.client.errors import (
    ConflictError,
    CubeClientError,
    ForbiddenError,
    GoneError,
    InvalidQueryError,
    NotFoundError,
    NotReadyError,
    QueryTimeoutError,
    RateLimitedError,
    ResultTooLargeError,
    ServerError,
    TransportError,
)
from api.client.http import AsyncCubeClient, CubeClient
from api.client.result import CubeResult, ResultMeta

__all__ = [
    "AnyOf",
    "AsyncCubeClient",
    "ConflictError",
    "CubeClient",
    "CubeClientError",
    "CubeResult",
    "ForbiddenError",
    "GoneError",
    "InvalidQueryError",
    "Not",
    "NotFoundError",
    "NotReadyError",
    "QueryTimeoutError",
    "Range",
    "RateLimitedError",
    "ResultMeta",
    "ResultTooLargeError",
    "ServerError",
    "TransportError",
]
