"""The cuboid store over HTTP: ``GET /v1/cubes/{cube}/cuboids``, ``meta.source``/``X-Cube-Source`` of routed
answers, ``explain``'s candidates, and a new version switched in under a running app without a restart.

The project is the session's 60,000 generated telecom rows with the model's declared cuboids, its store
in a temporary directory. Every routed answer is compared with the answer of an app whose engine never
uses the store (``use_store=False``): the same JSON, decimals digit for digit, except ``meta``.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import CUBE, assert_error, store_project
from fastapi.testclient import TestClient

from aggregates.lattice import declared_cuboids
from aggregates.store import CuboidStore, Manifest
from api.app import create_app
from cube_server.build import build_store
from cube_server.project import Project, open_engine
from cube_server.settings import Settings

BASE = f"/v1/cubes/{CUBE}"
ROUTED_QUERIES = [
    # (query string, the cuboid expected to answer it)
    ({"cut": "time:2025", "drilldown": "geography:province", "measures": "revenue"}, "month_city_product"),
    ({"drilldown": "customer:segment", "measures": "revenue,subscribers,arpu"}, "segment_branch"),
    ({"cut": "time:2025", "drilldown": "customer:segment", "measures": "subscribers"}, "year_segment_branch"),
    ({"drilldown": "product:line", "measures": "revenue,record_count"}, "line_segment"),
    ({"cut": "time:2025,1", "drilldown": "time:month|channel", "measures": "revenue"}, "month_segment_channel"),
    ({"drilldown": "time@weekly:isoweek", "cut": "product:data_services", "measures": "call_minutes"}, None),
]


def build(project: Project) -> Manifest:
    return build_store(open_engine(project, Settings(), use_store=False), CuboidStore(project.store_dir)).manifest


@pytest.fixture(scope="module")
def project(telecom_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    return store_project(tmp_path_factory.mktemp("api-cuboids"), telecom_data)


@pytest.fixture(scope="module")
def manifest(project: Project) -> Manifest:
    return build(project)


@pytest.fixture(scope="module")
def routed(project: Project, manifest: Manifest) -> TestClient:
    return TestClient(create_app(open_engine(project, Settings())))


@pytest.fixture(scope="module")
def facts(project: Project) -> TestClient:
    return TestClient(create_app(open_engine(project, Settings(), use_store=False)))


def body(response: Any) -> dict[str, Any]:
    """The JSON answer with exact decimals, without its meta."""
    assert response.status_code == 200, response.text
    parsed = json.loads(response.text, parse_float=Decimal)
    parsed.pop("meta", None)
    return parsed  # type: ignore[no-any-return]


# ---- GET /cuboids --------------------------------------------------------------------------------------
def test_cuboids_lists_the_serving_versions_cuboids(routed: TestClient, manifest: Manifest, project: Project) -> None:
    response = routed.get(f"{BASE}/cuboids")
    assert response.status_code == 200, response.text
    listing = response.json()
    assert listing["cube"] == CUBE and listing["status"] == "serving"
    assert listing["version"] == manifest.version and listing["built_at"] == manifest.built_at
    cube = open_engine(project, Settings(), use_store=False).cube(CUBE)
    assert [c["name"] for c in listing["cuboids"]] == [c.name for c in manifest.cuboids]
    assert {c["name"] for c in listing["cuboids"]} == {spec.name for spec in declared_cuboids(cube)}
    version_dir = CuboidStore(project.store_dir).version_dir(manifest.version)
    for item, cuboid in zip(listing["cuboids"], manifest.cuboids, strict=True):
        assert item["grain"] == [f"{d}@{h}:{level}" for d, h, level in cuboid.grain]
        assert item["levels"] == sorted(cuboid.levels)
        assert item["measures"] == ["revenue", "call_minutes", "record_count", "subscribers"]  # never arpu
        assert item["rows"] == cuboid.rows and item["rows"] > 0
        files = sorted((version_dir / cuboid.path).rglob("*.parquet"))
        assert files and item["bytes"] == cuboid.bytes == sum(f.stat().st_size for f in files)
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", item["built_at"]), item
        assert item["built_from"] == cuboid.built_from
        assert item["partition_level"] == ("time.year" if "time.year" in cuboid.levels else None)
    by_name = {c["name"]: c for c in listing["cuboids"]}
    assert by_name["month_city_product"]["grain"] == [
        "geography@default:city",
        "product@default:product",
        "time@default:month",
    ]


def test_cuboids_of_an_engine_without_store(facts: TestClient) -> None:
    listing = facts.get(f"{BASE}/cuboids").json()
    assert listing == {"cube": CUBE, "status": "absent", "version": None, "built_at": None, "cuboids": []}


def test_cuboids_of_an_unknown_cube_is_404(routed: TestClient) -> None:
    assert_error(routed.get("/v1/cubes/no_such_cube/cuboids"), 404, "cube_not_found")


# ---- routed answers ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("params", "expected"), ROUTED_QUERIES)
def test_aggregate_from_a_cuboid_names_it_and_equals_facts(
    routed: TestClient, facts: TestClient, manifest: Manifest, params: dict[str, str], expected: str | None
) -> None:
    response = routed.get(f"{BASE}/aggregate", params=params)
    meta = response.json()["meta"]
    assert meta["source"].startswith("cuboid:"), meta
    name = meta["source"].removeprefix("cuboid:")
    assert name in {c.name for c in manifest.cuboids}
    if expected is not None:
        assert name == expected
    assert response.headers["X-Cube-Source"] == meta["source"]
    assert response.headers["X-Cube-Version"] == meta["version"] == manifest.version
    from_facts = facts.get(f"{BASE}/aggregate", params=params)
    assert from_facts.json()["meta"]["source"] == "facts" and from_facts.headers["X-Cube-Source"] == "facts"
    assert body(response) == body(from_facts)
    # the same through CSV, and the POST body
    csv = routed.get(f"{BASE}/aggregate", params={**params, "format": "csv"})
    assert csv.headers["X-Cube-Source"] == meta["source"]
    assert csv.text == facts.get(f"{BASE}/aggregate", params={**params, "format": "csv"}).text
    posted = routed.post(f"{BASE}/query", json={"operation": "aggregate", **params})
    assert posted.headers["X-Cube-Source"] == meta["source"] and body(posted) == body(response)


def test_answers_the_store_cannot_give_come_from_facts(routed: TestClient, facts: TestClient) -> None:
    for params in (
        {"drilldown": "customer:customer", "limit": "5", "measures": "revenue"},  # high cardinality, not stored
        {"drilldown": "geography:city|channel", "measures": "revenue"},  # no cuboid has both
        {"drilldown": "product:line|time:month", "measures": "subscribers"},  # months of day_line would merge
    ):
        response = routed.get(f"{BASE}/aggregate", params=params)
        assert response.json()["meta"]["source"] == "facts" and response.headers["X-Cube-Source"] == "facts"
        assert body(response) == body(facts.get(f"{BASE}/aggregate", params=params))


def test_pivot_routed_equals_facts(routed: TestClient, facts: TestClient) -> None:
    params = {"rows": "product:line", "columns": "time:year", "measures": "revenue,subscribers,arpu"}
    response = routed.get(f"{BASE}/pivot", params=params)
    sources = response.json()["meta"]["sources"]
    assert sources["cells"] == response.headers["X-Cube-Source"] == response.json()["meta"]["source"]
    assert any(source.startswith("cuboid:") for source in sources.values()), sources
    assert body(response) == body(facts.get(f"{BASE}/pivot", params=params))


# ---- explain -------------------------------------------------------------------------------------------
def test_explain_lists_every_candidate_and_names_the_chosen_one(routed: TestClient, manifest: Manifest) -> None:
    params = {"operation": "aggregate", "drilldown": "product:line", "measures": "revenue,subscribers"}
    response = routed.get(f"{BASE}/explain", params=params)
    assert response.status_code == 200, response.text
    explained = response.json()
    candidates = explained["candidates"]
    assert [c["cuboid"] for c in candidates] == [c.name for c in manifest.cuboids]
    for candidate in candidates:
        assert set(candidate) == {"cuboid", "usable", "reason", "estimated_rows"}
        assert isinstance(candidate["reason"], str) and candidate["reason"]
        assert (candidate["estimated_rows"] is not None) == candidate["usable"]
    chosen = [c for c in candidates if c["reason"] == "chosen: fewest rows to scan"]
    assert len(chosen) == 1 and chosen[0]["usable"]
    assert explained["source"] == f"cuboid:{chosen[0]['cuboid']}" == response.headers["X-Cube-Source"]
    assert explained["version"] == manifest.version
    usable = [c["estimated_rows"] for c in candidates if c["usable"]]
    assert chosen[0]["estimated_rows"] == min(usable)
    rows = {c.name: c.rows for c in manifest.cuboids}
    assert all(c["estimated_rows"] == rows[c["cuboid"]] for c in candidates if c["usable"])  # no cut: no pruning
    by_name = {c["cuboid"]: c for c in candidates}
    assert by_name["month_city_product"] == {
        "cuboid": "month_city_product",
        "usable": False,
        "reason": "subscribers would be merged across members its key does not determine",
        "estimated_rows": None,
    }
    assert by_name["segment_branch"]["reason"] == "does not store product.line"
    # the SQL explain shows is the SQL that runs: it reads the chosen cuboid's view of this version
    sql = " ".join(statement["sql"] for statement in explained["statements"])
    assert f"cuboid_{manifest.version}_{CUBE}_{chosen[0]['cuboid']}" in sql
    # and running it answers from the same cuboid
    ran = routed.get(f"{BASE}/aggregate", params={k: v for k, v in params.items() if k != "operation"})
    assert ran.json()["meta"]["source"] == explained["source"]


def test_explain_estimates_after_partition_pruning(routed: TestClient, manifest: Manifest) -> None:
    params = {"operation": "aggregate", "cut": "time:2025", "drilldown": "product:line", "measures": "revenue"}
    candidates = routed.get(f"{BASE}/explain", params=params).json()["candidates"]
    by_name = {c.name: c for c in manifest.cuboids}
    for candidate in candidates:
        if candidate["usable"]:
            cuboid = by_name[candidate["cuboid"]]
            expected = cuboid.partitions["2025"] if cuboid.partition_level == "time.year" else cuboid.rows
            assert candidate["estimated_rows"] == expected, candidate
    pruned = [c for c in candidates if c["usable"] and by_name[c["cuboid"]].partition_level]
    assert pruned and all(c["estimated_rows"] < by_name[c["cuboid"]].rows for c in pruned)


def test_explain_of_a_facts_query_rejects_every_candidate(routed: TestClient, manifest: Manifest) -> None:
    explained = routed.get(
        f"{BASE}/explain", params={"operation": "aggregate", "drilldown": "customer:customer", "limit": "3"}
    ).json()
    assert explained["source"] == "facts"
    assert len(explained["candidates"]) == len(manifest.cuboids)
    assert all(not c["usable"] and c["estimated_rows"] is None for c in explained["candidates"])
    assert all("customer.customer" in c["reason"] for c in explained["candidates"])


# ---- a new version under a running app ---------------------------------------------------------------
def test_a_new_build_is_served_by_the_running_app_without_restart(telecom_data: Path, tmp_path: Path) -> None:
    project = store_project(tmp_path / "project", telecom_data)
    first = build(project)
    engine = open_engine(project, Settings())
    client = TestClient(create_app(engine))
    facts = TestClient(create_app(open_engine(project, Settings(), use_store=False)))
    params, expected = ROUTED_QUERIES[0]

    def check(version: str) -> None:
        listing = client.get(f"{BASE}/cuboids").json()
        assert listing["status"] == "serving" and listing["version"] == version
        response = client.get(f"{BASE}/aggregate", params=params)
        meta = response.json()["meta"]
        assert meta["version"] == response.headers["X-Cube-Version"] == version
        assert meta["source"] == response.headers["X-Cube-Source"] == f"cuboid:{expected}"
        assert body(response) == body(facts.get(f"{BASE}/aggregate", params=params))
        explained = client.get(f"{BASE}/explain", params={"operation": "aggregate", **params}).json()
        assert explained["version"] == version

    check(first.version)
    second = build(project)
    assert second.version != first.version
    check(second.version)  # the same app, the same engine
    store = CuboidStore(project.store_dir)
    assert store.version_dir(first.version).is_dir()  # the previous version is kept for queries in flight
    third = build(project)
    check(third.version)
    # versions switched away from stay for their grace period (which ones go when is test_store.py's business)
    kept = [path.name for path in (store.root / "versions").iterdir()]
    assert sorted(kept) == sorted([first.version, second.version, third.version])
    assert client.get("/ready").status_code == 200
