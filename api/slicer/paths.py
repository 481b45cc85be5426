"""Which request paths belong to the Slicer-compatible surface (they answer errors in Cubes' flat shape)."""

from __future__ import annotations

ROOT_PATHS = frozenset({"/info", "/version", "/cubes"})
CUBE_PREFIX = "/cube/"


def is_slicer_path(path: str) -> bool:
    """
    >>> is_slicer_path("/cube/sales/aggregate"), is_slicer_path("/info"), is_slicer_path("/v1/cubes")
    (True, True, False)
    """
    return path in ROOT_PATHS or path.startswith(CUBE_PREFIX)
