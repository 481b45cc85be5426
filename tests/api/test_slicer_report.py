"""Slicer /cube/{cube}/report: several queries over one cell, each answering like its own endpoint."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from slicer_support import assert_flat_error, example_engine

from api.app import create_app

URL = "/cube/irbd_balance/report"


@pytest.fixture(scope="module")
def hello() -> TestClient:
    return TestClient(create_app(example_engine("hello_world")))


def report(client: TestClient, body: Any, method: str = "POST", **params: str) -> Any:
    response = client.request(method, URL, params=params, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_each_query_answers_like_its_endpoint(hello: TestClient) -> None:
    queries = {
        "by_category": {"query": "aggregate", "drilldown": ["item"], "aggregates": ["amount_sum"]},
        "years": {"query": "members", "dimension": "year"},
        "some_facts": {"query": "facts", "fields": ["amount"], "page": 0, "page_size": 2},
        "fifth": {"query": "fact", "id": 5},
        "cell": {"query": "cell"},
        "details": {"query": "details"},
    }
    result = report(hello, {"queries": queries}, cut="year:2009")
    assert list(result) == list(queries)
    aggregate = hello.get(
        "/cube/irbd_balance/aggregate", params={"cut": "year:2009", "drilldown": "item", "aggregates": "amount_sum"}
    )
    assert result["by_category"] == aggregate.json()
    assert result["years"] == [{"year": 2009}]  # members are a bare array
    facts = hello.get(
        "/cube/irbd_balance/facts", params={"cut": "year:2009", "fields": "amount", "page": "0", "pagesize": "2"}
    )
    assert result["some_facts"] == facts.json() and len(result["some_facts"]) == 2
    assert result["fifth"] == hello.get("/cube/irbd_balance/fact/5").json()
    assert result["cell"] == hello.get("/cube/irbd_balance/cell", params={"cut": "year:2009"}).json()
    assert result["details"] == [[{"year": 2009, "_key": 2009, "_label": 2009}]]


def test_get_with_a_body_and_a_cell_that_replaces_the_url_cut(hello: TestClient) -> None:
    body = {
        "cell": [{"type": "set", "dimension": "item", "paths": [["e"], ["l"]]}],
        "queries": {"total": {"query": "aggregate", "aggregates": "record_count"}},
    }
    result = report(hello, body, method="GET", cut="year:2009")
    assert result["total"]["summary"] == {"record_count": 30}  # all of e and l over both years, not 2009's
    assert result["total"]["cell"][0]["paths"] == [["e"], ["l"]]


def test_drilldown_as_a_dict_order_pairs_and_split(hello: TestClient) -> None:
    query = {
        "query": "aggregate",
        "drilldown": {"item": "category"},
        "order": [["amount_sum", "desc"]],
        "split": "year:2010",
        "aggregates": ["amount_sum"],
    }
    cells = report(hello, {"queries": {"q": query}})["q"]["cells"]
    assert [(cell["item.category"], cell["__within_split__"]) for cell in cells][:2] == [("a", True), ("a", False)]


def test_rollup_lifts_point_cuts(hello: TestClient) -> None:
    queries = {
        "up": {"query": "cell", "rollup": "item"},
        "to_top": {"query": "cell", "rollup": {"item": "category"}},
        "gone": {"query": "cell", "rollup": ["item", "year"]},
    }
    result = report(hello, {"queries": queries}, cut="item:a,da,Derivative Assets|year:2010")
    assert [cut["path"] for cut in result["up"]["cuts"]] == [["a", "da"], ["2010"]]
    assert [cut["path"] for cut in result["to_top"]["cuts"]] == [["a"], ["2010"]]
    assert [cut["path"] for cut in result["gone"]["cuts"]] == [["a", "da"]]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"nothing": 1}, "Report request does not contain 'queries' key"),
        ({"queries": {"q": {"query": "pivot"}}}, "unknown type"),
        ({"queries": {"q": {"query": "fact"}}}, "needs a key"),
        ({"queries": {"q": {"query": "members"}}}, "needs a dimension"),
        ({"queries": {}, "cell": [{"type": "point"}]}, "cut object"),
        ({"queries": {"q": {"query": "cell", "rollup": 3}}}, "rollup"),
    ],
)
def test_bad_reports_are_request_errors(hello: TestClient, body: Any, message: str) -> None:
    error = assert_flat_error(hello.post(URL, json=body), 400, "request")
    assert message in error["message"]


def test_empty_or_unparsable_bodies_are_400_not_500(hello: TestClient) -> None:
    assert_flat_error(hello.post(URL), 400, "request")
    assert_flat_error(hello.post(URL, content=b"queries=1", headers={"content-type": "text/plain"}), 400, "request")
    assert_flat_error(hello.post("/cube/nope/report", json={"queries": {}}), 404, "missing_object")
