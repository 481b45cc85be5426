"""Errors of the cuboid store."""

from __future__ import annotations

from cube_models.errors import ConflictError, InternalError


class CuboidStoreError(InternalError):
    """The store's files cannot be read or written."""

    code = "cuboid_store_error"


class BuildInProgressError(ConflictError, CuboidStoreError):
    """Another build or refresh holds the store's lock."""

    code = "build_in_progress"
