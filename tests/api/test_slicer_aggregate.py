"""Slicer /cube/{cube}/aggregate on the hello-world cube: Cubes' keys and presence rules, numbers from DuckDB.

Expected numbers come from hand-written SQL over the IBRD balance sheet CSV (the Cubes tutorial's data).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import duckdb
import pytest
from fastapi.testclient import TestClient
from slicer_support import assert_flat_error, example_engine, hello_world_db, sql

from api.app import create_app

URL = "/cube/irbd_balance/aggregate"
MEASURES = "coalesce(sum(amount), 0) AS amount_sum, count(*) AS record_count"
CATEGORY = 'category AS "item.category", category_label AS "item.category_label"'
SUBCATEGORY = 'subcategory AS "item.subcategory", subcategory_label AS "item.subcategory_label"'


@pytest.fixture(scope="module")
def hello() -> TestClient:
    return TestClient(create_app(example_engine("hello_world")))


@pytest.fixture(scope="module")
def db() -> Iterator[duckdb.DuckDBPyConnection]:
    with hello_world_db() as connection:
        yield connection


def get(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get(URL, params=params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


# ---- the whole cube and one drilldown ------------------------------------------------------------
def test_without_drilldown(hello: TestClient, db: duckdb.DuckDBPyConnection) -> None:
    body = get(hello)
    assert list(body) == ["summary", "remainder", "cells", "aggregates", "cell", "attributes", "has_split"]
    assert (
        body["summary"]
        == sql(db, f"SELECT {MEASURES} FROM balance")[0]
        == {
            "amount_sum": 1116860,
            "record_count": 62,
        }
    )
    assert body["remainder"] == {} and body["cells"] == [] and body["cell"] == [] and body["attributes"] == []
    assert body["aggregates"] == ["amount_sum", "record_count"] and body["has_split"] is False


def test_drilldown_with_a_cut(hello: TestClient, db: duckdb.DuckDBPyConnection) -> None:
    body = get(hello, drilldown="item", cut="year:2010")
    assert list(body) == [
        "summary", "remainder", "cells", "total_cell_count", "aggregates", "cell", "levels", "attributes", "has_split"
    ]  # fmt: skip
    expected = sql(db, f"SELECT {CATEGORY}, {MEASURES} FROM balance WHERE year = 2010 GROUP BY ALL ORDER BY 1")
    assert body["cells"] == expected
    assert [list(cell) for cell in body["cells"]][0] == ["item.category", "item.category_label", *body["aggregates"]]
    assert body["summary"] == sql(db, f"SELECT {MEASURES} FROM balance WHERE year = 2010")[0]
    assert body["total_cell_count"] == 3
    assert body["levels"] == {"item": ["category"]}
    assert body["attributes"] == ["item.category", "item.category_label"]
    assert body["cell"] == [
        {"type": "point", "dimension": "year", "hierarchy": "default", "level_depth": 1, "invert": False,
         "hidden": False, "path": ["2010"]}
    ]  # fmt: skip


def test_tutorial_figures(hello: TestClient) -> None:
    # The Cubes tutorial's figures: 2009 and 2010 total 550840 and 566020; assets 558430 over both years.
    years = get(hello, drilldown="year")["cells"]
    assert years == [
        {"year": 2009, "amount_sum": 550840, "record_count": 31},
        {"year": 2010, "amount_sum": 566020, "record_count": 31},
    ]
    assets = get(hello, cut="item:a")["summary"]
    assert assets == {"amount_sum": 558430, "record_count": 32}


def test_cubesviewer_style_requests(hello: TestClient, db: duckdb.DuckDBPyConnection) -> None:
    # explicit @default hierarchies in drilldown and cut, as cubes.js sends them
    body = get(hello, drilldown="item@default:subcategory|year@default:year", cut="item@default:a")
    expected = sql(
        db,
        f"SELECT {CATEGORY}, {SUBCATEGORY}, year, {MEASURES} FROM balance WHERE category = 'a' "
        "GROUP BY ALL ORDER BY 1, 3, 5",
    )
    assert body["cells"] == expected
    assert body["levels"] == {"item": ["category", "subcategory"], "year": ["year"]}
    # a date-filter range, both ends inclusive
    assert get(hello, cut="year@default:2009-2010")["summary"] == get(hello)["summary"]
    assert get(hello, cut="year@default:2010-")["summary"] == get(hello, cut="year:2010")["summary"]


# ---- the implicit next level ------------------------------------------------------------------------
def test_a_dimension_alone_drills_below_its_point_cut(hello: TestClient, db: duckdb.DuckDBPyConnection) -> None:
    body = get(hello, drilldown="item", cut="item:a")
    assert body["levels"] == {"item": ["category", "subcategory"]}
    assert body["cells"] == sql(
        db, f"SELECT {CATEGORY}, {SUBCATEGORY}, {MEASURES} FROM balance WHERE category = 'a' GROUP BY ALL ORDER BY 1, 3"
    )


@pytest.mark.parametrize("cut", ["!item:a", "item:a;e", "item:a-e"])
def test_inverted_set_and_range_cuts_do_not_advance_the_level(hello: TestClient, cut: str) -> None:
    assert get(hello, drilldown="item", cut=cut)["levels"] == {"item": ["category"]}


def test_drilling_past_the_last_level_is_a_hierarchy_error(hello: TestClient) -> None:
    response = hello.get(URL, params={"drilldown": "item", "cut": "item:a,da,Derivative Assets"})
    assert "only 3 levels" in assert_flat_error(response, 400, "hierarchy")["message"]


# ---- aggregates, order, paging ----------------------------------------------------------------------
def test_aggregates_select_and_order_the_result(hello: TestClient) -> None:
    body = get(hello, drilldown="year", aggregates="record_count")
    assert body["aggregates"] == ["record_count"] and body["summary"] == {"record_count": 62}
    assert all(list(cell) == ["year", "record_count"] for cell in body["cells"])
    assert get(hello, aggregates="record_count|amount_sum")["aggregates"] == ["record_count", "amount_sum"]
    assert get(hello, aggregates=["record_count", "amount_sum"])["aggregates"] == ["record_count", "amount_sum"]


def test_measures_select_the_aggregates_over_them(hello: TestClient) -> None:
    assert get(hello, measures="amount")["aggregates"] == ["amount_sum"]
    assert_flat_error(hello.get(URL, params={"measures": "weight"}), 400, "unknown_user_error")


def test_unknown_aggregate_is_a_user_error(hello: TestClient) -> None:
    assert_flat_error(hello.get(URL, params={"aggregates": "nope"}), 400, "unknown_user_error")


def test_paging_is_zero_based_and_counts_every_cell(hello: TestClient, db: duckdb.DuckDBPyConnection) -> None:
    query = (
        f"SELECT {CATEGORY}, {SUBCATEGORY}, {MEASURES} FROM balance GROUP BY ALL ORDER BY amount_sum DESC, 1, 3 "
        "LIMIT 4 OFFSET ?"
    )
    for page in (0, 1, 3):
        body = get(hello, drilldown="item:subcategory", order="amount_sum:desc", page=page, pagesize=4)
        assert body["cells"] == sql(db, query, [page * 4])
        assert (
            body["total_cell_count"]
            == sql(db, "SELECT count(DISTINCT (category, subcategory)) AS n FROM balance")[0]["n"]
        )
    # paging needs both parameters: one alone is ignored, as in Cubes
    assert len(get(hello, drilldown="item:subcategory", page=1)["cells"]) == body["total_cell_count"]


def test_order_by_attribute_refs(hello: TestClient) -> None:
    labels = [c["item.category_label"] for c in get(hello, drilldown="item", order="item.category_label:desc")["cells"]]
    assert labels == ["Liabilities", "Equity", "Assets"]
    years = [c["year"] for c in get(hello, drilldown="year", order="record_count:desc,year:desc")["cells"]]
    assert years == [2010, 2009]


def test_bad_order_and_paging_are_request_errors(hello: TestClient) -> None:
    assert_flat_error(hello.get(URL, params={"order": "amount_sum:sideways"}), 400, "request")
    assert_flat_error(hello.get(URL, params={"drilldown": "year", "order": "nope"}), 400, "request")
    error = assert_flat_error(hello.get(URL, params={"page": "x", "pagesize": "2"}), 400, "request")
    assert error["message"] == "'page' should be a number"
    assert_flat_error(hello.get(URL, params={"page": "-1", "pagesize": "2"}), 400, "request")


def test_json_cells_stop_at_the_record_limit() -> None:
    client = TestClient(create_app(example_engine("hello_world", slicer_json_record_limit=2)))
    body = client.get(URL, params={"drilldown": "item:subcategory"}).json()
    assert len(body["cells"]) == 2 and body["total_cell_count"] == 18
    csv = client.get(URL, params={"drilldown": "item:subcategory", "format": "csv"}).text.splitlines()
    assert len(csv) == 1 + 18


# ---- split ---------------------------------------------------------------------------------------
def test_split_marks_cells_within_the_split_cut(hello: TestClient, db: duckdb.DuckDBPyConnection) -> None:
    body = get(hello, drilldown="year", split="item:a")
    expected = sql(
        db,
        f"SELECT year, category = 'a' AS __within_split__, {MEASURES} FROM balance GROUP BY ALL ORDER BY 1, 2",
    )
    assert body["cells"] == expected
    assert body["has_split"] is True and body["total_cell_count"] == 4
    assert body["levels"] == {"year": ["year"], "__within_split__": ["__within_split__"]}
    assert body["summary"] == get(hello)["summary"]
    alone = get(hello, split="!year:2009", aggregates="record_count")
    assert alone["cells"] == [
        {"__within_split__": False, "record_count": 31},
        {"__within_split__": True, "record_count": 31},
    ]
    paged = get(hello, drilldown="year", split="item:a", order="amount_sum:desc", page=0, pagesize=1)
    assert paged["cells"] == [max(expected, key=lambda cell: cell["amount_sum"])] and paged["total_cell_count"] == 4
    assert_flat_error(hello.get(URL, params={"split": "item:a|year:2009"}), 400, "request")


# ---- formats -------------------------------------------------------------------------------------
def test_csv_with_labels_names_or_no_header(hello: TestClient) -> None:
    params = {"drilldown": "item", "cut": "year:2009", "format": "csv"}
    response = hello.get(URL, params=params)
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="aggregate.csv"'
    assert response.text == (
        'Category,Category label,"Amount (US$, millions)",Record count\r\n'
        "a,Assets,275420,16\r\ne,Equity,40037,4\r\nl,Liabilities,235383,11\r\n"
    )
    names = hello.get(URL, params={**params, "header": "names"}).text.splitlines()
    assert names[0] == "item.category,item.category_label,amount_sum,record_count"
    assert hello.get(URL, params={**params, "header": "none"}).text.splitlines()[0] == "a,Assets,275420,16"
    split = hello.get(URL, params={"drilldown": "year", "split": "item:a", "format": "csv"}).text.splitlines()
    assert split[:2] == ['Year,Matches Filters,"Amount (US$, millions)",Record count', "2009,false,275420,15"]


def test_json_lines_and_unknown_formats(hello: TestClient) -> None:
    response = hello.get(URL, params={"drilldown": "year", "format": "json_lines"})
    assert response.headers["content-type"] == "application/x-json-lines"
    assert response.text == (
        '{"year": 2009, "amount_sum": 550840, "record_count": 31}\n'
        '{"year": 2010, "amount_sum": 566020, "record_count": 31}\n'
    )
    error = assert_flat_error(hello.get(URL, params={"format": "xml"}), 400, "request")
    assert error["message"] == "Parameter 'format' should be one of: json, csv, json_lines"
    assert_flat_error(hello.get(URL, params={"format": "csv", "header": "fancy"}), 400, "request")


# ---- empty cells, relative time, hierarchies ---------------------------------------------------------
def test_an_empty_cell_still_has_a_summary(hello: TestClient) -> None:
    body = get(hello, cut="year:2031", drilldown="item")
    assert body["summary"] == {"amount_sum": 0, "record_count": 0}
    assert body["cells"] == [] and body["total_cell_count"] == 0


def test_relative_time_cuts_count_from_the_calendar_clock() -> None:
    app = create_app(example_engine("hello_world"))
    app.state.slicer_clock = lambda: datetime(2010, 6, 15, 12, 30)
    client = TestClient(app)
    assert get(client, cut="year:lastyear")["summary"] == {"amount_sum": 550840, "record_count": 31}
    assert get(client, cut="year:today")["summary"] == {"amount_sum": 566020, "record_count": 31}
    assert get(client, cut="year:nextyear")["summary"] == {"amount_sum": 0, "record_count": 0}
    body = get(client, cut="year:2yearsago-yesterday", drilldown="year")
    assert body["cell"][0]["from"] == ["2008"] and body["cell"][0]["to"] == ["2010"]
    assert [cell["year"] for cell in body["cells"]] == [2009, 2010]
    split = get(client, drilldown="item", split="year:today", aggregates="record_count")["cells"]
    assert [(c["item.category"], c["__within_split__"], c["record_count"]) for c in split][:2] == [
        ("a", False, 16),
        ("a", True, 16),
    ]
    report = client.post(
        "/cube/irbd_balance/report",
        json={"cell": [{"type": "point", "dimension": "year", "path": ["lastyear"]}],
              "queries": {"total": {"query": "aggregate", "aggregates": ["amount_sum"]}}},
    )  # fmt: skip
    assert report.json()["total"]["summary"] == {"amount_sum": 550840}
    assert_flat_error(client.get(URL, params={"cut": "year:lastdecade"}), 400, "unknown_user_error")


def test_non_default_hierarchy_levels_key_and_range_cut() -> None:
    foodmart = TestClient(create_app(example_engine("foodmart")))
    body = foodmart.get(
        "/cube/sales/aggregate",
        params={"drilldown": "time@weekly:week", "cut": "time@weekly:1997,2-1997,3", "aggregates": "sales_count"},
    ).json()
    assert body["levels"] == {"time@weekly": ["year", "week"]}
    assert [cell["time.week"] for cell in body["cells"]] == [2, 3]
    assert body["cell"] == [
        {"type": "range", "dimension": "time", "hierarchy": "weekly", "level_depth": 2, "invert": False,
         "hidden": False, "from": ["1997", "2"], "to": ["1997", "3"]}
    ]  # fmt: skip


# ---- the high-cardinality guard (telecom: minutes and seconds are marked high) ------------------------
def test_high_cardinality_drilldown_needs_paging_or_a_cut(client: TestClient) -> None:
    url = "/cube/fixed_line_revenue/aggregate"
    error = assert_flat_error(client.get(url, params={"drilldown": "time:minute"}), 400, "unknown_user_error")
    assert "time.minute" in error["message"] and "time.hour" not in error["message"]
    paged = client.get(url, params={"drilldown": "time:minute", "page": "0", "pagesize": "5"})
    assert paged.status_code == 200 and len(paged.json()["cells"]) == 5
    assert paged.json()["total_cell_count"] > 5
    minute = paged.json()["cells"][0]
    path = ",".join(str(minute[f"time.{level}"]) for level in ("year", "quarter", "month", "day", "hour", "minute"))
    cut = client.get(url, params={"drilldown": "time:minute", "cut": f"time:{path}"})
    assert cut.status_code == 200 and [cell["record_count"] for cell in cut.json()["cells"]] == [minute["record_count"]]
    assert client.get(url, params={"drilldown": "time:hour"}).status_code == 200
