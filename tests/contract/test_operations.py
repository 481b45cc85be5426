"""Contract suite: what every engine holding facts must do beside the oracle's answers.

Each test runs once per engine (``duckdb`` over the session's Parquet files, ``postgresql`` over the same rows
in the throw-away cluster) and compares with the DuckDB engine where an answer is checked: explain shows the
SQL that runs (in the engine's own dialect), the Slicer and v1 HTTP answers, streamed members and facts, store
plans, and a query past its deadline answered as ``query_timeout``. The PostgreSQL-only tests cover what only a
server engine has: credentials never shown, the connection pool, ``cube-server load-postgres``, and a database
that cannot be reached (503 ``engine_unavailable``).
"""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy
from conftest import CUBE, write_project
from fastapi.testclient import TestClient
from pg_cluster import Cluster, with_engine

from api.app import create_app
from api.cli import main
from cube_server.backends import CompiledStatement
from cube_server.cut_syntax import parse_cuts, parse_drilldown
from cube_server.engine import CubeEngine
from cube_server.errors import EngineUnavailableError, QueryTimeoutError
from cube_server.planning import PlanOptions, plan_store
from cube_server.postgres import PostgresBackend
from cube_server.project import Project, load_project, open_engine
from cube_server.query import FactsQuery, MembersQuery, Query
from cube_server.settings import Settings

ENGINES = ["duckdb", "postgresql"]
# a statement each engine spends seconds on
SLOW_SQL = {
    "duckdb": "SELECT count(*) FROM range(400000000) AS a(i) WHERE a.i % 7 = 3",
    "postgresql": "SELECT pg_sleep(5)",
}


@pytest.fixture(scope="module", params=ENGINES)
def served(request: pytest.FixtureRequest, engine: CubeEngine) -> CubeEngine:
    """The session's facts served by each engine in turn."""
    return request.getfixturevalue("pg_engine") if request.param == "postgresql" else engine


def body(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return json.loads(response.text, parse_float=Decimal)


def without_meta(answer: Any) -> Any:
    if isinstance(answer, dict):
        return {key: value for key, value in answer.items() if key not in ("meta", "elapsed_ms")}
    return answer


def test_explain_shows_the_sql_that_runs_in_the_engines_dialect(served: CubeEngine) -> None:
    query = Query(CUBE, cuts=parse_cuts("time:2025"), drilldown=parse_drilldown("time:month|product:line"))
    plan = served.plan_aggregate(query)
    explanation = served.explain(plan)
    by_name = {statement.name: statement for statement in explanation.statements}
    assert set(by_name) == set(plan.statements)
    year = by_name["cells"].sql
    if served.backend.name == "postgresql":
        assert "CAST(EXTRACT(year FROM" in year and "%s" in year
    else:
        assert "EXTRACT(year FROM" in year and "CAST(EXTRACT" not in year and "?" in year
    # running the shown statements gives the answer the operation gives
    deadline = time.monotonic() + 30
    shown = served.backend.execute(CompiledStatement(year, tuple(by_name["cells"].parameters)), deadline)
    answered = served.aggregate(query)
    assert shown.num_rows == len(answered.cells) == answered.total_cell_count


def test_slicer_aggregate_answers_as_duckdb(served: CubeEngine, engine: CubeEngine) -> None:
    params = {"cut": "time:2025", "drilldown": "geography:region|product", "order": "revenue:desc"}
    answers = [
        without_meta(body(TestClient(create_app(each)).get(f"/cube/{CUBE}/aggregate", params=params)))
        for each in (served, engine)
    ]
    assert answers[0] == answers[1]
    assert answers[0]["cells"] and answers[0]["summary"]["revenue"] > 0


def test_v1_operations_answer_as_duckdb(served: CubeEngine, engine: CubeEngine) -> None:
    base = f"/v1/cubes/{CUBE}"
    requests = [
        ("aggregate", {"cut": "time:2025,1", "drilldown": "time:month|channel", "measures": "revenue,arpu"}),
        ("drilldown", {"cut": "geography:domestic", "dimension": "geography", "depth": "2"}),
        ("rollup", {"drilldown": "time:day", "cut": "time:2025,1,2", "dimension": "time", "steps": "2"}),
        ("slice", {"cut": "time:2024,4|customer:key_account|!channel:web_portal", "drilldown": "product"}),
        ("pivot", {"rows": "product:line", "columns": "time:year", "measures": "revenue,subscribers"}),
        ("members/organisation", {"level": "province_branch", "search": "guang"}),
        ("facts", {"cut": "product:data_services|time:2025,1,1", "fields": "charge_id,time.hour,revenue"}),
    ]
    clients = [TestClient(create_app(each)) for each in (served, engine)]
    for path, params in requests:
        answers = [without_meta(body(client.get(f"{base}/{path}", params=params))) for client in clients]
        assert answers[0] == answers[1], path
    # one fact by its key, and a cut's report, on the Slicer surface
    key = body(clients[1].get(f"{base}/facts", params={"limit": "1", "offset": "777"}))["rows"][0]["charge_id"]
    for path in (f"/cube/{CUBE}/fact/{key}", f"/cube/{CUBE}/cell?cut=time:2025,2"):
        answers = [without_meta(body(client.get(path))) for client in clients]
        assert answers[0] == answers[1], path


def test_streamed_members_and_facts_answer_as_duckdb(served: CubeEngine, engine: CubeEngine) -> None:
    def read(each: CubeEngine) -> tuple[pa.Table, pa.Table, int]:
        facts = each.export_facts(FactsQuery(CUBE, cuts=parse_cuts("time:2025,1"), fields=("charge_id", "revenue")))
        members = each.stream_members(MembersQuery(CUBE, "customer", "customer", limit=5_000), batch_rows=1_000)
        return pa.Table.from_batches(list(facts.batches), facts.schema), pa.Table.from_batches(
            list(members.batches), members.schema
        ), facts.total_count

    (facts, members, total), (expected_facts, expected_members, expected_total) = read(served), read(engine)
    assert total == expected_total == facts.num_rows > 1_000
    assert facts.equals(expected_facts) and facts.schema == expected_facts.schema
    assert members.num_rows == 5_000 and members.equals(expected_members)


def test_a_statement_past_its_deadline_is_cancelled_and_the_engine_answers_the_next(served: CubeEngine) -> None:
    started = time.monotonic()
    with pytest.raises(QueryTimeoutError):
        served.backend.execute(CompiledStatement(SLOW_SQL[served.backend.name], ()), started + 0.3)
    assert time.monotonic() - started < 2.5  # interrupted inside the engine, not run to its end
    assert served.aggregate(Query(CUBE, measures=("record_count",))).summary["record_count"] == 60_000


def test_a_query_past_the_timeout_is_answered_504(served: CubeEngine) -> None:
    hurried = CubeEngine.__new__(CubeEngine)
    hurried.__dict__.update(served.__dict__)
    hurried.settings = Settings(query_timeout_ms=1)
    response = TestClient(create_app(hurried)).get(f"/v1/cubes/{CUBE}/aggregate", params={"drilldown": "customer"})
    assert response.status_code == 504, response.text
    assert response.json()["error"]["code"] == "query_timeout"


def test_a_store_plan_estimates_every_candidate(served: CubeEngine, engine: CubeEngine) -> None:
    options = PlanOptions(budget=0.5, max_dimensions=2, sample_rows=10_000)
    plans = [plan_store(each, options).cubes[0] for each in (served, engine)]
    for plan in plans:
        assert plan.fact_rows == 60_000 and 0 < plan.sampled_rows <= 20_000
        assert all(chosen.rows > 0 for chosen in plan.chosen)
    assert plans[0].candidates == plans[1].candidates
    declared = {chosen.spec.name for chosen in plans[1].chosen if chosen.mandatory}
    assert declared <= {chosen.spec.name for chosen in plans[0].chosen}


# ---- PostgreSQL only: what a server engine adds -------------------------------------------------------
def test_credentials_are_never_shown(
    pg_cluster: Cluster, pg_telecom_url: str, telecom_data: Path, tmp_path: Path
) -> None:
    url = f"postgresql+psycopg://{pg_cluster.user}:s3cret-pw@127.0.0.1:{pg_cluster.port}/telecom"
    settings = Settings(engine_url=url, engine_password="other-s3cret")
    assert "s3cret" not in repr(settings)
    project = load_project(with_engine(write_project(tmp_path / "project", telecom_data), url))
    assert project.engine_url == url and "s3cret" not in repr(project)
    backend = PostgresBackend(url, ["charges"], settings)  # the test cluster trusts local users: any password
    try:
        assert "s3cret" not in repr(backend) and "***" in repr(backend)
    finally:
        backend.close()
    unreachable = f"postgresql+psycopg://someone:s3cret-pw@127.0.0.1:{pg_cluster.port + 1}/telecom"
    with pytest.raises(EngineUnavailableError) as refused:
        PostgresBackend(unreachable, ["charges"], settings)
    assert "s3cret" not in refused.value.message and "127.0.0.1" in refused.value.message


def test_connections_come_from_a_pool_of_the_configured_size(pg_telecom_project: Project) -> None:
    engine = open_engine(pg_telecom_project, Settings(engine_pool_size=2), use_store=False)
    try:
        pool = engine.backend._engine.pool  # type: ignore[attr-defined]
        assert pool.size() == 2
        quarters = [f"time:{year},{quarter}" for year in (2024, 2025) for quarter in range(1, 5)]
        queries = [Query(CUBE, cuts=parse_cuts(quarter)) for quarter in quarters]
        with ThreadPoolExecutor(max_workers=6) as threads:
            totals = list(threads.map(lambda query: engine.aggregate(query).summary["record_count"], queries))
        assert all(total > 0 for total in totals)
        assert pool.checkedout() == 0 and pool.checkedin() <= 4  # two kept, two more at the peak, none leaked
    finally:
        engine.backend.close()


def test_load_postgres_then_serve_with_only_the_engine_url(
    pg_cluster: Cluster, telecom_data: Path, tmp_path: Path, engine: CubeEngine
) -> None:
    url = pg_cluster.create_database("loaded_by_the_cli")
    project_dir = write_project(tmp_path / "project", telecom_data)
    assert main(["load-postgres", str(project_dir), "--url", url]) == 0
    served = open_engine(load_project(with_engine(project_dir, url)), Settings(), use_store=False)
    try:
        query = Query(CUBE, drilldown=parse_drilldown("customer:segment"))
        assert served.aggregate(query).cells == engine.aggregate(query).cells
    finally:
        served.backend.close()


def test_a_database_that_cannot_be_reached_is_answered_503(pg_cluster: Cluster, pg_telecom_project: Project) -> None:
    engine = open_engine(pg_telecom_project, Settings(), use_store=False)
    backend = engine.backend
    assert isinstance(backend, PostgresBackend)
    backend.close()
    # the server goes away under a running engine: every connection is refused from now on
    unreachable = f"postgresql+psycopg://{pg_cluster.user}@127.0.0.1:{pg_cluster.port + 1}/telecom"
    backend._engine = sqlalchemy.create_engine(unreachable)  # type: ignore[attr-defined]
    client = TestClient(create_app(engine))
    response = client.get(f"/v1/cubes/{CUBE}/aggregate")
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "engine_unavailable"
    slicer = client.get(f"/cube/{CUBE}/aggregate")
    assert slicer.status_code == 503 and slicer.json()["error"] == "not_ready"
    backend.close()
