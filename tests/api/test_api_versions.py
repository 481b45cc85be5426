"""Consistent drill sequences over HTTP: every answer names the store version it read, and ``version=`` reads it again.

A dashboard drilling from years into months passes back the ``meta.version`` of its first answer, so a refresh
that switched versions in between never mixes two versions into one sequence. A pinned version stays readable
for the grace period after the switch, unless answering from it would need facts that have changed since; then,
and for an unknown or expired version, the answer is 410 ``version_unavailable`` in the error envelope.

The projects are a small generated dataset (6,000 charges, plus 3,000 more to append) whose store is built
once and then copied, store and fact files together, into each test's temporary directory, so appends and
rebuilds never touch another test's files.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import CUBE, assert_error, write_project
from fastapi.testclient import TestClient

import aggregates.store as store_module
from aggregates.store import CuboidStore, Manifest
from api.app import create_app
from cube_server.build import build_store
from cube_server.engine import CubeEngine
from cube_server.project import Project, load_project, open_engine
from cube_server.refresh import append_facts
from cube_server.settings import Settings
from cube_server.telecom import generate_telecom

BASE = f"/v1/cubes/{CUBE}"
YEARS = {"drilldown": "time:year", "measures": "revenue"}
MONTHS_OF_2025 = {"cut": "time:2025", "drilldown": "time:month", "measures": "revenue"}
# customer:customer is in no declared cuboid (checked below): this is answered from the facts
CUSTOMERS = {"drilldown": "customer:customer", "measures": "revenue", "limit": "5", "order": "customer.customer"}


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("versions")
    generate_telecom(root / "base", 6_000, 5, chunk_rows=2_000)
    generate_telecom(root / "pool", 3_000, 9, chunk_rows=3_000)
    # the pool's charges moved to fresh keys: appended charges are new ones, not copies
    appended = root / "appended.parquet"
    duckdb.connect().execute(
        f"COPY (SELECT * REPLACE (charge_id + 10000000 AS charge_id) "
        f"FROM read_parquet('{root / 'pool' / 'facts'}/*.parquet')) TO '{appended}' (FORMAT parquet)"
    )
    return {"base": root / "base", "appended": appended}


def copy_project(datasets: dict[str, Path], where: Path) -> Project:
    data = where / "data"
    shutil.copytree(datasets["base"], data)
    return load_project(write_project(where / "project", data))


@pytest.fixture(scope="module")
def template(datasets: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with its store built once, copied by the tests that need one."""
    where = tmp_path_factory.mktemp("template")
    build(copy_project(datasets, where))
    return where


def copy_built(template: Path, where: Path) -> Project:
    """A copy of the built project: its fact files keep their names, sizes and times, so its store stays current."""
    shutil.copytree(template / "data", where / "data")
    shutil.copytree(template / "project", where / "project")
    project = load_project(write_project(where / "project", where / "data"))
    manifest = CuboidStore(project.store_dir).current()
    assert manifest is not None and manifest.facts_version == project.version()
    return project


def current_version(project: Project) -> str:
    version = CuboidStore(project.store_dir).current_version()
    assert version is not None
    return version


def build(project: Project, grace_s: float = store_module.DEFAULT_GRACE_S) -> Manifest:
    engine = open_engine(load_project(project.root), Settings(), use_store=False)
    return build_store(engine, CuboidStore(project.store_dir, grace_s)).manifest


def refresh_engine(project: Project) -> CubeEngine:
    return open_engine(load_project(project.root), Settings(), use_store=False)


def client_of(project: Project, **settings: Any) -> TestClient:
    return TestClient(create_app(open_engine(project, Settings(**settings)), project=project))


def ok(response: Any) -> dict[str, Any]:
    """The JSON answer with exact decimals."""
    assert response.status_code == 200, response.text
    return json.loads(response.text, parse_float=Decimal)  # type: ignore[no-any-return]


def without_meta(answer: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in answer.items() if key != "meta"}


@pytest.fixture
def project(template: Path, tmp_path: Path) -> Project:
    """A project of its own, its store built (version v1)."""
    return copy_built(template, tmp_path)


@dataclass(frozen=True)
class Switched:
    """A project whose store went from v1 to v2 by an append, and the answers read before the switch."""

    project: Project
    client: TestClient
    v1: str
    v2: str
    years: dict[str, Any]
    months: dict[str, Any]
    appended_rows: int


@pytest.fixture(scope="module")
def switched(datasets: dict[str, Path], template: Path, tmp_path_factory: pytest.TempPathFactory) -> Switched:
    project = copy_built(template, tmp_path_factory.mktemp("switched"))
    v1 = current_version(project)
    client = client_of(project)
    years, months = (
        ok(client.get(f"{BASE}/aggregate", params=YEARS)),
        ok(client.get(f"{BASE}/aggregate", params=MONTHS_OF_2025)),
    )
    assert years["meta"]["version"] == months["meta"]["version"] == v1
    report = append_facts(refresh_engine(project), project, CuboidStore(project.store_dir), datasets["appended"])
    assert report.rows_added > 0 and report.manifest.version != v1
    return Switched(project, client, v1, report.manifest.version, years, months, report.rows_added)


# ---- every answer names its version ---------------------------------------------------------------------
def test_every_answer_carries_the_version_it_read(project: Project) -> None:
    manifest = CuboidStore(project.store_dir).current()
    assert manifest is not None
    client = client_of(project)
    current = CuboidStore(project.store_dir).current_version()
    assert current == manifest.version
    json_answers = [
        client.get(f"{BASE}/aggregate", params=YEARS),
        client.get(f"{BASE}/aggregate", params=CUSTOMERS),  # from the facts, still the store's version
        client.get(f"{BASE}/drilldown", params={"dimension": "time", "measures": "revenue"}),
        client.get(f"{BASE}/pivot", params={"rows": "product:line", "columns": "time:year", "measures": "revenue"}),
        client.get(f"{BASE}/members/product"),
        client.get(f"{BASE}/facts", params={"limit": "1"}),
        client.post(f"{BASE}/query", json={"operation": "aggregate", **YEARS}),
    ]
    for response in json_answers:
        answer = ok(response)
        assert answer["meta"]["version"] == current, response.url
        assert response.headers["X-Cube-Version"] == current, response.url
    csv = client.get(f"{BASE}/aggregate", params={**YEARS, "format": "csv"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert csv.headers["X-Cube-Version"] == current
    assert json.loads(csv.headers["X-Cube-Meta"])["version"] == current
    assert ok(client.get(f"{BASE}/explain", params=YEARS))["version"] == current
    # the version of the first answer, passed back, is the current one: the same answer
    first = ok(json_answers[0])
    assert without_meta(ok(client.get(f"{BASE}/aggregate", params={**YEARS, "version": current}))) == without_meta(
        first
    )


# ---- pinning across a switch ----------------------------------------------------------------------------
def test_a_pinned_drill_sequence_reads_the_version_before_an_append(switched: Switched) -> None:
    client, v1, v2 = switched.client, switched.v1, switched.v2
    assert CuboidStore(switched.project.store_dir).current_version() == v2
    # without version=: the new version, with the appended charges
    latest = ok(client.get(f"{BASE}/aggregate", params=YEARS))
    assert latest["meta"]["version"] == v2
    assert latest["summary"]["revenue"] != switched.years["summary"]["revenue"]
    counts = ok(client.get(f"{BASE}/aggregate", params={"measures": "record_count"}))
    assert counts["meta"]["version"] == v2 and counts["summary"]["record_count"] == 6_000 + switched.appended_rows
    # pinned to v1: exactly the answer read before the switch, cells and summary
    pinned = ok(client.get(f"{BASE}/aggregate", params={**YEARS, "version": v1}))
    assert pinned["meta"]["version"] == v1 and pinned["meta"]["source"].startswith("cuboid:")
    assert without_meta(pinned) == without_meta(switched.years)
    # one level deeper, still v1, still from a cuboid of v1
    months = ok(client.get(f"{BASE}/aggregate", params={**MONTHS_OF_2025, "version": v1}))
    assert months["meta"]["version"] == v1 and months["meta"]["source"].startswith("cuboid:"), months["meta"]
    assert without_meta(months) == without_meta(switched.months)
    latest_months = ok(client.get(f"{BASE}/aggregate", params=MONTHS_OF_2025))
    assert latest_months["meta"]["version"] == v2 and latest_months["cells"] != switched.months["cells"]
    # the month cells of v1 add up to its 2025 cell: one version throughout
    cell_2025 = next(c for c in switched.years["cells"] if c["time.year"] == 2025)
    assert sum(c["revenue"] for c in months["cells"]) == cell_2025["revenue"] == months["summary"]["revenue"]
    # the drilldown operation and a pin to the current version work as well
    two_down = {"cut": "time:2025", "dimension": "time", "depth": "2", "measures": "revenue", "version": v1}
    drilled = ok(client.get(f"{BASE}/drilldown", params=two_down))
    assert drilled["meta"]["version"] == v1 and drilled["cells"] == switched.months["cells"]
    assert without_meta(ok(client.get(f"{BASE}/aggregate", params={**YEARS, "version": v2}))) == without_meta(latest)


def test_post_query_honours_the_pin(switched: Switched) -> None:
    client, v1 = switched.client, switched.v1
    pinned = ok(client.post(f"{BASE}/query", json={"operation": "aggregate", "version": v1, **YEARS}))
    assert pinned["meta"]["version"] == v1 and without_meta(pinned) == without_meta(switched.years)
    latest = ok(client.post(f"{BASE}/query", json={"operation": "aggregate", **YEARS}))
    assert latest["meta"]["version"] == switched.v2 and latest["summary"] != switched.years["summary"]
    error = assert_error(
        client.post(f"{BASE}/query", json={"operation": "aggregate", "version": "nope", **YEARS}),
        410,
        "version_unavailable",
    )
    assert error["details"] == {"version": "nope"}


def test_customer_level_is_answered_from_the_facts(switched: Switched) -> None:
    """What the 410 tests below rely on: no cuboid holds the customer level, so that query reads the facts."""
    manifest = CuboidStore(switched.project.store_dir).load(switched.v1)
    assert manifest.cuboids and all("customer.customer" not in cuboid.levels for cuboid in manifest.cuboids)
    explained = ok(switched.client.get(f"{BASE}/explain", params=CUSTOMERS))
    assert explained["source"] == "facts"
    assert explained["candidates"] and not any(c.get("usable") for c in explained["candidates"])
    answer = ok(switched.client.get(f"{BASE}/aggregate", params=CUSTOMERS))
    assert answer["meta"]["source"] == "facts" and answer["meta"]["version"] == switched.v2


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("aggregate", CUSTOMERS),
        ("explain", CUSTOMERS),
        ("members/product", {}),
        ("members/customer", {"level": "customer", "limit": "3"}),
        ("facts", {"limit": "1"}),
    ],
)
def test_a_pinned_version_that_would_read_changed_facts_is_gone(
    switched: Switched, path: str, params: dict[str, str]
) -> None:
    client = switched.client
    # unpinned, the same request reads the facts as they are now
    latest = ok(client.get(f"{BASE}/{path}", params=params))
    assert (latest.get("meta") or latest)["version"] == switched.v2
    error = assert_error(
        client.get(f"{BASE}/{path}", params={**params, "version": switched.v1}), 410, "version_unavailable"
    )
    assert error["details"] == {"version": switched.v1} and "facts have changed" in error["message"]


def test_a_pinned_version_reads_the_facts_while_they_are_unchanged(project: Project) -> None:
    """A plain rebuild switches versions without changing the facts: the earlier version may still read them."""
    v1 = current_version(project)
    client = client_of(project)
    first = ok(client.get(f"{BASE}/aggregate", params=CUSTOMERS))
    assert first["meta"] == {**first["meta"], "source": "facts", "version": v1}
    v2 = build(project).version
    assert v2 != v1 and CuboidStore(project.store_dir).current_version() == v2
    pinned = ok(client.get(f"{BASE}/aggregate", params={**CUSTOMERS, "version": v1}))
    assert pinned["meta"]["version"] == v1 and pinned["meta"]["source"] == "facts"
    assert without_meta(pinned) == without_meta(first)
    assert ok(client.get(f"{BASE}/aggregate", params=CUSTOMERS))["meta"]["version"] == v2
    for path, params in (("members/product", {}), ("facts", {"limit": "1"})):
        answer = ok(client.get(f"{BASE}/{path}", params={**params, "version": v1}))
        assert answer["meta"]["version"] == v1
        assert without_meta(answer) == without_meta(ok(client.get(f"{BASE}/{path}", params=params)))


# ---- versions that are not kept -------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["nope", "../x", "..", ".staging-x", "20250101T000000-00000000", "a/b"])
def test_an_unknown_version_is_gone(switched: Switched, version: str) -> None:
    for path in ("aggregate", "members/product", "facts"):
        error = assert_error(
            switched.client.get(f"{BASE}/{path}", params={**YEARS, "version": version}), 410, "version_unavailable"
        )
        assert error["details"] == {"version": version}


def test_an_expired_version_is_gone(project: Project) -> None:
    v1 = current_version(project)
    client = client_of(project, version_grace_s=0)
    assert ok(client.get(f"{BASE}/aggregate", params=YEARS))["meta"]["version"] == v1
    v2 = build(project, grace_s=0).version
    # the previous version is still on disk (queries in flight may read it), but no longer readable by a pin
    store = CuboidStore(project.store_dir, 0)
    assert store.previous_version() == v1 and store.version_dir(v1).is_dir() and not store.is_kept(v1)
    for path, params in (("aggregate", YEARS), ("members/product", {}), ("facts", {"limit": "1"})):
        assert_error(client.get(f"{BASE}/{path}", params={**params, "version": v1}), 410, "version_unavailable")
    assert_error(
        client.post(f"{BASE}/query", json={"operation": "aggregate", "version": v1, **YEARS}),
        410,
        "version_unavailable",
    )
    assert ok(client.get(f"{BASE}/aggregate", params=YEARS))["meta"]["version"] == v2
    # the same versions, served with the default grace: v1 is readable
    assert ok(client_of(project).get(f"{BASE}/aggregate", params={**YEARS, "version": v1}))["meta"]["version"] == v1


def test_a_version_removed_from_disk_is_gone(project: Project) -> None:
    v1 = current_version(project)
    client = client_of(project)
    build(project)
    assert ok(client.get(f"{BASE}/aggregate", params={**YEARS, "version": v1}))["meta"]["version"] == v1
    build(project)  # v1 is neither current nor previous now, but still within its grace
    assert ok(client.get(f"{BASE}/aggregate", params={**YEARS, "version": v1}))["meta"]["version"] == v1
    shutil.rmtree(CuboidStore(project.store_dir).version_dir(v1))
    assert_error(client.get(f"{BASE}/aggregate", params={**YEARS, "version": v1}), 410, "version_unavailable")


def test_a_store_stale_behind_changed_facts_answers_unpinned_requests_from_the_facts(
    project: Project, datasets: dict[str, Path]
) -> None:
    """Facts dropped in beside the store (no refresh): the store is not used, and no request is refused for it."""
    v1 = current_version(project)
    client = client_of(project)
    shutil.copy(datasets["appended"], project.data_root / "facts" / "dropped-in.parquet")
    for path, params in (("aggregate", YEARS), ("aggregate", CUSTOMERS), ("members/product", {}), ("facts", {})):
        answer = ok(client.get(f"{BASE}/{path}", params=params))
        assert answer["meta"]["source"] == "facts" and answer["meta"]["version"] == project.version()
    counts = ok(client.get(f"{BASE}/aggregate", params={"measures": "record_count"}))
    assert counts["summary"]["record_count"] == 9_000
    # pinning the store version still reads that version's cuboids, never the changed facts
    pinned = ok(client.get(f"{BASE}/aggregate", params={**YEARS, "version": v1}))
    assert pinned["meta"]["version"] == v1 and pinned["meta"]["source"].startswith("cuboid:")
    assert_error(client.get(f"{BASE}/aggregate", params={**CUSTOMERS, "version": v1}), 410, "version_unavailable")


def test_routes_taking_a_version_document_410() -> None:
    paths = create_app().openapi()["paths"]
    for path in ("aggregate", "drilldown", "rollup", "slice", "pivot", "members/{dimension}", "facts", "explain"):
        assert "410" in paths[f"{BASE.replace(CUBE, '{cube}')}/{path}"]["get"]["responses"], path
    assert "410" in paths["/v1/cubes/{cube}/query"]["post"]["responses"]


# ---- the store: retired versions and their grace ---------------------------------------------------------
def publish(store: CuboidStore, version: str) -> None:
    """What a build does, without cuboids: write a staging version, then publish it."""
    store.staging_dir(version).mkdir(parents=True)
    store.publish(Manifest(version, "2025-01-01T00:00:00Z", "model", "facts", ()))


def on_disk(store: CuboidStore) -> list[str]:
    return sorted(path.name for path in (store.root / "versions").iterdir())


NAMES = ["20250101T000001-00000001", "20250101T000002-00000002", "20250101T000003-00000003"]


def test_publish_retires_the_previous_version(tmp_path: Path) -> None:
    store = CuboidStore(tmp_path / "store", grace_s=600)
    publish(store, NAMES[0])
    assert store.retired() == {} and store.is_kept(NAMES[0])
    before = time.time()
    publish(store, NAMES[1])
    retired = store.retired()
    assert list(retired) == [NAMES[0]] and before <= retired[NAMES[0]] <= time.time()
    assert store.previous_version() == NAMES[0] and store.is_kept(NAMES[0]) and store.is_kept(NAMES[1])
    publish(store, NAMES[2])
    assert sorted(store.retired()) == NAMES[:2]
    assert on_disk(store) == NAMES and all(store.is_kept(name) for name in NAMES)
    assert not store.is_kept("nope") and not store.is_kept("") and not store.is_kept("../" + NAMES[0])


def test_gc_keeps_versions_within_the_grace_and_always_the_previous_one(tmp_path: Path) -> None:
    generous, strict = CuboidStore(tmp_path / "a", grace_s=3_600), CuboidStore(tmp_path / "b", grace_s=0)
    for name in NAMES:
        publish(generous, name)
        publish(strict, name)
    assert on_disk(generous) == NAMES and generous.collect_garbage() == []
    assert on_disk(strict) == NAMES[1:]  # the current and the previous one: a query may be reading it
    assert strict.collect_garbage() == [] and on_disk(strict) == NAMES[1:]
    assert strict.is_kept(NAMES[2]) and not strict.is_kept(NAMES[1])  # on disk, but past its grace


def test_gc_removes_a_version_once_its_grace_has_passed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = CuboidStore(tmp_path / "store", grace_s=100)
    for name in NAMES:
        publish(store, name)
    assert on_disk(store) == NAMES and store.is_kept(NAMES[0])
    later = time.time() + 101

    class Later:
        """The store's clock, 101 s on."""

        def __getattr__(self, name: str) -> Any:
            return getattr(time, name)

        @staticmethod
        def time() -> float:
            return later

    monkeypatch.setattr(store_module, "time", Later())
    assert not store.is_kept(NAMES[0]) and not store.is_kept(NAMES[1]) and store.is_kept(NAMES[2])
    assert store.collect_garbage() == [NAMES[0]]
    assert on_disk(store) == NAMES[1:]  # the previous one stays past its grace
    # the next publish forgets retirements older than the grace
    publish(store, "20250101T000004-00000004")
    assert store.retired() == {NAMES[2]: later}
    assert on_disk(store) == [*NAMES[2:], "20250101T000004-00000004"]
