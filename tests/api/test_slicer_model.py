"""Slicer /version, /info, /cubes, /cube/{cube}/model; and every example cube browsed as CubesViewer does.

CubesViewer reads the model's refs and names, then asks /aggregate, /members and /facts with explicit
``dim@hierarchy:level`` drilldowns, ``@hierarchy`` cuts escaped by cubes.js, and date-filter ranges, and
reads rows by the refs the model gave it. The session below does the same on every example cube.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from slicer_support import example_engine, ssb_sample_engine

from api.app import create_app
from cube_server.cut_syntax import format_path
from cube_server.project import load_project

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def hello() -> TestClient:
    return TestClient(create_app(example_engine("hello_world")))


@pytest.fixture(scope="module")
def foodmart() -> TestClient:
    return TestClient(create_app(example_engine("foodmart")))


@pytest.fixture(scope="module")
def ssb(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    if load_project(ROOT / "examples" / "ssb").missing_tables():
        pytest.skip("the SSB data is not in the shared datasets")
    return TestClient(create_app(ssb_sample_engine(tmp_path_factory.mktemp("ssb_slicer"))))


# ---- version, info, cubes ------------------------------------------------------------------------
def test_version_says_api_version_2(hello: TestClient) -> None:
    body = hello.get("/version").json()
    assert body["api_version"] == 2 and body["version"] == "1.1" and body["server_version"]


def test_info_has_every_key_in_cubes_order(hello: TestClient) -> None:
    body = hello.get("/info").json()
    assert list(body) == [
        "name", "label", "description", "copyright", "license", "maintainer", "contributors", "visualizers",
        "keywords", "related", "json_record_limit", "cubes_version", "timezone", "first_weekday", "api_version",
        "authentication",
    ]  # fmt: skip
    assert body["label"] == "Cubes hello world: IBRD balance sheet"
    assert body["json_record_limit"] == 1000 and body["cubes_version"] == "1.1" and body["api_version"] == 2
    assert body["timezone"] == "UTC" and body["first_weekday"] == 0
    assert body["authentication"] == {"type": "none"}


def test_info_reports_the_calendar_settings() -> None:
    client = TestClient(create_app(example_engine("hello_world", timezone="Asia/Shanghai", first_weekday=6)))
    body = client.get("/info").json()
    assert (body["timezone"], body["first_weekday"]) == ("Asia/Shanghai", 6)


def test_cubes_lists_name_label_category_info(hello: TestClient, foodmart: TestClient) -> None:
    assert hello.get("/cubes").json() == [
        {"name": "irbd_balance", "label": "IBRD balance sheet", "category": None, "info": {}}
    ]
    assert [cube["name"] for cube in foodmart.get("/cubes").json()] == ["sales", "warehouse"]


def test_prettyprint_indents_by_four(hello: TestClient) -> None:
    assert hello.get("/version?prettyprint=true").text.startswith('{\n    "version"')
    assert "\n" not in hello.get("/version?prettyprint=no").text


# ---- the model -----------------------------------------------------------------------------------
def test_hello_world_model(hello: TestClient) -> None:
    model = hello.get("/cube/irbd_balance/model").json()
    assert list(model) == [
        "name", "info", "label", "aggregates", "measures", "details", "dimensions", "key", "features"
    ]  # fmt: skip
    assert model["aggregates"] == [
        {"name": "amount_sum", "info": {}, "label": "Amount (US$, millions)", "ref": "amount_sum",
         "function": "sum", "measure": "amount"},
        {"name": "record_count", "info": {}, "label": "Record count", "ref": "record_count", "function": "count"},
    ]  # fmt: skip
    assert model["measures"] == [{"name": "amount", "info": {}, "label": "Amount (US$, millions)", "ref": "amount"}]
    assert model["details"] == []
    assert model["key"] == "id"
    assert model["features"]["actions"] == ["aggregate", "fact", "members", "facts", "cell"]
    item, year = model["dimensions"]
    assert item["levels"][0] == {
        "name": "category", "info": {}, "label": "Category", "key": "category",
        "label_attribute": "category_label", "order_attribute": "category", "order": "asc",
        "attributes": [
            {"name": "category", "info": {}, "label": "Category", "ref": "item.category", "locales": []},
            {"name": "category_label", "info": {}, "label": "Category label", "ref": "item.category_label",
             "locales": []},
        ],
    }  # fmt: skip
    assert item["hierarchies"] == [
        {"name": "default", "info": {}, "label": "Default", "levels": ["category", "subcategory", "line_item"]}
    ]
    assert (item["is_flat"], item["has_details"], item["default_hierarchy_name"]) == (False, True, "default")
    # A flat dimension without details is referred to by its bare name, as Cubes 1.1 does.
    assert year["role"] == "time" and year["info"] == {}
    assert year["levels"][0]["attributes"][0]["ref"] == "year"
    assert year["levels"][0]["label_attribute"] == "year"
    assert (year["is_flat"], year["has_details"]) == (True, False)


def test_flat_refs_can_follow_later_cubes() -> None:
    client = TestClient(create_app(example_engine("hello_world", slicer_bare_flat_refs=False)))
    year = client.get("/cube/irbd_balance/model").json()["dimensions"][1]
    assert year["levels"][0]["attributes"][0]["ref"] == "year.year"
    cells = client.get("/cube/irbd_balance/aggregate?drilldown=year").json()["cells"]
    assert [cell["year.year"] for cell in cells] == [2009, 2010]


def test_model_omits_nulls_but_keeps_info(foodmart: TestClient) -> None:
    model = foodmart.get("/cube/sales/model").json()
    dimensions = {dimension["name"]: dimension for dimension in model["dimensions"]}
    time = dimensions["time"]
    assert time["role"] == "time" and time["info"] == {}
    assert [h["name"] for h in time["hierarchies"]] == ["default", "weekly"]
    assert time["description"].startswith("Calendar") and "category" not in time and "cardinality" not in time
    assert all(level["role"] for level in time["levels"] if level["name"] in ("year", "quarter", "month"))
    # details are listed with derived labels
    assert model["details"][0] == {
        "name": "product_id", "info": {}, "label": "Product id", "ref": "product_id", "locales": []
    }  # fmt: skip
    profit = next(a for a in model["aggregates"] if a["name"] == "profit")
    assert "function" not in profit and profit["formula"]


# ---- CubesViewer's contract, on every example cube -------------------------------------------------
EXAMPLES = ["hello", "foodmart", "ssb", "client"]  # "client" is the telecom demo of tests/conftest.py


@pytest.fixture(params=EXAMPLES)
def example(request: pytest.FixtureRequest) -> TestClient:
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def key_ref(level: dict[str, Any]) -> str:
    """CubesViewer's Level.key(): the attribute named by ``key``, else the first one."""
    by_name = {attribute["name"]: attribute for attribute in level["attributes"]}
    return str(by_name.get(level["key"], level["attributes"][0])["ref"])


def label_ref(level: dict[str, Any]) -> str:
    by_name = {attribute["name"]: attribute for attribute in level["attributes"]}
    return str(by_name[level["label_attribute"]]["ref"]) if level.get("label_attribute") in by_name else key_ref(level)


def check_model_fields(model: dict[str, Any]) -> None:
    """Every field CubesViewer reads from /model is there, with the type it expects."""
    for key in ("name", "label", "info", "aggregates", "measures", "details", "dimensions", "features"):
        assert key in model, key
    assert isinstance(model["info"], dict)
    for aggregate in model["aggregates"]:
        assert {"ref", "name", "label", "info"} <= set(aggregate) and isinstance(aggregate["info"], dict)
        assert aggregate.get("function") or aggregate.get("formula")
    for item in model["measures"] + model["details"]:
        assert {"ref", "name", "label", "info"} <= set(item) and isinstance(item["info"], dict)
    for dimension in model["dimensions"]:
        assert {"name", "label", "info", "default_hierarchy_name", "levels", "hierarchies"} <= set(dimension)
        assert isinstance(dimension["info"], dict)  # "cv-datefilter" in dim.info must not throw
        level_names = [level["name"] for level in dimension["levels"]]
        assert dimension["default_hierarchy_name"] in [h["name"] for h in dimension["hierarchies"]]
        for hierarchy in dimension["hierarchies"]:
            assert {"name", "label", "info", "levels"} <= set(hierarchy)
            assert set(hierarchy["levels"]) <= set(level_names)
        for level in dimension["levels"]:
            assert {"name", "label", "info", "key", "label_attribute", "order_attribute", "attributes"} <= set(level)
            names = [attribute["name"] for attribute in level["attributes"]]
            assert {level["key"], level["label_attribute"], level["order_attribute"]} <= set(names)
            for attribute in level["attributes"]:
                assert {"ref", "name", "label"} <= set(attribute)


def test_every_example_cube_browses_like_cubesviewer(example: TestClient) -> None:
    info = example.get("/info").json()
    for key in ("cubes_version", "api_version", "json_record_limit", "timezone", "first_weekday"):
        assert key in info
    for cube in example.get("/cubes").json():
        assert {"name", "label", "info"} <= set(cube)
        model = example.get(f"/cube/{cube['name']}/model").json()
        check_model_fields(model)
        for dimension in model["dimensions"]:
            browse_dimension(example, cube["name"], model, dimension, info["json_record_limit"])
        export_facts(example, cube["name"], model["dimensions"][0])


def export_facts(client: TestClient, cube: str, dimension: dict[str, Any]) -> None:
    """CubesViewer's "export facts": the facts of a cell as CSV, every row (no record limit)."""
    members = client.get(f"/cube/{cube}/members/{dimension['name']}", params={"page": "0", "pagesize": "1"})
    levels = {level["name"]: level for level in dimension["levels"]}
    hierarchy = next(h for h in dimension["hierarchies"] if h["name"] == dimension["default_hierarchy_name"])
    member = members.json()["data"][0]
    path = tuple(str(member[key_ref(levels[name])]) for name in hierarchy["levels"])
    cut = f"{dimension['name']}@{hierarchy['name']}:{format_path(path)}"
    count = client.get(f"/cube/{cube}/aggregate", params={"cut": cut}).json()["summary"]
    export = client.get(f"/cube/{cube}/facts", params={"cut": cut, "format": "csv"})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert export.headers["content-disposition"] == 'attachment; filename="facts.csv"'
    lines = export.text.splitlines()
    counts = [value for name, value in count.items() if name in ("record_count", "sales_count", "fact_count")]
    assert len(lines) > 1 and "\x00" not in export.text
    if counts:
        assert len(lines) - 1 == counts[0]


def browse_dimension(
    client: TestClient, cube: str, model: dict[str, Any], dimension: dict[str, Any], record_limit: int
) -> None:
    base = f"/cube/{cube}"
    aggregates = [aggregate["ref"] for aggregate in model["aggregates"]]
    hierarchy = next(h for h in dimension["hierarchies"] if h["name"] == dimension["default_hierarchy_name"])
    levels = {level["name"]: level for level in dimension["levels"]}
    top = levels[hierarchy["levels"][0]]
    drilldown = f"{dimension['name']}@{hierarchy['name']}:{top['name']}"
    high = top.get("cardinality") == "high"
    paging = {"page": "0", "pagesize": "20"} if high else {}
    answer = client.get(f"{base}/aggregate", params={"drilldown": drilldown, **paging})
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert set(aggregates) <= set(result["summary"])
    assert 0 < len(result["cells"]) <= record_limit
    for row in result["cells"]:
        assert {key_ref(top), label_ref(top), *aggregates} <= set(row)
    # the dimension filter dialog: members of the top level
    members = client.get(f"{base}/members/{dimension['name']}", params={"hierarchy": hierarchy["name"], "depth": "1"})
    assert members.status_code == 200, members.text
    data = members.json()["data"]
    assert data and all({key_ref(top), label_ref(top)} <= set(row) for row in data)
    # a filter on the first member, written as cubes.js writes it (escaped, with @hierarchy)
    member = next(row[key_ref(top)] for row in data if row[key_ref(top)] is not None)
    cut = f"{dimension['name']}@{hierarchy['name']}:{format_path((str(member),))}"
    facts = client.get(f"{base}/facts", params={"cut": cut})
    assert facts.status_code == 200, facts.text
    rows = facts.json()
    assert 0 < len(rows) <= record_limit
    assert all(str(row[key_ref(top)]) == str(member) for row in rows)
    assert {measure["ref"] for measure in model["measures"]} <= set(rows[0])
    if dimension.get("role") == "time" and not high:
        # a date filter over every year there is answers the whole cube
        keys = sorted(row[key_ref(top)] for row in data if row[key_ref(top)] is not None)
        span = f"{dimension['name']}@{hierarchy['name']}:{format_path((str(keys[0]),))}-{format_path((str(keys[-1]),))}"
        within = client.get(f"{base}/aggregate", params={"cut": span}).json()["summary"]
        everything = client.get(f"{base}/aggregate").json()["summary"]
        nulls = any(row[key_ref(top)] is None for row in data)
        if not nulls:
            assert within == everything
