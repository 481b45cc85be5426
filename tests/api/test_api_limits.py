"""Every limit answers with its status in the error envelope: 429 past a principal's rate limit (with
Retry-After), 413 and 414 for bodies and URLs, 400 for a page or a result too large, 504 for a query
interrupted at its timeout (and the engine really stops, and serves the next query)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from cube_server.access import AccessControl, KeyStore, RoleBook, keys_path, roles_path
from cube_server.engine import CubeEngine
from cube_server.project import Project, load_project, open_engine
from cube_server.settings import Settings
from tests.conftest import CUBE, assert_error, write_project
from tests.slicer_support import assert_flat_error

BASE = f"/v1/cubes/{CUBE}"
# One request a minute refills a bucket: within a test, a principal gets its burst and no more.
TIGHT = {"rate_limit_per_minute": 1, "rate_limit_burst": 3}


@pytest.fixture(scope="module")
def project(telecom_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return load_project(write_project(tmp_path_factory.mktemp("limits-project"), telecom_data))


@pytest.fixture(scope="module")
def keys(project: Project) -> dict[str, str]:
    store = KeyStore(keys_path(Settings(), project.root))
    roles = RoleBook(roles_path(Settings(), project.root)).roles()
    return {name: store.create(name, ["reader"], roles)[1] for name in ("alice", "bob")}


def app_of(project: Project, **settings: Any) -> Any:
    configured = Settings(**settings)
    access = AccessControl.from_settings(configured, project.root)
    return create_app(open_engine(project, configured), project=project, access=access, settings=configured)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_rate_limited(response: Any, slicer: bool = False) -> int:
    """A 429 with a whole number of seconds to wait, in the envelope (or Cubes' flat error), as the header says."""
    if slicer:
        assert_flat_error(response, 429, "rate_limited")
        wait = int(response.headers["Retry-After"])
    else:
        error = assert_error(response, 429, "rate_limited")
        wait = int(response.headers["Retry-After"])
        assert error["details"] == {"retry_after_s": wait}
    assert response.headers["Retry-After"] == str(wait) and wait >= 1
    return wait


# ---- rate limits -----------------------------------------------------------------------------------
def test_a_key_past_its_burst_is_429_with_retry_after_and_other_keys_are_served(
    project: Project, keys: dict[str, str]
) -> None:
    client = TestClient(app_of(project, **TIGHT))
    alice, bob = bearer(keys["alice"]), bearer(keys["bob"])
    for path in ("/v1/cubes", f"{BASE}/aggregate", "/cubes"):  # both surfaces draw on one bucket
        assert client.get(path, headers=alice).status_code == 200
    wait = assert_rate_limited(client.get(f"{BASE}/aggregate", headers=alice))
    assert 1 <= wait <= 60  # one request a minute
    assert_rate_limited(client.get("/v1/cubes/nope", headers=alice))  # counted before the cube is looked up
    assert_rate_limited(client.get(f"/cube/{CUBE}/aggregate", headers=alice), slicer=True)
    assert client.get(f"{BASE}/aggregate", headers=bob).status_code == 200, "bob has a bucket of his own"
    # Public routes are not counted, and a refused credential is a 401, not a 429.
    assert client.get("/health", headers=alice).status_code == 200
    ready = client.get("/ready", headers=alice)
    assert ready.status_code == 200 and ready.json()["cubes"] == [CUBE]
    assert_error(client.get("/v1/cubes", headers=bearer("ck_nope_nope")), 401, "unauthenticated")


def test_anonymous_callers_are_limited_by_client_address(project: Project) -> None:
    app = app_of(project, anonymous=True, **TIGHT)
    first = TestClient(app, client=("192.0.2.1", 40000))
    second = TestClient(app, client=("192.0.2.2", 40000))
    for _ in range(3):
        assert first.get("/v1/cubes").status_code == 200
    assert_rate_limited(first.get("/v1/cubes"))
    assert second.get("/v1/cubes").status_code == 200


def test_a_rate_of_zero_turns_the_limit_off(project: Project, keys: dict[str, str]) -> None:
    client = TestClient(app_of(project, rate_limit_per_minute=0, rate_limit_burst=1))
    for _ in range(10):
        assert client.get("/v1/cubes", headers=bearer(keys["alice"])).status_code == 200


def test_an_app_without_access_control_is_not_rate_limited(engine: CubeEngine) -> None:
    client = TestClient(create_app(engine, settings=Settings(rate_limit_per_minute=1, rate_limit_burst=1)))
    for _ in range(5):
        assert client.get("/v1/cubes").status_code == 200


def test_the_openapi_document_declares_429_on_data_routes_only(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "429" in paths["/v1/cubes/{cube}/aggregate"]["get"]["responses"]
    assert "429" in paths["/cube/{cube}/aggregate"]["get"]["responses"]
    assert "429" not in paths["/ready"]["get"]["responses"]
    assert "429" not in paths["/health"]["get"]["responses"]


# ---- request size ----------------------------------------------------------------------------------
def test_a_body_over_the_limit_is_413(client: TestClient) -> None:
    body = b" " * (Settings().max_body_bytes + 1)
    response = client.post(f"{BASE}/query", content=body, headers={"Content-Type": "application/json"})
    assert_error(response, 413, "body_too_large")
    assert_flat_error(client.post(f"/cube/{CUBE}/report", content=body), 413, "request")


def test_a_url_over_the_limit_is_414(client: TestClient) -> None:
    cut = "product:" + "x" * Settings().max_url_length
    assert_error(client.get(f"{BASE}/aggregate", params={"cut": cut}), 414, "url_too_long")
    assert_flat_error(client.get(f"/cube/{CUBE}/aggregate", params={"cut": cut}), 414, "request")


def test_the_body_and_url_limits_are_the_settings(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_body_bytes=100, max_url_length=300)
    body = {"operation": "aggregate", "drilldown": "product:line"}
    assert client.post(f"{BASE}/query", json=body).status_code == 200
    error = assert_error(
        client.post(f"{BASE}/query", json={**body, "cut": "product:" + "x" * 100}), 413, "body_too_large"
    )
    assert "100 bytes" in error["message"]
    assert client.get(f"{BASE}/aggregate", params={"cut": "product:" + "x" * 200}).status_code == 200  # an empty cell
    error = assert_error(client.get(f"{BASE}/aggregate", params={"cut": "product:" + "x" * 300}), 414, "url_too_long")
    assert "300 characters" in error["message"]


# ---- result size -----------------------------------------------------------------------------------
@pytest.mark.parametrize("route", ["facts", "members/customer?level=customer"])
def test_a_page_over_max_page_size_is_400(make_client: Callable[..., TestClient], route: str) -> None:
    client = make_client(max_page_size=50, default_page_size=10)
    assert_error(client.get(f"{BASE}/{route}", params={"limit": 51}), 400, "invalid_parameter")
    answer = client.get(f"{BASE}/{route}")
    assert answer.status_code == 200 and len(answer.json()["rows"]) == 10


@pytest.mark.parametrize(
    ("route", "params"),
    [
        ("aggregate", {"drilldown": "customer:customer"}),  # unpaged cells
        ("pivot", {"rows": "customer:customer", "columns": "time:year"}),  # too many rows
        ("pivot", {"rows": "time:year", "columns": "customer:customer"}),  # too many columns
        ("pivot", {"rows": "organisation:city_branch", "columns": "time:month"}),  # each fits, the grid does not
    ],
)
def test_a_result_over_max_cells_is_400(
    make_client: Callable[..., TestClient], route: str, params: dict[str, str]
) -> None:
    client = make_client(max_cells=1000)
    error = assert_error(client.get(f"{BASE}/{route}", params=params), 400, "result_too_large")
    assert error["details"] == {"limit": 1000}


def test_a_pivot_within_max_cells_is_whole(make_client: Callable[..., TestClient], client: TestClient) -> None:
    params = {"rows": "organisation:city_branch", "columns": "time:year"}
    bounded = make_client(max_cells=1000).get(f"{BASE}/pivot", params=params)
    assert bounded.status_code == 200, bounded.text
    assert bounded.json() == {**client.get(f"{BASE}/pivot", params=params).json(), "meta": bounded.json()["meta"]}


# ---- query timeout ---------------------------------------------------------------------------------
CHANNEL_COPIES = 100_000


@pytest.fixture(scope="module")
def slow_project(telecom_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The test data with each channel listed 100,000 times: a drilldown by channel joins every charge to
    100,000 channel rows, billions of rows that would take DuckDB many minutes."""
    data = tmp_path_factory.mktemp("slow") / "data"
    data.mkdir()
    for item in telecom_data.iterdir():
        if item.name != "channel.parquet":
            (data / item.name).symlink_to(item)
    channels = pq.read_table(telecom_data / "channel.parquet")
    copies = [row % channels.num_rows for row in range(channels.num_rows * CHANNEL_COPIES)]
    pq.write_table(channels.take(copies), data / "channel.parquet")
    return load_project(write_project(tmp_path_factory.mktemp("slow-project"), data))


def test_a_slow_query_is_interrupted_at_the_timeout_and_the_server_answers_the_next(slow_project: Project) -> None:
    slow = {"drilldown": "channel"}

    def client_of(timeout_ms: int) -> TestClient:
        # One DuckDB thread: if the query went on after the answer, the process would keep a core busy.
        settings = Settings(query_timeout_ms=timeout_ms, duckdb_threads=1)
        return TestClient(create_app(open_engine(slow_project, settings)))

    # The query needs longer than two seconds (it is still running then) ...
    assert_error(client_of(2_000).get(f"{BASE}/aggregate", params=slow), 504, "query_timeout")
    # ... and with a timeout of 500 ms it is answered 504 well before (the margins allow for a loaded machine;
    # the 500 ms leave the small query below time to answer on one).
    client = client_of(500)
    started = time.monotonic()
    response = client.get(f"{BASE}/aggregate", params=slow)
    elapsed = time.monotonic() - started
    error = assert_error(response, 504, "query_timeout")
    assert "timeout" in error["message"]
    assert elapsed < 1.5, f"answered after {elapsed:.2f} s"
    assert_flat_error(client.get(f"/cube/{CUBE}/aggregate", params=slow), 504, "query_timeout")
    # The engine stopped working on it: the process is idle, and the next query is answered.
    cpu = time.process_time()
    time.sleep(0.5)
    assert time.process_time() - cpu < 0.25, "the interrupted query is still running"
    answer = client.get(f"{BASE}/aggregate", params={"drilldown": "time:year"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["summary"]["record_count"] == 60_000
