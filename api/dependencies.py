"""FastAPI dependencies: the engine of the running app (503 until it has loaded) and the caller's principal.

Routes answering a caller take :data:`EngineDep`, the engine as that caller may see it (its cubes, its
rows); only admin operations take :data:`FullEngineDep`, after checking the admin right.

Only the credential's extraction from the request lives here; what a key means and what a principal may
do is :mod:`cube_server.access`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from api.errors import ServiceNotReadyError
from cube_server.access import AccessControl, Principal
from cube_server.access.restricted import RestrictedEngine
from cube_server.engine import CubeEngine
from cube_server.errors import UnauthenticatedError

BEARER = "bearer"
# Declared so the OpenAPI document lists both ways to send a key (and /docs offers "Authorize"); the headers
# themselves are read by credential_of, which also refuses other schemes instead of ignoring them.
BEARER_SCHEME = HTTPBearer(auto_error=False, description="an API key (ck_...) or, when configured, a JWT")
API_KEY_SCHEME = APIKeyHeader(name="X-API-Key", auto_error=False, description="an API key (ck_...)")


def get_engine(request: Request) -> CubeEngine:
    engine = getattr(request.app.state, "engine", None)
    if engine is None:
        failure = getattr(request.app.state, "load_error", None)
        message = (
            "the server failed to load its project; see the server log" if failure else "the server is still loading"
        )
        raise ServiceNotReadyError(message)
    return engine  # type: ignore[no-any-return]


def credential_of(request: Request) -> str | None:
    """The API key of ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``; None when neither is sent."""
    authorization = request.headers.get("authorization")
    api_key = request.headers.get("x-api-key")
    bearer = None
    if authorization is not None:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != BEARER or not value.strip():
            raise UnauthenticatedError("the Authorization header must read Bearer <key>")
        bearer = value.strip()
    if bearer is not None and api_key is not None and bearer != api_key.strip():
        raise UnauthenticatedError("Authorization and X-API-Key name different keys")
    return bearer if bearer is not None else (api_key.strip() if api_key is not None else None)


def access_of(request: Request) -> AccessControl:
    access = getattr(request.app.state, "access", None)
    return access if access is not None else AccessControl.open()


def get_principal(request: Request) -> Principal:
    """The caller (401 without an accepted credential); a ``{cube}`` of the path it may not read is a 404."""
    principal = authenticated_principal(request)
    cube = request.path_params.get("cube")
    if cube is not None:
        principal.require_cube(cube)
    return principal


def authenticated_principal(request: Request) -> Principal:
    """The caller (401 without an accepted credential), authenticated once per request."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        principal = access_of(request).authenticate(credential_of(request))
        request.state.principal = principal
    return principal


def require_principal(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(BEARER_SCHEME)] = None,
    api_key: Annotated[str | None, Security(API_KEY_SCHEME)] = None,
) -> Principal:
    del bearer, api_key  # documentation only: see BEARER_SCHEME
    # Charged before the cube check, so requests for cubes the caller may not read count too.
    charge_rate_limit(request, authenticated_principal(request))
    return get_principal(request)


def charge_rate_limit(request: Request, principal: Principal) -> None:
    """Count the request against the caller's rate limit once (429 past it); public routes are not counted."""
    limiter = getattr(request.app.state, "rate_limiter", None)
    if limiter is None or getattr(request.state, "rate_charged", False):
        return
    request.state.rate_charged = True
    limiter.charge(principal, request.client.host if request.client is not None else None)


def optional_principal(request: Request) -> Principal | None:
    """The caller if it authenticates, else None (for public routes that show more to a known caller)."""
    try:
        return get_principal(request)
    except UnauthenticatedError:
        return None


def restricted_engine(
    engine: Annotated[CubeEngine, Depends(get_engine)], principal: Annotated[Principal, Depends(require_principal)]
) -> RestrictedEngine:
    return RestrictedEngine(engine, principal)


EngineDep = Annotated[RestrictedEngine, Depends(restricted_engine)]
FullEngineDep = Annotated[CubeEngine, Depends(get_engine)]
PrincipalDep = Annotated[Principal, Depends(require_principal)]
REQUIRE_PRINCIPAL = [Depends(require_principal)]
