"""Bearer JWTs: verified against the one configured key and algorithm; exp required, nbf, aud and iss checked;
roles from a claim; every forged, expired or misdirected token refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from cube_server.access import AccessControl, KeyStore, RoleBook
from cube_server.access.control import token_verifier
from cube_server.access.tokens import TokenVerifier
from cube_server.errors import AccessConfigError, UnauthenticatedError
from cube_server.settings import Settings

SECRET = "a-shared-secret-long-enough-for-every-hmac-algorithm-0123456789abcdef"


def claims(**extra: Any) -> dict[str, Any]:
    return {"sub": "alice@example.com", "exp": int(time.time()) + 600, "roles": ["reader"], **extra}


def pem_pair(private: Any) -> tuple[bytes, str]:
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private_pem, public_pem.decode()


def test_an_hs256_token_gives_its_subject_and_roles() -> None:
    verifier = TokenVerifier(SECRET, "HS256")
    verified = verifier.verify(jwt.encode(claims(roles="reader analyst"), SECRET, algorithm="HS256"))
    assert (verified.subject, verified.roles) == ("alice@example.com", ("reader", "analyst"))
    custom = TokenVerifier(SECRET, "HS256", roles_claim="groups")
    assert custom.verify(jwt.encode(claims(groups=["admin"]), SECRET, algorithm="HS256")).roles == ("admin",)


# Tokens are made when each test runs, not when the module is collected: a long test run would otherwise
# see the tokens that should be fresh expire before their test.
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: jwt.encode(claims(exp=int(time.time()) - 120), SECRET, algorithm="HS256"), "expired"),
        (lambda: jwt.encode(claims(), SECRET[::-1], algorithm="HS256"), "not valid"),
        (lambda: jwt.encode(claims(), SECRET, algorithm="HS512"), "not valid"),  # not the configured algorithm
        (lambda: jwt.encode(claims(), None, algorithm="none"), "not valid"),
        (lambda: jwt.encode({"sub": "alice", "roles": ["reader"]}, SECRET, algorithm="HS256"), "not valid"),  # no exp
        (lambda: jwt.encode({"exp": int(time.time()) + 600}, SECRET, algorithm="HS256"), "not valid"),  # no sub
        (lambda: jwt.encode(claims(nbf=int(time.time()) + 600), SECRET, algorithm="HS256"), "not valid"),
        (lambda: "a.b.c", "not valid"),
    ],
    ids=["expired", "other-secret", "other-algorithm", "none", "no-exp", "no-sub", "not-yet-valid", "garbage"],
)
def test_forged_expired_and_malformed_tokens_are_refused(make: Callable[[], str], message: str) -> None:
    with pytest.raises(UnauthenticatedError, match=message):
        TokenVerifier(SECRET, "HS256").verify(make())


def test_audience_and_issuer_are_checked_when_configured() -> None:
    verifier = TokenVerifier(SECRET, "HS256", audience="cube-server", issuer="https://id.example.com")
    good = claims(aud="cube-server", iss="https://id.example.com")
    assert verifier.verify(jwt.encode(good, SECRET, algorithm="HS256")).subject == "alice@example.com"
    for bad in ({**good, "aud": "another-app"}, {**good, "iss": "https://evil.example.com"}, claims(aud="cube-server")):
        with pytest.raises(UnauthenticatedError):
            verifier.verify(jwt.encode(bad, SECRET, algorithm="HS256"))


@pytest.mark.parametrize(
    ("algorithm", "private"),
    [
        ("RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        ("ES256", ec.generate_private_key(ec.SECP256R1())),
    ],
)
def test_public_key_algorithms_verify_and_refuse_algorithm_confusion(algorithm: str, private: Any) -> None:
    private_pem, public_pem = pem_pair(private)
    verifier = TokenVerifier(public_pem, algorithm)
    assert verifier.verify(jwt.encode(claims(), private_pem, algorithm=algorithm)).roles == ("reader",)
    # an HS256 token "signed" with the public key, as if it were a shared secret
    forged = _hs256_with(public_pem)
    with pytest.raises(UnauthenticatedError):
        verifier.verify(forged)
    with pytest.raises(AccessConfigError, match="public key, not a private key"):
        TokenVerifier(private_pem.decode(), algorithm)


def _hs256_with(secret: str) -> str:
    """HS256 by hand (PyJWT itself refuses a PEM as an HMAC secret): what an attacker would send."""

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}.{b64(json.dumps(claims()).encode())}"
    signature = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def test_configuration_mistakes_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(AccessConfigError, match="at least 32 bytes"):
        TokenVerifier("short", "HS256")
    with pytest.raises(AccessConfigError, match="not one of"):
        TokenVerifier(SECRET, "none")
    with pytest.raises(AccessConfigError, match="PEM public key"):
        TokenVerifier(SECRET, "RS256")
    with pytest.raises(AccessConfigError, match="not both"):
        token_verifier(Settings(jwt_key=SECRET, jwt_key_file="key.pem"), tmp_path)
    with pytest.raises(AccessConfigError, match="cannot read the JWT key file"):
        token_verifier(Settings(jwt_key_file="missing.pem"), tmp_path)
    assert token_verifier(Settings(), tmp_path) is None
    (tmp_path / "secret.txt").write_text(SECRET + "\n", encoding="utf-8")
    from_file = token_verifier(Settings(jwt_key_file="secret.txt"), tmp_path)
    assert from_file is not None
    assert from_file.verify(jwt.encode(claims(), SECRET, algorithm="HS256")).subject == "alice@example.com"


def test_access_control_takes_jwts_beside_api_keys(tmp_path: Path) -> None:
    access = AccessControl(
        KeyStore(tmp_path / "keys.json"), RoleBook(None), None, tokens=TokenVerifier(SECRET, "HS256")
    )
    principal = access.authenticate(jwt.encode(claims(roles=["admin", "undefined"]), SECRET, algorithm="HS256"))
    assert (principal.name, principal.kind, principal.admin) == ("alice@example.com", "token", True)
    assert principal.roles == ("admin", "undefined")  # an undefined role is held but grants nothing
    unknown_roles = access.authenticate(jwt.encode(claims(roles=["undefined"]), SECRET, algorithm="HS256"))
    assert unknown_roles.cubes == frozenset() and not unknown_roles.admin
    without_tokens = AccessControl(KeyStore(tmp_path / "keys.json"), RoleBook(None), None)
    with pytest.raises(UnauthenticatedError, match="unknown or revoked"):
        without_tokens.authenticate(jwt.encode(claims(), SECRET, algorithm="HS256"))
