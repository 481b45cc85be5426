"""Who is calling: a presented API key, or no key (anonymous, when the settings allow it), to a principal."""

from __future__ import annotations

from pathlib import Path

from cube_models import ModelCatalog
from cube_server.access.keys import KEYS_FILE_NAME, KeyStore
from cube_server.access.roles import (
    BUILTIN_ROLES,
    ROLES_FILE_NAME,
    Principal,
    Role,
    check_restrictions,
    open_principal,
    parse_roles_file,
    principal_of,
)
from cube_server.access.tokens import TokenVerifier, looks_like_jwt
from cube_server.access.watched import WatchedFile
from cube_server.errors import AccessConfigError, UnauthenticatedError
from cube_server.resolve import bind_cuts
from cube_server.settings import Settings

ANONYMOUS = "anonymous"


def keys_path(settings: Settings, project_root: Path) -> Path:
    """``CUBE_KEYS_FILE`` if set (relative paths start at the project directory), else the project's own."""
    return project_root / Path(settings.keys_file or KEYS_FILE_NAME).expanduser()


def roles_path(settings: Settings, project_root: Path) -> Path:
    """``CUBE_ROLES_FILE`` if set (relative paths start at the project directory), else the project's own."""
    return project_root / Path(settings.roles_file or ROLES_FILE_NAME).expanduser()


class RoleBook:
    """The roles file (absent: the built-in roles only), followed as it changes."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._file = WatchedFile(path, parse_roles_file) if path is not None else None

    def roles(self) -> dict[str, Role]:
        return self._file.current() if self._file is not None else dict(BUILTIN_ROLES)


def token_verifier(settings: Settings, project_root: Path) -> TokenVerifier | None:
    """The JWT verifier the settings configure, or None when they name no key."""
    options = {
        "audience": settings.jwt_audience,
        "issuer": settings.jwt_issuer,
        "roles_claim": settings.jwt_roles_claim,
    }
    if settings.jwt_key and settings.jwt_key_file:
        raise AccessConfigError("set CUBE_JWT_KEY or CUBE_JWT_KEY_FILE, not both")
    if settings.jwt_key_file:
        path = project_root / Path(settings.jwt_key_file).expanduser()
        return TokenVerifier.from_key_file(path, settings.jwt_algorithm, **options)
    if settings.jwt_key:
        return TokenVerifier(settings.jwt_key, settings.jwt_algorithm, **options)
    return None


def role_names(text: str) -> tuple[str, ...]:
    """``"reader, analyst"`` -> ``("reader", "analyst")``."""
    return tuple(name for name in (part.strip() for part in text.split(",")) if name)


class AccessControl:
    """Turns a request's credential into a :class:`Principal`, or refuses it.

    ``keys``: the key store (None: no keys are accepted). ``roles``: the roles keys may name.
    ``anonymous_roles``: the roles a caller without a key gets, or None to refuse such callers.
    ``tokens``: verifies bearer JWTs (None: JWTs are refused like unknown keys).
    ``open_access``: every caller has every right (an app embedded in a program that does its own
    access control; never what the server commands build).
    """

    def __init__(
        self,
        keys: KeyStore | None,
        roles: RoleBook,
        anonymous_roles: tuple[str, ...] | None,
        *,
        tokens: TokenVerifier | None = None,
        open_access: bool = False,
    ) -> None:
        self.keys = keys
        self.tokens = tokens
        self.role_book = roles
        self.anonymous_roles = anonymous_roles
        self.open_access = open_access
        if anonymous_roles is not None:
            defined = roles.roles()
            unknown = [role for role in anonymous_roles if role not in defined]
            if unknown:
                raise AccessConfigError(f"CUBE_ANONYMOUS_ROLES names undefined role(s): {', '.join(unknown)}")

    @classmethod
    def from_settings(cls, settings: Settings, project_root: Path) -> AccessControl:
        anonymous = role_names(settings.anonymous_roles) if settings.anonymous else None
        keys = KeyStore(keys_path(settings, project_root))
        roles = RoleBook(roles_path(settings, project_root))
        keys.records(), roles.roles()  # a broken file stops the server at its start, not at a first request
        return cls(keys, roles, anonymous, tokens=token_verifier(settings, project_root))

    def check_roles(self, catalog: ModelCatalog) -> None:
        """Every role's restriction must fit the cubes it applies to (AccessConfigError names the first that
        does not), so a mistyped dimension stops the server at its start."""
        check_restrictions(self.role_book.roles(), {cube.name: cube for cube in catalog.cubes}, bind_cuts)

    @classmethod
    def open(cls) -> AccessControl:
        return cls(None, RoleBook(None), None, open_access=True)

    def authenticate(self, key: str | None) -> Principal:
        """The principal of ``key`` (None: no credential was presented)."""
        if self.open_access:
            return open_principal()
        if key is None:
            if self.anonymous_roles is None:
                raise UnauthenticatedError(
                    "this server needs an API key: send Authorization: Bearer <key> or X-API-Key: <key>"
                )
            return principal_of(ANONYMOUS, ANONYMOUS, self.anonymous_roles, self.role_book.roles())
        # A wrong key is refused even where anonymous access is on: it never falls back to fewer rights.
        if self.tokens is not None and looks_like_jwt(key):
            claims = self.tokens.verify(key)
            return principal_of(claims.subject, "token", claims.roles, self.role_book.roles())
        record = self.keys.verify(key) if self.keys is not None else None
        if record is None:
            raise UnauthenticatedError("the API key is unknown or revoked")
        return principal_of(record.name, "key", record.roles, self.role_book.roles())
