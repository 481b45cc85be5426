"""``POST /v1/admin/refresh``: append facts, replace a day of facts, or rebuild, over HTTP.

Off unless ``CUBE_ADMIN`` is on and the app serves a project directory; every refusal and every bad request is
an answer in the error envelope that changes nothing: neither the fact files nor the store's current version.
Each test works on its own copy of a small generated project (6,000 charges) whose store was built once.
"""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import CUBE, assert_error, write_project
from fastapi.testclient import TestClient

from aggregates.store import CuboidStore
from api.app import create_app
from cube_server.build import build_store
from cube_server.project import Project, load_project, open_engine
from cube_server.settings import Settings
from cube_server.telecom import generate_telecom

BASE = f"/v1/cubes/{CUBE}"
REFRESH = "/v1/admin/refresh"
DAY = "2024-03-01"


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("admin")
    generate_telecom(root / "base", 6_000, 5, chunk_rows=2_000)
    generate_telecom(root / "pool", 2_000, 9, chunk_rows=2_000)
    return {"base": root / "base", "pool": root / "pool"}


def copy_project(datasets: dict[str, Path], where: Path) -> Project:
    data = where / "data"
    shutil.copytree(datasets["base"], data)
    return load_project(write_project(where / "project", data))


def build(project: Project) -> str:
    engine = open_engine(load_project(project.root), Settings(), use_store=False)
    return build_store(engine, CuboidStore(project.store_dir)).manifest.version


def write_rows(path: Path, sql: str) -> Path:
    duckdb.connect().execute(f"COPY ({sql}) TO '{path}' (FORMAT parquet)")
    return path


def facts_glob(project: Project) -> str:
    return f"read_parquet('{project.data_root / 'facts'}/*.parquet')"


def new_charges(datasets: dict[str, Path], path: Path, rows: int = 500) -> Path:
    """Charges of another dataset, moved to fresh keys: new ones, not copies."""
    pool = f"read_parquet('{datasets['pool'] / 'facts'}/*.parquet')"
    return write_rows(path, f"SELECT * REPLACE (charge_id + 10000000 AS charge_id) FROM {pool} LIMIT {rows}")


def corrected_day(project: Project, path: Path, day: str = DAY) -> Path:
    """The charges of one day with their revenue changed."""
    return write_rows(
        path,
        f"SELECT * REPLACE (revenue * 2 + 1 AS revenue) FROM {facts_glob(project)} "
        f"WHERE charged_at::DATE = DATE '{day}'",
    )


def state_of(project: Project) -> tuple[list[str], str | None, list[str], str]:
    """What a refresh changes: the fact files, the store's current version and versions, the facts' fingerprint."""
    facts = sorted(path.name for path in (project.data_root / "facts").iterdir())
    store = CuboidStore(project.store_dir)
    versions_dir = store.root / "versions"
    versions = sorted(path.name for path in versions_dir.iterdir()) if versions_dir.is_dir() else []
    return facts, store.current_version(), versions, project.version()


def client_of(project: Project, *, with_project: bool = True, **settings: Any) -> TestClient:
    """The admin API may read the test's files: the project's parent directory is the test's own."""
    settings.setdefault("admin_files", str(project.root.parent))
    engine = open_engine(project, Settings(**settings))
    return TestClient(create_app(engine, project=project if with_project else None))


def ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return json.loads(response.text, parse_float=Decimal)  # type: ignore[no-any-return]


def total(client: TestClient, **params: str) -> dict[str, Any]:
    return ok(client.get(f"{BASE}/aggregate", params={"measures": "record_count,revenue", **params}))


def facts_total(project: Project, cut: str | None = None) -> dict[str, Any]:
    """The same totals from an engine that never uses the store."""
    app = TestClient(create_app(open_engine(load_project(project.root), Settings(), use_store=False)))
    return total(app, **({"cut": cut} if cut else {}))


@pytest.fixture(scope="module")
def template(datasets: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with its store built once, copied by the tests that need one."""
    where = tmp_path_factory.mktemp("template")
    build(copy_project(datasets, where))
    return where


@pytest.fixture
def built(template: Path, tmp_path: Path) -> Project:
    """A copy of the built project: its fact files keep their names, sizes and times, so its store stays current."""
    shutil.copytree(template / "data", tmp_path / "data")
    shutil.copytree(template / "project", tmp_path / "project")
    project = load_project(write_project(tmp_path / "project", tmp_path / "data"))
    manifest = CuboidStore(project.store_dir).current()
    assert manifest is not None and manifest.facts_version == project.version()
    return project


# ---- off unless switched on -----------------------------------------------------------------------------
def test_the_admin_api_is_off_by_default(built: Project, datasets: dict[str, Path], tmp_path: Path) -> None:
    client = client_of(built)
    appended = new_charges(datasets, tmp_path / "new.parquet")
    before = state_of(built)
    for body in (
        {"mode": "append", "file": str(appended)},
        {"mode": "replace", "from": DAY, "to": DAY, "file": str(corrected_day(built, tmp_path / "day.parquet"))},
        {"mode": "full"},
    ):
        error = assert_error(client.post(REFRESH, json=body), 403, "forbidden")
        assert "CUBE_ADMIN" in error["message"]
    assert state_of(built) == before
    assert total(client)["summary"]["record_count"] == 6_000


def test_the_admin_api_needs_a_project(built: Project, datasets: dict[str, Path], tmp_path: Path) -> None:
    client = client_of(built, with_project=False, admin=True)
    before = state_of(built)
    for body in ({"mode": "append", "file": str(new_charges(datasets, tmp_path / "new.parquet"))}, {"mode": "full"}):
        error = assert_error(client.post(REFRESH, json=body), 403, "forbidden")
        assert "project" in error["message"]
    assert state_of(built) == before


def test_the_admin_route_is_post_only(built: Project) -> None:
    client = client_of(built, admin=True)
    assert_error(client.get(REFRESH), 405, "method_not_allowed")


# ---- append, replace, full ------------------------------------------------------------------------------
def test_append_replace_and_full_refreshes(built: Project, datasets: dict[str, Path], tmp_path: Path) -> None:
    client = client_of(built, admin=True)
    store = CuboidStore(built.store_dir)
    v1 = store.current_version()
    first = total(client)
    assert first["meta"]["version"] == v1 and first["summary"]["record_count"] == 6_000

    # append: a new version, the new charges counted in it
    appended = ok(client.post(REFRESH, json={"mode": "append", "file": str(new_charges(datasets, tmp_path / "a.pq"))}))
    assert appended["mode"] == "append" and appended["rows_added"] == 500 and appended["rows_removed"] == 0
    v2 = appended["version"]
    assert v2 != v1 and store.current_version() == v2 and appended["elapsed_s"] >= 0
    manifest = store.current()
    assert manifest is not None and manifest.facts_version == built.version()
    assert sorted(appended["cuboids"]) == sorted(f"{CUBE}.{cuboid.name}" for cuboid in manifest.cuboids)
    after_append = total(client)
    assert after_append["meta"]["version"] == v2 and after_append["meta"]["source"].startswith("cuboid:")
    assert after_append["summary"]["record_count"] == first["summary"]["record_count"] + appended["rows_added"]
    assert after_append["summary"] == facts_total(built)["summary"]
    assert any(name.startswith("append-") for name in state_of(built)[0])

    # replace: one day's charges, their revenue changed
    day_file = corrected_day(built, tmp_path / "day.parquet")
    day_rows = duckdb.connect().execute(f"SELECT count(*) FROM '{day_file}'").fetchone()[0]  # type: ignore[index]
    assert day_rows > 0
    day_cut = "time:2024,1,3,1"
    day_before = total(client, cut=day_cut)["summary"]
    replaced = ok(client.post(REFRESH, json={"mode": "replace", "from": DAY, "to": DAY, "file": str(day_file)}))
    assert replaced["mode"] == "replace" and replaced["rows_added"] == replaced["rows_removed"] == day_rows
    v3 = replaced["version"]
    assert v3 not in (v1, v2) and store.current_version() == v3
    day_after = total(client, cut=day_cut)
    assert day_after["meta"]["version"] == v3 and day_after["meta"]["source"].startswith("cuboid:")
    assert day_after["summary"]["record_count"] == day_before["record_count"] == day_rows
    assert day_after["summary"]["revenue"] == 2 * day_before["revenue"] + day_rows
    assert day_after["summary"] == facts_total(built, day_cut)["summary"]
    after_replace = total(client)
    assert after_replace["summary"]["record_count"] == after_append["summary"]["record_count"]
    assert after_replace["summary"] == facts_total(built)["summary"]

    # full: a rebuild into a new version, the same answers
    rebuilt = ok(client.post(REFRESH, json={"mode": "full"}))
    assert rebuilt["mode"] == "full" and rebuilt["elapsed_s"] >= 0
    v4 = rebuilt["version"]
    assert v4 not in (v1, v2, v3) and store.current_version() == v4
    after_full = total(client)
    assert after_full["meta"]["version"] == v4 and after_full["meta"]["source"].startswith("cuboid:")
    assert after_full["summary"] == after_replace["summary"]
    # the earlier versions' answers are still readable while they are kept
    pinned = ok(client.get(f"{BASE}/aggregate", params={"measures": "record_count,revenue", "version": v2}))
    assert pinned["summary"] == after_append["summary"]


def test_replace_with_an_empty_file_deletes_the_range(built: Project, tmp_path: Path) -> None:
    client = client_of(built, admin=True)
    day_rows = total(client, cut="time:2024,1,3,1")["summary"]["record_count"]
    assert day_rows > 0
    empty = write_rows(tmp_path / "empty.parquet", f"SELECT * FROM {facts_glob(built)} WHERE false")
    replaced = ok(client.post(REFRESH, json={"mode": "replace", "from": DAY, "to": DAY, "file": str(empty)}))
    assert replaced["rows_added"] == 0 and replaced["rows_removed"] == day_rows
    assert total(client, cut="time:2024,1,3,1")["summary"]["record_count"] == 0
    assert total(client)["summary"]["record_count"] == 6_000 - day_rows


@pytest.mark.parametrize("first", ["append", "replace"])
def test_full_right_after_a_refresh_builds_from_the_facts_as_they_are(
    built: Project, datasets: dict[str, Path], tmp_path: Path, first: str
) -> None:
    client = client_of(built, admin=True)
    if first == "append":
        body = {"mode": "append", "file": str(new_charges(datasets, tmp_path / "new.parquet"))}
    else:
        body = {"mode": "replace", "from": DAY, "to": DAY, "file": str(corrected_day(built, tmp_path / "day.pq"))}
    ok(client.post(REFRESH, json=body))
    # no query in between: the next request is the rebuild
    rebuilt = ok(client.post(REFRESH, json={"mode": "full"}))
    manifest = CuboidStore(built.store_dir).current()
    assert manifest is not None and manifest.version == rebuilt["version"]
    assert manifest.facts_version == built.version()
    answer = total(client)
    assert answer["meta"]["version"] == rebuilt["version"] and answer["meta"]["source"].startswith("cuboid:")
    assert answer["summary"] == facts_total(built)["summary"]


# ---- bad requests change nothing ------------------------------------------------------------------------
def bad_bodies(project: Project, datasets: dict[str, Path], where: Path) -> list[tuple[dict[str, Any], str]]:
    appended = str(new_charges(datasets, where / "new.parquet"))
    next_day = str(corrected_day(project, where / "next-day.parquet", "2024-03-02"))
    wrong_columns = write_rows(where / "wrong.parquet", f"SELECT * EXCLUDE (revenue) FROM {facts_glob(project)}")
    wrong_types = write_rows(
        where / "types.parquet", f"SELECT * REPLACE ('a lot' AS revenue) FROM {facts_glob(project)}"
    )
    not_parquet = where / "notes.parquet"
    not_parquet.write_text("not parquet", encoding="utf-8")
    empty = write_rows(where / "empty.parquet", f"SELECT * FROM {facts_glob(project)} WHERE false")
    return [
        ({"mode": "append", "file": str(where / "absent.parquet")}, "invalid_refresh"),
        ({"mode": "append", "file": str(where)}, "invalid_refresh"),  # a directory, not a file
        ({"mode": "append", "file": str(wrong_columns)}, "invalid_refresh"),
        ({"mode": "append", "file": str(wrong_types)}, "invalid_refresh"),
        ({"mode": "append", "file": str(not_parquet)}, "invalid_refresh"),
        ({"mode": "append", "file": str(empty)}, "invalid_refresh"),
        ({"mode": "append"}, "invalid_parameter"),
        ({"mode": "append", "file": ""}, "invalid_parameter"),
        ({"mode": "replace", "file": next_day}, "invalid_parameter"),
        ({"mode": "replace", "from": DAY, "file": next_day}, "invalid_parameter"),
        ({"mode": "replace", "from": DAY, "to": DAY}, "invalid_parameter"),
        ({"mode": "replace", "from": DAY, "to": DAY, "file": next_day}, "invalid_refresh"),  # rows outside
        ({"mode": "replace", "from": "March", "to": DAY, "file": next_day}, "invalid_refresh"),
        ({"mode": "replace", "from": "2024-03-03", "to": DAY, "file": next_day}, "invalid_refresh"),  # empty range
        ({"mode": "rebuild"}, "invalid_parameter"),
        ({"mode": "full", "force": True}, "invalid_parameter"),
        ({"mode": "append", "file": appended, "start": DAY}, "invalid_parameter"),  # the field is "from"
        ({}, "invalid_parameter"),
        ({"mode": ["append"], "file": appended}, "invalid_parameter"),
        ({"mode": "append", "file": "x" * 5_000}, "invalid_parameter"),
    ]


def test_bad_requests_are_400_and_change_nothing(built: Project, datasets: dict[str, Path], tmp_path: Path) -> None:
    client = client_of(built, admin=True)
    before = state_of(built)
    for body, code in bad_bodies(built, datasets, tmp_path):
        error = assert_error(client.post(REFRESH, json=body), 400, code)
        assert state_of(built) == before, body
        if code == "invalid_parameter" and "mode" not in body:
            assert error["details"]["problems"][0]["location"] == "body.mode", error
    assert_error(client.post(REFRESH, content=b"{not json", headers={"content-type": "application/json"}), 400,
                 "invalid_parameter")  # fmt: skip
    assert_error(client.post(REFRESH, json=["full"]), 400, "invalid_parameter")
    assert state_of(built) == before
    assert total(client)["meta"]["version"] == before[1]
    assert not list((built.data_root / "facts").glob("*.tmp")) and not list(built.store_dir.glob("versions/.staging-*"))


def test_a_store_not_built_yet_is_409(datasets: dict[str, Path], tmp_path: Path) -> None:
    project = copy_project(datasets, tmp_path)
    client = client_of(project, admin=True)
    before = state_of(project)
    assert before[1] is None
    appended = new_charges(datasets, tmp_path / "new.parquet")
    for body in (
        {"mode": "append", "file": str(appended)},
        {"mode": "replace", "from": DAY, "to": DAY, "file": str(corrected_day(project, tmp_path / "day.parquet"))},
    ):
        error = assert_error(client.post(REFRESH, json=body), 409, "store_not_current")
        assert "build" in error["message"]
        assert state_of(project) == before
    # a full refresh is the build it asks for; then appends work
    version = ok(client.post(REFRESH, json={"mode": "full"}))["version"]
    assert CuboidStore(project.store_dir).current_version() == version
    assert total(client)["meta"]["version"] == version
    assert ok(client.post(REFRESH, json={"mode": "append", "file": str(appended)}))["rows_added"] == 500


def test_a_store_behind_the_facts_is_409(built: Project, datasets: dict[str, Path], tmp_path: Path) -> None:
    client = client_of(built, admin=True)
    shutil.copy(new_charges(datasets, tmp_path / "dropped.parquet"), built.data_root / "facts" / "dropped.parquet")
    before = state_of(built)
    body = {"mode": "append", "file": str(new_charges(datasets, tmp_path / "new.parquet", 10))}
    assert_error(client.post(REFRESH, json=body), 409, "store_not_current")
    assert state_of(built) == before


def test_a_refresh_while_another_build_holds_the_lock_is_409(
    built: Project, datasets: dict[str, Path], tmp_path: Path
) -> None:
    client = client_of(built, admin=True)
    bodies = [
        {"mode": "append", "file": str(new_charges(datasets, tmp_path / "new.parquet"))},
        {"mode": "replace", "from": DAY, "to": DAY, "file": str(corrected_day(built, tmp_path / "day.parquet"))},
        {"mode": "full"},
    ]
    before = state_of(built)
    with CuboidStore(built.store_dir).lock():
        for body in bodies:
            error = assert_error(client.post(REFRESH, json=body), 409, "build_in_progress")
            assert "running" in error["message"]
            assert state_of(built) == before, body
    # the lock released, the same request goes through
    assert ok(client.post(REFRESH, json=bodies[0]))["rows_added"] == 500


# ---- the files it may read ---------------------------------------------------------------------------------------
def test_files_are_read_only_inside_the_admin_files_directory(
    built: Project, datasets: dict[str, Path], tmp_path: Path
) -> None:
    """By default ``incoming/`` of the project: a relative name starts there; a file elsewhere is refused, unread."""
    client = client_of(built, admin=True, admin_files="incoming")
    outside = new_charges(datasets, tmp_path / "new.parquet")
    before = state_of(built)
    for name in (str(outside), "../../new.parquet", f"incoming/../../{outside.name}"):
        error = assert_error(client.post(REFRESH, json={"mode": "append", "file": name}), 403, "forbidden")
        assert "CUBE_ADMIN_FILES" in error["message"]
    (built.root / "incoming").mkdir()
    (built.root / "incoming" / "link.parquet").symlink_to(outside)
    assert_error(client.post(REFRESH, json={"mode": "append", "file": "link.parquet"}), 403, "forbidden")
    assert state_of(built) == before
    shutil.copy(outside, built.root / "incoming" / "charges.parquet")
    appended = ok(client.post(REFRESH, json={"mode": "append", "file": "charges.parquet"}))
    assert appended["rows_added"] == 500
    assert Settings().admin_files == "incoming"
