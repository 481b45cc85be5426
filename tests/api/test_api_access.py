"""Keys and roles through the ASGI app: 401 without an accepted key on every data route family, 200 with one,
403 for admin operations without the admin right, cubes a principal may not read absent (404, unlisted),
and anonymous access as a setting."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from cube_server.access import AccessControl, KeyStore, RoleBook, keys_path, roles_path
from cube_server.project import Project, load_project, open_engine
from cube_server.settings import Settings
from tests.conftest import CUBE, ROOT, assert_error, write_project

REPORTS = ROOT / "examples" / "telecom" / "reports"
ROLES = {
    "analyst": {"cubes": [CUBE]},
    "outsider": {"cubes": ["some_other_cube"], "description": "reads a cube this project does not have"},
}
V1_ROUTES = [
    ("GET", "/v1/cubes"),
    ("GET", f"/v1/cubes/{CUBE}"),
    ("GET", f"/v1/cubes/{CUBE}/cuboids"),
    ("GET", f"/v1/cubes/{CUBE}/aggregate?drilldown=time:year"),
    ("GET", f"/v1/cubes/{CUBE}/members/time?level=year"),
    ("GET", f"/v1/cubes/{CUBE}/workbook?rows=time:year"),
    ("GET", "/v1/reports"),
    ("GET", "/v1/reports/yearly_revenue?period=2024&format=csv"),
    ("POST", "/v1/admin/refresh"),
]
SLICER_ROUTES = [
    ("GET", "/info"),
    ("GET", "/cubes"),
    ("GET", "/version"),
    ("GET", f"/cube/{CUBE}/model"),
    ("GET", f"/cube/{CUBE}/aggregate?drilldown=time"),
    ("GET", f"/cube/{CUBE}/members/time"),
    ("POST", f"/cube/{CUBE}/report"),
]


@pytest.fixture(scope="module")
def project(telecom_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    directory = write_project(tmp_path_factory.mktemp("access-project"), telecom_data)
    config = directory / "cube-server.toml"
    config.write_text(f'reports = "{REPORTS}"\n' + config.read_text(encoding="utf-8"), encoding="utf-8")
    (directory / "cube-server-roles.json").write_text(json.dumps({"roles": ROLES}), encoding="utf-8")
    return load_project(directory)


@pytest.fixture(scope="module")
def keys(project: Project) -> dict[str, str]:
    """One key per role (and one revoked), created in the project's key file."""
    store = KeyStore(keys_path(Settings(), project.root))
    roles = RoleBook(roles_path(Settings(), project.root)).roles()
    made = {role: store.create(f"holder of {role}", [role], roles) for role in ("analyst", "outsider", "admin")}
    revoked, revoked_key = store.create("former analyst", ["analyst"], roles)
    store.revoke(revoked.id)
    return {**{role: key for role, (_, key) in made.items()}, "revoked": revoked_key}


def client_of(project: Project, **settings: Any) -> TestClient:
    configured = Settings(**settings)
    access = AccessControl.from_settings(configured, project.root)
    return TestClient(create_app(open_engine(project, configured), project=project, access=access))


@pytest.fixture(scope="module")
def client(project: Project, keys: dict[str, str]) -> Iterator[TestClient]:
    with client_of(project) as test_client:
        yield test_client


def call(client: TestClient, method: str, path: str, key: str | None = None, header: str = "bearer") -> Any:
    headers = {}
    if key is not None:
        headers = {"Authorization": f"Bearer {key}"} if header == "bearer" else {"X-API-Key": key}
    body = {"mode": "append"} if path.startswith("/v1/admin") else None
    if path.endswith("/report"):
        body = {"queries": {"total": {"query": "aggregate"}}}
    return client.request(method, path, headers=headers, json=body)


def assert_unauthenticated(response: Any, slicer: bool) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == 'Bearer realm="cube-server"'
    if slicer:
        body = response.json()
        assert body["error"] == "not_authenticated" and body["message"], body
    else:
        assert_error(response, 401, "unauthenticated")


@pytest.mark.parametrize(("method", "path"), V1_ROUTES + SLICER_ROUTES)
@pytest.mark.parametrize("credential", [None, "wrong", "malformed", "revoked"])
def test_every_data_route_refuses_a_missing_bad_or_revoked_key(
    client: TestClient, keys: dict[str, str], method: str, path: str, credential: str | None
) -> None:
    analyst = keys["analyst"]
    key = {
        None: None,
        "wrong": analyst[:-4] + ("AAAA" if not analyst.endswith("AAAA") else "BBBB"),  # a known id, another secret
        "malformed": "not-a-key",
        "revoked": keys["revoked"],
    }[credential]
    assert_unauthenticated(call(client, method, path, key), slicer=not path.startswith("/v1"))


@pytest.mark.parametrize(("method", "path"), [route for route in V1_ROUTES if "admin" not in route[1]] + SLICER_ROUTES)
@pytest.mark.parametrize("header", ["bearer", "x-api-key"])
def test_every_data_route_answers_a_good_key(
    client: TestClient, keys: dict[str, str], method: str, path: str, header: str
) -> None:
    response = call(client, method, path, keys["analyst"], header)
    assert response.status_code == 200, response.text


def test_a_key_in_both_headers_must_be_the_same(client: TestClient, keys: dict[str, str]) -> None:
    headers = {"Authorization": f"Bearer {keys['analyst']}", "X-API-Key": keys["outsider"]}
    assert_error(client.get("/v1/cubes", headers=headers), 401, "unauthenticated")
    headers = {"Authorization": f"Basic {keys['analyst']}"}
    assert_error(client.get("/v1/cubes", headers=headers), 401, "unauthenticated")


def test_health_and_the_explorer_stay_public(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/").status_code == 200
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["cubes"] == []  # public, so it names no cube to a caller without a key


def test_ready_names_only_the_cubes_a_key_may_read(client: TestClient, keys: dict[str, str]) -> None:
    assert call(client, "GET", "/ready", keys["analyst"]).json()["cubes"] == [CUBE]
    assert call(client, "GET", "/ready", keys["outsider"]).json()["cubes"] == []


def test_admin_needs_the_admin_right(client: TestClient, keys: dict[str, str]) -> None:
    refused = assert_error(call(client, "POST", "/v1/admin/refresh", keys["analyst"]), 403, "forbidden")
    assert "admin right" in refused["message"]
    # The admin key passes the access check and meets the next one: the admin API is off in these settings.
    switched_off = assert_error(call(client, "POST", "/v1/admin/refresh", keys["admin"]), 403, "forbidden")
    assert "CUBE_ADMIN" in switched_off["message"]


def test_admin_with_the_right_and_the_switch_reaches_the_operation(project: Project, keys: dict[str, str]) -> None:
    with client_of(project, admin=True) as admin_client:
        reached = call(admin_client, "POST", "/v1/admin/refresh", keys["admin"])
        assert_error(reached, 400, "invalid_parameter")  # append without a file: checked only once allowed
        refused = call(admin_client, "POST", "/v1/admin/refresh", keys["analyst"])
        assert_error(refused, 403, "forbidden")


def test_listings_name_only_readable_cubes(client: TestClient, keys: dict[str, str]) -> None:
    assert [cube["name"] for cube in call(client, "GET", "/v1/cubes", keys["analyst"]).json()] == [CUBE]
    assert call(client, "GET", "/v1/cubes", keys["outsider"]).json() == []
    assert [cube["name"] for cube in call(client, "GET", "/cubes", keys["analyst"]).json()] == [CUBE]
    assert call(client, "GET", "/cubes", keys["outsider"]).json() == []
    reports = call(client, "GET", "/v1/reports", keys["analyst"]).json()["reports"]
    assert {report["name"] for report in reports} == {"monthly_revenue", "monthly_segments", "yearly_revenue"}
    assert call(client, "GET", "/v1/reports", keys["outsider"]).json() == {"reports": []}
    info = call(client, "GET", "/info", keys["analyst"]).json()
    assert info["authentication"] == {"type": "api_key", "identity": "holder of analyst"}


@pytest.mark.parametrize(
    "suffix", ["", "/cuboids", "/aggregate", "/members/time?level=year", "/facts", "/workbook?rows=time:year"]
)
def test_an_unreadable_cube_is_answered_as_an_unknown_one(
    client: TestClient, keys: dict[str, str], suffix: str
) -> None:
    hidden = assert_error(call(client, "GET", f"/v1/cubes/{CUBE}{suffix}", keys["outsider"]), 404, "cube_not_found")
    unknown = assert_error(call(client, "GET", f"/v1/cubes/nope{suffix}", keys["outsider"]), 404, "cube_not_found")
    assert hidden["message"] == unknown["message"].replace("'nope'", f"'{CUBE}'")
    assert hidden["details"] == {"cube": CUBE}


@pytest.mark.parametrize("path", ["/model", "/aggregate", "/members/time", "/facts", "/cell"])
def test_an_unreadable_cube_is_missing_on_the_slicer_surface(
    client: TestClient, keys: dict[str, str], path: str
) -> None:
    hidden = call(client, "GET", f"/cube/{CUBE}{path}", keys["outsider"])
    assert hidden.status_code == 404, hidden.text
    assert hidden.json() == {
        "error": "missing_object",
        "message": f"no cube named {CUBE!r}",
        "object": CUBE,
        "object_type": "cube",
    }


def test_a_report_over_an_unreadable_cube_is_unknown(client: TestClient, keys: dict[str, str]) -> None:
    refused = call(client, "GET", "/v1/reports/yearly_revenue?period=2024", keys["outsider"])
    error = assert_error(refused, 404, "not_found")
    assert "yearly_revenue" not in error["message"].partition("(")[2]  # the list of known reports omits it


def test_anonymous_access_is_a_setting(project: Project, keys: dict[str, str]) -> None:
    with client_of(project) as closed:
        assert_error(closed.get("/v1/cubes"), 401, "unauthenticated")
    with client_of(project, anonymous=True, anonymous_roles="analyst") as anonymous:
        assert [cube["name"] for cube in anonymous.get("/v1/cubes").json()] == [CUBE]
        assert anonymous.get(f"/cube/{CUBE}/aggregate").status_code == 200
        assert anonymous.get("/info").json()["authentication"] == {"type": "none"}
        # anonymous callers hold only their roles: no admin right
        assert_error(anonymous.post("/v1/admin/refresh", json={"mode": "append"}), 403, "forbidden")
        # a wrong key never falls back to anonymous access
        assert_error(call(anonymous, "GET", "/v1/cubes", "ck_0_wrong"), 401, "unauthenticated")
        assert call(anonymous, "GET", "/v1/cubes", keys["outsider"]).json() == []
    with client_of(project, anonymous=True, anonymous_roles="outsider") as outsider:
        assert_error(outsider.get(f"/v1/cubes/{CUBE}"), 404, "cube_not_found")


def test_a_revoked_key_stops_working_on_a_running_app(project: Project) -> None:
    store = KeyStore(keys_path(Settings(), project.root))
    record, key = store.create("short-lived", ["analyst"], RoleBook(roles_path(Settings(), project.root)).roles())
    with client_of(project) as running:
        assert call(running, "GET", "/v1/cubes", key).status_code == 200
        KeyStore(store.path).revoke(record.id)  # another process (cube-server keys revoke) changes the file
        assert_unauthenticated(call(running, "GET", "/v1/cubes", key), slicer=False)


PUBLIC_PATHS = {"/health", "/ready", "/metrics"}  # /metrics: for scrapers without keys (CUBE_METRICS turns it off)
PATH_VALUES = {"{cube}": CUBE, "{dimension}": "time", "{name}": "yearly_revenue", "{fact_id}": "1"}


def documented_routes() -> list[tuple[str, str]]:
    routes = []
    for path, operations in create_app().openapi()["paths"].items():
        for name, value in PATH_VALUES.items():
            path = path.replace(name, value)
        routes.extend((method.upper(), path) for method in operations)
    return routes


def test_every_documented_route_but_health_ready_and_metrics_needs_a_key(client: TestClient) -> None:
    """A route added later without the principal dependency fails here."""
    routes = documented_routes()
    assert len(routes) > 25
    for method, path in routes:
        response = client.request(method, path)
        if path in PUBLIC_PATHS:
            assert response.status_code == 200, (path, response.text)
        else:
            assert response.status_code == 401, (method, path, response.text)


def test_bearer_jwts_authenticate_when_a_key_is_configured(project: Project) -> None:
    secret = "a-shared-secret-of-at-least-32-bytes-for-hs256"
    now = int(time.time())

    def token(**claims: Any) -> str:
        return jwt.encode({"sub": "carol", "exp": now + 600, **claims}, secret, algorithm="HS256")

    with client_of(project, jwt_key=secret, jwt_audience="cube-server") as client:
        analyst = call(client, "GET", "/v1/cubes", token(roles=["analyst"], aud="cube-server"))
        assert [cube["name"] for cube in analyst.json()] == [CUBE]
        info = call(client, "GET", "/info", token(roles=["analyst"], aud="cube-server")).json()
        assert info["authentication"] == {"type": "jwt", "identity": "carol"}
        outsider = call(client, "GET", f"/cube/{CUBE}/model", token(roles="outsider", aud="cube-server"))
        assert outsider.status_code == 404 and outsider.json()["error"] == "missing_object"
        admin = call(client, "POST", "/v1/admin/refresh", token(roles=["admin"], aud="cube-server"))
        assert "CUBE_ADMIN" in assert_error(admin, 403, "forbidden")["message"]  # past the admin-right check
        for refused in (token(roles=["analyst"]), token(roles=["analyst"], aud="cube-server", exp=now - 300)):
            assert_unauthenticated(call(client, "GET", "/v1/cubes", refused), slicer=False)


def test_openapi_declares_both_ways_to_send_a_key() -> None:
    document = create_app().openapi()
    schemes = document["components"]["securitySchemes"]
    assert schemes["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schemes["HTTPBearer"]["description"],
    }
    assert (schemes["APIKeyHeader"]["in"], schemes["APIKeyHeader"]["name"]) == ("header", "X-API-Key")
    for path, operations in document["paths"].items():
        for operation in operations.values():
            secured = operation.get("security") == [{"HTTPBearer": []}, {"APIKeyHeader": []}]
            assert secured == (path not in PUBLIC_PATHS), path
