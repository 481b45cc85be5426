"""cube_server.access: the key file (hashed keys, constant-time verification, revocation), roles and principals."""

from __future__ import annotations

import hashlib
import hmac
import json
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from cube_models.errors import CubeNotFoundError, ForbiddenError
from cube_server.access import AccessControl, KeyStore, RoleBook, keys_path, roles_path
from cube_server.access import keys as keys_module
from cube_server.access.roles import (
    BUILTIN_ROLES,
    Role,
    check_restrictions,
    parse_roles,
    parse_roles_file,
    principal_of,
)
from cube_server.cut_syntax import format_cuts
from cube_server.errors import AccessConfigError, UnauthenticatedError
from cube_server.query import PointCut, SetCut
from cube_server.settings import Settings

ROLES = {**BUILTIN_ROLES, "sales": Role("sales", frozenset({"sales"})), "hr": Role("hr", frozenset({"staff"}))}


def secret_of(key: str) -> str:
    """``ck_<id>_<secret>`` -> secret (which may itself hold underscores)."""
    return key.split("_", 2)[2]


@pytest.fixture
def store(tmp_path: Path) -> KeyStore:
    return KeyStore(tmp_path / "keys.json")


def test_a_created_key_is_random_shown_once_and_stored_only_as_its_digest(store: KeyStore) -> None:
    record, key = store.create("  Alice ", ["sales", "hr"], ROLES)
    other_record, other_key = store.create("Bob", ["reader"], ROLES)
    assert key.startswith(f"ck_{record.id}_") and len(secret_of(key)) >= 43  # 32 random bytes, base64url
    assert key != other_key and record.id != other_record.id
    text = store.path.read_text(encoding="utf-8")
    for secret in (key, secret_of(key), other_key, secret_of(other_key)):
        assert secret not in text
    body = json.loads(text)
    assert body["keys"][0] == {
        "id": record.id,
        "name": "Alice",
        "roles": ["sales", "hr"],
        "created": record.created,
        "revoked": None,
        "sha256": hashlib.sha256(key.encode()).hexdigest(),
    }
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert "sha256" not in record.describe()


def test_creating_a_key_checks_its_name_and_roles(store: KeyStore) -> None:
    with pytest.raises(AccessConfigError, match="needs a name"):
        store.create("  ", ["reader"], ROLES)
    with pytest.raises(AccessConfigError, match="at least one role"):
        store.create("x", [], ROLES)
    with pytest.raises(AccessConfigError, match="unknown role\\(s\\) nope; defined: admin, hr, reader, sales"):
        store.create("x", ["reader", "nope"], ROLES)
    assert not store.path.exists()


def test_verification_accepts_only_the_exact_live_key(store: KeyStore) -> None:
    record, key = store.create("Alice", ["sales"], ROLES)
    assert store.verify(key) == record
    secret = secret_of(key)
    assert store.verify(f"ck_{record.id}_{secret[:-1]}{'A' if secret[-1] != 'A' else 'B'}") is None
    assert store.verify(f"ck_000000000000_{secret}") is None  # unknown id
    for malformed in ("", "ck", "ck__", "xx_" + key[3:], secret):
        assert store.verify(malformed) is None
    store.revoke(record.id)
    assert store.verify(key) is None


def test_every_verification_hashes_and_compares_in_constant_time(
    store: KeyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Known id, unknown id, revoked or malformed: the same hash and hmac.compare_digest run every time."""
    record, key = store.create("Alice", ["sales"], ROLES)
    compared: list[tuple[str, str]] = []

    def spy(a: Any, b: Any) -> bool:
        compared.append((a, b))
        return hmac.compare_digest(a, b)

    monkeypatch.setattr(keys_module, "hmac", SimpleNamespace(compare_digest=spy))
    attempts = [key, key[:-1] + "x", "ck_ffffffffffff_" + key[-43:], "garbage"]
    for attempt in attempts:
        store.verify(attempt)
    assert [presented for presented, _ in compared] == [hashlib.sha256(a.encode()).hexdigest() for a in attempts]
    assert compared[0][1] == compared[1][1] == record.sha256
    assert compared[2][1] == compared[3][1] != record.sha256  # unknown ids meet a dummy digest of the same length
    assert len(compared[2][1]) == len(record.sha256)


def test_revocation_is_kept_and_seen_by_another_store_on_the_same_file(store: KeyStore) -> None:
    record, key = store.create("Alice", ["sales"], ROLES)
    running = KeyStore(store.path)  # a server's store, opened before the revocation
    assert running.verify(key) == record
    revoked = store.revoke(record.id)
    assert revoked.revoked is not None and store.revoke(record.id) == revoked  # revoking twice changes nothing
    assert running.verify(key) is None
    assert running.records()[record.id].revoked == revoked.revoked
    with pytest.raises(AccessConfigError, match="no key with id 'nope'"):
        store.revoke("nope")


def test_a_broken_key_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(AccessConfigError, match="cannot read"):
        KeyStore(path).records()
    path.write_text(json.dumps({"keys": [{"id": "x"}]}), encoding="utf-8")
    with pytest.raises(AccessConfigError, match="lacks 'name'"):
        KeyStore(path).records()


def test_roles_files_define_roles_and_check_their_fields() -> None:
    roles = parse_roles_file({"roles": {"branch": {"cubes": ["sales"], "description": "a branch"}}})
    assert roles["branch"] == Role("branch", frozenset({"sales"}), False, "a branch")
    assert set(roles) == {"reader", "admin", "branch"}
    assert parse_roles_file(None) == BUILTIN_ROLES
    with pytest.raises(AccessConfigError, match="unknown field\\(s\\) cuts"):
        parse_roles({"gd": {"cubes": ["*"], "cuts": ["organisation:hq,gd"]}})
    with pytest.raises(AccessConfigError, match="restrict must be cuts"):
        parse_roles({"gd": {"cubes": ["*"], "restrict": ["organisation:hq,gd"]}})
    with pytest.raises(AccessConfigError, match="must be non-empty cuts"):
        parse_roles({"gd": {"cubes": ["*"], "restrict": {"sales": " "}}})
    with pytest.raises(AccessConfigError, match="restriction of 'sales'"):
        parse_roles({"gd": {"cubes": ["*"], "restrict": {"sales": "organisation"}}})
    with pytest.raises(AccessConfigError, match="unknown field\\(s\\) cubez"):
        parse_roles({"gd": {"cubez": ["*"]}})
    with pytest.raises(AccessConfigError, match="built in"):
        parse_roles({"admin": {"cubes": ["*"]}})
    with pytest.raises(AccessConfigError, match="admin must be true or false"):
        parse_roles({"x": {"cubes": ["*"], "admin": "yes"}})
    with pytest.raises(AccessConfigError, match="cubes must be a list"):
        parse_roles({"x": {"cubes": "sales"}})


def test_the_telecom_demo_roles_load() -> None:
    demo = Path(__file__).resolve().parents[2] / "examples" / "telecom" / "cube-server-roles.json"
    roles = RoleBook(demo).roles()
    assert roles["head_office"].admin and roles["head_office"].cubes == {"*"}
    assert not roles["guangdong_branch"].admin and not roles["shenzhen_branch"].admin
    assert roles["guangdong_branch"].restriction_of("fixed_line_revenue") == (PointCut("organisation", ("hq", "gd")),)
    assert roles["shenzhen_branch"].restriction_of("fixed_line_revenue") == (
        PointCut("organisation", ("hq", "gd", "gd_sz")),
    )


RESTRICTED = parse_roles(
    {
        "gd": {"cubes": ["sales", "staff"], "restrict": {"sales": "organisation:hq,gd", "*": "region:south"}},
        "bj": {"cubes": ["sales"], "restrict": "organisation:hq,bj"},
        "gd_2025": {"cubes": ["sales"], "restrict": "organisation:hq,gd|time:2025"},
        "other_hierarchy": {"cubes": ["sales"], "restrict": "organisation@legal:hq,gd"},
        "all_sales": {"cubes": ["sales"]},
    }
)


def test_a_restriction_applies_per_cube_or_to_every_cube_a_role_reads() -> None:
    gd = principal_of("Guangdong", "key", ["gd"], RESTRICTED)
    assert gd.restriction("sales") == (PointCut("organisation", ("hq", "gd")),)
    assert gd.restriction("staff") == (PointCut("region", ("south",)),)  # the "*" entry
    with pytest.raises(CubeNotFoundError):  # a cube it does not read is unknown, restricted or not
        gd.restriction("secret")
    assert principal_of("Root", "key", ["admin"], RESTRICTED).restriction("sales") == ()


def test_restrictions_of_several_roles_add_up_to_their_union() -> None:
    both = principal_of("South-North", "key", ["gd", "bj"], RESTRICTED)
    assert both.restriction("sales") == (SetCut("organisation", (("hq", "gd"), ("hq", "bj"))),)
    assert both.restriction("staff") == (PointCut("region", ("south",)),)  # only gd reads staff
    # a role reading every row of a cube lifts the others' restrictions on it
    assert principal_of("Analyst", "key", ["gd", "all_sales"], RESTRICTED).restriction("sales") == ()
    # a union cuts cannot say is refused rather than widened or narrowed
    for roles in (["gd", "gd_2025"], ["gd", "other_hierarchy"]):
        with pytest.raises(ForbiddenError, match="cannot be combined"):
            principal_of("Mixed", "key", roles, RESTRICTED).restriction("sales")


def test_restrictions_are_checked_against_the_cubes_they_apply_to() -> None:
    cubes = {"sales": "sales cube", "staff": "staff cube"}
    seen = []
    check_restrictions(RESTRICTED, cubes, lambda cube, cuts: seen.append((cube, format_cuts(cuts))))
    assert ("sales cube", "organisation:hq,gd") in seen and ("staff cube", "region:south") in seen

    def bind(cube: str, cuts: Any) -> None:
        if cube == "staff cube":
            raise CubeNotFoundError("no dimension region")

    with pytest.raises(AccessConfigError, match="role 'gd': restriction 'region:south' does not fit cube 'staff'"):
        check_restrictions(RESTRICTED, cubes, bind)
    with pytest.raises(AccessConfigError, match="restricts 'nowhere', which is not a cube"):
        check_restrictions(parse_roles({"x": {"cubes": ["*"], "restrict": {"nowhere": "a:b"}}}), cubes, bind)


def test_a_principal_holds_the_union_of_its_roles() -> None:
    principal = principal_of("Alice", "key", ["sales", "hr", "gone"], ROLES)
    assert principal.cubes == {"sales", "staff"} and not principal.admin
    assert principal.readable(["sales", "staff", "secret"]) == ["sales", "staff"]
    with pytest.raises(CubeNotFoundError, match="no cube named 'secret'") as missing:
        principal.require_cube("secret")
    assert missing.value.details == {"cube": "secret"}
    with pytest.raises(ForbiddenError, match="admin right"):
        principal.require_admin()
    admin = principal_of("Root", "key", ["admin"], ROLES)
    admin.require_admin()
    admin.require_cube("anything")


def test_access_control_turns_credentials_into_principals(store: KeyStore, tmp_path: Path) -> None:
    roles_file = tmp_path / "roles.json"
    roles_file.write_text(json.dumps({"roles": {"sales": {"cubes": ["sales"]}}}), encoding="utf-8")
    book = RoleBook(roles_file)
    _, key = store.create("Alice", ["sales"], book.roles())
    closed = AccessControl(store, book, None)
    with pytest.raises(UnauthenticatedError, match="needs an API key"):
        closed.authenticate(None)
    with pytest.raises(UnauthenticatedError, match="unknown or revoked"):
        closed.authenticate(key + "x")
    alice = closed.authenticate(key)
    assert (alice.name, alice.kind, alice.roles, alice.cubes) == ("Alice", "key", ("sales",), {"sales"})
    anonymous = AccessControl(store, book, ("reader",)).authenticate(None)
    assert (anonymous.name, anonymous.kind, anonymous.cubes, anonymous.admin) == (
        "anonymous",
        "anonymous",
        {"*"},
        False,
    )
    with pytest.raises(UnauthenticatedError):
        AccessControl(store, book, ("reader",)).authenticate("ck_1_wrong")
    with pytest.raises(AccessConfigError, match="undefined role\\(s\\): nope"):
        AccessControl(store, book, ("nope",))
    assert AccessControl.open().authenticate(None).admin


def test_settings_place_the_files_and_a_bad_roles_file_stops_the_start(tmp_path: Path) -> None:
    assert keys_path(Settings(), tmp_path) == tmp_path / "cube-server-keys.json"
    assert roles_path(Settings(), tmp_path) == tmp_path / "cube-server-roles.json"
    assert keys_path(Settings(keys_file="secret/keys.json"), tmp_path) == tmp_path / "secret" / "keys.json"
    assert roles_path(Settings(roles_file="/etc/cube/roles.json"), tmp_path) == Path("/etc/cube/roles.json")
    (tmp_path / "cube-server-roles.json").write_text(
        json.dumps({"roles": {"gd": {"cubes": ["*"], "restrict": "organisation"}}}), encoding="utf-8"
    )
    with pytest.raises(AccessConfigError, match="expected dimension:value"):
        AccessControl.from_settings(Settings(), tmp_path)
    with pytest.raises(AccessConfigError, match="undefined role\\(s\\): editor"):
        AccessControl.from_settings(Settings(anonymous=True, anonymous_roles="reader, editor"), tmp_path / "empty")
