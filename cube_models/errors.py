"""One error hierarchy for the whole server, rooted here so every layer can subclass it.

Each class carries a stable machine ``code``; HTTP status codes are mapped in ``api`` only.
``UserError`` messages are safe to show to a caller; ``InternalError`` messages are logged, never sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class CubeError(Exception):
    """Root of every error the server raises on purpose."""

    code = "internal_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class UserError(CubeError):
    """The caller can fix this; the message and details are safe to show."""

    code = "invalid_request"


class NotFoundError(UserError):
    """A named top-level object (a cube) does not exist."""

    code = "not_found"


class ConflictError(UserError):
    """The request is valid but the state it needs is not there now (a build running, a store to build first)."""

    code = "conflict"


class ForbiddenError(UserError):
    """The request is understood but not allowed here (an operation switched off)."""

    code = "forbidden"


class GoneError(UserError):
    """Something the request names existed but is no longer kept (an expired store version)."""

    code = "gone"


class InternalError(CubeError):
    """A fault of the server or its configuration; never shown to callers verbatim."""

    code = "internal_error"


class CubeNotFoundError(NotFoundError):
    code = "cube_not_found"


class DimensionNotFoundError(UserError):
    code = "unknown_dimension"


class HierarchyNotFoundError(UserError):
    code = "unknown_hierarchy"


class LevelNotFoundError(UserError):
    code = "unknown_level"


class MeasureNotFoundError(UserError):
    code = "unknown_measure"


class AttributeNotFoundError(UserError):
    code = "unknown_attribute"


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem found in a model, located by a JSON path such as ``$.cubes[0].measures[2].function``."""

    path: str
    message: str
    file: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}: " if self.file else ""
        return f"{where}{self.path}: {self.message}"


class ModelError(InternalError):
    """A model could not be loaded; carries every issue found, not just the first."""

    code = "invalid_model"

    def __init__(self, issues: list[Issue]) -> None:
        first = str(issues[0]) if issues else "invalid model"
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        super().__init__(f"{first}{more}")
        self.issues = tuple(issues)
