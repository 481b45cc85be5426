"""Row-level restrictions on every path, for each of the telecom demo's principals (head office, the
Guangdong province branch, the Shenzhen city branch).

For each principal, 300 random queries across the endpoints (``/v1`` aggregate, slice, drilldown, rollup,
pivot, members, facts, explain, the JSON body, cuboids; the Slicer surface's aggregate, members, facts,
one fact and cell; JSON and CSV). Each answer must equal the answer of an unrestricted app to the same
query with the restriction's cut written into it by hand, and no answer (body or headers) may name an
organisation member outside the restriction or show a revenue total that counts rows outside it.

The project is the session's 60,000 generated rows with a built cuboid store, so restricted answers are
routed to cuboids where the restriction's level allows, and the test checks that some are.
"""

from __future__ import annotations

import io
import json
import random
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import pytest
from fastapi.testclient import TestClient

from aggregates.store import CuboidStore
from api.app import create_app
from api.report_files import write_report
from cube_models.errors import CubeError, ForbiddenError
from cube_server.access import AccessControl, KeyStore, RoleBook, keys_path, roles_path
from cube_server.access.restricted import RestrictedEngine
from cube_server.access.roles import check_restrictions, parse_roles, principal_of
from cube_server.build import build_store
from cube_server.cut_syntax import format_cuts, format_drilldown, parse_cuts, parse_drilldown
from cube_server.engine import CubeEngine
from cube_server.errors import AccessConfigError
from cube_server.project import Project, load_project, open_engine
from cube_server.query import MembersQuery, Query, SetCut
from cube_server.reports import ReportRun, Sheet, build_query, load_reports, parse_period
from cube_server.resolve import bind_cuts
from cube_server.settings import Settings
from tests.conftest import CUBE, ROOT, assert_error, write_project

QUERIES_PER_PRINCIPAL = 300
DEMO_ROLES = ROOT / "examples" / "telecom" / "cube-server-roles.json"
REPORTS = ROOT / "examples" / "telecom" / "reports"
V1 = f"/v1/cubes/{CUBE}"
SLICER = f"/cube/{CUBE}"
PRINCIPALS = ("head_office", "guangdong_branch", "shenzhen_branch")

CUTS = [
    "time:2024",
    "time:2025",
    "time:2025,2",
    "time:2024,4,11",
    "time:2024,3-2025,1",
    "product:data_services",
    "product:ordinary_telephone;value_added",
    "customer:key_account",
    "!customer:public",
    "channel:web_portal",
    "!channel:business_hall",
    "organisation:hq",
    "organisation:hq,gd",
    "organisation:hq,gd,gd_sz",
    "organisation:hq,gd,gd_gz",
    "organisation:hq,bj",
    "organisation:hq,gd;hq,js",
    "!organisation:hq,gd,gd_dg",
    "geography:domestic",
]
DRILLDOWNS = [
    "time:year",
    "time:quarter",
    "time:month",
    "organisation",
    "organisation:province_branch",
    "organisation:city_branch",
    "product:line",
    "product:product",
    "customer:segment",
    "channel",
    "geography:province",
]
MEASURES = ["revenue", "record_count", "subscribers", "arpu", "call_minutes"]
MEMBER_LEVELS = [
    ("organisation", "province_branch"),
    ("organisation", "city_branch"),
    ("organisation", "head_office"),
    ("customer", "customer"),
    ("product", "product"),
    ("channel", "channel"),
    ("time", "month"),
    ("geography", "city"),
]
FACT_FIELDS = ["organisation.city_branch", "product.product", "revenue", "customer.customer", "time.day"]


# ---- the project, its principals and the two apps ------------------------------------------------
@pytest.fixture(scope="module")
def project(telecom_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    directory = write_project(tmp_path_factory.mktemp("restricted"), telecom_data)
    config = directory / "cube-server.toml"
    text = config.read_text(encoding="utf-8") + f'\n[store]\ndirectory = "{directory / "store"}"\n'
    config.write_text(f'reports = "{REPORTS}"\n' + text, encoding="utf-8")
    shutil.copy(DEMO_ROLES, directory / "cube-server-roles.json")
    loaded = load_project(directory)
    build_store(open_engine(loaded, Settings(), use_store=False), CuboidStore(loaded.store_dir))
    return loaded


@pytest.fixture(scope="module")
def engine(project: Project) -> CubeEngine:
    return open_engine(project, Settings(rate_limit_per_minute=0))  # limits are tested on their own


@pytest.fixture(scope="module")
def keys(project: Project) -> dict[str, str]:
    store = KeyStore(keys_path(Settings(), project.root))
    roles = RoleBook(roles_path(Settings(), project.root)).roles()
    return {name: store.create(f"{name} analyst", [name], roles)[1] for name in PRINCIPALS}


@pytest.fixture(scope="module")
def restrictions(project: Project) -> dict[str, str]:
    roles = RoleBook(roles_path(Settings(), project.root)).roles()
    return {name: format_cuts(roles[name].restriction_of(CUBE)) for name in PRINCIPALS}


@pytest.fixture(scope="module")
def guarded(project: Project, engine: CubeEngine) -> Iterator[TestClient]:
    access = AccessControl.from_settings(Settings(), project.root)
    access.check_roles(engine.catalog)
    with TestClient(create_app(engine, project=project, access=access)) as client:
        yield client


@pytest.fixture(scope="module")
def unrestricted(engine: CubeEngine) -> Iterator[TestClient]:
    with TestClient(create_app(engine)) as client:
        yield client


# ---- what each principal may not see -------------------------------------------------------------
@dataclass
class Secrets:
    """What no answer to a restricted principal may show: organisation members outside its restriction (their
    labels anywhere; their keys as the value of an organisation field) and totals counting rows outside it."""

    labels: set[str] = field(default_factory=set)
    totals: set[str] = field(default_factory=set)
    allowed_members: set[str] | None = None  # keys and labels of the organisation members inside

    def found_in(self, response: Any) -> list[str]:
        text = _text(response)
        found = sorted(secret for secret in self.labels | self.totals if secret in text)
        if self.allowed_members is not None and response.headers.get("content-type", "").startswith("application/json"):
            found += sorted(self._outside_members(response.json()))
        return found

    def _outside_members(self, body: Any) -> set[str]:
        assert self.allowed_members is not None
        if isinstance(body, list):
            return set().union(*(self._outside_members(item) for item in body))
        if not isinstance(body, dict):
            return set()
        outside = set()
        for key, value in body.items():
            if key.startswith("organisation.") and isinstance(value, str) and value not in self.allowed_members:
                outside.add(value)
            outside |= self._outside_members(value)
        return outside


def organisation_rows(data: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = duckdb.read_parquet(str(data / "organisation.parquet")).to_arrow_table().to_pylist()
    return rows


def _totals(client: TestClient, cut: str, drilldown: str) -> set[str]:
    params = {"measures": "revenue", "drilldown": drilldown, **({"cut": cut} if cut else {})}
    body = client.get(f"{V1}/aggregate", params=params).json()
    values = [body["summary"]["revenue"]] + [cell["revenue"] for cell in body["cells"]]
    return {str(value) for value in values if value is not None and len(str(value)) >= 7}


@pytest.fixture(scope="module")
def secrets(telecom_data: Path, unrestricted: TestClient, restrictions: dict[str, str]) -> dict[str, Secrets]:
    branches = organisation_rows(telecom_data)
    found = {}
    for name, restriction in restrictions.items():
        if not restriction:
            found[name] = Secrets()
            continue
        path = parse_cuts(restriction)[0].path  # ("hq", "gd") or ("hq", "gd", "gd_sz")
        outside = [
            b for b in branches if (b["head_office"], b["province_branch"], b["city_branch"])[: len(path)] != path
        ]
        inside = [b for b in branches if b not in outside]
        labels = set()
        for branch in outside:
            labels |= {branch["city_branch_name_en"], branch["city_branch_name_zh"]}
            if branch["province_branch"] != path[1]:
                labels |= {branch["province_branch_name_en"], branch["province_branch_name_zh"]}
        allowed = {value for branch in inside for value in branch.values() if isinstance(value, str)}
        breakdowns = ["time:year", "product:line", "customer:segment", "channel", "organisation:province_branch"]
        if len(path) > 2:
            breakdowns.append("organisation:city_branch")
        everything = set().union(*(_totals(unrestricted, "", d) for d in breakdowns))
        seen = set().union(*(_totals(unrestricted, restriction, d) for d in breakdowns))
        found[name] = Secrets(labels, everything - seen, allowed)
    return found


# ---- random queries ------------------------------------------------------------------------------
@dataclass
class Case:
    """One request of a principal, and the unrestricted request that must answer the same."""

    kind: str
    method: str
    path: str
    params: dict[str, Any]
    expected_path: str
    expected_params: dict[str, Any]
    body: dict[str, Any] | None = None
    expected_body: dict[str, Any] | None = None


def _with(restriction: str, cut: str) -> str:
    return "|".join(part for part in (cut, restriction) if part)


def _cut(rng: random.Random) -> str:
    return "|".join(rng.sample(CUTS, rng.choice([0, 0, 1, 1, 2])))


def _drilldown(rng: random.Random, most: int = 2) -> str:
    chosen: dict[str, str] = {}
    for item in rng.sample(DRILLDOWNS, rng.randint(1, most)):
        chosen.setdefault(item.partition(":")[0], item)  # one level per dimension
    return "|".join(chosen.values())


def _measures(rng: random.Random) -> str:
    return ",".join(rng.sample(MEASURES, rng.randint(1, 3)))


def make_case(rng: random.Random, restriction: str, engine: CubeEngine, fact_ids: dict[bool, list[int]]) -> Case:
    kind = rng.choice(
        [
            "aggregate", "aggregate", "slice", "drilldown", "drilldown", "rollup", "rollup", "pivot", "members",
            "members", "facts", "explain", "query", "cuboids", "slicer_aggregate", "slicer_members",
            "slicer_facts", "slicer_fact", "cell",
        ]
    )  # fmt: skip
    cut = _cut(rng)
    hand = _with(restriction, cut)
    fmt = {"format": "csv"} if rng.random() < 0.2 else {}

    def cut_of(text: str) -> dict[str, str]:
        return {"cut": text} if text else {}

    if kind in ("aggregate", "slice"):
        params = {"drilldown": _drilldown(rng), "measures": _measures(rng), **fmt}
        if rng.random() < 0.3:
            params |= {"order": "revenue-", "limit": rng.randint(1, 5)}
        return Case(kind, "GET", f"{V1}/{kind}", params | cut_of(cut), f"{V1}/{kind}", params | cut_of(hand))
    if kind == "drilldown":
        params = {"dimension": rng.choice(["organisation", "time", "product", "geography"]), "measures": "revenue"}
        return Case(kind, "GET", f"{V1}/drilldown", params | cut_of(cut), f"{V1}/drilldown", params | cut_of(hand))
    if kind == "rollup":
        drilldown = _drilldown(rng) if rng.random() < 0.5 else ""
        dimension = rng.choice(["organisation", "time", "product"])
        params = {"dimension": dimension, "measures": "revenue,record_count", "drilldown": drilldown}
        # Rolling up never lifts the restriction: the expected answer is the rolled-up query with it added.
        try:
            rolled, _ = engine.rollup_query(Query(CUBE, parse_cuts(cut), parse_drilldown(drilldown)), dimension, 1)
        except CubeError:  # a query that cannot be rolled up is refused alike with or without the restriction
            return Case(kind, "GET", f"{V1}/rollup", params | cut_of(cut), f"{V1}/rollup", params | cut_of(cut))
        expected = {"measures": "revenue,record_count", "drilldown": format_drilldown(rolled.drilldown)}
        expected |= cut_of(_with(restriction, format_cuts(rolled.cuts)))
        return Case(kind, "GET", f"{V1}/rollup", params | cut_of(cut), f"{V1}/aggregate", expected)
    if kind == "pivot":
        rows, columns = rng.sample(["organisation:province_branch", "time:year", "product:line", "customer:segment",
                                    "organisation:city_branch", "channel"], 2)  # fmt: skip
        if rows.partition(":")[0] == columns.partition(":")[0]:
            columns = "time:quarter"
        params = {"rows": rows, "columns": columns, "measures": _measures(rng), **fmt}
        return Case(kind, "GET", f"{V1}/pivot", params | cut_of(cut), f"{V1}/pivot", params | cut_of(hand))
    if kind == "members":
        dimension, level = rng.choice(MEMBER_LEVELS)
        params = {"level": level, "limit": rng.choice([5, 50, 500]), **fmt}
        if rng.random() < 0.2:
            params["search"] = rng.choice(["Branch", "g", "an"])
        path = f"{V1}/members/{dimension}"
        return Case(kind, "GET", path, params | cut_of(cut), path, params | cut_of(hand))
    if kind == "facts":
        params = {"fields": ",".join(rng.sample(FACT_FIELDS, 3)), "limit": rng.choice([3, 20]), "order": "charge_id"}
        params |= {"offset": rng.choice([0, 0, 7])} | fmt
        return Case(kind, "GET", f"{V1}/facts", params | cut_of(cut), f"{V1}/facts", params | cut_of(hand))
    if kind == "explain":
        params = {"operation": rng.choice(["aggregate", "pivot", "members", "facts"]), "measures": "revenue"}
        if params["operation"] == "aggregate":
            params["drilldown"] = _drilldown(rng)
        elif params["operation"] == "pivot":
            params |= {"rows": "organisation:province_branch", "columns": "time:year"}
        elif params["operation"] == "members":
            params |= {"dimension": "organisation", "level": "city_branch"}
        return Case(kind, "GET", f"{V1}/explain", params | cut_of(cut), f"{V1}/explain", params | cut_of(hand))
    if kind == "query":
        body = {
            "operation": "aggregate",
            "drilldown": _drilldown(rng).split("|"),
            "measures": _measures(rng).split(","),
        }
        return Case(kind, "POST", f"{V1}/query", {}, f"{V1}/query", {}, body | {"cut": cut.split("|") if cut else []},
                    body | {"cut": hand.split("|") if hand else []})  # fmt: skip
    if kind == "cuboids":
        return Case(kind, "GET", f"{V1}/cuboids", {}, f"{V1}/cuboids", {})
    if kind == "slicer_aggregate":
        params = {"drilldown": _drilldown(rng), "aggregates": "revenue,record_count"}
        params |= {"format": "csv"} if fmt else {}
        return Case(kind, "GET", f"{SLICER}/aggregate", params | cut_of(cut), f"{SLICER}/aggregate",
                    params | cut_of(hand))  # fmt: skip
    if kind == "slicer_members":
        dimension, level = rng.choice(MEMBER_LEVELS)
        params = {"level": level, "pagesize": 50}
        path = f"{SLICER}/members/{dimension}"
        return Case(kind, "GET", path, params | cut_of(cut), path, params | cut_of(hand))
    if kind == "slicer_facts":
        params = {"fields": ",".join(rng.sample(FACT_FIELDS, 2)), "pagesize": 10, "order": "charge_id"}
        return Case(kind, "GET", f"{SLICER}/facts", params | cut_of(cut), f"{SLICER}/facts", params | cut_of(hand))
    if kind == "slicer_fact":
        inside = not restriction or rng.random() < 0.5
        fact = rng.choice(fact_ids[inside])
        path = f"{SLICER}/fact/{fact}"
        # a fact outside the restriction is answered exactly as one that does not exist
        return Case(kind, "GET", path, {}, path if inside else f"{SLICER}/fact/999999999", {})
    params = {}
    return Case(kind, "GET", f"{SLICER}/cell", params | cut_of(cut), f"{SLICER}/cell", params | cut_of(cut))


# ---- comparing answers ---------------------------------------------------------------------------
def _text(response: Any) -> str:
    """Everything an answer shows: its body and the headers that carry data (X-Cube-Summary, ...)."""
    shown = {key: value for key, value in response.headers.items() if key.lower().startswith("x-cube")}
    return response.text + json.dumps(shown, ensure_ascii=False)


def _normal(kind: str, response: Any, restricted: bool) -> Any:
    if response.headers.get("content-type", "").startswith("text/csv"):
        return response.text
    body = response.json()
    if isinstance(body, dict):
        meta = body.get("meta")
        if isinstance(meta, dict):
            meta.pop("elapsed_ms", None)
            meta.pop("rolled_up_from", None)
        if kind == "explain" and restricted:
            body["candidates"] = [{**c, "estimated_rows": None} for c in body.get("candidates", [])]
        if kind == "cuboids" and restricted:
            body["cuboids"] = [{**c, "rows": None, "bytes": None} for c in body["cuboids"]]
        if kind == "slicer_aggregate":
            body.pop("cell", None)  # the cell echoes the cuts asked for, which differ by the restriction
    return body


def _cell_details_agree(got: Any, expected: Any) -> bool:
    """A cell's member details: as the unrestricted answer gives them, or null for a member outside."""
    if got is None or got == expected:
        return True
    if isinstance(got, dict) and isinstance(expected, dict):
        return got.keys() == expected.keys() and all(_cell_details_agree(got[k], expected[k]) for k in got)
    if isinstance(got, list) and isinstance(expected, list):
        return len(got) == len(expected) and all(map(_cell_details_agree, got, expected))
    return False


def _error(response: Any) -> tuple[str, str]:
    """The code (or Slicer type) and message of an error answer, of either surface."""
    body = response.json()
    error = body["error"]
    return (error["code"], error["message"]) if isinstance(error, dict) else (error, body["message"])


def check(case: Case, guarded: TestClient, unrestricted: TestClient, key: str, restricted: bool) -> Any:
    """Ask as the principal and unrestricted; the answers must agree. Returns the principal's answer."""
    got = guarded.request(case.method, case.path, params=case.params, json=case.body, headers={"X-API-Key": key})
    expected = unrestricted.request(
        case.method, case.expected_path, params=case.expected_params, json=case.expected_body
    )
    assert got.status_code == expected.status_code, (case, got.text, expected.text)
    if got.status_code != 200:
        # The same status; the code may differ where the restriction's cut makes the hand-written query fail
        # another check first (a drilldown below the deepest level before an unknown measure).
        if case.kind == "slicer_fact":  # the message names the id asked for
            asked = case.path.rpartition("/")[2]
            assert _error(got)[1].replace(asked, "?") == _error(expected)[1].replace("999999999", "?"), case
    elif case.kind == "cell":
        assert _cell_details_agree(got.json(), expected.json()), case
    else:
        assert _normal(case.kind, got, restricted) == _normal(case.kind, expected, restricted), case
        if restricted and case.kind == "cuboids":  # sizes count rows outside the restriction
            assert all(c["rows"] is None and c["bytes"] is None for c in got.json()["cuboids"])
        if restricted and case.kind == "explain":
            assert all(c["estimated_rows"] is None for c in got.json()["candidates"])
    return got


def _source(response: Any) -> str:
    if response.headers.get("x-cube-source"):
        return str(response.headers["x-cube-source"])
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("meta"), dict):
            return str(body["meta"].get("source", ""))
    return ""


@pytest.fixture(scope="module")
def fact_ids(unrestricted: TestClient, restrictions: dict[str, str]) -> dict[str, dict[bool, list[int]]]:
    """Per principal, fact ids inside (True) and outside (False) its restriction."""

    def ids(cut: str) -> list[int]:
        params = {"fields": "charge_id", "limit": 40, **({"cut": cut} if cut else {})}
        return [row["charge_id"] for row in unrestricted.get(f"{V1}/facts", params=params).json()["rows"]]

    return {
        name: {True: ids(restriction), False: ids(f"!{restriction}") if restriction else []}
        for name, restriction in restrictions.items()
    }


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_random_queries_answer_exactly_the_restricted_rows_and_reveal_nothing_else(
    principal: str,
    guarded: TestClient,
    unrestricted: TestClient,
    engine: CubeEngine,
    keys: dict[str, str],
    restrictions: dict[str, str],
    secrets: dict[str, Secrets],
    fact_ids: dict[str, dict[bool, list[int]]],
) -> None:
    rng = random.Random(f"restricted-{principal}")
    restriction = restrictions[principal]
    kinds: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    for _ in range(QUERIES_PER_PRINCIPAL):
        case = make_case(rng, restriction, engine, fact_ids[principal])
        got = check(case, guarded, unrestricted, keys[principal], bool(restriction))
        leaked = secrets[principal].found_in(got)
        assert not leaked, (case, leaked, got.text[:500])
        kinds[case.kind] += 1
        sources[_source(got).partition(":")[0]] += 1
    assert len(kinds) >= 15, kinds  # every kind of request was asked
    assert sources["cuboid"] >= 10, sources  # restricted answers still come from cuboids


# ---- the paths random queries do not reach: reports, workbooks, the Slicer report, admin -----------
RESTRICTED_PRINCIPALS = ("guangdong_branch", "shenzhen_branch")


def _hand_written_report(engine: CubeEngine, report: Any, period: str, restriction: str) -> ReportRun:
    """The report run query by query on the unrestricted engine, each with the restriction's cut added."""
    when = parse_period(period)
    sheets = []
    for query in report.queries:
        built = build_query(report, query, when, None)
        cells = engine.aggregate(replace(built, cuts=(*built.cuts, *parse_cuts(restriction))))
        sheets.append(Sheet(query, cells))
    return ReportRun(report, when, sheets[0].cells.meta.version, tuple(sheets))


@pytest.mark.parametrize("principal", RESTRICTED_PRINCIPALS)
@pytest.mark.parametrize(("name", "period"), [("monthly_revenue", "2025-03"), ("yearly_revenue", "2024")])
def test_reports_count_only_the_restricted_rows(
    principal: str, name: str, period: str, project: Project, engine: CubeEngine, guarded: TestClient,
    keys: dict[str, str], restrictions: dict[str, str], secrets: dict[str, Secrets],
) -> None:  # fmt: skip
    report = load_reports(project.reports_dir)[name]
    expected = _hand_written_report(engine, report, period, restrictions[principal])
    for query in report.queries:
        params = {"period": period, "format": "csv", "query": query.name}
        got = guarded.get(f"/v1/reports/{name}", params=params, headers={"X-API-Key": keys[principal]})
        assert got.status_code == 200, got.text
        assert got.content == write_report(expected, "csv", query.name).content
        assert not secrets[principal].found_in(got)


def _sheet_values(content: bytes) -> list[list[Any]]:
    book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    return [list(row) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)]


@pytest.mark.parametrize("principal", RESTRICTED_PRINCIPALS)
def test_workbooks_count_only_the_restricted_rows(
    principal: str, guarded: TestClient, unrestricted: TestClient, keys: dict[str, str],
    restrictions: dict[str, str], secrets: dict[str, Secrets],
) -> None:  # fmt: skip
    params = {"rows": "organisation:city_branch", "columns": "time:year", "measures": "revenue,record_count"}
    got = guarded.get(f"{V1}/workbook", params=params, headers={"X-API-Key": keys[principal]})
    expected = unrestricted.get(f"{V1}/workbook", params=params | {"cut": restrictions[principal]})
    assert got.status_code == expected.status_code == 200, got.text
    got_values, expected_values = _sheet_values(got.content), _sheet_values(expected.content)

    def without_cut(rows: list[list[Any]]) -> list[list[Any]]:
        # the sheets note the cut asked for (none by the principal, the restriction's in the hand-written query)
        # and the second they were written in, which may differ between the two downloads
        return [row for row in rows if not str(row[0]).startswith(("cut", "generated"))]

    assert without_cut(got_values) == without_cut(expected_values)
    assert len(without_cut(got_values)) == len(got_values) - 3
    shown = json.dumps([[str(value) for value in row] for row in got_values], ensure_ascii=False)
    assert not [secret for secret in secrets[principal].labels | secrets[principal].totals if secret in shown]


@pytest.mark.parametrize("principal", RESTRICTED_PRINCIPALS)
def test_slicer_reports_count_only_the_restricted_rows(
    principal: str, guarded: TestClient, unrestricted: TestClient, keys: dict[str, str],
    restrictions: dict[str, str], secrets: dict[str, Secrets],
) -> None:  # fmt: skip
    queries = {
        "by_branch": {"query": "aggregate", "drilldown": "organisation:city_branch", "aggregates": "revenue"},
        "total": {"query": "aggregate", "aggregates": "revenue,record_count"},
        "branches": {"query": "members", "dimension": "organisation", "depth": 3},
        "facts": {"query": "facts", "fields": ["organisation.city_branch", "revenue"], "page": 0, "page_size": 5},
    }
    got = guarded.post(f"{SLICER}/report", json={"queries": queries}, headers={"X-API-Key": keys[principal]})
    cut = {"cut": restrictions[principal]}
    expected = unrestricted.post(f"{SLICER}/report", params=cut, json={"queries": queries})
    assert got.status_code == expected.status_code == 200, got.text
    got_body, expected_body = got.json(), expected.json()
    for answer in (*got_body.values(), *expected_body.values()):
        if isinstance(answer, dict):
            answer.pop("cell", None)
    assert got_body == expected_body
    assert not secrets[principal].found_in(got)


@pytest.mark.parametrize("principal", RESTRICTED_PRINCIPALS)
def test_branches_may_not_run_admin_operations(principal: str, guarded: TestClient, keys: dict[str, str]) -> None:
    answer = guarded.post("/v1/admin/refresh", json={"mode": "full"}, headers={"X-API-Key": keys[principal]})
    assert assert_error(answer, 403, "forbidden")["message"] == "this operation needs a principal with the admin right"


def test_a_member_outside_the_restriction_is_an_empty_cell_not_an_error(
    guarded: TestClient, keys: dict[str, str]
) -> None:
    headers = {"X-API-Key": keys["guangdong_branch"]}
    beijing = guarded.get(
        f"{V1}/aggregate", params={"cut": "organisation:hq,bj", "measures": "revenue"}, headers=headers
    )
    assert beijing.status_code == 200 and not beijing.json()["summary"]["revenue"]  # zero
    nowhere = guarded.get(
        f"{V1}/aggregate", params={"cut": "organisation:hq,zz", "measures": "revenue"}, headers=headers
    )
    assert nowhere.json()["summary"] == beijing.json()["summary"]  # the same as a member that does not exist


def test_roles_whose_union_cuts_cannot_say_are_refused(project: Project, engine: CubeEngine) -> None:
    roles = RoleBook(roles_path(Settings(), project.root)).roles()
    roles |= parse_roles({"data_line": {"cubes": [CUBE], "restrict": "product:data_services"}})
    mixed = RestrictedEngine(engine, principal_of("mixed", "key", ["guangdong_branch", "data_line"], roles))
    with pytest.raises(ForbiddenError, match="cannot be combined"):
        mixed.aggregate(Query(CUBE, measures=("revenue",)))
    both = RestrictedEngine(engine, principal_of("both", "key", ["guangdong_branch", "shenzhen_branch"], roles))
    assert both.restriction(CUBE) == (SetCut("organisation", (("hq", "gd"), ("hq", "gd", "gd_sz"))),)


def test_a_restriction_that_does_not_fit_the_cube_is_refused_at_start_and_per_request(
    project: Project, engine: CubeEngine
) -> None:
    roles = parse_roles({"typo": {"cubes": [CUBE], "restrict": "organization:hq,gd"}})
    with pytest.raises(AccessConfigError, match="role 'typo': restriction 'organization:hq,gd' does not fit"):
        check_restrictions(roles, {CUBE: engine.cube(CUBE)}, bind_cuts)
    typo = RestrictedEngine(engine, principal_of("typo", "key", ["typo"], roles))
    with pytest.raises(ForbiddenError, match="does not fit the cube"):
        typo.members(MembersQuery(CUBE, "organisation"))
