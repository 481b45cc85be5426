"""Roles and principals: who a caller is, which cubes it may read, whether it may run admin operations.

A role names the cubes it may read (``"*"`` for all) and whether it grants the admin right. Two roles
are built in: ``reader`` (every cube) and ``admin`` (every cube and the admin right); the roles file
(``cube-server-roles.json``, written by hand: ``{"roles": {"name": {"cubes": [...], "admin": false}}}``)
defines more. A principal's rights are the union of its roles' rights.

Row-level restrictions (cuts per role, such as ``organisation:hq,gd``) are not applied yet. A role that
declares one is refused when the roles file loads, so a configuration never looks safer than it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cube_models.errors import CubeNotFoundError, ForbiddenError
from cube_server.errors import AccessConfigError

ROLES_FILE_NAME = "cube-server-roles.json"
ALL_CUBES = "*"
ROLE_FIELDS = frozenset({"cubes", "admin", "description"})
RESTRICTION_FIELDS = frozenset({"restrict", "restrictions", "cuts", "cut"})


@dataclass(frozen=True, slots=True)
class Role:
    name: str
    cubes: frozenset[str]
    admin: bool = False
    description: str = ""

    def describe(self) -> dict[str, Any]:
        return {"cubes": sorted(self.cubes), "admin": self.admin, "description": self.description}


BUILTIN_ROLES: dict[str, Role] = {
    "reader": Role("reader", frozenset({ALL_CUBES}), description="reads every cube"),
    "admin": Role("admin", frozenset({ALL_CUBES}), admin=True, description="reads every cube; admin operations"),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller (or the anonymous one): its name, roles and the rights they add up to."""

    name: str
    kind: str  # "key", "anonymous" or "open" (an app embedded without access control)
    roles: tuple[str, ...]
    cubes: frozenset[str]
    admin: bool

    def can_read(self, cube: str) -> bool:
        return ALL_CUBES in self.cubes or cube in self.cubes

    def readable(self, cubes: Iterable[str]) -> list[str]:
        return [cube for cube in cubes if self.can_read(cube)]

    def require_cube(self, cube: str) -> None:
        """An unreadable cube is answered exactly as an unknown one, so its existence is not revealed."""
        if not self.can_read(cube):
            raise CubeNotFoundError(f"no cube named {cube!r}", cube=cube)

    def require_admin(self) -> None:
        if not self.admin:
            raise ForbiddenError("this operation needs a principal with the admin right", principal=self.name)


def principal_of(name: str, kind: str, role_names: Iterable[str], roles: Mapping[str, Role]) -> Principal:
    """The principal holding ``role_names``; a role no longer defined grants nothing."""
    held = tuple(role_names)
    granted = [roles[role] for role in held if role in roles]
    cubes = frozenset(cube for role in granted for cube in role.cubes)
    return Principal(name, kind, held, cubes, any(role.admin for role in granted))


def open_principal() -> Principal:
    """Every right: for an app embedded in a program (or a test) that does its own access control."""
    return Principal("open", "open", ("admin",), frozenset({ALL_CUBES}), True)


def parse_roles_file(body: Any) -> dict[str, Role]:
    """The built-in roles plus those of a roles file's body (None: no file)."""
    if body is None:
        return dict(BUILTIN_ROLES)
    if not isinstance(body, dict) or set(body) != {"roles"}:
        raise AccessConfigError('the roles file must be an object {"roles": {name: definition, ...}}')
    return parse_roles(body["roles"])


def parse_roles(raw: Any) -> dict[str, Role]:
    """The built-in roles plus those of ``raw`` (which may not redefine a built-in one)."""
    if not isinstance(raw, dict):
        raise AccessConfigError("roles must be an object of role name to definition")
    roles = dict(BUILTIN_ROLES)
    for name, definition in raw.items():
        if name in BUILTIN_ROLES:
            raise AccessConfigError(f"role {name!r} is built in and cannot be redefined")
        roles[name] = _parse_role(name, definition)
    return roles


def _parse_role(name: str, definition: Any) -> Role:
    if not isinstance(name, str) or not name.strip():
        raise AccessConfigError("a role needs a non-empty name")
    if not isinstance(definition, dict):
        raise AccessConfigError(f'role {name!r} must be an object such as {{"cubes": ["*"], "admin": false}}')
    restrictions = RESTRICTION_FIELDS & set(definition)
    if restrictions:
        raise AccessConfigError(
            f"role {name!r}: row-level restrictions ({', '.join(sorted(restrictions))}) are not yet supported; "
            "remove them (a role that seems to restrict rows but does not would leak data)"
        )
    unknown = set(definition) - ROLE_FIELDS
    if unknown:
        raise AccessConfigError(f"role {name!r}: unknown field(s) {', '.join(sorted(unknown))}")
    cubes = definition.get("cubes", [])
    if not isinstance(cubes, list) or not all(isinstance(cube, str) and cube for cube in cubes):
        raise AccessConfigError(f'role {name!r}: cubes must be a list of cube names (or "*")')
    admin = definition.get("admin", False)
    if not isinstance(admin, bool):
        raise AccessConfigError(f"role {name!r}: admin must be true or false")
    description = definition.get("description", "")
    if not isinstance(description, str):
        raise AccessConfigError(f"role {name!r}: description must be text")
    return Role(name, frozenset(cubes), admin, description)
