"""Every failure is the one error envelope with a stable code and the right status; never a 500."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from conftest import CUBE, assert_error
from fastapi.testclient import TestClient

BASE = f"/v1/cubes/{CUBE}"


def get(client: TestClient, route: str, **params: Any) -> Any:
    return client.get(f"{BASE}/{route}" if route else BASE, params=params)


# ---- names the model does not know ------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "/v1/cubes/nope",
        "/v1/cubes/nope/aggregate",
        "/v1/cubes/nope/members/time",
        "/v1/cubes/nope/explain",
        "/v1/cubes/nope/facts",
    ],
)
def test_unknown_cube_is_404_cube_not_found(client: TestClient, url: str) -> None:
    error = assert_error(client.get(url), 404, "cube_not_found")
    assert error["details"] == {"cube": "nope"}


def test_unknown_cube_in_post_query_is_404(client: TestClient) -> None:
    assert_error(client.post("/v1/cubes/nope/query", json={}), 404, "cube_not_found")


@pytest.mark.parametrize(
    ("route", "params"),
    [
        ("aggregate", {"cut": "weather:sunny"}),
        ("aggregate", {"drilldown": "weather"}),
        ("aggregate", {"drilldown": "time:year|weather:day"}),
        ("drilldown", {"dimension": "weather"}),
        ("rollup", {"dimension": "weather"}),
        ("pivot", {"rows": "weather:day"}),
        ("members/weather", {}),
        ("facts", {"cut": "weather:sunny"}),
    ],
)
def test_unknown_dimension_is_400(client: TestClient, route: str, params: dict[str, str]) -> None:
    error = assert_error(get(client, route, **params), 400, "unknown_dimension")
    assert error["details"]["dimension"] == "weather"


@pytest.mark.parametrize(
    ("route", "params"),
    [
        ("aggregate", {"drilldown": "time:fortnight"}),
        ("pivot", {"rows": "product:colour"}),
        ("members/geography", {"level": "street"}),
        ("members/time", {"level": "fortnight"}),
    ],
)
def test_unknown_level_is_400(client: TestClient, route: str, params: dict[str, str]) -> None:
    assert_error(get(client, route, **params), 400, "unknown_level")


@pytest.mark.parametrize(
    ("route", "params"),
    [
        ("aggregate", {"drilldown": "time@fiscal:year"}),
        ("aggregate", {"cut": "time@fiscal:2024"}),
        ("members/time", {"hierarchy": "fiscal"}),
    ],
)
def test_unknown_hierarchy_is_400(client: TestClient, route: str, params: dict[str, str]) -> None:
    error = assert_error(get(client, route, **params), 400, "unknown_hierarchy")
    assert error["details"] == {"dimension": "time", "hierarchy": "fiscal"}


@pytest.mark.parametrize(
    ("route", "params"), [("aggregate", {}), ("pivot", {"rows": "product:line"}), ("drilldown", {"dimension": "time"})]
)
def test_unknown_measure_is_400(client: TestClient, route: str, params: dict[str, str]) -> None:
    response = get(client, route, measures="revenue,profit", **params)
    error = assert_error(response, 400, "unknown_measure")
    assert error["details"]["measure"] == "profit"


def test_unknown_fact_field_is_400_unknown_attribute(client: TestClient) -> None:
    assert_error(get(client, "facts", fields="charge_id,colour"), 400, "unknown_attribute")


# ---- grammar ---------------------------------------------------------------------------------
@pytest.mark.parametrize("cut", ["time:1-2-3", "time", "a:b:c", ":2024", "time:-", "ti me:2024", "time:1;2-3"])
def test_malformed_cut_is_400_invalid_cut(client: TestClient, cut: str) -> None:
    assert_error(get(client, "aggregate", cut=cut), 400, "invalid_cut")


def test_malformed_cut_in_post_body_is_400_invalid_cut(client: TestClient) -> None:
    assert_error(client.post(f"{BASE}/query", json={"cut": ["time:2024", "a:b:c"]}), 400, "invalid_cut")


@pytest.mark.parametrize("drilldown", ["time:month:day", "ti me", "time:", ":year", "time|", "time@:year"])
def test_malformed_drilldown_is_400_invalid_drilldown(client: TestClient, drilldown: str) -> None:
    assert_error(get(client, "aggregate", drilldown=drilldown), 400, "invalid_drilldown")


@pytest.mark.parametrize("drilldown", ["product:line|product:product", "time@weekly:month"])
def test_drilldown_the_hierarchy_cannot_take_is_400_invalid_drilldown(client: TestClient, drilldown: str) -> None:
    """A dimension drilled twice, or a level of the dimension outside the named hierarchy."""
    assert_error(get(client, "aggregate", drilldown=drilldown), 400, "invalid_drilldown")


def test_drilldown_below_the_last_level_is_400_invalid_drilldown(client: TestClient) -> None:
    assert_error(
        get(client, "drilldown", dimension="product", cut="product:value_added,voicemail"), 400, "invalid_drilldown"
    )


@pytest.mark.parametrize(
    "cut", ["time:2024,1,1,1,1,1,1,1", "product:a,b,c", "channel:web_portal,x", "time@weekly:2025,1,1,1"]
)
def test_cut_path_longer_than_hierarchy_is_400_invalid_cut(client: TestClient, cut: str) -> None:
    error = assert_error(get(client, "aggregate", cut=cut), 400, "invalid_cut")
    assert error["details"]["dimension"] == cut.split(":")[0].split("@")[0]


def test_range_bound_of_the_wrong_type_is_400_invalid_cut(client: TestClient) -> None:
    assert_error(get(client, "aggregate", cut="time:abc-def"), 400, "invalid_cut")


@pytest.mark.parametrize("cut", ["time:2024\x00", "geography:\x00", "customer:a\x00b"])
def test_nul_byte_in_cut_is_400(client: TestClient, cut: str) -> None:
    assert_error(get(client, "aggregate", cut=cut), 400, "invalid_cut")


# ---- parameters ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("route", "params"),
    [
        ("aggregate", {"drilldown": "time:year", "limit": 10_001}),
        ("facts", {"limit": 10_001}),
        ("members/customer", {"limit": 10_001}),
        ("aggregate", {"drilldown": "time:year", "offset": -1}),
        ("facts", {"offset": -1}),
        ("aggregate", {"limit": "ten"}),
        ("facts", {"limit": "1.5"}),
        ("aggregate", {"limit": -1}),
        ("aggregate", {"format": "xml"}),
        ("facts", {"format": "parquet"}),
        ("aggregate", {"drilldown": "time:year", "order": "revenue:up"}),
        ("facts", {"order": "charge_id:sideways"}),
        ("aggregate", {"drilldown": "time:year", "order": "time.month"}),
        ("aggregate", {"drilldown": "time:year", "order": "product.line.label"}),
        ("aggregate", {"drilldown": "time:year", "measures": "revenue", "order": "record_count"}),
        ("drilldown", {}),
        ("drilldown", {"dimension": "time", "depth": 0}),
        ("rollup", {"dimension": "time", "steps": 99}),
        ("pivot", {}),
        ("pivot", {"rows": "time:year", "columns": "time:month"}),
        ("explain", {"operation": "teleport"}),
        ("explain", {"operation": "members"}),
    ],
)
def test_bad_parameter_is_400_invalid_parameter(client: TestClient, route: str, params: dict[str, Any]) -> None:
    error = assert_error(get(client, route, **params), 400, "invalid_parameter")
    assert error["message"]


@pytest.mark.parametrize(
    ("route", "params"), [("aggregate", {"drilldown": "time:year"}), ("facts", {}), ("members/geography", {})]
)
def test_offset_too_large_for_the_database_is_400_not_500(
    client: TestClient, route: str, params: dict[str, Any]
) -> None:
    assert_error(get(client, route, offset=10**20, **params), 400, "invalid_parameter")
    assert_error(
        client.post(f"{BASE}/query", json={"drilldown": "time:year", "offset": 2**63}), 400, "invalid_parameter"
    )


def test_limit_above_a_configured_max_page_size_is_400(make_client: Any) -> None:
    client = make_client(max_page_size=20, default_page_size=10)
    error = assert_error(get(client, "facts", limit=21), 400, "invalid_parameter")
    assert error["details"] == {"limit": 21}
    assert get(client, "facts", limit=20).status_code == 200


def test_validation_problems_are_listed_with_their_location(client: TestClient) -> None:
    error = assert_error(get(client, "aggregate", limit="ten", offset=-2), 400, "invalid_parameter")
    locations = {problem["location"] for problem in error["details"]["problems"]}
    assert locations == {"query.limit", "query.offset"}


def test_unpaged_drilldown_over_max_cells_is_400_result_too_large(make_client: Any) -> None:
    client = make_client(max_cells=1000)
    error = assert_error(get(client, "aggregate", drilldown="customer:customer"), 400, "result_too_large")
    assert error["details"] == {"limit": 1000}
    paged = get(client, "aggregate", drilldown="customer:customer", limit=10)
    assert paged.status_code == 200, paged.text
    body = paged.json()
    assert len(body["cells"]) == 10 and body["total_cell_count"] > 1000


def test_pivot_over_max_cells_is_400_result_too_large(make_client: Any) -> None:
    client = make_client(max_cells=1000)
    assert_error(get(client, "pivot", rows="customer:customer", columns="time:year"), 400, "result_too_large")


# ---- POST /query -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "body",
    [
        {"operation": "aggregate", "drill": "time:year"},
        {"operation": "teleport"},
        {"limit": "many"},
        {"offset": -5},
        {"depth": 0, "operation": "drilldown", "dimension": "time"},
        {"format": "xlsx"},
        {"cut": 42},
        {"operation": "drilldown"},
        {"operation": "members"},
    ],
)
def test_post_query_with_bad_body_is_400_invalid_parameter(client: TestClient, body: dict[str, Any]) -> None:
    assert_error(client.post(f"{BASE}/query", json=body), 400, "invalid_parameter")


@pytest.mark.parametrize("content", [b"{bad json", b"[1, 2]", b'"aggregate"', b"", b"\xff\xfe"])
def test_post_query_with_unparsable_body_is_400_invalid_parameter(client: TestClient, content: bytes) -> None:
    response = client.post(f"{BASE}/query", content=content, headers={"Content-Type": "application/json"})
    assert_error(response, 400, "invalid_parameter")


def test_post_query_unknown_field_names_the_field(client: TestClient) -> None:
    error = assert_error(client.post(f"{BASE}/query", json={"drill": "time"}), 400, "invalid_parameter")
    assert "body.drill" in error["message"]


def test_post_body_over_the_limit_is_413(client: TestClient) -> None:
    response = client.post(f"{BASE}/query", content=b" " * 1_000_001, headers={"Content-Type": "application/json"})
    assert_error(response, 413, "body_too_large")


def test_url_over_the_limit_is_414(client: TestClient) -> None:
    assert_error(get(client, "aggregate", cut="product:" + "x" * 17_000), 414, "url_too_long")


# ---- routing ---------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["/nope", "/v1", "/v1/cubes/fixed_line_revenue/teleport", "/v2/cubes"])
def test_unknown_route_is_404_envelope(client: TestClient, url: str) -> None:
    assert_error(client.get(url), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", f"{BASE}/aggregate"),
        ("delete", BASE),
        ("put", "/v1/cubes"),
        ("get", f"{BASE}/query"),
        ("patch", f"{BASE}/facts"),
    ],
)
def test_wrong_method_is_405_envelope(client: TestClient, method: str, url: str) -> None:
    response = client.request(method.upper(), url)
    assert_error(response, 405, "method_not_allowed")
    assert response.headers.get("Allow")


def test_error_envelope_keeps_the_callers_request_id(client: TestClient) -> None:
    response = client.get(f"{BASE}/aggregate", params={"cut": "a:b:c"}, headers={"X-Request-ID": "req-7"})
    assert assert_error(response, 400, "invalid_cut")["request_id"] == "req-7"


def test_errors_answer_json_even_when_csv_or_arrow_was_asked(client: TestClient) -> None:
    for params, headers in (({"format": "csv"}, {}), ({}, {"Accept": "application/vnd.apache.arrow.stream"})):
        response = client.get(f"{BASE}/aggregate", params={"measures": "profit", **params}, headers=headers)
        assert response.headers["content-type"].startswith("application/json")
        assert_error(response, 400, "unknown_measure")


def test_engine_not_loaded_is_503_not_ready() -> None:
    from api.app import create_app

    client = TestClient(create_app())
    assert_error(client.get(f"{BASE}/aggregate"), 503, "not_ready")


# ---- hostile values --------------------------------------------------------------------------
def _summary(client: TestClient, **params: Any) -> dict[str, Any]:
    response = get(client, "aggregate", measures="revenue,record_count,subscribers", **params)
    assert response.status_code == 200, response.text
    return json.loads(response.text, parse_float=Decimal)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    "cut",
    [
        "geography:x' OR '1'='1",
        "customer:1;DROP TABLE charges",
        "product:'); DROP VIEW charges",
        'channel:" OR 1=1 \\-\\-',
        "geography:%' OR geography_code LIKE '%",
    ],
)
def test_sql_injection_in_cut_is_an_empty_cell_and_changes_nothing(client: TestClient, cut: str) -> None:
    before = _summary(client)["summary"]
    body = _summary(client, cut=cut)
    assert body["summary"] == {"revenue": Decimal("0.00"), "record_count": 0, "subscribers": 0}
    first_level = {"geography": "scope", "customer": "segment", "product": "line", "channel": "channel"}
    dimension = cut.split(":")[0]
    drilled = _summary(client, cut=cut, drilldown=f"{dimension}:{first_level[dimension]}")
    assert drilled["cells"] == [] and drilled["total_cell_count"] == 0
    assert _summary(client)["summary"] == before
    assert before["record_count"] == 60_000


def test_sql_injection_in_member_search_and_order_is_harmless(client: TestClient) -> None:
    response = get(client, "members/geography", level="city", search="' OR '1'='1")
    assert response.status_code == 200 and response.json()["rows"] == []
    error = assert_error(get(client, "facts", order="charge_id; DROP TABLE charges"), 400, "invalid_parameter")
    assert error["details"]["order"] == "charge_id; DROP TABLE charges"
    assert _summary(client)["summary"]["record_count"] == 60_000


# ---- time limit ------------------------------------------------------------------------------
def test_query_over_the_timeout_is_504_query_timeout(make_client: Any) -> None:
    client = make_client(query_timeout_ms=1)
    response = get(client, "aggregate", drilldown="customer:customer|time:second", limit=10)
    assert_error(response, 504, "query_timeout")


def test_timeout_applies_to_facts_and_pivot(make_client: Any) -> None:
    client = make_client(query_timeout_ms=1)
    assert_error(get(client, "facts", order="revenue:desc", limit=5), 504, "query_timeout")
    assert_error(get(client, "pivot", rows="customer:customer", columns="time:month"), 504, "query_timeout")


def test_engine_answers_again_after_a_timeout(make_engine: Any) -> None:
    from dataclasses import replace

    from api.app import create_app

    engine = make_engine(query_timeout_ms=1)
    client = TestClient(create_app(engine))
    assert_error(get(client, "aggregate", drilldown="customer:customer|time:second", limit=10), 504, "query_timeout")
    engine.settings = replace(engine.settings, query_timeout_ms=30_000)
    response = get(client, "aggregate", measures="revenue,record_count")
    assert response.status_code == 200 and response.json()["summary"]["record_count"] == 60_000
