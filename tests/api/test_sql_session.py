"""The SQL listener in process, with psycopg 3 as the client: the catalog queries BI tools send on connect
(recorded in ``sql_client_catalog_queries.json``), session statements, transactions, errors and their SQLSTATEs,
the extended protocol's describe, and a listener whose engine is still loading."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import CUBE

from api.sql.listener import SqlListener
from api.sql.session import CatalogCache, SqlSession
from cube_server.access import AccessControl
from cube_server.access.control import RoleBook
from cube_server.access.rate_limit import RateLimiter
from cube_server.access.roles import open_principal
from cube_server.audit import AuditLog
from cube_server.cut_syntax import parse_drilldown
from cube_server.engine import CubeEngine
from cube_server.query import Query
from cube_server.settings import Settings

CLIENT_QUERIES = json.loads((Path(__file__).parent / "sql_client_catalog_queries.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def listener(engine: CubeEngine) -> Iterator[SqlListener]:
    access = AccessControl(None, RoleBook(None), ("reader",))  # anonymous callers read every cube
    sql = SqlListener(lambda: engine, access, "127.0.0.1", 0, "cubes")
    sql.start()
    yield sql
    sql.stop()


def connect(listener: SqlListener, **options: Any) -> psycopg.Connection[Any]:
    return psycopg.connect(host="127.0.0.1", port=listener.port, user="anonymous", dbname="cubes", **options)


@pytest.mark.parametrize("query", CLIENT_QUERIES["queries"], ids=lambda q: f"{q['client'][:30]}: {q['sql'][:40]}")
def test_bi_tools_catalog_queries_are_answered(listener: SqlListener, query: dict[str, str]) -> None:
    with connect(listener, autocommit=True) as connection:
        cursor = connection.execute(query["sql"], prepare=False)
        rows = cursor.fetchall() if cursor.description else []
    if "lists" in query:
        assert any(query["lists"] in str(value) for row in rows for value in row), rows


def test_set_show_and_transactions(listener: SqlListener) -> None:
    with connect(listener) as connection:
        assert connection.info.parameter_status("server_version") == "15.0"
        assert connection.info.parameter_status("standard_conforming_strings") == "on"
        connection.execute("SET search_path TO public")
        assert connection.execute("SHOW search_path").fetchone() == ("public",)
        assert connection.execute("SELECT current_setting('search_path')").fetchone() == ("public",)
        assert connection.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS  # psycopg began one
        with pytest.raises(psycopg.errors.UndefinedColumn):
            connection.execute(f"SELECT no_such_column FROM {CUBE}")
        assert connection.info.transaction_status == psycopg.pq.TransactionStatus.INERROR
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            connection.execute("SELECT 1")
        connection.rollback()
        assert connection.execute("SELECT 1 AS one").fetchone() == (1,)


@pytest.mark.parametrize(
    ("sql", "error"),
    [
        ("SELECT * FROM no_such_table", psycopg.errors.UndefinedTable),
        (f"SELECT SUM(subscribers) FROM {CUBE}", psycopg.errors.GroupingError),
        (
            f"SELECT SUM(revenue) FROM {CUBE} WHERE time_year = 2024 OR channel_channel = 'x'",
            psycopg.errors.FeatureNotSupported,
        ),
        (f"DELETE FROM {CUBE}", psycopg.errors.ReadOnlySqlTransaction),
        (f"SELECT SUM(revenue) FROM {CUBE} WHERE time_year = 'twenty'", psycopg.errors.InvalidTextRepresentation),
        ("SELEC 1", psycopg.errors.SyntaxError),
        (f"SELECT * FROM {CUBE}, pg_catalog.pg_class", psycopg.errors.FeatureNotSupported),
    ],
)
def test_errors_carry_their_sqlstate(listener: SqlListener, sql: str, error: type[Exception]) -> None:
    with connect(listener, autocommit=True) as connection:
        with pytest.raises(error):
            connection.execute(sql)
        assert connection.execute("SELECT 1").fetchone() == (1,)  # the session goes on


def test_simple_protocol_runs_several_statements_and_rows_arrive_typed(listener: SqlListener) -> None:
    with connect(listener, autocommit=True) as connection:
        cursor = connection.cursor()
        cursor.execute(f"SET application_name = 'tests'; SELECT time_year, SUM(revenue), COUNT(*) FROM {CUBE} "
                       "GROUP BY 1 ORDER BY 1")  # fmt: skip
        assert cursor.statusmessage == "SET" and cursor.nextset()
        rows = cursor.fetchall()
        assert [type(value).__name__ for value in rows[0]] == ["int", "Decimal", "int"]
        assert [column.name for column in cursor.description] == ["time_year", "sum", "count"]


def test_describe_a_prepared_statement(engine: CubeEngine) -> None:
    session = SqlSession(lambda: engine, open_principal(), CatalogCache(), user="u", database="cubes")
    columns = session.describe(f"SELECT product_line, SUM(revenue) AS revenue FROM {CUBE} WHERE time_year = $1 "
                               "GROUP BY 1", 1)  # fmt: skip
    assert columns == [("product_line", "VARCHAR"), ("revenue", "DECIMAL(38,2)")]
    assert session.describe("SHOW search_path", 0) == [("search_path", "text")]
    assert session.describe("SET x = 1", 0) is None


def test_a_listener_whose_engine_is_loading_says_so() -> None:
    sql = SqlListener(lambda: None, AccessControl(None, RoleBook(None), ("reader",)), "127.0.0.1", 0, "cubes")
    sql.start()
    try:
        with psycopg.connect(host="127.0.0.1", port=sql.port, user="anonymous", dbname="cubes",
                             autocommit=True) as connection:  # fmt: skip
            with pytest.raises(psycopg.errors.CannotConnectNow, match="still loading"):
                connection.execute(f"SELECT SUM(revenue) FROM {CUBE}")
    finally:
        sql.stop()


def test_the_demo_listens_for_sql_on_15432_unless_told_otherwise() -> None:
    from api.cli import demo_settings

    assert demo_settings({}).sql_port == 15_432
    assert demo_settings({"CUBE_SQL_PORT": "0"}).sql_port == 0
    assert Settings().sql_port == 0  # serve: off


def test_a_taken_port_is_an_error(listener: SqlListener) -> None:
    taken = SqlListener(lambda: None, AccessControl.open(), "127.0.0.1", listener.port, "cubes")
    with pytest.raises(OSError):
        taken.start()


def test_cube_selects_may_be_wrapped_joined_and_named_in_ctes(listener: SqlListener, engine: CubeEngine) -> None:
    by_line = {c["product.line"]: c["revenue"] for c in engine.aggregate(
        Query(CUBE, drilldown=parse_drilldown("product:line"), measures=("revenue",))).cells}  # fmt: skip
    per_year = engine.aggregate(Query(CUBE, drilldown=parse_drilldown("time:year"),
                                      measures=("revenue", "subscribers"))).cells  # fmt: skip
    with connect(listener, autocommit=True) as connection:
        wrapped = connection.execute(
            "SELECT virtual_table.product_line, virtual_table.revenue FROM (SELECT product_line, SUM(revenue) AS "
            f"revenue FROM {CUBE} GROUP BY 1) AS virtual_table ORDER BY revenue DESC LIMIT 2"
        ).fetchall()
        assert wrapped == sorted(by_line.items(), key=lambda item: item[1], reverse=True)[:2]
        joined = connection.execute(
            f"WITH r AS (SELECT time_year, SUM(revenue) AS revenue FROM {CUBE} GROUP BY 1), "
            f"s AS (SELECT time_year, MEASURE(subscribers) AS subscribers FROM {CUBE} GROUP BY 1) "
            "SELECT r.time_year, revenue, subscribers FROM r JOIN s USING (time_year) ORDER BY 1"
        ).fetchall()
        assert joined == [(c["time.year"], c["revenue"], c["subscribers"]) for c in per_year]
        plan = connection.execute(f"EXPLAIN SELECT * FROM (SELECT product_line FROM {CUBE}) AS t").fetchall()
        assert plan[-1] == ("Then the rest of the statement runs over those answers (DuckDB, in the listener)",)
        with pytest.raises(psycopg.errors.UndefinedColumn):
            connection.execute(f"SELECT t.nope FROM (SELECT product_line FROM {CUBE}) AS t")
        with pytest.raises(psycopg.errors.FeatureNotSupported, match="SELECT of its own"):
            connection.execute(f"SELECT 1 FROM {CUBE} a JOIN {CUBE} b ON true")


def test_named_cursors_and_pandas_chunks(listener: SqlListener, engine: CubeEngine) -> None:
    import pandas as pd
    import sqlalchemy as sa

    cells = engine.aggregate(Query(CUBE, drilldown=parse_drilldown("product:product"), measures=("revenue",))).cells
    expected = [(c["product.product"], c["revenue"]) for c in cells]
    with connect(listener) as connection, connection.cursor(name="products") as cursor:
        cursor.itersize = 3
        query = (f"SELECT product_product, SUM(revenue) FROM {CUBE} WHERE time_year > %s "
                 "GROUP BY product_line, product_product ORDER BY product_line, product_product")  # fmt: skip
        cursor.execute(query, (1900,))
        assert [column.name for column in cursor.description] == ["product_product", "sum"]
        assert cursor.fetchmany(2) == expected[:2]
        assert cursor.fetchall() == expected[2:]
    engine_url = f"postgresql+psycopg://anonymous@127.0.0.1:{listener.port}/cubes"
    database = sa.create_engine(engine_url)
    try:
        chunks = list(pd.read_sql(f"SELECT product_product, SUM(revenue) AS revenue FROM {CUBE} GROUP BY product_line, "
                                  "product_product ORDER BY product_line, product_product", database, chunksize=4,
                                  coerce_float=False))  # fmt: skip
    finally:
        database.dispose()
    assert len(chunks) > 1
    assert [tuple(row) for chunk in chunks for row in chunk.itertuples(index=False)] == expected


def test_cube_queries_count_against_the_principals_rate_limit(engine: CubeEngine) -> None:
    limiter = RateLimiter(per_minute=1, burst=2)
    sql = SqlListener(lambda: engine, AccessControl(None, RoleBook(None), ("reader",)), "127.0.0.1", 0, "cubes",
                      limiter)  # fmt: skip
    sql.start()
    try:
        with psycopg.connect(host="127.0.0.1", port=sql.port, user="anonymous", dbname="cubes",
                             autocommit=True) as connection:  # fmt: skip
            for _ in range(5):  # catalog queries are not counted
                connection.execute("SELECT relname FROM pg_catalog.pg_class")
            for _ in range(2):
                connection.execute(f"SELECT SUM(revenue) FROM {CUBE}")
            with pytest.raises(psycopg.errors.ConfigurationLimitExceeded, match="too many requests"):
                connection.execute(f"SELECT SUM(revenue) FROM {CUBE}")
    finally:
        sql.stop()


def test_cube_queries_are_audited_with_the_principal_and_catalog_queries_are_not(
    engine: CubeEngine, tmp_path: Path
) -> None:
    audit = AuditLog(tmp_path / "audit.jsonl")
    sql = SqlListener(lambda: engine, AccessControl(None, RoleBook(None), ("reader",)), "127.0.0.1", 0, "cubes",
                      audit=audit)  # fmt: skip
    sql.start()
    try:
        with psycopg.connect(host="127.0.0.1", port=sql.port, user="anonymous", dbname="cubes",
                             autocommit=True) as connection:  # fmt: skip
            connection.execute("SELECT relname FROM pg_catalog.pg_class")
            connection.execute(f"SELECT SUM(revenue) FROM {CUBE}")
    finally:
        sql.stop()
    (entry,) = audit.entries()
    assert entry["event"] == "read" and entry["via"] == "sql" and entry["cube"] == CUBE
    assert entry["principal"] == "anonymous" and entry["user"] == "anonymous"
