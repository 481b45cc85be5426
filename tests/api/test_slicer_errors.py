"""The Slicer surface's errors (Cubes' flat shape, types and statuses) and its CORS; /v1 keeps its envelope."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import assert_error
from fastapi.testclient import TestClient
from slicer_support import EXAMPLES, assert_flat_error, example_engine, ssb_sample_engine

from api.app import create_app
from cube_server.project import load_project

BASE = "/cube/irbd_balance"


@pytest.fixture(scope="module")
def hello() -> TestClient:
    return TestClient(create_app(example_engine("hello_world")))


@pytest.fixture(scope="module")
def cors() -> TestClient:
    return TestClient(create_app(example_engine("hello_world", slicer_cors_origins="*")))


# ---- missing objects -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "route", ["model", "aggregate", "facts", "fact/1", "members/item", "cell", "report"]
)  # fmt: skip
def test_unknown_cube_is_404_missing_object(hello: TestClient, route: str) -> None:
    error = assert_flat_error(hello.get(f"/cube/nosuch/{route}"), 404, "missing_object")
    assert (error["object"], error["object_type"]) == ("nosuch", "cube")


@pytest.mark.parametrize(
    ("route", "params"),
    [
        ("aggregate", {"cut": "weather:sunny"}),
        ("aggregate", {"drilldown": "weather"}),
        ("facts", {"cut": "weather:sunny"}),
        ("cell", {"cut": "weather:sunny"}),
        ("members/weather", {}),
    ],
)
def test_unknown_dimension_is_404_missing_object(hello: TestClient, route: str, params: dict[str, str]) -> None:
    error = assert_flat_error(hello.get(f"{BASE}/{route}", params=params), 404, "missing_object")
    assert (error["object"], error["object_type"]) == ("weather", "dimension")


# ---- hierarchy and other user errors -------------------------------------------------------------
@pytest.mark.parametrize(
    "params",
    [
        {"drilldown": "item:nosuch"},
        {"drilldown": "item@nosuch"},  # an unknown hierarchy: a 500 in Cubes
        {"cut": "item@nosuch:a"},
        {"cut": "year:2009,1"},  # a path longer than the hierarchy
        {"drilldown": "year", "cut": "year:2009"},  # drilling below the last level
    ],
)
def test_hierarchy_errors(hello: TestClient, params: dict[str, str]) -> None:
    assert_flat_error(hello.get(f"{BASE}/aggregate", params=params), 400, "hierarchy")


@pytest.mark.parametrize(
    "params",
    [{"cut": "item:1-2-3"}, {"cut": "item"}, {"cut": "item:a:b"}, {"aggregates": "nope"}, {"drilldown": "item:a:b"}],
)
def test_other_argument_errors_are_unknown_user_error(hello: TestClient, params: dict[str, str]) -> None:
    assert_flat_error(hello.get(f"{BASE}/aggregate", params=params), 400, "unknown_user_error")


def test_unknown_routes_and_methods_answer_json(hello: TestClient) -> None:
    error = assert_flat_error(hello.get(f"{BASE}/nosuch"), 404, "not_found")
    assert error["message"] == "The requested URL was not found on the server."
    assert_flat_error(hello.post(f"{BASE}/aggregate"), 405, "method_not_allowed")


def test_refused_requests_are_flat_too(hello: TestClient) -> None:
    error = assert_flat_error(hello.get(f"{BASE}/aggregate", params={"cut": "x" * 17_000}), 414, "request")
    assert "longer than" in error["message"]
    big = hello.post(f"{BASE}/report", content=b"{" + b" " * 1_000_001 + b"}")
    assert_flat_error(big, 413, "request")
    assert_error(hello.get("/v1/cubes", params={"cut": "x" * 17_000}), 414, "url_too_long")


def test_v1_keeps_its_envelope(hello: TestClient) -> None:
    assert_error(hello.get("/v1/cubes/nosuch"), 404, "cube_not_found")
    assert_error(
        hello.get("/v1/cubes/irbd_balance/aggregate", params={"cut": "weather:sunny"}), 400, "unknown_dimension"
    )
    assert_error(hello.get("/v1/nosuch"), 404, "not_found")


def test_not_ready_is_503_in_the_flat_shape() -> None:
    client = TestClient(create_app())  # no engine, no loader: never ready
    assert_flat_error(client.get("/info"), 503, "not_ready")
    assert_flat_error(client.get(f"{BASE}/aggregate"), 503, "not_ready")
    assert client.get("/version").status_code == 200  # needs no engine


def test_internal_errors_hide_their_cause(tmp_path: Path) -> None:
    if load_project(EXAMPLES / "ssb").missing_tables():
        pytest.skip("the SSB data is not in the shared datasets")
    client = TestClient(create_app(ssb_sample_engine(tmp_path, every=5000)), raise_server_exceptions=False)
    assert client.get("/cube/lineorder/aggregate").status_code == 200
    (tmp_path / "lineorder.parquet").unlink()  # the data disappears under the running server
    error = assert_flat_error(client.get("/cube/lineorder/aggregate"), 500, "internal_server_error")
    assert error["message"] == "Internal server error" and "hint" in error
    assert "parquet" not in str(error)


# ---- CORS ----------------------------------------------------------------------------------------
def test_preflight_is_answered_with_cors_headers(cors: TestClient) -> None:
    response = cors.options(
        f"{BASE}/report",
        headers={"Origin": "http://viewer.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"},
    )  # fmt: skip
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "http://viewer.example"
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["access-control-allow-methods"] == "GET, POST, OPTIONS"
    assert response.headers["access-control-max-age"] == "1728000"
    assert "content-type" in response.headers["access-control-allow-headers"].lower()
    assert "x-requested-with" in response.headers["access-control-allow-headers"].lower()


def test_answers_and_errors_carry_cors_headers(cors: TestClient) -> None:
    origin = {"Origin": "http://viewer.example"}
    for url in ("/info", "/cubes", f"{BASE}/model", f"{BASE}/aggregate?drilldown=year", "/cube/nosuch/model"):
        response = cors.get(url, headers=origin)
        assert response.headers["access-control-allow-origin"] == "http://viewer.example", url
    assert cors.get("/info").headers["access-control-allow-origin"] == "*"  # no Origin: any
    # /v1 is not the Slicer surface
    assert "access-control-allow-origin" not in cors.get("/v1/cubes", headers=origin).headers


def test_a_list_of_origins_admits_only_those() -> None:
    client = TestClient(
        create_app(example_engine("hello_world", slicer_cors_origins="http://a.example, http://b.example"))
    )
    allowed = client.get("/info", headers={"Origin": "http://b.example"})
    assert allowed.headers["access-control-allow-origin"] == "http://b.example"
    assert "access-control-allow-origin" not in client.get("/info", headers={"Origin": "http://c.example"}).headers


def test_without_the_setting_there_is_no_cors(hello: TestClient) -> None:
    response = hello.get("/info", headers={"Origin": "http://viewer.example"})
    assert "access-control-allow-origin" not in response.headers
    preflight = hello.options(
        "/info", headers={"Origin": "http://viewer.example", "Access-Control-Request-Method": "GET"}
    )
    assert_flat_error(preflight, 405, "method_not_allowed")
