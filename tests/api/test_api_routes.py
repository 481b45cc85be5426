"""Every HTTP route through the ASGI app: status, documented shape, and numbers equal to the engine's.

JSON bodies are parsed with ``parse_float=Decimal`` and compared digit for digit (``exact``) with what
:class:`CubeEngine` returns, so a decimal that went through float on the way out would fail here.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import pytest
from conftest import CUBE, ROOT
from fastapi.testclient import TestClient

from api.app import create_app
from cube_server.cut_syntax import parse_cuts, parse_drilldown
from cube_server.engine import CubeEngine
from cube_server.query import FactsQuery, MembersQuery, OrderItem, PivotQuery, Query

BASE = f"/v1/cubes/{CUBE}"
ALL_MEASURES = ["revenue", "call_minutes", "record_count", "subscribers", "arpu"]
META_KEYS = {"source", "elapsed_ms", "cube", "version"}


def decoded(response: Any) -> Any:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    return json.loads(response.text, parse_float=Decimal)


def exact(value: Any) -> Any:
    """Decimals as their exact text (Decimal('1.0') == Decimal('1.00'), but their digits differ)."""
    if isinstance(value, Decimal):
        return ("decimal", str(value))
    if isinstance(value, float):
        return ("float", repr(value))
    if isinstance(value, dict):
        return {key: exact(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [exact(item) for item in value]
    return value


def without_timing(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "meta": {key: value for key, value in body["meta"].items() if key != "elapsed_ms"}}


def query(cut: str = "", drilldown: str = "", measures: tuple[str, ...] = (), **extra: Any) -> Query:
    return Query(CUBE, parse_cuts(cut), parse_drilldown(drilldown), measures, **extra)


def assert_meta(meta: dict[str, Any], engine: CubeEngine) -> None:
    assert META_KEYS <= set(meta)
    assert meta["source"] == "facts"
    assert meta["cube"] == CUBE
    assert meta["version"] == engine.version and meta["version"]
    assert isinstance(meta["elapsed_ms"], Decimal) and meta["elapsed_ms"] >= 0


# ---- health and model ------------------------------------------------------------------------
def test_health_answers_ok(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_reports_version_and_cubes(client: TestClient, engine: CubeEngine) -> None:
    body = decoded(client.get("/ready"))
    assert body == {"status": "ready", "version": engine.version, "cubes": [CUBE]}


def test_ready_answers_503_not_ready_before_the_engine_loads() -> None:
    response = TestClient(create_app()).get("/ready")  # no engine, no loader: never ready
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "not_ready"


def _wait_for_ready(client: TestClient, status: int) -> Any:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = client.get("/ready")
        if response.status_code == status and (status != 503 or response.json()["error"]["message"] != "loading"):
            return response
        time.sleep(0.02)
    raise AssertionError(f"/ready never answered {status}")


def test_ready_turns_200_once_the_background_loader_finishes(engine: CubeEngine) -> None:
    with TestClient(create_app(loader=lambda: engine)) as client:  # the context runs the lifespan
        body = _wait_for_ready(client, 200).json()
        assert body["version"] == engine.version
        assert client.get(f"{BASE}/aggregate").status_code == 200


def test_ready_reports_a_failed_load_and_v1_answers_503(caplog: pytest.LogCaptureFixture) -> None:
    def fail() -> CubeEngine:
        raise RuntimeError("disk on fire")

    with TestClient(create_app(loader=fail)) as client:
        response = _wait_for_ready(client, 503)
        assert response.json()["error"] == {
            "code": "not_ready",
            "message": "failed to load",
            "details": {},
            "request_id": response.headers["X-Request-ID"],
        }
        error = client.get(f"{BASE}/aggregate").json()["error"]
        assert error["code"] == "not_ready" and "disk on fire" not in error["message"]


def test_cubes_lists_the_telecom_cube(client: TestClient) -> None:
    body = decoded(client.get("/v1/cubes"))
    assert body == [{"name": CUBE, "label": "Fixed-line revenue", "category": "Revenue", "description": None}]


def test_cube_model_lists_dimensions_hierarchies_and_measures(client: TestClient) -> None:
    body = decoded(client.get(BASE))
    model = json.loads((ROOT / "examples" / "telecom" / "model.json").read_text(encoding="utf-8"))
    assert body["name"] == CUBE
    assert [d["name"] for d in body["dimensions"]] == model["cubes"][0]["dimensions"]
    assert [m["name"] for m in body["measures"]] == ALL_MEASURES
    time = next(d for d in body["dimensions"] if d["name"] == "time")
    hierarchies = {h["name"]: h["levels"] for h in time["hierarchies"]}
    assert hierarchies == {
        "default": ["year", "quarter", "month", "day", "hour", "minute", "second"],
        "weekly": ["isoyear", "isoweek", "day"],
    }
    geography = next(d for d in body["dimensions"] if d["name"] == "geography")
    assert [level["name"] for level in geography["levels"]] == [
        "scope",
        "continent",
        "country",
        "region",
        "province",
        "city",
    ]
    province = next(level for level in geography["levels"] if level["name"] == "province")
    assert province["label_attribute"] == "province_name_en"


# ---- aggregate -------------------------------------------------------------------------------
def test_aggregate_without_drilldown_gives_the_summary_only(client: TestClient, engine: CubeEngine) -> None:
    body = decoded(client.get(f"{BASE}/aggregate"))
    expected = engine.aggregate(query())
    assert exact(body["summary"]) == exact(expected.summary)
    assert list(body["summary"]) == ALL_MEASURES
    assert body["cells"] == [] and body["total_cell_count"] is None and body["levels"] == {}
    assert body["measures"] == ALL_MEASURES
    assert body["summary"]["record_count"] == 60_000
    assert_meta(body["meta"], engine)


def test_aggregate_drilled_to_month_and_province_has_ancestors_labels_and_exact_numbers(
    client: TestClient, engine: CubeEngine
) -> None:
    response = client.get(f"{BASE}/aggregate", params={"drilldown": "time:month|geography:province"})
    body = decoded(response)
    expected = engine.aggregate(query(drilldown="time:month|geography:province"))
    assert set(body) == {"summary", "cells", "total_cell_count", "levels", "measures", "meta"}
    assert body["levels"] == {
        "time": ["year", "quarter", "month"],
        "geography": ["scope", "continent", "country", "region", "province"],
    }
    assert body["total_cell_count"] == len(body["cells"]) == len(expected.cells) > 100
    for cell in body["cells"]:
        assert {"time.year", "time.quarter", "time.month", "geography.province", "geography.province.label"} <= set(
            cell
        )
        assert 1 <= cell["time.month"] <= 12 and cell["time.year"] in (2024, 2025)
    provinces = engine.members(MembersQuery(CUBE, "geography", "province", limit=1000)).rows
    label_of = {row["geography.province"]: row["geography.province.label"] for row in provinces}
    assert all(cell["geography.province.label"] == label_of[cell["geography.province"]] for cell in body["cells"])
    assert any(cell["geography.province.label"] != cell["geography.province"] for cell in body["cells"])
    assert exact(body["cells"]) == exact(expected.cells)
    assert exact(body["summary"]) == exact(expected.summary)
    # Cells partition the cube: additive measures of the cells add up to the summary.
    assert sum(cell["revenue"] for cell in body["cells"]) == body["summary"]["revenue"]
    assert sum(cell["record_count"] for cell in body["cells"]) == 60_000
    assert_meta(body["meta"], engine)
    assert response.headers["X-Cube-Source"] == "facts"
    assert response.headers["Server-Timing"].startswith("engine;dur=")


def test_aggregate_orders_and_pages_cells(client: TestClient, engine: CubeEngine) -> None:
    params = {
        "drilldown": "geography:province",
        "measures": "revenue",
        "order": "revenue:desc",
        "limit": 5,
        "offset": 2,
    }
    body = decoded(client.get(f"{BASE}/aggregate", params=params))
    everything = engine.aggregate(
        query(drilldown="geography:province", measures=("revenue",), order=(OrderItem("revenue", True),))
    )
    assert exact(body["cells"]) == exact(everything.cells[2:7])
    revenues = [cell["revenue"] for cell in body["cells"]]
    assert revenues == sorted(revenues, reverse=True)
    assert body["total_cell_count"] == len(everything.cells)


def test_aggregate_by_weekly_hierarchy_reports_the_hierarchy(client: TestClient, engine: CubeEngine) -> None:
    body = decoded(client.get(f"{BASE}/aggregate", params={"drilldown": "time@weekly:isoweek", "measures": "revenue"}))
    expected = engine.aggregate(query(drilldown="time@weekly:isoweek", measures=("revenue",)))
    assert exact(body["cells"]) == exact(expected.cells)
    assert set(body["cells"][0]) == {"time.isoyear", "time.isoweek", "revenue"}


# Regression: with record_count as the only measure the summary statement once compiled to
# "SELECT count(*) AS v0" with no FROM clause, so the total was 1 whatever the cut.
@pytest.mark.parametrize("route", ["aggregate", "slice"])
def test_aggregate_summary_counts_records_when_count_is_the_only_measure(client: TestClient, route: str) -> None:
    alone = decoded(client.get(f"{BASE}/{route}", params={"measures": "record_count", "cut": "time:2024"}))
    with_revenue = decoded(
        client.get(f"{BASE}/{route}", params={"measures": "record_count,revenue", "cut": "time:2024"})
    )
    assert 0 < with_revenue["summary"]["record_count"] < 60_000
    assert alone["summary"]["record_count"] == with_revenue["summary"]["record_count"]


def test_aggregate_cells_count_records_when_count_is_the_only_measure(client: TestClient) -> None:
    body = decoded(client.get(f"{BASE}/aggregate", params={"measures": "record_count", "drilldown": "time:year"}))
    assert sum(cell["record_count"] for cell in body["cells"]) == 60_000


def test_pivot_grand_total_counts_records_when_count_is_the_only_measure(client: TestClient) -> None:
    body = decoded(
        client.get(f"{BASE}/pivot", params={"rows": "product:line", "columns": "time:year", "measures": "record_count"})
    )
    assert sum(total[0] for total in body["column_totals"]) == 60_000
    assert body["grand_total"] == [60_000]


# ---- drilldown, rollup, slice ----------------------------------------------------------------
def test_drilldown_goes_one_level_below_the_cut(client: TestClient, engine: CubeEngine) -> None:
    params = {"dimension": "time", "cut": "time:2024", "measures": "revenue,record_count"}
    body = decoded(client.get(f"{BASE}/drilldown", params=params))
    expected = engine.drilldown(query(cut="time:2024", measures=("revenue", "record_count")), "time")
    assert body["levels"] == {"time": ["year", "quarter"]}
    assert [(cell["time.year"], cell["time.quarter"]) for cell in body["cells"]] == [(2024, q) for q in (1, 2, 3, 4)]
    assert exact(body["cells"]) == exact(expected.cells)
    assert sum(cell["revenue"] for cell in body["cells"]) == body["summary"]["revenue"]
    assert_meta(body["meta"], engine)


def test_drilldown_depth_two_reaches_two_levels_down(client: TestClient) -> None:
    body = decoded(
        client.get(f"{BASE}/drilldown", params={"dimension": "geography", "depth": 2, "measures": "revenue"})
    )
    assert body["levels"] == {"geography": ["scope", "continent"]}
    assert all("geography.continent.label" in cell for cell in body["cells"])


def test_rollup_goes_one_level_coarser_and_names_its_origin(client: TestClient, engine: CubeEngine) -> None:
    params = {"dimension": "time", "drilldown": "time:month", "measures": "revenue"}
    body = decoded(client.get(f"{BASE}/rollup", params=params))
    quarters = engine.aggregate(query(drilldown="time:quarter", measures=("revenue",)))
    assert body["levels"] == {"time": ["year", "quarter"]}
    assert exact(body["cells"]) == exact(quarters.cells)
    assert body["meta"]["rolled_up_from"] == {"dimension": "time", "cut": "", "drilldown": "time:month"}
    assert_meta(body["meta"], engine)


def test_rollup_of_a_cut_shortens_its_path(client: TestClient, engine: CubeEngine) -> None:
    body = decoded(
        client.get(f"{BASE}/rollup", params={"dimension": "time", "cut": "time:2024,3", "measures": "revenue"})
    )
    year = engine.aggregate(query(cut="time:2024", measures=("revenue",)))
    assert exact(body["summary"]) == exact(year.summary)
    assert body["meta"]["rolled_up_from"]["cut"] == "time:2024,3"


def test_slice_with_two_cuts_is_a_dice(client: TestClient, engine: CubeEngine) -> None:
    body = decoded(client.get(f"{BASE}/slice", params={"cut": "time:2024|product:value_added", "measures": "revenue"}))
    expected = engine.aggregate(query(cut="time:2024|product:value_added", measures=("revenue",)))
    assert exact(body["summary"]) == exact(expected.summary)
    assert body["cells"] == [] and body["total_cell_count"] is None
    whole = engine.aggregate(query(measures=("revenue",))).summary["revenue"]
    assert Decimal(0) < body["summary"]["revenue"] < whole


def test_slice_repeated_cut_parameters_combine(client: TestClient) -> None:
    joined = decoded(
        client.get(f"{BASE}/slice", params={"cut": "time:2024|product:value_added", "measures": "revenue"})
    )
    repeated = decoded(
        client.get(
            f"{BASE}/slice", params=[("cut", "time:2024"), ("cut", "product:value_added"), ("measures", "revenue")]
        )
    )
    assert exact(joined["summary"]) == exact(repeated["summary"])


# ---- pivot -----------------------------------------------------------------------------------
def test_pivot_shape_totals_and_none_for_empty_cells(client: TestClient, engine: CubeEngine) -> None:
    params = {"rows": "geography:province", "columns": "product:product", "measures": "revenue,record_count"}
    body = decoded(client.get(f"{BASE}/pivot", params=params))
    expected = engine.pivot(
        PivotQuery(
            CUBE,
            parse_drilldown("geography:province"),
            parse_drilldown("product:product"),
            measures=("revenue", "record_count"),
        )
    )
    assert body["row_levels"] == [
        "geography.scope",
        "geography.continent",
        "geography.country",
        "geography.region",
        "geography.province",
    ]
    assert body["column_levels"] == ["product.line", "product.product"]
    assert body["measures"] == ["revenue", "record_count"]
    assert len(body["values"]) == len(body["row_headers"]) == len(body["row_header_labels"]) == len(body["row_totals"])
    products = engine.members(MembersQuery(CUBE, "product", "product")).total_count
    assert len(body["column_headers"]) == len(body["column_totals"]) == products > 1
    assert all(len(row) == len(body["column_headers"]) for row in body["values"])
    assert exact(body["values"]) == exact(expected.values)
    empty = [cell for row in body["values"] for cell in row if cell is None]
    filled = [cell for row in body["values"] for cell in row if cell is not None]
    assert empty, "some province never buys some product in 60,000 rows"
    assert all(len(cell) == 2 for cell in filled)
    # The filled cells are exactly the non-empty cells of the same drilldown.
    cells = engine.aggregate(query(drilldown="geography:province|product:product", measures=("record_count",)))
    assert len(filled) == cells.total_cell_count
    for row, totals in zip(body["values"], body["row_totals"], strict=True):
        assert sum(cell[0] for cell in row if cell is not None) == totals[0]
    summary = engine.aggregate(query(measures=("revenue", "record_count"))).summary
    assert exact(body["grand_total"]) == exact([summary["revenue"], summary["record_count"]])
    assert_meta(body["meta"], engine)


def test_pivot_without_totals_leaves_them_out(client: TestClient) -> None:
    body = decoded(
        client.get(f"{BASE}/pivot", params={"rows": "product:line", "columns": "time:year", "totals": "false"})
    )
    assert body["row_totals"] is None and body["column_totals"] is None and body["grand_total"] is None
    assert all(len(labels) == 1 and isinstance(labels[0], str) for labels in body["row_header_labels"])


# ---- members ---------------------------------------------------------------------------------
def test_members_lists_a_level_with_ancestors_and_labels(client: TestClient, engine: CubeEngine) -> None:
    body = decoded(client.get(f"{BASE}/members/geography", params={"level": "province"}))
    expected = engine.members(MembersQuery(CUBE, "geography", "province"))
    assert set(body) == {"columns", "rows", "total_count", "meta"}
    assert body["total_count"] == expected.total_count == len(body["rows"])
    assert {"geography.scope", "geography.province", "geography.province.label"} <= set(body["columns"])
    assert all(list(row) == body["columns"] for row in body["rows"])
    assert body["rows"] == expected.rows
    assert {"dimension": "geography", "level": "province"}.items() <= body["meta"].items()
    assert_meta(body["meta"], engine)


def test_members_pages_searches_and_cuts(client: TestClient) -> None:
    page = decoded(client.get(f"{BASE}/members/customer", params={"level": "customer", "limit": 3, "offset": 5}))
    assert len(page["rows"]) == 3 and page["total_count"] > 1000
    found = decoded(client.get(f"{BASE}/members/geography", params={"level": "province", "search": "JIANG"}))
    assert found["rows"] and all(
        "jiang" in (row["geography.province.label"] + row["geography.province"]).lower() for row in found["rows"]
    )
    cut = decoded(
        client.get(f"{BASE}/members/geography", params={"level": "country", "cut": "geography:international"})
    )
    assert cut["rows"] and {row["geography.scope"] for row in cut["rows"]} == {"international"}


def test_members_of_the_weekly_hierarchy(client: TestClient) -> None:
    body = decoded(client.get(f"{BASE}/members/time", params={"hierarchy": "weekly", "level": "isoweek", "limit": 2}))
    assert body["columns"] == ["time.isoyear", "time.isoweek"]
    assert body["rows"] == [{"time.isoyear": 2024, "time.isoweek": 1}, {"time.isoyear": 2024, "time.isoweek": 2}]


# ---- facts -----------------------------------------------------------------------------------
def test_facts_page_of_rows_in_order(client: TestClient, engine: CubeEngine) -> None:
    params = {"cut": "product:value_added", "order": "charge_id:desc", "limit": 5}
    body = decoded(client.get(f"{BASE}/facts", params=params))
    expected = engine.facts(
        FactsQuery(CUBE, parse_cuts("product:value_added"), order=(OrderItem("charge_id", True),), limit=5)
    )
    assert body["columns"][0] == "charge_id" and {"revenue", "call_minutes", "time.year"} <= set(body["columns"])
    assert len(body["rows"]) == 5
    assert exact(body["rows"]) == exact(expected.rows)
    ids = [row["charge_id"] for row in body["rows"]]
    assert ids == sorted(ids, reverse=True)
    assert all(row["product.line"] == "value_added" for row in body["rows"])
    total = engine.aggregate(query(cut="product:value_added", measures=("revenue", "record_count"))).summary[
        "record_count"
    ]
    assert body["total_count"] == total
    assert_meta(body["meta"], engine)


def test_facts_default_page_and_selected_fields(make_client: Any) -> None:
    client = make_client(default_page_size=7, max_page_size=50)
    body = decoded(client.get(f"{BASE}/facts"))
    assert len(body["rows"]) == 7 and body["total_count"] == 60_000
    fields = decoded(client.get(f"{BASE}/facts", params={"fields": "charge_id,revenue", "limit": 2}))
    assert fields["columns"] == ["charge_id", "revenue"]
    assert all(isinstance(row["revenue"], Decimal) for row in fields["rows"])


# ---- explain ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "bound"),
    [
        ({"drilldown": "time:year", "cut": "time:2024|geography:domestic"}, "domestic"),
        ({"operation": "drilldown", "dimension": "geography", "cut": "geography:domestic"}, "domestic"),
        (
            {"operation": "rollup", "dimension": "time", "drilldown": "time:month", "cut": "channel:web_portal"},
            "web_portal",
        ),
        (
            {"operation": "pivot", "rows": "product:line", "columns": "time:year", "cut": "product:value_added"},
            "value_added",
        ),
        ({"operation": "members", "dimension": "geography", "level": "province", "search": "bei"}, "bei"),
        ({"operation": "facts", "cut": "product:value_added", "limit": 3}, "value_added"),
    ],
    ids=["aggregate", "drilldown", "rollup", "pivot", "members", "facts"],
)
def test_explain_returns_parameterised_sql_without_running_it(
    client: TestClient, engine: CubeEngine, monkeypatch: pytest.MonkeyPatch, params: dict[str, Any], bound: str
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("explain must not execute statements")

    monkeypatch.setattr(engine.backend, "execute", refuse)
    body = decoded(client.get(f"{BASE}/explain", params=params))
    assert set(body) == {"operation", "cube", "source", "grain", "measures", "statements", "version", "candidates"}
    assert body["operation"] == params.get("operation", "aggregate")
    assert body["cube"] == CUBE and body["version"] == engine.version and body["source"] == "facts"
    assert body["statements"]
    for statement in body["statements"]:
        assert set(statement) == {"name", "sql", "parameters"}
        assert statement["sql"].lstrip().upper().startswith("SELECT")
        assert isinstance(statement["parameters"], list)
        assert statement["sql"].count("?") == len(statement["parameters"])
    # Caller values are bound parameters, never inlined into the SQL text.
    assert all(bound not in statement["sql"] for statement in body["statements"])
    assert any(bound in str(value) for statement in body["statements"] for value in statement["parameters"])


def test_explain_grain_of_an_aggregate(client: TestClient) -> None:
    body = decoded(client.get(f"{BASE}/explain", params={"drilldown": "time:year", "cut": "time:2024"}))
    assert body["grain"] == ["time.year"]
    assert [s["name"] for s in body["statements"]] == ["summary", "cells"]
    assert 2024 in body["statements"][0]["parameters"]


def test_explain_as_post_query_flag_matches_get(client: TestClient) -> None:
    get = decoded(client.get(f"{BASE}/explain", params={"drilldown": "time:year", "measures": "revenue"}))
    post = decoded(
        client.post(f"{BASE}/query", json={"explain": True, "drilldown": "time:year", "measures": "revenue"})
    )
    assert get == post


# ---- POST /query -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("route", "params", "body"),
    [
        (
            "aggregate",
            {
                "drilldown": "time:month|geography:region",
                "cut": "time:2025",
                "measures": "revenue,arpu",
                "order": "revenue:desc",
                "limit": 7,
                "offset": 1,
            },
            {
                "operation": "aggregate",
                "drilldown": ["time:month", "geography:region"],
                "cut": "time:2025",
                "measures": ["revenue", "arpu"],
                "order": "revenue:desc",
                "limit": 7,
                "offset": 1,
            },
        ),
        (
            "drilldown",
            {"dimension": "geography", "cut": "geography:domestic", "measures": "revenue"},
            {"operation": "drilldown", "dimension": "geography", "cut": "geography:domestic", "measures": "revenue"},
        ),
        (
            "rollup",
            {"dimension": "time", "drilldown": "time:month", "measures": "record_count"},
            {"operation": "rollup", "dimension": "time", "drilldown": "time:month", "measures": "record_count"},
        ),
        (
            "slice",
            {"cut": "product:value_added|channel:web_portal"},
            {"operation": "slice", "cut": ["product:value_added", "channel:web_portal"]},
        ),
        (
            "pivot",
            {"rows": "product:line", "columns": "time:year", "measures": "revenue"},
            {"operation": "pivot", "rows": "product:line", "columns": ["time:year"], "measures": "revenue"},
        ),
        ("members/product", {"level": "product"}, {"operation": "members", "dimension": "product", "level": "product"}),
        (
            "facts",
            {"cut": "time:2024,2", "order": "charge_id", "limit": 4},
            {"operation": "facts", "cut": "time:2024,2", "order": "charge_id", "limit": 4},
        ),
    ],
    ids=["aggregate", "drilldown", "rollup", "slice", "pivot", "members", "facts"],
)
def test_post_query_answers_exactly_as_get(
    client: TestClient, route: str, params: dict[str, Any], body: dict[str, Any]
) -> None:
    get = decoded(client.get(f"{BASE}/{route}", params=params))
    post = decoded(client.post(f"{BASE}/query", json=body))
    assert exact(without_timing(get)) == exact(without_timing(post))
    if "summary" in get:
        assert exact(get["summary"]) == exact(post["summary"]) and exact(get["cells"]) == exact(post["cells"])


def test_post_query_defaults_to_aggregate(client: TestClient, engine: CubeEngine) -> None:
    body = decoded(client.post(f"{BASE}/query", json={}))
    assert exact(body["summary"]) == exact(engine.aggregate(query()).summary)


def test_request_id_is_echoed_or_generated(client: TestClient) -> None:
    echoed = client.get("/health", headers={"X-Request-ID": "trace-42"})
    assert echoed.headers["X-Request-ID"] == "trace-42"
    first, second = client.get("/health"), client.get("/health")
    assert first.headers["X-Request-ID"] and first.headers["X-Request-ID"] != second.headers["X-Request-ID"]


# ---- docs and OpenAPI ------------------------------------------------------------------------
def test_docs_page_loads(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "swagger" in response.text.lower() and "/openapi.json" in response.text


def test_openapi_lists_every_route(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    expected = {
        "/health",
        "/ready",
        "/v1/cubes",
        "/v1/cubes/{cube}",
        "/v1/cubes/{cube}/query",
        "/v1/cubes/{cube}/members/{dimension}",
    } | {
        f"/v1/cubes/{{cube}}/{name}"
        for name in ("aggregate", "drilldown", "rollup", "slice", "pivot", "facts", "explain")
    }
    assert expected <= set(paths)
    assert set(paths["/v1/cubes/{cube}/query"]) == {"post"}
    table_types = paths["/v1/cubes/{cube}/aggregate"]["get"]["responses"]["200"]["content"]
    assert {"application/json", "text/csv", "application/vnd.apache.arrow.stream"} <= set(table_types)


def _v1_operations() -> list[Any]:
    schema = create_app().openapi()
    operations = []
    for path, methods in schema["paths"].items():
        if not path.startswith("/v1"):
            continue
        if "{cube}" not in path:
            continue  # GET /v1/cubes takes no input that could be wrong: it declares 503 only
        for method, operation in methods.items():
            operations.append(pytest.param(path, method, operation, id=f"{method} {path}"))
    return operations


@pytest.mark.parametrize(("path", "method", "operation"), _v1_operations())
def test_openapi_v1_route_declares_error_envelope(path: str, method: str, operation: dict[str, Any]) -> None:
    responses = operation["responses"]
    declared = {"400", "404"} & set(responses)
    assert declared, f"{method.upper()} {path} declares {sorted(responses)}"
    for status in declared:
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorEnvelope"}


def test_openapi_documents_no_422_the_server_never_sends(client: TestClient) -> None:
    """Validation errors are answered 400 invalid_parameter in the envelope, so FastAPI's 422 must not be documented."""
    paths = client.get("/openapi.json").json()["paths"]
    documented = sorted(
        f"{m.upper()} {p}" for p, ms in paths.items() for m, op in ms.items() if "422" in op["responses"]
    )
    assert documented == []
    assert client.get(f"{BASE}/aggregate", params={"limit": "x"}).status_code == 400


def test_post_query_accepts_long_string_parameters(client: TestClient) -> None:
    """One string or a list: limits bound each string's length and the list's items, not a string's characters."""
    cut = "geography:domestic,asia,cn,south_china,gd;domestic,asia,cn,east_china,js|time:2024"
    assert len(cut) > 64
    body = {
        "operation": "pivot",
        "rows": "geography:province",
        "columns": "time:quarter",
        "cut": cut,
        "measures": "revenue",
    }
    as_strings = client.post(f"{BASE}/query", json=body)
    as_lists = client.post(f"{BASE}/query", json={**body, "rows": [body["rows"]], "cut": [cut]})
    assert as_strings.status_code == 200, as_strings.text
    assert as_strings.json()["values"] == as_lists.json()["values"]
    too_many = client.post(f"{BASE}/query", json={**body, "rows": ["geography:scope"] * 17})
    assert too_many.status_code == 400 and too_many.json()["error"]["code"] == "invalid_parameter"
