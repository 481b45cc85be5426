"""Slicer /facts, /fact/{id}, /members/{dimension} and /cell on the hello-world cube, checked against DuckDB."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import duckdb
import pytest
from fastapi.testclient import TestClient
from slicer_support import assert_flat_error, example_engine, hello_world_db, sql

from api.app import create_app

BASE = "/cube/irbd_balance"
FACT = (
    'id AS __fact_key__, category AS "item.category", category_label AS "item.category_label", '
    'subcategory AS "item.subcategory", subcategory_label AS "item.subcategory_label", '
    'line_item AS "item.line_item", year, amount'
)


@pytest.fixture(scope="module")
def hello() -> TestClient:
    return TestClient(create_app(example_engine("hello_world")))


@pytest.fixture(scope="module")
def db() -> Iterator[duckdb.DuckDBPyConnection]:
    with hello_world_db() as connection:
        yield connection


def get(client: TestClient, route: str, **params: Any) -> Any:
    response = client.get(f"{BASE}/{route}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


# ---- facts ---------------------------------------------------------------------------------------
def test_facts_are_rows_keyed_by_refs_key_first(hello: TestClient, db: duckdb.DuckDBPyConnection) -> None:
    rows = get(hello, "facts", cut="item:e")
    assert rows == sql(db, f"SELECT {FACT} FROM balance WHERE category = 'e' ORDER BY id")
    assert list(rows[0]) == [
        "__fact_key__", "item.category", "item.category_label", "item.subcategory", "item.subcategory_label",
        "item.line_item", "year", "amount",
    ]  # fmt: skip


def test_facts_fields_order_and_paging(hello: TestClient, db: duckdb.DuckDBPyConnection) -> None:
    rows = get(hello, "facts", cut="year:2010", fields="item.line_item,amount", order="amount:desc", page=1, pagesize=3)
    assert rows == sql(
        db,
        'SELECT id AS __fact_key__, line_item AS "item.line_item", amount FROM balance WHERE year = 2010 '
        "ORDER BY amount DESC LIMIT 3 OFFSET 3",
    )
    assert_flat_error(hello.get(f"{BASE}/facts", params={"fields": "nope"}), 400, "unknown_user_error")
    assert_flat_error(hello.get(f"{BASE}/facts", params={"order": "nope"}), 400, "request")


def test_json_facts_stop_exactly_at_the_record_limit() -> None:
    # Cubes sent one row more than its json_record_limit; here the limit is the limit.
    client = TestClient(create_app(example_engine("hello_world", slicer_json_record_limit=5)))
    assert len(client.get(f"{BASE}/facts").json()) == 5
    assert len(client.get(f"{BASE}/facts", params={"page": "0", "pagesize": "20"}).json()) == 5
    assert len(client.get(f"{BASE}/facts", params={"format": "json_lines"}).text.splitlines()) == 62
    assert len(client.get(f"{BASE}/members/item", params={"depth": "2"}).json()["data"]) == 5


def test_facts_as_csv_and_json_lines(hello: TestClient, db: duckdb.DuckDBPyConnection) -> None:
    response = hello.get(f"{BASE}/facts", params={"format": "csv", "cut": "item:e"})
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="facts.csv"'
    lines = response.text.splitlines()
    assert lines[0] == (
        'id,Category,Category label,Sub-category,Subcategory label,Line Item,Year,"Amount (US$, millions)"'
    )
    expected = sql(db, "SELECT id, amount FROM balance WHERE category = 'e' ORDER BY id")
    # the key column is filled (Cubes headed it with the key's name but left it empty)
    assert [(int(line.split(",")[0]), int(line.rsplit(",", 1)[1])) for line in lines[1:]] == [
        (row["id"], row["amount"]) for row in expected
    ]
    names = hello.get(f"{BASE}/facts", params={"format": "csv", "header": "names", "fields": "year"}).text
    assert names.splitlines()[:2] == ["__fact_key__,year", "1,2010"]
    lines = hello.get(f"{BASE}/facts", params={"format": "json_lines", "fields": "amount"}).text.splitlines()
    assert [json.loads(line) for line in lines] == sql(db, "SELECT id AS __fact_key__, amount FROM balance ORDER BY id")
    paged = hello.get(f"{BASE}/facts", params={"format": "csv", "header": "none", "page": "2", "pagesize": "10"}).text
    assert [int(line.split(",")[0]) for line in paged.splitlines()] == list(range(21, 31))


def test_export_reads_every_page() -> None:
    client = TestClient(create_app(example_engine("hello_world", max_page_size=7, default_page_size=7,
                                                  slicer_json_record_limit=7)))  # fmt: skip
    lines = client.get(f"{BASE}/facts", params={"format": "json_lines", "fields": "year"}).text.splitlines()
    assert [json.loads(line)["__fact_key__"] for line in lines] == list(range(1, 63))
    paged = client.get(f"{BASE}/facts", params={"format": "json_lines", "page": "1", "pagesize": "20"}).text
    assert [json.loads(line)["__fact_key__"] for line in paged.splitlines()] == list(range(21, 41))


# ---- one fact ------------------------------------------------------------------------------------
@pytest.mark.parametrize("fact_id", [1, 5, 33, 62])
def test_fact_by_id_is_that_fact(hello: TestClient, db: duckdb.DuckDBPyConnection, fact_id: int) -> None:
    # Cubes 1.1 answered the first fact for every id that exists; each id gets its own fact here.
    assert get(hello, f"fact/{fact_id}") == sql(db, f"SELECT {FACT} FROM balance WHERE id = ?", [fact_id])[0]


@pytest.mark.parametrize("fact_id", ["999", "0", "abc", "1.5"])
def test_unknown_fact_is_a_missing_object(hello: TestClient, fact_id: str) -> None:
    error = assert_flat_error(hello.get(f"{BASE}/fact/{fact_id}"), 404, "missing_object")
    assert (error["object"], error["object_type"]) == (fact_id, "fact")


# ---- members -------------------------------------------------------------------------------------
def test_members_full_depth_by_default(hello: TestClient, db: duckdb.DuckDBPyConnection) -> None:
    body = get(hello, "members/item")
    assert (body["dimension"], body["hierarchy"], body["depth"]) == ("item", "default", 3)
    assert body["data"] == sql(
        db,
        'SELECT DISTINCT category AS "item.category", category_label AS "item.category_label", subcategory AS '
        '"item.subcategory", subcategory_label AS "item.subcategory_label", line_item AS "item.line_item" '
        "FROM balance ORDER BY 1, 3, 5",
    )


def test_members_depth_level_cut_and_paging(hello: TestClient, db: duckdb.DuckDBPyConnection) -> None:
    categories = get(hello, "members/item", depth=1)
    assert categories["depth"] == 1
    assert categories["data"] == sql(
        db,
        'SELECT DISTINCT category AS "item.category", category_label AS "item.category_label" FROM balance ORDER BY 1',
    )
    by_level = get(hello, "members/item", level="subcategory", cut="item:l")
    assert by_level["depth"] == 2
    assert [row["item.subcategory"] for row in by_level["data"]] == [
        row["subcategory"]
        for row in sql(db, "SELECT DISTINCT subcategory FROM balance WHERE category = 'l' ORDER BY 1")
    ]
    page = get(hello, "members/item", depth=2, page=1, pagesize=4)["data"]
    assert page == get(hello, "members/item", depth=2)["data"][4:8]
    assert get(hello, "members/year")["data"] == [{"year": 2009}, {"year": 2010}]


def test_members_parameter_errors(hello: TestClient) -> None:
    error = assert_flat_error(hello.get(f"{BASE}/members/item?depth=1&level=category"), 400, "request")
    assert error["message"] == "Both depth and level provided, use only one (preferably level)"
    error = assert_flat_error(hello.get(f"{BASE}/members/item?depth=x"), 400, "request")
    assert error["message"] == "depth should be an integer"
    assert_flat_error(hello.get(f"{BASE}/members/item?depth=4"), 400, "hierarchy")
    assert_flat_error(hello.get(f"{BASE}/members/item?level=nope"), 400, "hierarchy")
    assert_flat_error(hello.get(f"{BASE}/members/item?hierarchy=nope"), 400, "hierarchy")
    error = assert_flat_error(hello.get(f"{BASE}/members/nope"), 404, "missing_object")
    assert (error["object"], error["object_type"]) == ("nope", "dimension")


def test_members_as_csv_and_json_lines(hello: TestClient) -> None:
    csv = hello.get(f"{BASE}/members/item", params={"depth": "1", "format": "csv"})
    assert csv.headers["content-disposition"] == 'attachment; filename="members.csv"'
    assert csv.text.splitlines() == ["category,category_label", "a,Assets", "e,Equity", "l,Liabilities"]
    lines = hello.get(f"{BASE}/members/item", params={"depth": "1", "format": "json_lines"}).text.splitlines()
    assert json.loads(lines[0]) == {"item.category": "a", "item.category_label": "Assets"}


# ---- cell ----------------------------------------------------------------------------------------
def test_cell_describes_each_cut_with_its_members(hello: TestClient) -> None:
    body = get(hello, "cell", cut="item:a,da|year:2009-2010|item:e;l")
    assert body == {
        "cube": "irbd_balance",
        "cuts": [
            {"type": "point", "dimension": "item", "hierarchy": "default", "level_depth": 2, "invert": False,
             "hidden": False, "path": ["a", "da"],
             "details": [
                 {"item.category": "a", "item.category_label": "Assets", "_key": "a", "_label": "Assets"},
                 {"item.subcategory": "da", "item.subcategory_label": "Derivative Assets", "_key": "da",
                  "_label": "Derivative Assets"}]},
            {"type": "range", "dimension": "year", "hierarchy": "default", "level_depth": 1, "invert": False,
             "hidden": False, "from": ["2009"], "to": ["2010"],
             "details": {"from": [{"year": 2009, "_key": 2009, "_label": 2009}],
                         "to": [{"year": 2010, "_key": 2010, "_label": 2010}]}},
            {"type": "set", "dimension": "item", "hierarchy": "default", "level_depth": 1, "invert": False,
             "hidden": False, "paths": [["e"], ["l"]],
             "details": [[{"item.category": "e", "item.category_label": "Equity", "_key": "e", "_label": "Equity"}],
                         [{"item.category": "l", "item.category_label": "Liabilities", "_key": "l",
                           "_label": "Liabilities"}]]},
        ],
    }  # fmt: skip


def test_cell_of_no_cut_and_of_missing_members(hello: TestClient) -> None:
    assert get(hello, "cell") == {"cube": "irbd_balance", "cuts": []}
    cuts = get(hello, "cell", cut="!item:zz|year:-2009")["cuts"]
    assert cuts[0]["invert"] is True and cuts[0]["details"] is None
    assert cuts[1]["from"] == [] and cuts[1]["details"] == {"from": [], "to": [{"year": 2009, "_key": 2009,
                                                                              "_label": 2009}]}  # fmt: skip
