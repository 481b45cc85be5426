"""Roles and principals: who a caller is, which cubes it may read, whether it may run admin operations.

A role names the cubes it may read (``"*"`` for all), whether it grants the admin right, and optionally a
row-level restriction: cuts (in the cut grammar, such as ``organisation:hq,gd``) that every query of a cube
it reads is cut to. Two roles are built in: ``reader`` (every cube) and ``admin`` (every cube and the admin
right); the roles file (``cube-server-roles.json``, written by hand:
``{"roles": {"name": {"cubes": [...], "admin": false, "restrict": {"cube or *": "cuts"}}}}``) defines more.

A principal's rights are the union of its roles' rights, rows included: a role granting a cube without a
restriction lifts every other role's restriction on it; restrictions of several roles on one cube are
merged when they cut the same dimension and hierarchy by key paths (``organisation:hq,gd`` and
``organisation:hq,bj`` give ``organisation:hq,gd;hq,bj``), and otherwise reading that cube is refused, as
their union cannot be written as cuts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cube_models.errors import CubeError, CubeNotFoundError, ForbiddenError
from cube_server.cut_syntax import format_cuts, parse_cuts
from cube_server.errors import AccessConfigError
from cube_server.query import Cut, PointCut, SetCut

ROLES_FILE_NAME = "cube-server-roles.json"
ALL_CUBES = "*"
ROLE_FIELDS = frozenset({"cubes", "admin", "description", "restrict"})
Restriction = tuple[Cut, ...]  # cuts AND-ed to every query; () = every row


@dataclass(frozen=True, slots=True)
class Role:
    name: str
    cubes: frozenset[str]
    admin: bool = False
    description: str = ""
    # cube name (or "*": every cube the role reads without an entry of its own) -> its restriction
    restrict: Mapping[str, Restriction] = field(default_factory=dict)

    def reads(self, cube: str) -> bool:
        return ALL_CUBES in self.cubes or cube in self.cubes

    def restriction_of(self, cube: str) -> Restriction:
        return self.restrict.get(cube, self.restrict.get(ALL_CUBES, ()))

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {"cubes": sorted(self.cubes), "admin": self.admin, "description": self.description}
        if self.restrict:
            described["restrict"] = {cube: format_cuts(cuts) for cube, cuts in sorted(self.restrict.items())}
        return described


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
    grants: tuple[Role, ...] = ()  # the roles held that are defined

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

    def restriction(self, cube: str) -> Restriction:
        """The cuts every query of ``cube`` is cut to (() for every row); an unreadable cube is unknown.

        Rights add up: one role reading the cube without a restriction lifts them all.
        """
        self.require_cube(cube)
        alternatives: list[Restriction] = []
        for role in self.grants:
            if not role.reads(cube):
                continue
            cuts = role.restriction_of(cube)
            if not cuts:
                return ()
            if cuts not in alternatives:
                alternatives.append(cuts)
        if not alternatives:  # granted by a name only ("open" principals hold no Role objects)
            return ()
        return _union(alternatives, cube, self.name)


def principal_of(name: str, kind: str, role_names: Iterable[str], roles: Mapping[str, Role]) -> Principal:
    """The principal holding ``role_names``; a role no longer defined grants nothing."""
    held = tuple(role_names)
    granted = tuple(roles[role] for role in held if role in roles)
    cubes = frozenset(cube for role in granted for cube in role.cubes)
    return Principal(name, kind, held, cubes, any(role.admin for role in granted), granted)


def _union(alternatives: list[Restriction], cube: str, principal: str) -> Restriction:
    """One restriction allowing the rows any of ``alternatives`` allows, or a refusal when cuts cannot say it."""
    if len(alternatives) == 1:
        return alternatives[0]
    paths = []
    shapes = set()
    for cuts in alternatives:
        if len(cuts) != 1 or not isinstance(cuts[0], PointCut | SetCut) or cuts[0].invert:
            break
        cut = cuts[0]
        shapes.add((cut.dimension, cut.hierarchy))
        paths.extend([cut.path] if isinstance(cut, PointCut) else cut.paths)
    else:
        if len(shapes) == 1:
            dimension, hierarchy = shapes.pop()
            return (SetCut(dimension, tuple(dict.fromkeys(paths)), hierarchy),)
    raise ForbiddenError(
        f"the roles of {principal!r} restrict cube {cube!r} in ways that cannot be combined "
        f"({' / '.join(format_cuts(cuts) for cuts in alternatives)}); an administrator can give the key one role "
        "for this cube, or roles restricting the same dimension",
        cube=cube,
    )


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
    return Role(name, frozenset(cubes), admin, description, _parse_restrict(name, definition.get("restrict", {})))


def _parse_restrict(name: str, raw: Any) -> dict[str, Restriction]:
    """``"organisation:hq,gd"`` (every cube the role reads) or ``{"cube" or "*": "cuts", ...}``."""
    if isinstance(raw, str):
        raw = {ALL_CUBES: raw}
    if not isinstance(raw, dict):
        raise AccessConfigError(f'role {name!r}: restrict must be cuts ("organisation:hq,gd") or {{cube: cuts}}')
    restrict = {}
    for cube, text in raw.items():
        if not isinstance(text, str) or not text.strip():
            raise AccessConfigError(f"role {name!r}: the restriction of {cube!r} must be non-empty cuts")
        try:
            restrict[cube] = parse_cuts(text)
        except CubeError as exc:
            raise AccessConfigError(f"role {name!r}: restriction of {cube!r}: {exc.message}") from exc
    return restrict


def check_restrictions(roles: Mapping[str, Role], cubes: Mapping[str, Any], bind: Any) -> None:
    """Each restriction must bind to every cube it applies to (``bind(cube, cuts)`` raises when not).

    Run when the server starts, so a role naming a dimension a cube lacks stops it there instead of
    refusing that role's callers later.
    """
    for role in roles.values():
        for target, cuts in role.restrict.items():
            if target != ALL_CUBES and target not in cubes:
                raise AccessConfigError(f"role {role.name!r} restricts {target!r}, which is not a cube")
            unlisted = [c for c in cubes if role.reads(c) and c not in role.restrict]
            applies = [target] if target != ALL_CUBES else unlisted
            for cube in applies:
                try:
                    bind(cubes[cube], cuts)
                except CubeError as exc:
                    raise AccessConfigError(
                        f"role {role.name!r}: restriction {format_cuts(cuts)!r} does not fit cube {cube!r}: "
                        f"{exc.message}"
                    ) from exc
