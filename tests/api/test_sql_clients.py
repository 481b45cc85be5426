"""The SQL listener of a real ``cube-server serve`` process, used by clients nobody here wrote: psql, psycopg 3,
SQLAlchemy's PostgreSQL dialect and pandas. Their answers are compared with the HTTP API's of the same server.

The project is the session's 60,000 generated rows with a built cuboid store (so EXPLAIN names a cuboid) and the
demo's roles, with a key for the head office and one for the Guangdong branch (whose rows are restricted).
psql is Debian's ``postgresql-client`` (``scripts/test`` installs it); on CI a missing psql fails these tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import psycopg
import pytest
import sqlalchemy as sa
from conftest import CUBE, ROOT, write_project
from server_process import free_port, running_server

from aggregates.store import CuboidStore
from cube_server.access import KeyStore, RoleBook, keys_path, roles_path
from cube_server.build import build_store
from cube_server.project import load_project, open_engine
from cube_server.settings import Settings

pytestmark = pytest.mark.e2e
DEMO_ROLES = ROOT / "examples" / "telecom" / "cube-server-roles.json"


@dataclass(frozen=True)
class Server:
    http: str
    sql_port: int
    keys: dict[str, str]

    def dsn(self, user: str = "anonymous", password: str | None = None) -> str:
        secret = f" password={password}" if password else ""
        return f"host=127.0.0.1 port={self.sql_port} dbname=cubes user={user}{secret} connect_timeout=10"

    def url(self, user: str = "anonymous") -> str:
        return f"postgresql+psycopg://{user}@127.0.0.1:{self.sql_port}/cubes"

    def aggregate(self, key: str | None = None, **params: str) -> dict[str, Any]:
        headers = {"X-API-Key": key} if key else {}
        response = httpx.get(f"{self.http}/v1/cubes/{CUBE}/aggregate", params=params, headers=headers, timeout=60)
        assert response.status_code == 200, response.text
        return json.loads(response.text, parse_float=Decimal)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def server(telecom_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("sql")
    root = write_project(directory / "project", telecom_data)
    shutil.copy(DEMO_ROLES, root / "cube-server-roles.json")
    project = load_project(root)
    build_store(open_engine(project, Settings(), use_store=False), CuboidStore(project.store_dir))
    store = KeyStore(keys_path(Settings(), root))
    roles = RoleBook(roles_path(Settings(), root)).roles()
    keys = {role: store.create(f"{role} analyst", [role], roles)[1] for role in ("head_office", "guangdong_branch")}
    port = free_port()
    with running_server(root, directory / "server.log", sql_port=str(port)) as base:
        yield Server(base, port, keys)


def psql(server: Server, *commands: str, password: str | None = None, user: str = "anonymous") -> str:
    """psql's unaligned output (``|`` between fields) of each ``-c`` command; fails the test if psql is absent on CI."""
    program = shutil.which("psql")
    if program is None:
        if os.environ.get("CI") == "true":
            pytest.fail("psql (Debian's postgresql-client) is not installed; scripts/test installs it with apt-get")
        pytest.skip("psql not installed (apt-get install postgresql-client); CI fails instead of skipping")
    arguments = [program, "-X", "-A", "-F", "|", "-v", "ON_ERROR_STOP=1", server.dsn(user)]
    for command in commands:
        arguments += ["-c", command]
    env = {**os.environ, "PGPASSWORD": password or "", "PGSSLMODE": "prefer"}
    if not password:
        env.pop("PGPASSWORD")
    done = subprocess.run(arguments, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_psql_lists_the_cubes_and_describes_one(server: Server) -> None:
    listing = psql(server, "\\dt")
    assert f"public|{CUBE}|table|cube_server" in listing.splitlines()
    described = psql(server, f"\\d {CUBE}")
    assert f'Table "public.{CUBE}"' in described
    lines = described.splitlines()
    expected = [("time_year", "bigint"), ("geography_province", "text"), ("geography_province_name_en", "text"),
                ("revenue", "numeric(38,2)"), ("subscribers", "bigint")]  # fmt: skip
    for column, kind in expected:
        assert any(line.startswith(f"{column}|{kind}|") for line in lines), (column, described)


def test_psql_group_by_prints_the_numbers_of_the_http_api(server: Server) -> None:
    output = psql(
        server,
        f"SELECT geography_region, geography_province, SUM(revenue), MEASURE(subscribers) FROM {CUBE} "
        "WHERE time_year = 2024 AND geography_scope = 'domestic' GROUP BY 1, 2 ORDER BY 1, 2",
    )
    header, *rows, count = output.strip().splitlines()
    assert header == "geography_region|geography_province|sum|measure"
    answer = server.aggregate(cut="time:2024|geography:domestic", drilldown="geography:province",
                              measures="revenue,subscribers")  # fmt: skip
    cells = answer["cells"]
    expected = sorted(
        f"{c['geography.region']}|{c['geography.province']}|{c['revenue']:.2f}|{c['subscribers']}" for c in cells
    )
    assert rows == expected and count == f"({len(expected)} rows)"


def test_explain_shows_the_cuboid_the_http_api_reports(server: Server) -> None:
    output = psql(server, f"EXPLAIN SELECT product_line, SUM(revenue) FROM {CUBE} WHERE time_year = 2025 GROUP BY 1")
    source = server.aggregate(cut="time:2025", drilldown="product:line", measures="revenue")["meta"]["source"]
    assert source.startswith("cuboid:")
    assert f"  source: {source}" in output.splitlines()


def test_psycopg_runs_parameterised_queries(server: Server) -> None:
    answer = server.aggregate(cut="time:2024|geography:domestic,asia,cn,south_china,gd;domestic,asia,cn,south_china,gx",
                              drilldown="product:line", measures="revenue,record_count")  # fmt: skip
    expected = [(c["product.line"], c["revenue"], c["record_count"]) for c in answer["cells"]]
    query = (f"SELECT product_line, SUM(revenue), COUNT(*) FROM {CUBE} WHERE time_year = %s "
             "AND geography_province IN (%s, %s) GROUP BY product_line ORDER BY product_line")  # fmt: skip
    with psycopg.connect(server.dsn()) as connection:
        assert connection.execute(query, (2024, "gd", "gx")).fetchall() == expected
        assert connection.execute(query, (2024, "gd", "gx"), prepare=True).fetchall() == expected  # named statement
        binary = query.replace("time_year = %s", "time_year = %b")  # a binary int8 parameter
        assert connection.execute(binary, (2024, "gd", "gx")).fetchall() == expected
        with pytest.raises(psycopg.errors.GroupingError, match="MEASURE\\(subscribers\\)"):
            connection.execute(f"SELECT SUM(subscribers) FROM {CUBE} WHERE time_year = %s", (2024,))
        connection.rollback()
        with pytest.raises(psycopg.errors.FeatureNotSupported, match="OR across dimensions"):
            connection.execute(f"SELECT SUM(revenue) FROM {CUBE} WHERE time_year = %s OR product_line = %s",
                               (2024, "x"))  # fmt: skip


def test_sqlalchemy_connects_reflects_and_binds(server: Server) -> None:
    engine = sa.create_engine(server.url())
    try:
        inspector = sa.inspect(engine)
        assert CUBE in inspector.get_table_names()
        columns = {c["name"]: c for c in inspector.get_columns(CUBE)}
        assert isinstance(columns["revenue"]["type"], sa.Numeric) and columns["revenue"]["type"].scale == 2
        assert isinstance(columns["time_year"]["type"], sa.BigInteger)
        table = sa.Table(CUBE, sa.MetaData(), autoload_with=engine)
        line = table.c.product_line
        statement = sa.select(line, sa.func.sum(table.c.revenue)).where(table.c.time_year == 2025)
        statement = statement.group_by(line).order_by(line)
        answer = server.aggregate(cut="time:2025", drilldown="product:line", measures="revenue")
        expected = [(c["product.line"], c["revenue"]) for c in answer["cells"]]
        with engine.connect() as connection:
            assert [tuple(row) for row in connection.execute(statement)] == expected
            text = sa.text(f"SELECT product_line, SUM(revenue) FROM {CUBE} WHERE time_year = :y GROUP BY 1 ORDER BY 1")
            assert [tuple(row) for row in connection.execute(text, {"y": 2025})] == expected
    finally:
        engine.dispose()


def test_pandas_read_sql_equals_the_http_answer(server: Server) -> None:
    engine = sa.create_engine(server.url())
    try:
        frame = pd.read_sql(
            f"SELECT time_year, time_quarter, time_month, SUM(revenue) AS revenue, COUNT(*) AS record_count "
            f"FROM {CUBE} WHERE time_year = 2025 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            engine,
            coerce_float=False,  # keep NUMERIC as exact decimals, to compare digit for digit
        )
    finally:
        engine.dispose()
    answer = server.aggregate(cut="time:2025", drilldown="time:month", measures="revenue,record_count")
    cells = answer["cells"]
    expected = pd.DataFrame(
        [(c["time.year"], c["time.quarter"], c["time.month"], c["revenue"], c["record_count"]) for c in cells],
        columns=["time_year", "time_quarter", "time_month", "revenue", "record_count"],
    )
    pd.testing.assert_frame_equal(frame, expected, check_dtype=False)


def test_a_restricted_key_sees_only_its_rows(server: Server) -> None:
    query = f"SELECT organisation_province_branch, SUM(revenue) FROM {CUBE} GROUP BY 1 ORDER BY 1"
    with psycopg.connect(server.dsn("branch", server.keys["guangdong_branch"])) as connection:
        restricted = connection.execute(query).fetchall()
        tables = connection.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        assert tables.fetchall() == [(CUBE,)]
    assert [branch for branch, _ in restricted] == ["gd"]
    http = server.aggregate(server.keys["guangdong_branch"], drilldown="organisation:province_branch",
                            measures="revenue")  # fmt: skip
    assert restricted == [(c["organisation.province_branch"], c["revenue"]) for c in http["cells"]]
    with psycopg.connect(server.dsn("hq", server.keys["head_office"])) as connection:
        everyone = connection.execute(query).fetchall()
    assert len(everyone) > 10 and ("gd", restricted[0][1]) in everyone
    output = psql(server, query, user="someone", password=server.keys["guangdong_branch"])
    assert output.strip().splitlines()[1] == f"gd|{restricted[0][1]:.2f}"


def test_a_wrong_key_is_refused(server: Server) -> None:
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(server.dsn("someone", "cs_wrong_key"))
