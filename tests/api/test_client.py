"""The Python client against a real ``cube-server serve`` process over HTTP, blocking and asyncio.

Its tables must hold what the JSON API answers and what hand-written SQL over the same Parquet files
computes; error answers must become the right exception types.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pyarrow as pa
import pytest
import uvicorn
from conftest import CUBE, write_project
from server_process import free_port, running_server

from api.app import create_app
from api.client import (
    AnyOf,
    AsyncCubeClient,
    CubeClient,
    CubeResult,
    GoneError,
    InvalidQueryError,
    Not,
    NotFoundError,
    QueryTimeoutError,
    Range,
    ResultTooLargeError,
    TransportError,
)
from cube_server.engine import CubeEngine
from cube_server.errors import QueryTimeoutError as EngineTimeoutError
from cube_server.query import FactsQuery
from cube_server.result import RowStream

pytestmark = pytest.mark.e2e
MAX_CELLS = 5_000
SOUTH_CHINA = ["domestic", "asia", "cn", "south_china"]


@pytest.fixture(scope="module")
def server(telecom_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("client")
    project = write_project(directory / "project", telecom_data)
    settings = {"max_page_size": "100000", "max_cells": str(MAX_CELLS)}
    with running_server(project, directory / "server.log", **settings) as base:
        yield base


@pytest.fixture(scope="module")
def cubes(server: str) -> Iterator[CubeClient]:
    with CubeClient(server) as client:
        yield client


@pytest.fixture(scope="module")
def http(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def sql(telecom_data: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The generated Parquet files as plain views, for answers written by hand."""
    connection = duckdb.connect()
    connection.execute(f"CREATE VIEW charges AS SELECT * FROM read_parquet('{telecom_data}/facts/*.parquet')")
    for table in ("geography", "channel", "product"):
        connection.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{telecom_data}/{table}.parquet')")
    yield connection
    connection.close()


def get_json(http: httpx.Client, path: str, **params: Any) -> Any:
    response = http.get(f"/v1/cubes/{CUBE}/{path}", params=params)
    assert response.status_code == 200, response.text
    return json.loads(response.text, parse_float=Decimal)


# ---- numbers: the JSON API and hand-written SQL --------------------------------------------------
def test_drilldown_matches_the_json_api_and_sql(
    cubes: CubeClient, http: httpx.Client, sql: duckdb.DuckDBPyConnection
) -> None:
    result = cubes.drilldown(
        CUBE, "geography", cut={"time": [2025], "geography": SOUTH_CHINA}, measures=["revenue", "record_count"]
    )
    body = get_json(
        http,
        "drilldown",
        dimension="geography",
        cut="time:2025|geography:domestic,asia,cn,south_china",
        measures="revenue,record_count",
    )
    assert isinstance(result, CubeResult)
    assert result.to_pylist() == body["cells"] and len(result) == 3
    assert result.summary == body["summary"] and result.total_count == body["total_cell_count"]
    assert (result.meta.cube, result.meta.source, result.meta.version) == (CUBE, "facts", body["meta"]["version"])
    assert result.meta.elapsed_ms > 0 and result.meta.request_id
    assert pa.types.is_decimal128(result.table.schema.field("revenue").type)
    expected = sql.execute(
        """SELECT g.province, sum(c.revenue), count(*) FROM charges c JOIN geography g USING (geography_code)
           WHERE year(c.charged_at) = 2025 AND g.scope = 'domestic' AND g.continent = 'asia' AND g.country = 'cn'
             AND g.region = 'south_china' GROUP BY 1"""
    ).fetchall()
    got = {row["geography.province"]: (row["revenue"], row["record_count"]) for row in result}
    assert got == {province: (revenue, count) for province, revenue, count in expected}
    assert result.summary["revenue"] == sum(revenue for _, revenue, _ in expected)


def test_range_set_and_negated_cuts_match_sql(cubes: CubeClient, sql: duckdb.DuckDBPyConnection) -> None:
    result = cubes.aggregate(
        CUBE,
        cut={"time": Range([2024, 4, 11], [2025, 1, 2]), "channel": Not(AnyOf("web_portal", "call_centre_1000"))},
        drilldown=[("time", "month")],
        measures=["revenue", "record_count"],
        order=["time.year", "time.month"],
    )
    expected = sql.execute(
        """SELECT year(charged_at), month(charged_at), sum(revenue), count(*) FROM charges
           WHERE year(charged_at) * 100 + month(charged_at) BETWEEN 202411 AND 202502
             AND channel_code NOT IN ('web_portal', 'call_centre_1000')
           GROUP BY 1, 2 ORDER BY 1, 2"""
    ).fetchall()
    assert [(r["time.year"], r["time.month"], r["revenue"], r["record_count"]) for r in result] == expected
    assert len(expected) == 4

    kept = cubes.aggregate(CUBE, cut={"channel": {"business_hall", "account_manager"}}, measures=["revenue"])
    (revenue,) = sql.execute(
        "SELECT sum(revenue) FROM charges WHERE channel_code IN ('business_hall', 'account_manager')"
    ).fetchone()
    assert kept.summary == {"revenue": revenue} and len(kept) == 0


def test_slice_rollup_and_explain_match_the_json_api(cubes: CubeClient, http: httpx.Client) -> None:
    sliced = cubes.slice(CUBE, cut={"time": [2025, 1], "product": "data_services"}, drilldown=["channel"])
    body = get_json(http, "slice", cut="time:2025,1|product:data_services", drilldown="channel")
    assert sliced.to_pylist() == body["cells"] and sliced.summary == body["summary"]

    rolled = cubes.rollup(CUBE, "time", cut={"time": [2025, 1]}, drilldown=[("time", "month")], measures="revenue")
    body = get_json(http, "rollup", dimension="time", cut="time:2025,1", drilldown="time:month", measures="revenue")
    assert rolled.to_pylist() == body["cells"]
    assert rolled.meta.extra["rolled_up_from"] == body["meta"]["rolled_up_from"]

    plan = cubes.explain(CUBE, "drilldown", dimension="geography", cut={"geography": SOUTH_CHINA})
    assert plan == get_json(http, "explain", operation="drilldown", dimension="geography", cut=body_cut())
    assert plan["operation"] == "drilldown" and plan["statements"]


def body_cut() -> str:
    return "geography:" + ",".join(SOUTH_CHINA)


def test_pivot_is_a_wide_table_with_the_json_numbers(cubes: CubeClient, http: httpx.Client) -> None:
    result = cubes.pivot(CUBE, rows=[("product", "line")], columns=["channel"], measures=["revenue"])
    body = get_json(http, "pivot", rows="product:line", columns="channel", measures="revenue")
    keys = [header[0] for header in body["column_headers"]]
    assert result.columns == ["product.line", *[f"{key}:revenue" for key in keys], "total:revenue"]
    for row, headers, values, total in zip(
        result, body["row_headers"], body["values"], body["row_totals"], strict=True
    ):
        assert row["product.line"] == headers[0] and row["total:revenue"] == total[0]
        assert [row[f"{key}:revenue"] for key in keys] == [None if v is None else v[0] for v in values]
    assert result.totals == {"column_totals": body["column_totals"], "grand_total": body["grand_total"]}


def test_members_match_the_json_api(cubes: CubeClient, http: httpx.Client, sql: duckdb.DuckDBPyConnection) -> None:
    result = cubes.members(CUBE, "geography", level="province", cut={"geography": SOUTH_CHINA})
    body = get_json(http, "members/geography", level="province", cut=body_cut())
    assert result.columns == body["columns"] and result.to_pylist() == body["rows"]
    assert result.total_count == body["total_count"] == 3
    (found,) = sql.execute("SELECT count(DISTINCT province) FROM geography WHERE region = 'south_china'").fetchone()
    assert len(result) == found
    assert result.meta.extra["level"] == "province"


def test_a_whole_fact_table_streams_into_one_arrow_table(
    cubes: CubeClient, http: httpx.Client, sql: duckdb.DuckDBPyConnection
) -> None:
    result = cubes.facts(CUBE, fields=["charge_id", "time.year", "revenue"], limit=100_000)
    count, total, first, last = sql.execute(
        "SELECT count(*), sum(revenue), min(charge_id), max(charge_id) FROM charges"
    ).fetchone()
    assert len(result) == result.total_count == count == 60_000
    assert sum(result.table.column("revenue").to_pylist()) == total
    ids = result.table.column("charge_id").to_pylist()
    assert ids[0] == first and ids[-1] == last and ids == sorted(ids)
    assert result.table.schema.field("revenue").type == pa.decimal128(12, 2)
    with http.stream("GET", f"/v1/cubes/{CUBE}/facts", params={"limit": 100_000, "format": "arrow"}) as response:
        assert response.headers.get("transfer-encoding") == "chunked" and "content-length" not in response.headers
        assert response.headers["content-disposition"] == f'attachment; filename="{CUBE}-facts.arrows"'
        response.read()


def test_facts_order_offset_and_a_pinned_version(cubes: CubeClient, sql: duckdb.DuckDBPyConnection) -> None:
    page = cubes.facts(CUBE, fields=["charge_id", "revenue"], order=[("charge_id", "desc")], limit=5, offset=10)
    expected = sql.execute("SELECT charge_id, revenue FROM charges ORDER BY charge_id DESC LIMIT 5 OFFSET 10")
    assert [(row["charge_id"], row["revenue"]) for row in page] == expected.fetchall()
    pinned = cubes.facts(
        CUBE,
        fields=["charge_id", "revenue"],
        order=[("charge_id", "desc")],
        limit=5,
        offset=10,
        version=page.meta.version,
    )
    assert pinned.table.equals(page.table) and pinned.meta.version == page.meta.version


def test_long_cuts_go_as_a_json_body_with_the_same_answer(cubes: CubeClient) -> None:
    decoys = [(*SOUTH_CHINA, f"nowhere_{i}") for i in range(300)]
    long_cut = {"geography": AnyOf(*decoys, (*SOUTH_CHINA, "gd"), (*SOUTH_CHINA, "hi"))}
    short_cut = {"geography": AnyOf((*SOUTH_CHINA, "gd"), (*SOUTH_CHINA, "hi"))}
    long = cubes.aggregate(CUBE, cut=long_cut, drilldown=["channel"], measures=["revenue"])
    short = cubes.aggregate(CUBE, cut=short_cut, drilldown=["channel"], measures=["revenue"])
    assert long.table.equals(short.table) and long.summary == short.summary and len(short) == 4


def test_calculations_add_their_columns_like_the_json_api(cubes: CubeClient, http: httpx.Client) -> None:
    calculations = ["growth(revenue, previous)", "rank(revenue)"]
    arguments = {"drilldown": [("time", "month")], "measures": ["revenue"], "calculations": calculations}
    result = cubes.aggregate(CUBE, cut={"time": [2025]}, **arguments)
    body = get_json(http, "aggregate", cut="time:2025", drilldown="time:month", measures="revenue", calc=calculations)
    assert result.columns[-2:] == ["revenue__growth_previous", "revenue__rank"]
    assert result.to_pylist() == body["cells"] and len(result) == 12
    assert result.meta.extra["calculations"] == body["meta"]["calculations"]
    decoys = {"geography": Not(AnyOf(*[f"nowhere_{i}" for i in range(600)]))}  # long: sent as a POST body
    posted = cubes.aggregate(CUBE, cut={"time": [2025], **decoys}, **arguments)
    assert posted.table.equals(result.table)


def test_cubes_and_model(cubes: CubeClient, http: httpx.Client) -> None:
    assert cubes.cubes() == http.get("/v1/cubes").json()
    model = cubes.model(CUBE)
    assert model["name"] == CUBE and {d["name"] for d in model["dimensions"]} >= {"time", "geography"}
    assert cubes.ready()["status"] == "ready"


# ---- data frames --------------------------------------------------------------------------------
def test_to_pandas_and_to_polars_keep_names_and_exact_values(cubes: CubeClient) -> None:
    pytest.importorskip("pandas")
    polars = pytest.importorskip("polars")
    result = cubes.aggregate(CUBE, drilldown=[("product", "line")], measures=["revenue", "record_count"])
    frame = result.to_pandas()
    assert list(frame.columns) == result.columns
    assert frame["revenue"].tolist() == result.table.column("revenue").to_pylist()
    assert all(isinstance(value, Decimal) for value in frame["revenue"])
    polars_frame = result.to_polars()
    assert polars_frame.columns == result.columns
    assert isinstance(polars_frame.schema["revenue"], polars.Decimal)
    assert polars_frame["revenue"].to_list() == result.table.column("revenue").to_pylist()
    assert polars_frame["record_count"].to_list() == frame["record_count"].tolist()


@pytest.mark.parametrize("module", ["pandas", "polars"])
def test_a_missing_data_frame_library_is_a_clear_error(
    cubes: CubeClient, monkeypatch: pytest.MonkeyPatch, module: str
) -> None:
    result = cubes.aggregate(CUBE, measures=["revenue"])
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    with pytest.raises(ImportError, match=f"needs {module}, which is not installed: pip install {module}"):
        getattr(result, f"to_{module}")()


# ---- errors -------------------------------------------------------------------------------------
def error_cases() -> list[tuple[str, dict[str, Any], type[Exception], str, int]]:
    return [
        ("aggregate", {"cube": "nope"}, NotFoundError, "cube_not_found", 404),
        ("aggregate", {"cut": {"tiem": 2025}}, InvalidQueryError, "unknown_dimension", 400),
        ("aggregate", {"cut": "time:2025:3"}, InvalidQueryError, "invalid_cut", 400),
        ("aggregate", {"drilldown": [("time", "fortnight")]}, InvalidQueryError, "unknown_level", 400),
        ("aggregate", {"drilldown": [("customer", "customer")]}, ResultTooLargeError, "result_too_large", 400),
        ("facts", {"limit": 100_001}, InvalidQueryError, "invalid_parameter", 400),
        ("facts", {"fields": ["nope"]}, InvalidQueryError, "unknown_attribute", 400),
        ("members", {"dimension": "nope"}, InvalidQueryError, "unknown_dimension", 400),
        ("aggregate", {"version": "no-such-version"}, GoneError, "version_unavailable", 410),
    ]


def call(client: Any, operation: str, arguments: dict[str, Any]) -> Any:
    arguments = dict(arguments)
    cube = arguments.pop("cube", CUBE)
    if operation == "members":
        return client.members(cube, arguments.pop("dimension"), **arguments)
    return getattr(client, operation)(cube, **arguments)


@pytest.mark.parametrize(("operation", "arguments", "error", "code", "status"), error_cases())
def test_error_answers_raise_their_types(
    cubes: CubeClient, operation: str, arguments: dict[str, Any], error: type[Exception], code: str, status: int
) -> None:
    with pytest.raises(error) as raised:
        call(cubes, operation, arguments)
    assert (raised.value.code, raised.value.status) == (code, status)  # type: ignore[attr-defined]
    assert raised.value.message and raised.value.request_id  # type: ignore[attr-defined]


def test_an_unreachable_server_is_a_transport_error() -> None:
    with CubeClient(f"http://127.0.0.1:{free_port()}", timeout=5) as client, pytest.raises(TransportError) as raised:
        client.cubes()
    assert raised.value.code == "connection_failed" and raised.value.status is None


def test_a_query_over_the_servers_time_limit_is_a_timeout(telecom_data: Path, tmp_path: Path) -> None:
    project = write_project(tmp_path / "project", telecom_data)
    with running_server(project, tmp_path / "server.log", query_timeout_ms="1") as base, CubeClient(base) as client:
        with pytest.raises(QueryTimeoutError) as raised:
            client.aggregate(CUBE, drilldown=[("time", "second"), ("customer", "customer")], limit=10)
    assert (raised.value.code, raised.value.status) == ("query_timeout", 504)


# ---- asyncio ------------------------------------------------------------------------------------
def test_the_async_client_answers_like_the_blocking_one(server: str, cubes: CubeClient) -> None:
    async def ask() -> list[CubeResult]:
        async with AsyncCubeClient(server) as client:
            return list(
                await asyncio.gather(
                    client.drilldown(CUBE, "geography", cut={"geography": SOUTH_CHINA}, measures=["revenue"]),
                    client.pivot(CUBE, rows=["channel"], columns=[("time", "year")], measures=["record_count"]),
                    client.members(CUBE, "product", level="product"),
                    client.facts(CUBE, cut={"time": [2025, 1]}, order=["charge_id"], limit=2_000),
                )
            )

    drilled, pivot, members, facts = asyncio.run(ask())
    blocking = cubes.drilldown(CUBE, "geography", cut={"geography": SOUTH_CHINA}, measures=["revenue"])
    assert drilled.table.equals(blocking.table) and drilled.summary == blocking.summary
    assert drilled.meta.version == blocking.meta.version
    assert pivot.table.equals(
        cubes.pivot(CUBE, rows=["channel"], columns=[("time", "year")], measures=["record_count"]).table
    )
    assert members.table.equals(cubes.members(CUBE, "product", level="product").table)
    assert facts.table.equals(cubes.facts(CUBE, cut={"time": [2025, 1]}, order=["charge_id"], limit=2_000).table)
    assert len(facts) == 2_000 and facts.total_count == cubes.facts(CUBE, cut={"time": [2025, 1]}).total_count


@pytest.mark.parametrize(("operation", "arguments", "error", "code", "status"), error_cases())
def test_the_async_client_raises_the_same_types(
    server: str, operation: str, arguments: dict[str, Any], error: type[Exception], code: str, status: int
) -> None:
    async def ask() -> None:
        async with AsyncCubeClient(server) as client:
            await call(client, operation, arguments)

    with pytest.raises(error) as raised:
        asyncio.run(ask())
    assert (raised.value.code, raised.value.status) == (code, status)  # type: ignore[attr-defined]


# ---- a stream that fails midway ----------------------------------------------------------------
@pytest.fixture
def failing_server(make_engine: Callable[..., CubeEngine], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A real server whose fact streams fail after three batches, as when the deadline passes midway."""
    engine = make_engine()
    stream_facts = engine.stream_facts

    def failing(query: FactsQuery, batch_rows: int = 500) -> RowStream:
        stream = stream_facts(query, batch_rows=500)
        batches = iter(stream.batches)

        def cut_short() -> Iterator[pa.RecordBatch]:
            for index, batch in enumerate(batches):
                if index == 3:
                    raise EngineTimeoutError("the query took longer than the configured timeout")
                yield batch

        stream.batches = cut_short()
        return stream

    monkeypatch.setattr(engine, "stream_facts", failing)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(engine), host="127.0.0.1", port=port, log_level="critical"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)


def test_a_stream_cut_short_is_an_error_not_a_short_table(failing_server: str) -> None:
    with CubeClient(failing_server) as client, pytest.raises(TransportError) as raised:
        client.facts(CUBE, limit=5_000)
    assert raised.value.code == "incomplete_answer" and "after 1500 rows" in raised.value.message

    async def ask() -> None:
        async with AsyncCubeClient(failing_server) as client:
            await client.facts(CUBE, limit=5_000)

    with pytest.raises(TransportError) as raised:
        asyncio.run(ask())
    assert raised.value.code == "incomplete_answer"
    with CubeClient(failing_server) as client:
        assert len(client.facts(CUBE, limit=1_500)) == 1_500, "three whole batches are the whole answer"
