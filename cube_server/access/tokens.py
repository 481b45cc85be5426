"""Bearer JWTs signed by an identity provider, verified against one configured key (PyJWT).

One algorithm is configured (``CUBE_JWT_ALGORITHM``), never taken from the token, so a token cannot pick
``none`` or turn a public key into an HMAC secret. A token must carry ``sub`` (the principal's name) and
``exp``; ``nbf`` is checked when present, ``aud`` and ``iss`` when configured. The roles claim
(``CUBE_JWT_ROLES_CLAIM``, a list of names or one space- or comma-separated string) gives the roles; a
role the roles file does not define grants nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cube_server.errors import AccessConfigError, UnauthenticatedError

# RFC 7518 3.2: an HMAC key at least as long as the hash
HMAC_KEY_BYTES = {"HS256": 32, "HS384": 48, "HS512": 64}
HMAC_ALGORITHMS = frozenset(HMAC_KEY_BYTES)
PUBLIC_KEY_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "EdDSA"})
LEEWAY_S = 30  # clocks of the identity provider and this server may differ a little


@dataclass(frozen=True, slots=True)
class TokenClaims:
    subject: str
    roles: tuple[str, ...]


def looks_like_jwt(credential: str) -> bool:
    """Three base64url segments: ``header.payload.signature`` (API keys have no dots)."""
    return credential.count(".") == 2


class TokenVerifier:
    def __init__(
        self, key: str, algorithm: str, *, audience: str = "", issuer: str = "", roles_claim: str = "roles"
    ) -> None:
        if algorithm not in HMAC_ALGORITHMS | PUBLIC_KEY_ALGORITHMS:
            known = ", ".join(sorted(HMAC_ALGORITHMS | PUBLIC_KEY_ALGORITHMS))
            raise AccessConfigError(f"CUBE_JWT_ALGORITHM {algorithm!r} is not one of {known}")
        if algorithm in HMAC_ALGORITHMS and len(key.encode("utf-8")) < HMAC_KEY_BYTES[algorithm]:
            raise AccessConfigError(f"a {algorithm} secret needs at least {HMAC_KEY_BYTES[algorithm]} bytes")
        if algorithm in PUBLIC_KEY_ALGORITHMS and "-----BEGIN" not in key:
            raise AccessConfigError(f"{algorithm} needs a PEM public key (CUBE_JWT_KEY or CUBE_JWT_KEY_FILE)")
        try:
            import jwt
        except ImportError as exc:
            raise AccessConfigError("JWTs need PyJWT: pip install 'cube-server[jwt]'") from exc
        self._jwt = jwt
        self.algorithm = algorithm
        self.audience = audience or None
        self.issuer = issuer or None
        self.roles_claim = roles_claim
        try:
            # Prepared once: a malformed key stops the server at its start, not at a first request.
            self._key: Any = jwt.get_algorithm_by_name(algorithm).prepare_key(key)
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise AccessConfigError(f"the JWT key cannot be used with {algorithm}: {exc}") from exc
        if hasattr(self._key, "private_bytes"):
            raise AccessConfigError("CUBE_JWT_KEY must be the identity provider's public key, not a private key")

    @classmethod
    def from_key_file(cls, path: Path, algorithm: str, **options: str) -> TokenVerifier:
        try:
            key = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise AccessConfigError(f"cannot read the JWT key file {path}: {exc}") from exc
        return cls(key.strip() if algorithm in HMAC_ALGORITHMS else key, algorithm, **options)

    def verify(self, token: str) -> TokenClaims:
        jwt = self._jwt
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_S,
                options={"require": ["exp", "sub"], "verify_aud": self.audience is not None},
            )
        except jwt.ExpiredSignatureError:
            raise UnauthenticatedError("the bearer token has expired") from None
        except jwt.PyJWTError:
            raise UnauthenticatedError("the bearer token is not valid here") from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise UnauthenticatedError("the bearer token is not valid here")
        return TokenClaims(subject, _roles(claims.get(self.roles_claim)))


def _roles(raw: Any) -> tuple[str, ...]:
    if isinstance(raw, str):
        return tuple(name for name in raw.replace(",", " ").split() if name)
    if isinstance(raw, list):
        return tuple(name for name in raw if isinstance(name, str) and name)
    return ()
