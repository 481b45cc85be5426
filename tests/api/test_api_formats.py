"""Content negotiation: the same answer as JSON (exact decimals), CSV (numbers as exact text) and Arrow.

CSV and Arrow carry the summary and meta in ``X-Cube-*`` headers; every data answer has
``X-Cube-Source`` and ``Server-Timing``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
from conftest import CUBE
from fastapi.testclient import TestClient

from cube_server.cut_syntax import parse_drilldown
from cube_server.engine import CubeEngine
from cube_server.query import Query

BASE = f"/v1/cubes/{CUBE}"
ARROW = "application/vnd.apache.arrow.stream"


def as_json(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return json.loads(response.text, parse_float=Decimal)


def as_csv(response: Any) -> tuple[list[str], list[dict[str, str]]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    reader = csv.reader(io.StringIO(response.text, newline=""))
    header = next(reader)
    rows = [dict(zip(header, row, strict=True)) for row in reader]
    return header, rows


def as_arrow(response: Any) -> pa.Table:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == ARROW
    return ipc.open_stream(response.content).read_all()


def text(value: Any) -> str:
    """How a JSON value must look in CSV: exact decimal digits, empty for None."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def header_json(response: Any, name: str) -> Any:
    return json.loads(response.headers[name], parse_float=Decimal)


def assert_timing_headers(response: Any) -> None:
    assert response.headers["X-Cube-Source"] == "facts"
    assert re.fullmatch(r"engine;dur=\d+\.\d{3}", response.headers["Server-Timing"]), response.headers["Server-Timing"]


# ---- CSV -------------------------------------------------------------------------------------
def test_aggregate_csv_matches_json_exactly(client: TestClient) -> None:
    params = {"drilldown": "time:year|product:line", "measures": "revenue,call_minutes,record_count,arpu"}
    body = as_json(client.get(f"{BASE}/aggregate", params=params))
    response = client.get(f"{BASE}/aggregate", params={**params, "format": "csv"})
    header, rows = as_csv(response)
    assert header == [
        "time.year",
        "product.line",
        "product.line.label",
        "revenue",
        "call_minutes",
        "record_count",
        "arpu",
    ]
    assert rows == [{name: text(cell[name]) for name in header} for cell in body["cells"]]
    assert any(row["revenue"].endswith(".00") for row in rows), "trailing zeros of a decimal survive"
    assert header_json(response, "X-Cube-Summary") == body["summary"]
    assert json.dumps(header_json(response, "X-Cube-Summary"), default=str) == json.dumps(body["summary"], default=str)
    assert int(response.headers["X-Cube-Total-Cell-Count"]) == body["total_cell_count"] == len(rows)
    meta = header_json(response, "X-Cube-Meta")
    assert {key: meta[key] for key in ("source", "cube", "version")} == {
        key: body["meta"][key] for key in ("source", "cube", "version")
    }
    assert response.headers["Content-Disposition"] == f'attachment; filename="{CUBE}-aggregate.csv"'
    assert_timing_headers(response)


def test_aggregate_csv_without_drilldown_puts_the_summary_in_a_header(client: TestClient, engine: CubeEngine) -> None:
    response = client.get(f"{BASE}/aggregate", params={"measures": "revenue,record_count", "format": "csv"})
    header, rows = as_csv(response)
    assert header == ["revenue", "record_count"] and rows == []
    summary = engine.aggregate(Query(CUBE, measures=("revenue", "record_count"))).summary
    assert header_json(response, "X-Cube-Summary") == summary
    assert response.headers["X-Cube-Total-Cell-Count"] == "null"


def test_pivot_csv_is_a_wide_table_matching_json(client: TestClient) -> None:
    params = {"rows": "geography:province", "columns": "product:line", "measures": "revenue,record_count"}
    body = as_json(client.get(f"{BASE}/pivot", params=params))
    response = client.get(f"{BASE}/pivot", params={**params, "format": "csv"})
    header, rows = as_csv(response)
    keys = [header[0] for header in body["column_headers"]]
    assert len(keys) > 1 and "value_added" in keys
    wide = [f"{key}:{measure}" for key in keys for measure in body["measures"]]
    totals = [f"total:{measure}" for measure in body["measures"]]
    assert header == body["row_levels"] + wide + totals
    assert len(rows) == len(body["row_headers"])
    saw_empty = False
    for row, headers, values, row_total in zip(
        rows, body["row_headers"], body["values"], body["row_totals"], strict=True
    ):
        assert [row[level] for level in body["row_levels"]] == [text(value) for value in headers]
        for key, cell in zip(keys, values, strict=True):
            for m, measure in enumerate(body["measures"]):
                assert row[f"{key}:{measure}"] == ("" if cell is None else text(cell[m]))
                saw_empty = saw_empty or cell is None
        assert [row[name] for name in totals] == [text(value) for value in row_total]
    assert saw_empty, "some province has no sales of some line, shown as an empty CSV field"
    assert header_json(response, "X-Cube-Grand-Total") == body["grand_total"]
    assert header_json(response, "X-Cube-Column-Totals") == body["column_totals"]
    assert_timing_headers(response)


def test_pivot_csv_with_multi_level_columns_joins_keys(client: TestClient) -> None:
    response = client.get(
        f"{BASE}/pivot",
        params={
            "rows": "time:year",
            "columns": "product:product",
            "measures": "revenue",
            "totals": "false",
            "format": "csv",
        },
    )
    header, rows = as_csv(response)
    assert header[0] == "time.year" and "value_added|voicemail:revenue" in header
    assert not any(name.startswith("total:") for name in header)
    assert [row["time.year"] for row in rows] == ["2024", "2025"]


def test_members_csv_matches_json(client: TestClient) -> None:
    params = {"level": "product"}
    body = as_json(client.get(f"{BASE}/members/product", params=params))
    response = client.get(f"{BASE}/members/product", params={**params, "format": "csv"})
    header, rows = as_csv(response)
    assert header == body["columns"]
    assert rows == [{name: text(row[name]) for name in header} for row in body["rows"]]
    assert any(not row["product.product_name_zh"].isascii() for row in rows), "UTF-8 text survives"
    assert int(response.headers["X-Cube-Total-Count"]) == body["total_count"] == len(rows) > 1
    assert header_json(response, "X-Cube-Meta")["level"] == "product"
    assert_timing_headers(response)


def test_facts_csv_matches_json(client: TestClient) -> None:
    params = {"cut": "geography:international", "order": "charge_id", "limit": 25}
    body = as_json(client.get(f"{BASE}/facts", params=params))
    response = client.get(f"{BASE}/facts", params={**params, "format": "csv"})
    header, rows = as_csv(response)
    assert header == body["columns"]
    assert len(rows) == 25
    assert rows == [{name: text(row[name]) for name in header} for row in body["rows"]]
    assert any(row["geography.province"] == "" for row in rows), "NULL levels are empty fields"
    assert int(response.headers["X-Cube-Total-Count"]) == body["total_count"]
    assert_timing_headers(response)


def test_accept_text_csv_chooses_csv(client: TestClient) -> None:
    response = client.get(
        f"{BASE}/aggregate", params={"drilldown": "time:year", "measures": "revenue"}, headers={"Accept": "text/csv"}
    )
    header, rows = as_csv(response)
    assert header == ["time.year", "revenue"] and len(rows) == 2


def test_accept_listing_json_too_keeps_json(client: TestClient) -> None:
    response = client.get(f"{BASE}/aggregate", headers={"Accept": "text/csv, application/json"})
    assert response.headers["content-type"].startswith("application/json")


# ---- Arrow -----------------------------------------------------------------------------------
def test_aggregate_arrow_has_typed_columns_and_exact_decimals(client: TestClient, engine: CubeEngine) -> None:
    params = {"drilldown": "time:year|product:line", "measures": "revenue,record_count,arpu"}
    response = client.get(f"{BASE}/aggregate", params={**params, "format": "arrow"})
    table = as_arrow(response)
    expected = engine.aggregate(
        Query(CUBE, (), parse_drilldown("time:year|product:line"), ("revenue", "record_count", "arpu"))
    )
    schema = table.schema
    assert schema.names == ["time.year", "product.line", "product.line.label", "revenue", "record_count", "arpu"]
    assert pa.types.is_integer(schema.field("time.year").type)
    assert pa.types.is_string(schema.field("product.line").type) or pa.types.is_large_string(
        schema.field("product.line").type
    )
    assert pa.types.is_decimal128(schema.field("revenue").type) and schema.field("revenue").type.scale == 2
    assert pa.types.is_decimal128(schema.field("arpu").type)
    assert pa.types.is_integer(schema.field("record_count").type)
    assert table.to_pylist() == expected.cells
    assert [str(value) for value in table.column("revenue").to_pylist()] == [
        str(cell["revenue"]) for cell in expected.cells
    ]
    assert header_json(response, "X-Cube-Summary") == expected.summary
    assert_timing_headers(response)


def test_aggregate_arrow_by_accept_header(client: TestClient) -> None:
    response = client.get(
        f"{BASE}/aggregate", params={"drilldown": "channel", "measures": "revenue"}, headers={"Accept": ARROW}
    )
    table = as_arrow(response)
    assert table.num_rows == int(response.headers["X-Cube-Total-Cell-Count"]) > 1
    assert pa.types.is_decimal128(table.schema.field("revenue").type)


def test_format_parameter_wins_over_accept(client: TestClient) -> None:
    response = client.get(f"{BASE}/aggregate", params={"format": "json"}, headers={"Accept": ARROW})
    assert response.headers["content-type"].startswith("application/json")


def test_facts_arrow_has_typed_columns_matching_json(client: TestClient) -> None:
    params = {"order": "charge_id", "limit": 20}
    body = as_json(client.get(f"{BASE}/facts", params=params))
    response = client.get(f"{BASE}/facts", params={**params, "format": "arrow"})
    table = as_arrow(response)
    schema = table.schema
    assert schema.names == body["columns"]
    assert schema.field("charge_id").type == pa.int64()
    assert pa.types.is_decimal128(schema.field("revenue").type) and schema.field("revenue").type.scale == 2
    assert pa.types.is_decimal128(schema.field("call_minutes").type)
    assert pa.types.is_integer(schema.field("time.year").type)
    assert pa.types.is_string(schema.field("product.line").type)
    assert table.to_pylist() == body["rows"]
    assert int(response.headers["X-Cube-Total-Count"]) == body["total_count"] == 60_000
    assert_timing_headers(response)


def test_pivot_arrow_keeps_empty_cells_null(client: TestClient) -> None:
    params = {"rows": "geography:province", "columns": "product:line", "measures": "revenue"}
    body = as_json(client.get(f"{BASE}/pivot", params=params))
    table = as_arrow(client.get(f"{BASE}/pivot", params={**params, "format": "arrow"}))
    assert pa.types.is_decimal128(table.schema.field("value_added:revenue").type)
    empty_in_json = sum(cell is None for row in body["values"] for cell in row)
    empty_in_arrow = sum(table.column(f"{key[0]}:revenue").null_count for key in body["column_headers"])
    assert empty_in_json == empty_in_arrow > 0


def test_members_arrow_matches_json(client: TestClient) -> None:
    body = as_json(client.get(f"{BASE}/members/channel"))
    table = as_arrow(client.get(f"{BASE}/members/channel", params={"format": "arrow"}))
    assert table.schema.names == body["columns"]
    assert table.to_pylist() == body["rows"]


# ---- headers on every data answer --------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["json", "csv", "arrow"])
@pytest.mark.parametrize(
    ("route", "params"),
    [
        ("aggregate", {"drilldown": "time:year", "measures": "revenue"}),
        ("drilldown", {"dimension": "product", "measures": "revenue"}),
        ("rollup", {"dimension": "product", "drilldown": "product:product", "measures": "revenue"}),
        ("slice", {"cut": "time:2025", "drilldown": "channel", "measures": "revenue"}),
        ("pivot", {"rows": "product:line", "columns": "channel", "measures": "revenue"}),
        ("members/organisation", {"level": "province_branch", "limit": 5}),
        ("facts", {"limit": 3}),
    ],
)
def test_data_answer_carries_source_and_timing_headers(
    client: TestClient, route: str, params: dict[str, Any], fmt: str
) -> None:
    response = client.get(f"{BASE}/{route}", params={**params, "format": fmt})
    assert response.status_code == 200, response.text
    expected_type = {"json": "application/json", "csv": "text/csv; charset=utf-8", "arrow": ARROW}[fmt]
    assert response.headers["content-type"] == expected_type
    assert_timing_headers(response)
    if fmt != "json":
        meta = header_json(response, "X-Cube-Meta")
        assert meta["cube"] == CUBE and meta["source"] == "facts"
        response.headers["X-Cube-Meta"].encode("ascii")  # headers stay ASCII


def test_post_query_honours_format(client: TestClient) -> None:
    get = client.get(f"{BASE}/aggregate", params={"drilldown": "time:year", "measures": "revenue", "format": "csv"})
    post = client.post(f"{BASE}/query", json={"drilldown": "time:year", "measures": "revenue", "format": "csv"})
    assert as_csv(get) == as_csv(post)


def test_meta_header_escapes_non_ascii_cut(client: TestClient) -> None:
    response = client.get(
        f"{BASE}/rollup",
        params={"dimension": "geography", "cut": "geography:北京,x", "measures": "revenue", "format": "csv"},
    )
    assert response.status_code == 200
    raw = response.headers["X-Cube-Meta"]
    raw.encode("ascii")
    assert json.loads(raw)["rolled_up_from"]["cut"] == "geography:北京,x"
