"""Benchmark: cube answers over HTTP (from the cuboid store) against the same question as SQL on DuckDB.

    python benchmarks/cuboid_benchmark.py [--suite ssb|telecom|all] [--repeat 5]
                                          [--rows 10000000] [--data DIR] [--ssb-data DIR] [--keep]
                                          [--declared-build] [--refresh --day-source DIR]
                                          [--append-day 2025-06-15] [--replace-day 2025-06-16]
                                          [--reserve-disk-gb 12]

For each suite it

1. writes a temporary project (the example's ``model.json`` and data, a store directory of its own),
2. with ``--declared-build``: builds with ``cube-server build --budget 0`` (declared cuboids only; also set as
   ``[store] budget = 0``) and times it, then times GROUPING SETS over the raw facts for those cuboids,
3. prints ``cube-server plan`` (the estimated rows of the cuboids it will build), builds the store with the
   real ``cube-server build`` (a subprocess: wall time, and its peak RSS from ``wait4``; the declared cuboids
   and the selected ones), reads the cuboids it actually wrote from the store's manifest
   (``STORE/CURRENT`` → ``versions/<version>/manifest.json``: grain, measures, rows) and times DuckDB
   ``SELECT … GROUP BY GROUPING SETS ((…), (…), …)`` over the raw Parquet producing the groups of every one of
   them with the measures it holds: one pass per set of measures (the floor for a build; a pass computes
   every measure for every set, so cuboids without the exact distinct count do not share a pass with those
   holding it), checking it yields as many groups as the build wrote rows. A pass may spill to disk all but
   ``--reserve-disk-gb`` of the free space; one that runs out is reported as not completed,
4. serves the project with the real ``cube-server serve`` (a subprocess on a free loopback port, waiting
   for ``/ready``),
5. asks each question over HTTP with httpx and as hand-written SQL directly on DuckDB over the raw Parquet
   in this process: one untimed warm-up each, then ``--repeat`` timed runs, alternating HTTP and SQL so
   both see the same machine noise; "ours" is the HTTP round trip including reading and decoding the JSON
   (decimals exact), "DuckDB" is executing the SQL and fetching its rows; then reads the server's peak RSS
   (``VmHWM`` of the serving Python process in ``/proc``),
6. checks that every answer agrees with the SQL (cells with their keys and values, summary, cell count;
   for the pivot every grid cell, the row, column and grand totals) and prints a Markdown table per suite,
7. with ``--refresh`` (telecom): everything above runs on a hard-linked copy of ``--data`` in the temporary
   directory; then one day is appended and another replaced with ``cube-server refresh``, timed per step and
   per cuboid (``benchmarks/refresh_benchmark.py``), and the question mix is asked again (one timed run
   each), its answers checked against SQL over the changed facts.

Suites: ``ssb`` (the 13 queries of ``examples/ssb/queries.py`` with their SQL; data as configured in
``examples/ssb/cube-server.toml`` unless ``--ssb-data``) and ``telecom`` (18 questions over ``--rows``
generated charge records; ``--data DIR`` reuses a dataset generated with ``cube-server generate`` when
``DIR/manifest.json`` exists, else it is generated there; default ``$TMPDIR/cube-bench-telecom-<rows>``).
Exits 1 when any answer differs from the SQL, 2 when the server or the build fails.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import httpx

ROOT = Path(__file__).resolve().parent.parent
SSB_PROJECT = ROOT / "examples" / "ssb"
TELECOM_PROJECT = ROOT / "examples" / "telecom"


# ---- small helpers ------------------------------------------------------------------------------
class SetupError(Exception):
    """The build, the server or the data could not be prepared (exit code 2)."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cube_server_command() -> list[str]:
    executable = shutil.which("cube-server")
    return [executable] if executable else [sys.executable, "-m", "api.cli"]


def sql_literal(text: str | Path) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def load_module(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return module


def same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, bool) or isinstance(b, bool):
        return a == b
    if isinstance(a, int | Decimal) and isinstance(b, int | Decimal):
        return Decimal(a) == Decimal(b)
    return bool(a == b)


def arpu(revenue: Any, subscribers: Any) -> Decimal | None:
    """The model's calculated measure: revenue / subscribers, rounded half-even to 2 places (null over 0)."""
    if revenue is None or not subscribers:
        return None
    return (Decimal(revenue) / Decimal(subscribers)).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


# ---- questions ----------------------------------------------------------------------------------
@dataclass
class Question:
    name: str
    path: str  # e.g. "aggregate", "drilldown", "slice", "pivot" (under /v1/cubes/<cube>/)
    params: dict[str, str]
    direct: Callable[[duckdb.DuckDBPyConnection], Any]  # the SQL answer, shaped for ``check``
    check: Callable[[dict[str, Any], Any], str | None]  # None when the HTTP answer agrees


@dataclass
class Outcome:
    name: str
    source: str
    ours_ms: float  # HTTP round trip, JSON decoded
    engine_ms: float  # the server's own time for the query (Server-Timing: engine)
    duckdb_ms: float
    problem: str | None
    cells: str

    @property
    def speedup(self) -> float:
        return self.duckdb_ms / self.ours_ms


@dataclass
class SuiteReport:
    name: str
    facts: int
    facts_bytes: int  # the fact files on disk
    build: BuildRun  # ``cube-server build`` as configured (declared and selected cuboids)
    declared: BuildRun | None = None  # ``cube-server build --budget 0`` (declared cuboids only), when asked
    health_ms: float = float("nan")  # the HTTP floor: median round trip of GET /health
    cuboids: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[Outcome] = field(default_factory=list)
    server_memory: dict[str, int] = field(default_factory=dict)  # VmHWM / VmRSS in kB after the question mix
    server_cmdline: str = ""
    refresh: Any = None  # refresh_benchmark.RefreshReport
    after_refresh: list[Outcome] = field(default_factory=list)  # the mix again, on the refreshed store
    after_refresh_memory: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def check_cellset(got: dict[str, Any], want: dict[str, Any], *, ordered: bool) -> str | None:
    """Summary, cell count and every cell (the SQL's columns: level keys and measures) must agree."""
    for name, value in want["summary"].items():
        if not same(got["summary"].get(name), value):
            return f"summary {name}: ours {got['summary'].get(name)!r}, SQL {value!r}"
    if "total_cell_count" in want and got.get("total_cell_count") != want["total_cell_count"]:
        return f"total_cell_count: ours {got.get('total_cell_count')!r}, SQL {want['total_cell_count']!r}"
    got_cells, want_cells = got["cells"], want["cells"]
    if len(got_cells) != len(want_cells):
        return f"{len(got_cells)} cells from us, {len(want_cells)} from SQL"
    if not want_cells:
        return None
    columns = list(want_cells[0])
    projected = [{c: cell.get(c, "<absent>") for c in columns} for cell in got_cells]
    if not ordered:

        def key(cell: dict[str, Any]) -> str:
            return repr([cell[c] for c in columns if c not in want["summary"]])

        projected.sort(key=key)
        want_cells = sorted(want_cells, key=key)
    for index, (a, b) in enumerate(zip(projected, want_cells, strict=True)):
        if not all(same(a[c], b[c]) for c in columns):
            return f"cell {index}: ours {a!r}, SQL {b!r}"
    return None


def rows_of(connection: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = connection.execute(sql)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# ---- SSB ----------------------------------------------------------------------------------------
# the stored measures of the model: the columns the pass reads, and their aggregates
SSB_INPUTS = ["lo_revenue", "lo_supplycost", "lo_extendedprice", "lo_discount"]
SSB_MEASURES = {  # the model's stored measures, as the pass computes them
    "revenue": "sum(lo_revenue)",
    "supplycost": "sum(lo_supplycost)",
    "extendedprice": "sum(lo_extendedprice)",
    "discounted_price": "sum(lo_extendedprice * lo_discount)",
    "profit": "sum(lo_revenue - lo_supplycost)",
    "record_count": "count(*)",
}
# dimension -> hierarchy -> [(level, columns it adds: key, then label when it has one)]
SSB_LEVELS: dict[str, dict[str, list[tuple[str, list[str]]]]] = {
    "order_date": {
        "default": [("year", ["d_year"]), ("yearmonth", ["d_yearmonthnum", "d_yearmonth"]), ("date", ["d_datekey"])],
        "weekly": [("year", ["d_year"]), ("week", ["d_weeknuminyear"])],
    },
    "customer": {"default": [("region", ["c_region"]), ("nation", ["c_nation"]), ("city", ["c_city"])]},
    "supplier": {"default": [("region", ["s_region"]), ("nation", ["s_nation"]), ("city", ["s_city"])]},
    "part": {"default": [("mfgr", ["p_mfgr"]), ("category", ["p_category"]), ("brand", ["p_brand1"])]},
    "discount": {"default": [("discount", ["lo_discount"])]},
    "quantity": {"default": [("quantity", ["lo_quantity"])]},
}
SSB_STAR = """
    FROM {lineorder}
      LEFT JOIN {dates} ON lo_orderdate = d_datekey
      LEFT JOIN {customer} ON lo_custkey = c_custkey
      LEFT JOIN {supplier} ON lo_suppkey = s_suppkey
      LEFT JOIN {part} ON lo_partkey = p_partkey
"""


def ssb_questions(queries: ModuleType, tables: dict[str, str]) -> list[Question]:
    questions = []
    for query in queries.SSB_QUERIES:
        params = {"cut": query.cut, "measures": ",".join(query.measures)}
        if query.drilldown:
            params["drilldown"] = query.drilldown
        if query.order:
            params["order"] = query.order
        questions.append(
            Question(
                query.name,
                "aggregate",
                params,
                lambda connection, q=query: queries.expected_answer(connection, q, tables),
                lambda got, want: check_cellset(got, want, ordered=True),
            )
        )
    return questions


# ---- telecom ------------------------------------------------------------------------------------
TELECOM_INPUTS = ["c.revenue AS revenue", "c.call_minutes AS call_minutes", "c.customer_code AS customer_code"]
TELECOM_MEASURES = {
    "revenue": "sum(revenue)",
    "call_minutes": "sum(call_minutes)",
    "record_count": "count(*)",
    "subscribers": "count(DISTINCT customer_code)",
}


def _unknown(alias: str, key: str, column: str) -> str:
    """A dimension attribute through a left join whose orphans read as the member 'unknown' (as the model says)."""
    return f"unk({alias}.{key}, {alias}.{column})"


def _path(alias: str, key: str, dimension: str, levels: list[str], labels: bool) -> list[tuple[str, str]]:
    columns = []
    for level in levels:
        columns.append((_unknown(alias, key, level), f"{dimension}.{level}"))
        if labels:
            columns.append((_unknown(alias, key, f"{level}_name_en"), f"{dimension}.{level}.label"))
    return columns


TIME = [("year", "year"), ("quarter", "quarter"), ("month", "month"), ("day", "day"), ("hour", "hour")]
GEOGRAPHY = ["scope", "continent", "country", "region", "province", "city"]
ORGANISATION = ["head_office", "province_branch", "city_branch"]


def telecom_levels() -> dict[str, dict[str, list[tuple[str, list[tuple[str, str]]]]]]:
    """dimension -> hierarchy -> [(level, [(SQL expression, column name)])] with the stored key and label."""
    time_default = [(level, [(f"{fn}(c.charged_at)", f"time.{level}")]) for level, fn in TIME]
    time_weekly = [
        ("isoyear", [("isoyear(c.charged_at)", "time.isoyear")]),
        ("isoweek", [("week(c.charged_at)", "time.isoweek")]),
        ("day", [("day(c.charged_at)", "time.day")]),
    ]

    def levels(alias: str, key: str, dimension: str, names: list[str]) -> list[tuple[str, list[tuple[str, str]]]]:
        return [(name, _path(alias, key, dimension, [name], labels=True)) for name in names]

    return {
        "time": {"default": time_default, "weekly": time_weekly},
        "geography": {"default": levels("g", "geography_code", "geography", GEOGRAPHY)},
        "organisation": {"default": levels("o", "branch_code", "organisation", ORGANISATION)},
        "product": {"default": levels("p", "product_code", "product", ["line", "product"])},
        "customer": {"default": levels("cu", "customer_code", "customer", ["segment", "customer"])},
        "channel": {
            "default": [
                (
                    "channel",
                    [
                        (_unknown("ch", "channel_code", "channel_code"), "channel.channel"),
                        (_unknown("ch", "channel_code", "channel_name_en"), "channel.channel.label"),
                    ],
                )
            ]
        },
    }


TELECOM_STAR = """
    FROM charges c
      LEFT JOIN geography g ON c.geography_code = g.geography_code
      LEFT JOIN organisation o ON c.branch_code = o.branch_code
      LEFT JOIN product p ON c.product_code = p.product_code
      LEFT JOIN customer cu ON c.customer_code = cu.customer_code
      LEFT JOIN channel ch ON c.channel_code = ch.channel_code
"""


def telecom_setup(connection: duckdb.DuckDBPyConnection, data: Path) -> None:
    """Views over the raw Parquet files, and the one macro the SQL uses for orphan keys."""
    files = {"charges": data / "facts" / "*.parquet"}
    dimensions = ("geography", "organisation", "product", "customer", "channel")
    files |= {table: data / f"{table}.parquet" for table in dimensions}
    for table, path in files.items():
        connection.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet({sql_literal(path)})")
    connection.execute("CREATE MACRO unk(k, v) AS CASE WHEN k IS NULL THEN 'unknown' ELSE v END")


def cols(items: list[tuple[str, str]]) -> str:
    return ", ".join(f'{expr} AS "{name}"' for expr, name in items)


def time_path(depth: int) -> list[tuple[str, str]]:
    return [(f"{fn}(c.charged_at)", f"time.{level}") for level, fn in TIME[:depth]]


def geo_path(level: str) -> list[tuple[str, str]]:
    names = GEOGRAPHY[: GEOGRAPHY.index(level) + 1]
    return [(_unknown("g", "geography_code", name), f"geography.{name}") for name in names]


YEAR_2025 = "c.charged_at >= TIMESTAMP '2025-01-01' AND c.charged_at < TIMESTAMP '2026-01-01'"
MARCH_2025 = "c.charged_at >= TIMESTAMP '2025-03-01' AND c.charged_at < TIMESTAMP '2025-04-01'"
JAN_15_2025 = "c.charged_at >= TIMESTAMP '2025-01-15' AND c.charged_at < TIMESTAMP '2025-01-16'"
ISO_2025 = "c.charged_at >= TIMESTAMP '2024-12-30' AND c.charged_at < TIMESTAMP '2025-12-29'"  # ISO year 2025
GEO_JOIN = "LEFT JOIN geography g ON c.geography_code = g.geography_code"
PRODUCT_JOIN = "LEFT JOIN product p ON c.product_code = p.product_code"
LINE = [(_unknown("p", "product_code", "line"), "product.line")]


def grouped(keys: list[tuple[str, str]], measures: str, joins: str = "", where: str = "", tail: str = "") -> str:
    select = cols(keys) + (", " if keys else "") + measures
    sql = f"SELECT {select} FROM charges c {joins}"
    if where:
        sql += f" WHERE {where}"
    if keys:
        sql += " GROUP BY ALL"
    return sql + (" " + tail if tail else "")


def cellset(
    cells_sql: str | None, summary_sql: str | None = None, *, derive: Callable[[dict[str, Any]], None] | None = None
) -> Callable[[duckdb.DuckDBPyConnection], dict[str, Any]]:
    """Run the cells SQL (and the summary SQL, when the summary is not the sum of the cells)."""

    def run(connection: duckdb.DuckDBPyConnection) -> dict[str, Any]:
        cells = rows_of(connection, cells_sql) if cells_sql else []
        if summary_sql:
            summary = rows_of(connection, summary_sql)[0]
        else:
            # every measure here is additive: the summary is the sum of the cells (level columns have dots)
            measures = [name for name in cells[0] if "." not in name]
            summary = {name: sum(cell[name] for cell in cells) for name in measures}
        count = summary.pop("total_cell_count", len(cells) if cells_sql else None)
        summary = {name: 0 if value is None else value for name, value in summary.items()}  # SUM of nothing
        for row in [*cells, summary]:
            if derive:
                derive(row)
        result = {"cells": cells, "summary": summary}
        if cells_sql:
            result["total_cell_count"] = count
        return result

    return run


def with_arpu(row: dict[str, Any]) -> None:
    row["arpu"] = arpu(row["revenue"], row["subscribers"])


def telecom_questions() -> list[Question]:
    revenue = "sum(c.revenue) AS revenue"
    unordered = lambda got, want: check_cellset(got, want, ordered=False)  # noqa: E731
    ordered = lambda got, want: check_cellset(got, want, ordered=True)  # noqa: E731
    subscribers = "count(DISTINCT c.customer_code) AS subscribers"
    q = Question
    return [
        q("total revenue and records", "aggregate", {"measures": "revenue,record_count"},
          cellset(None, "SELECT sum(revenue) AS revenue, count(*) AS record_count FROM charges"), unordered),
        q("revenue by year × province", "aggregate",
          {"drilldown": "time:year|geography:province", "measures": "revenue"},
          cellset(grouped(time_path(1) + geo_path("province"), revenue, GEO_JOIN)), unordered),
        q("revenue by month × province, 2025", "aggregate",
          {"cut": "time:2025", "drilldown": "time:month|geography:province", "measures": "revenue"},
          cellset(grouped(time_path(3) + geo_path("province"), revenue, GEO_JOIN, YEAR_2025)), unordered),
        q("revenue by year × product line", "aggregate",
          {"drilldown": "time:year|product:line", "measures": "revenue"},
          cellset(grouped(time_path(1) + LINE, revenue, PRODUCT_JOIN)), unordered),
        q("revenue by month × product line, 2025", "aggregate",
          {"cut": "time:2025", "drilldown": "time:month|product:line", "measures": "revenue"},
          cellset(grouped(time_path(3) + LINE, revenue, PRODUCT_JOIN, YEAR_2025)), unordered),
        q("drill-down March 2025 → days", "drilldown",
          {"cut": "time:2025,1,3", "dimension": "time", "measures": "revenue"},
          cellset(grouped(time_path(4), revenue, "", MARCH_2025)), unordered),
        q("slice: key accounts 2025 by channel", "slice",
          {"cut": "time:2025|customer:key_account", "drilldown": "channel", "measures": "revenue,record_count"},
          cellset(grouped([(_unknown("ch", "channel_code", "channel_code"), "channel.channel")],
                          f"{revenue}, count(*) AS record_count",
                          "LEFT JOIN customer cu ON c.customer_code = cu.customer_code "
                          "LEFT JOIN channel ch ON c.channel_code = ch.channel_code",
                          f"{YEAR_2025} AND unk(cu.customer_code, cu.segment) = 'key_account'")), unordered),
        q("pivot province × quarter, 2025", "pivot",
          {"rows": "geography:province", "columns": "time:quarter", "cut": "time:2025", "measures": "revenue"},
          pivot_answer(geo_path("province"), time_path(2), GEO_JOIN, YEAR_2025), check_pivot),
        q("top-10 cities by revenue, 2025", "aggregate",
          {"cut": "time:2025", "drilldown": "geography:city", "measures": "revenue", "order": "revenue:desc",
           "limit": "10"},
          cellset(grouped(geo_path("city"), revenue, GEO_JOIN, YEAR_2025, "ORDER BY revenue DESC LIMIT 10"),
                  f"SELECT (SELECT sum(revenue) FROM charges c WHERE {YEAR_2025}) AS revenue, "
                  f"(SELECT count(*) FROM ({grouped(geo_path('city'), 'count(*)', GEO_JOIN, YEAR_2025)})) "
                  "AS total_cell_count"), ordered),
        q("distinct subscribers by month", "aggregate", {"drilldown": "time:month", "measures": "subscribers"},
          cellset(grouped(time_path(3), subscribers),
                  "SELECT count(DISTINCT customer_code) AS subscribers FROM charges"), unordered),
        q("ARPU by segment, 2025", "aggregate",
          {"cut": "time:2025", "drilldown": "customer:segment", "measures": "revenue,subscribers,arpu"},
          cellset(grouped([(_unknown("cu", "customer_code", "segment"), "customer.segment")],
                          f"{revenue}, {subscribers}",
                          "LEFT JOIN customer cu ON c.customer_code = cu.customer_code", YEAR_2025),
                  f"SELECT sum(revenue) AS revenue, {subscribers} FROM charges c WHERE {YEAR_2025}",
                  derive=with_arpu), unordered),
        q("revenue by province branch", "aggregate",
          {"drilldown": "organisation:province_branch", "measures": "revenue"},
          cellset(grouped([(_unknown("o", "branch_code", name), f"organisation.{name}")
                           for name in ORGANISATION[:2]], revenue,
                          "LEFT JOIN organisation o ON c.branch_code = o.branch_code")), unordered),
        q("call minutes by hour, 15 Jan 2025", "aggregate",
          {"cut": "time:2025,1,1,15", "drilldown": "time:hour", "measures": "call_minutes"},
          cellset(grouped(time_path(5), "sum(c.call_minutes) AS call_minutes", "", JAN_15_2025)), unordered),
        q("call minutes by hour, March 2025", "aggregate",
          {"cut": "time:2025,1,3", "drilldown": "time:hour", "measures": "call_minutes"},
          cellset(grouped(time_path(5), "sum(c.call_minutes) AS call_minutes", "", MARCH_2025)), unordered),
        q("revenue by ISO week of 2025", "aggregate",
          {"cut": "time@weekly:2025", "drilldown": "time@weekly:isoweek", "measures": "revenue"},
          cellset(grouped([("isoyear(c.charged_at)", "time.isoyear"), ("week(c.charged_at)", "time.isoweek")],
                          revenue, "", ISO_2025)), unordered),
        q("revenue and subscribers by product line", "aggregate",
          {"drilldown": "product:line", "measures": "revenue,subscribers"},
          cellset(grouped(LINE, f"{revenue}, {subscribers}", PRODUCT_JOIN),
                  f"SELECT sum(revenue) AS revenue, {subscribers} FROM charges c"), unordered),
        q("revenue by region, 2025", "aggregate",
          {"cut": "time:2025", "drilldown": "geography:region", "measures": "revenue"},
          cellset(grouped(geo_path("region"), revenue, GEO_JOIN, YEAR_2025)), unordered),
        q("revenue by channel × product line, 2025 (no cuboid)", "aggregate",
          {"cut": "time:2025", "drilldown": "channel|product:line", "measures": "revenue"},
          cellset(grouped([(_unknown("ch", "channel_code", "channel_code"), "channel.channel"), *LINE], revenue,
                          f"LEFT JOIN channel ch ON c.channel_code = ch.channel_code {PRODUCT_JOIN}", YEAR_2025)),
          unordered),
    ]  # fmt: skip


def pivot_answer(
    rows: list[tuple[str, str]], columns: list[tuple[str, str]], joins: str, where: str
) -> Callable[[duckdb.DuckDBPyConnection], dict[str, Any]]:
    """The whole pivot (grid, row totals, column totals, grand total) as one GROUPING SETS query."""
    row_names = [name for _, name in rows]
    column_names = [name for _, name in columns]
    quoted = lambda names: ", ".join(f'"{n}"' for n in names)  # noqa: E731
    sql = (
        f"SELECT {quoted(row_names + column_names)}, sum(revenue) AS value, "
        f"GROUPING({quoted(row_names)}) = 0 AS has_row, GROUPING({quoted(column_names)}) = 0 AS has_column "
        f"FROM (SELECT {cols(rows + columns)}, c.revenue FROM charges c {joins} WHERE {where}) "
        f"GROUP BY GROUPING SETS (({quoted(row_names + column_names)}), ({quoted(row_names)}), "
        f"({quoted(column_names)}), ())"
    )

    def run(connection: duckdb.DuckDBPyConnection) -> dict[str, Any]:
        answer: dict[str, Any] = {"grid": {}, "rows": {}, "columns": {}, "grand": None}
        for row in rows_of(connection, sql):
            r = tuple(row[n] for n in row_names)
            c = tuple(row[n] for n in column_names)
            if row["has_row"] and row["has_column"]:
                answer["grid"][(r, c)] = row["value"]
            elif row["has_row"]:
                answer["rows"][r] = row["value"]
            elif row["has_column"]:
                answer["columns"][c] = row["value"]
            else:
                answer["grand"] = row["value"]
        return answer

    return run


def check_pivot(got: dict[str, Any], want: dict[str, Any]) -> str | None:
    if not same(got["grand_total"][0], want["grand"]):
        return f"grand total: ours {got['grand_total'][0]!r}, SQL {want['grand']!r}"
    row_headers = [tuple(h) for h in got["row_headers"]]
    column_headers = [tuple(h) for h in got["column_headers"]]
    if set(row_headers) != set(want["rows"]) or len(row_headers) != len(want["rows"]):
        return f"row headers differ: {len(row_headers)} ours, {len(want['rows'])} SQL"
    if set(column_headers) != set(want["columns"]) or len(column_headers) != len(want["columns"]):
        return f"column headers differ: ours {column_headers!r}, SQL {sorted(want['columns'])!r}"
    for i, r in enumerate(row_headers):
        if not same(got["row_totals"][i][0], want["rows"][r]):
            return f"row total {r}: ours {got['row_totals'][i][0]!r}, SQL {want['rows'][r]!r}"
        for j, c in enumerate(column_headers):
            cell = got["values"][i][j]
            value = None if cell is None else cell[0]
            if not same(value, want["grid"].get((r, c))):
                return f"cell {r} × {c}: ours {value!r}, SQL {want['grid'].get((r, c))!r}"
    for j, c in enumerate(column_headers):
        if not same(got["column_totals"][j][0], want["columns"][c]):
            return f"column total {c}: ours {got['column_totals'][j][0]!r}, SQL {want['columns'][c]!r}"
    return None


# ---- build and the GROUPING SETS floor --------------------------------------------------------
Grain = list[tuple[str, str, str]]  # (dimension, hierarchy, level): the deepest level a cuboid keeps, per dimension


def declared_grains(model_path: Path, cube: str) -> list[Grain]:
    """The grains of the cuboids the model declares (``dimension[@hierarchy]:level`` texts)."""
    model = json.loads(model_path.read_text(encoding="utf-8"))
    found = next(c for c in model["cubes"] if c["name"] == cube)
    if not found.get("cuboids"):
        raise SetupError(f"{model_path}: cube {cube!r} declares no cuboids")
    grains = []
    for cuboid in found["cuboids"]:
        grain = []
        for text in cuboid["levels"]:
            spec, level = text.split(":", 1)
            dimension, _, hierarchy = spec.partition("@")
            grain.append((dimension, hierarchy or "default", level))
        grains.append(grain)
    return grains


def store_manifest(store: Path) -> dict[str, Any]:
    """The manifest of the store's current version (``STORE/CURRENT`` names it), with its directory."""
    version = json.loads((store / "CURRENT").read_text(encoding="utf-8"))["version"]
    manifest = json.loads((store / "versions" / version / "manifest.json").read_text(encoding="utf-8"))
    manifest["directory"] = str(store / "versions" / version)
    return dict(manifest)


def built_grains(manifest: dict[str, Any], cube: str) -> list[Grain]:
    """The grains of the cuboids the build actually wrote (declared and selected)."""
    return [[tuple(level) for level in c["grain"]] for c in manifest["cuboids"] if c["cube"] == cube]  # type: ignore[misc]


def grain_columns(grain: Grain, levels: dict[str, dict[str, list[tuple[str, list[Any]]]]]) -> list[tuple[str, str]]:
    """(column name, SQL expression) of every level a grain keeps, from its dimensions' tops down: keys and labels."""
    columns: list[tuple[str, str]] = []
    for dimension, hierarchy, level in grain:
        try:
            path = levels[dimension][hierarchy]
            depth = [name for name, _ in path].index(level) + 1
        except (KeyError, ValueError) as error:
            raise SetupError(f"the benchmark has no SQL for level {dimension}@{hierarchy}:{level}") from error
        for _, items in path[:depth]:
            for item in items:
                expr, name = item if isinstance(item, tuple) else (item, item)
                columns.append((name, expr))
    return list(dict.fromkeys(columns))


def grouping_sets_sql(
    grains: list[Grain],
    levels: dict[str, dict[str, list[tuple[str, list[Any]]]]],
    star: str,
    inputs: list[str],
    measures: list[str],
) -> tuple[str, int]:
    """One SELECT … GROUP BY GROUPING SETS with one set per cuboid grain (its levels' keys and labels)."""
    columns: dict[str, str] = {}  # column name -> expression
    sets = []
    for grain in grains:
        names = []
        for name, expr in grain_columns(grain, levels):
            columns.setdefault(name, expr)
            names.append(name)
        sets.append("(" + ", ".join(f'"{n}"' for n in names) + ")")
    keys = ", ".join(f'{expr} AS "{name}"' for name, expr in columns.items())
    select = ", ".join(f'"{name}"' for name in columns)
    sql = (
        f"SELECT {select}, {', '.join(measures)} FROM (SELECT {keys}, {', '.join(inputs)} {star}) "
        f"GROUP BY GROUPING SETS ({', '.join(sets)})"
    )
    return sql, len(sets)


def time_grouping_sets(
    connection: duckdb.DuckDBPyConnection, sql: str, spill: Path, reserve_gb: float
) -> tuple[float, int, str | None]:
    """(seconds, groups, error): the pass may spill at most the free disk space less ``reserve_gb`` (a shared disk)."""
    spill.mkdir(parents=True, exist_ok=True)  # the connection's temp_directory (set when it was opened)
    limit_gb = max(1, int(shutil.disk_usage(spill).free / 1e9 - reserve_gb))
    connection.execute(f"SET max_temp_directory_size = '{limit_gb}GB'")
    started = time.perf_counter()
    try:
        table = connection.sql(sql).to_arrow_table()
    except duckdb.Error as error:
        message = " ".join(str(error).split())[:300]
        return time.perf_counter() - started, 0, f"{message} (temp space allowed: {limit_gb} GB)"
    finally:
        for leftover in spill.glob("*"):
            leftover.unlink(missing_ok=True)
    return time.perf_counter() - started, table.num_rows, None


@dataclass
class BuildRun:
    budget: float | None  # None: as configured ([store] budget, 0.1 of the fact rows by default)
    wall_s: float
    internal_s: float | None  # "N cuboid(s) in X s" as the build prints it
    maxrss_kb: int  # peak RSS of the build process (wait4)
    cuboids: int
    rows: int
    store_bytes: int  # the version directory: apparent size of its files
    store_disk_bytes: int  # and the blocks they take
    grouping_sets_s: float = float("nan")  # GROUPING SETS passes over the raw facts (one per measure set)
    grouping_sets_groups: int = 0
    sets: int = 0
    passes: list[tuple[int, list[str], float, int]] = field(default_factory=list)  # sets, measures, s, groups
    pass_error: str | None = None  # a pass did not complete (e.g. out of temp space)
    estimated: dict[str, int] = field(default_factory=dict)  # cube-server plan's estimated rows per cuboid
    built: dict[str, int] = field(default_factory=dict)  # the rows each cuboid got


def run_build(project: Path, budget: float | None = None) -> tuple[float, float | None, str, int]:
    """``cube-server build PROJECT [--budget B]``: wall s, the build's own s, its stdout, its peak RSS (kB)."""
    command = [*cube_server_command(), "build", str(project)]
    if budget is not None:
        command += ["--budget", f"{budget:g}"]
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        # cwd: where DuckDB would spill (its default temp_directory is .tmp), so beside the project, not in the repo
        process = subprocess.Popen(command, stdout=out, stderr=err, cwd=project.parent)
        _, status, usage = os.wait4(process.pid, 0)  # the child's own rusage: its peak RSS
        elapsed = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if process.returncode != 0:
        log(stdout + stderr)
        raise SetupError(f"{' '.join(command)} failed with exit code {process.returncode}")
    match = re.search(r"cuboid\(s\) in ([0-9.]+) s", stdout)
    return elapsed, float(match.group(1)) if match else None, stdout, int(usage.ru_maxrss)


def plan_estimates(project: Path, cube: str) -> dict[str, int]:
    """``cube-server plan PROJECT``: the estimated rows of every cuboid the build will make, by name."""
    done = subprocess.run([*cube_server_command(), "plan", str(project)], capture_output=True, text=True,
                          cwd=project.parent)  # fmt: skip
    if done.returncode != 0:
        log(done.stdout + done.stderr)
        return {}
    log(done.stdout.rstrip())
    found = {}
    for line in done.stdout.splitlines():
        match = re.match(r"(\S+)\s+(declared|selected)\s+.*?\s([0-9,]+)\s", line + " ")
        if match:
            found[match.group(1)] = int(match.group(3).replace(",", ""))
    return found


def tree_bytes(path: Path) -> tuple[int, int]:
    """(apparent bytes, allocated bytes) of the files under ``path``, each inode once."""
    seen: set[int] = set()
    apparent = allocated = 0
    for file in path.rglob("*"):
        stat = file.lstat()
        if file.is_file() and stat.st_ino not in seen:
            seen.add(stat.st_ino)
            apparent += stat.st_size
            allocated += stat.st_blocks * 512
    return apparent, allocated


def measured_build(
    name: str,
    project: Path,
    store: Path,
    cube: str,
    budget: float | None,
    connection: duckdb.DuckDBPyConnection,
    sql_of: Callable[[list[Grain], list[str]], tuple[str, int]],
    spill: Path,
    reserve: float,
) -> BuildRun:
    """The real build, timed; then ONE GROUPING SETS pass over the raw facts for the grains it actually built."""
    label = "cube-server build" + (f" --budget {budget:g}" if budget is not None else "")
    log(f"[{name}] {label} ...")
    config = project / "cube-server.toml"
    original = config.read_text(encoding="utf-8")
    if budget is not None:
        # Also as [store] budget: `cube-server build` has ignored its --budget flag (api/cli.py's _build does
        # not pass it on), and the check on the built grains below would catch that.
        config.write_text(original.replace("\n[store]\n", f"\n[store]\nbudget = {budget!r}\n", 1), encoding="utf-8")
    try:
        wall, internal, output, maxrss = run_build(project, budget)
    finally:
        config.write_text(original, encoding="utf-8")
    log(output.rstrip())
    manifest = store_manifest(store)
    cuboids = [c for c in manifest["cuboids"] if c["cube"] == cube]
    apparent, allocated = tree_bytes(Path(manifest["directory"]))
    run = BuildRun(budget, wall, internal, maxrss, len(cuboids), sum(c["rows"] for c in cuboids), apparent,
                   allocated)  # fmt: skip
    run.built = {c["name"]: c["rows"] for c in cuboids}
    # Cuboids holding the same measures share one pass (a pass computes every measure for every set, and DuckDB
    # cannot leave the exact distinct count out of some sets): one pass per measure set, as few as possible.
    by_measures: dict[tuple[str, ...], list[Grain]] = {}
    for cuboid in cuboids:
        by_measures.setdefault(tuple(cuboid["measures"]), []).append([tuple(g) for g in cuboid["grain"]])  # type: ignore[misc]
    run.sets = len(cuboids)
    log(f"[{name}] {label}: {wall:.1f} s wall, peak RSS {maxrss / 1024:,.0f} MB; {len(by_measures)} GROUPING SETS "
        f"pass(es) over the facts ({run.sets} sets) ...")  # fmt: skip
    run.grouping_sets_s = 0.0
    for measures, grains in by_measures.items():
        sql, sets = sql_of(grains, list(measures))
        seconds, groups, error = time_grouping_sets(connection, sql, spill, reserve)
        run.grouping_sets_s += seconds
        run.grouping_sets_groups += groups
        run.passes.append((sets, list(measures), seconds, groups))
        log(f"[{name}] pass over {sets} sets ({', '.join(measures)}): {seconds:.1f} s, {groups:,} groups"
            + (f"; FAILED: {error}" if error else ""))  # fmt: skip
        if error is not None:
            run.pass_error = error
            break
    log(f"[{name}] passes: {run.grouping_sets_s:.1f} s, {run.grouping_sets_groups:,} groups; build {run.rows:,} rows")
    return run


# ---- serving ------------------------------------------------------------------------------------
class Server:
    """``cube-server serve PROJECT`` on a free loopback port, until closed."""

    def __init__(self, project: Path, workdir: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "server.log"
        self.cmdline = ""
        env = {**os.environ, "CUBE_QUERY_TIMEOUT_MS": os.environ.get("CUBE_QUERY_TIMEOUT_MS", "600000")}
        command = [*cube_server_command(), "serve", str(project), "--host", "127.0.0.1", "--port", str(self.port),
                   "--log-level", "warning"]  # fmt: skip
        self.log_file = open(self.log_path, "w", encoding="utf-8")  # noqa: SIM115
        self.process = subprocess.Popen(command, stdout=self.log_file, stderr=subprocess.STDOUT, cwd=workdir, env=env)

    def wait_ready(self, timeout_s: float = 300) -> float:
        started = time.perf_counter()
        with httpx.Client(base_url=self.base, timeout=5) as client:
            while time.perf_counter() - started < timeout_s:
                if self.process.poll() is not None:
                    raise SetupError(f"cube-server serve exited ({self.process.returncode}):\n{self.log_text()}")
                try:
                    response = client.get("/ready")
                    if response.status_code == 200:
                        return time.perf_counter() - started
                    if response.json().get("error", {}).get("message") == "failed to load":
                        raise SetupError(f"cube-server serve failed to load its project:\n{self.log_text()}")
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
        raise SetupError(f"cube-server serve not ready after {timeout_s} s:\n{self.log_text()}")

    def python_pid(self) -> int:
        """The Python process that serves: the child itself when its launcher exec'd Python, else a descendant."""
        queue = [self.process.pid]
        while queue:
            pid = queue.pop(0)
            try:
                if "python" in Path(os.readlink(f"/proc/{pid}/exe")).name:
                    return pid
            except OSError:
                pass
            queue += children_of(pid)
        return self.process.pid

    def memory_kb(self) -> dict[str, int]:
        """VmHWM (peak RSS) and VmRSS of the serving Python process, from /proc/<pid>/status, in kB."""
        pid = self.python_pid()
        found = {"pid": pid}
        with open(f"/proc/{pid}/status", encoding="utf-8") as status:
            for line in status:
                name, _, value = line.partition(":")
                if name in ("VmHWM", "VmRSS"):
                    found[name] = int(value.split()[0])
        with open(f"/proc/{pid}/cmdline", encoding="utf-8") as cmdline:
            self.cmdline = " ".join(cmdline.read().split("\0")).strip()
        return found

    def log_text(self) -> str:
        self.log_file.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log_file.close()


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def ask(client: httpx.Client, cube: str, question: Question) -> tuple[float, float, dict[str, Any], str]:
    """(round-trip ms, the engine's own ms from Server-Timing, the decoded JSON body, X-Cube-Source)."""
    started = time.perf_counter()
    response = client.get(f"/v1/cubes/{cube}/{question.path}", params=question.params)
    body = json.loads(response.content, parse_float=Decimal)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"HTTP {response.status_code}: {response.text[:500]}")
    timing = re.search(r"engine;dur=([0-9.]+)", response.headers.get("Server-Timing", ""))
    engine_ms = float(timing.group(1)) if timing else float("nan")
    return elapsed, engine_ms, body, response.headers.get("X-Cube-Source", "?")


def http_floor(client: httpx.Client, runs: int = 50) -> float:
    """Median round trip of GET /health: what HTTP on loopback, uvicorn and FastAPI cost before any query."""
    times = []
    for _ in range(runs + 1):
        started = time.perf_counter()
        client.get("/health").json()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times[1:])


def run_questions(
    client: httpx.Client, cube: str, connection: duckdb.DuckDBPyConnection, questions: list[Question], repeat: int
) -> list[Outcome]:
    outcomes = []
    for question in questions:
        try:
            ask(client, cube, question)  # warm-up
            question.direct(connection)
            ours, engine, theirs = [], [], []
            body: dict[str, Any] = {}
            source = "?"
            want: Any = None
            for _ in range(repeat):
                elapsed, engine_ms, body, source = ask(client, cube, question)
                ours.append(elapsed)
                engine.append(engine_ms)
                started = time.perf_counter()
                want = question.direct(connection)
                theirs.append((time.perf_counter() - started) * 1000)
            problem = question.check(body, want)
        except Exception as error:  # noqa: BLE001 - reported as a failure of this question
            nan = float("nan")
            outcomes.append(Outcome(question.name, "error", nan, nan, nan, repr(error), "-"))
            log(f"  {question.name}: ERROR {error!r}")
            continue
        if question.path == "pivot":
            sources = body.get("meta", {}).get("sources", {})
            if sources and len(set(sources.values())) > 1:
                source = ", ".join(f"{k}: {v}" for k, v in sources.items())
            cells = f"{len(body['row_headers'])}×{len(body['column_headers'])}"
        else:
            cells = str(len(body["cells"])) if body.get("cells") else "-"
        outcome = Outcome(
            question.name, source, statistics.median(ours), statistics.median(engine), statistics.median(theirs),
            problem, cells,
        )  # fmt: skip
        outcomes.append(outcome)
        verdict = "ok" if problem is None else f"MISMATCH: {problem}"
        log(
            f"  {question.name}: {source}, ours {outcome.ours_ms:.1f} ms (engine {outcome.engine_ms:.1f}), "
            f"DuckDB {outcome.duckdb_ms:.1f} ms, {verdict}"
        )
    return outcomes


# ---- suites -------------------------------------------------------------------------------------
def write_project(source: Path, workdir: Path, data_root: Path) -> Path:
    """A copy of the example's cube-server.toml that points at its model, ``data_root`` and a store of its own."""
    project = workdir / "project"
    project.mkdir(parents=True)
    config = (source / "cube-server.toml").read_text(encoding="utf-8")
    config = config.replace('model = "model.json"', f"model = {json.dumps(str(source / 'model.json'))}")
    config = re.sub(r"(?m)^root = .*$", f"root = {json.dumps(str(data_root))}", config)
    if "[store]" in config:
        raise SetupError(f"{source}/cube-server.toml already has a [store] section; adapt write_project")
    config += f"\n[store]\ndirectory = {json.dumps(str(workdir / 'store'))}\n"
    (project / "cube-server.toml").write_text(config, encoding="utf-8")
    return project


@dataclass
class Suite:
    name: str
    cube: str
    source: Path  # the example project (model.json, cube-server.toml)
    data_root: Path
    setup: Callable[[duckdb.DuckDBPyConnection, Path], dict[str, str]]  # views over the data root's files
    questions: Callable[[dict[str, str]], list[Question]]
    levels: dict[str, Any]
    star: str
    inputs: list[str]
    measures: dict[str, str]  # stored measure -> its aggregate over the pass's inputs
    facts_sql: str
    fact_files: Callable[[Path], list[Path]]


def run_suite(suite: Suite, args: argparse.Namespace) -> SuiteReport:
    workdir = Path(tempfile.mkdtemp(prefix=f"cube-bench-{suite.name}-"))
    try:
        report = _measure(suite, workdir, args)
    finally:
        if args.keep:
            log(f"[{suite.name}] kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    for run in filter(None, (report.declared, report.build)):
        if run.pass_error is None and run.rows != run.grouping_sets_groups:
            report.notes.append(
                f"budget {run.budget}: the GROUPING SETS pass produced {run.grouping_sets_groups:,} groups, "
                f"the build wrote {run.rows:,} rows"
            )
    return report


def warm_page_cache(files: list[Path]) -> float:
    """Read every fact file once, so the first build does not pay for a cold disk and the later steps do not."""
    started = time.perf_counter()
    for path in files:
        with open(path, "rb") as handle:
            while handle.read(1 << 24):
                pass
    return time.perf_counter() - started


def _measure(suite: Suite, workdir: Path, args: argparse.Namespace) -> SuiteReport:
    name, cube = suite.name, suite.cube
    data_root = suite.data_root
    if args.refresh:
        # A refresh adds and rewrites fact files: run everything on a hard-linked copy (no space; rewrites
        # make new files and unlink the copy's links, never writing into a file the original shares).
        data_root = workdir / "data"
        subprocess.run(["cp", "-al", str(suite.data_root), str(data_root)], check=True)
        log(f"[{name}] hard-linked copy of {suite.data_root} at {data_root}")
    project = write_project(suite.source, workdir, data_root)
    store = workdir / "store"
    log(f"[{name}] project {project}, data {data_root}")
    # DuckDB cannot move its temp directory once used: set it (beside the project, not in the repo) at once.
    (workdir / "duckdb-tmp").mkdir()
    connection = duckdb.connect(config={"temp_directory": str(workdir / "duckdb-tmp")})
    tables = suite.setup(connection, data_root)
    facts = int(connection.execute(suite.facts_sql.format(**tables)).fetchall()[0][0])
    fact_files = suite.fact_files(data_root)
    facts_bytes = sum(path.stat().st_size for path in fact_files)
    log(f"[{name}] {facts:,} facts in {len(fact_files)} files, {facts_bytes / 1e9:.2f} GB; page cache warmed in "
        f"{warm_page_cache(fact_files):.1f} s")  # fmt: skip

    def sql_of(grains: list[Grain], measures: list[str]) -> tuple[str, int]:
        aggregates = [suite.measures[measure] for measure in measures]
        return grouping_sets_sql(grains, suite.levels, suite.star.format(**tables), suite.inputs, aggregates)

    passes = (sql_of, workdir / "duckdb-tmp", args.reserve_disk_gb)
    declared = None
    if args.declared_build:
        declared = measured_build(name, project, store, cube, 0.0, connection, *passes)
        wanted = sorted(map(sorted, declared_grains(suite.source / "model.json", cube)))
        got = sorted(map(sorted, built_grains(store_manifest(store), cube)))
        if wanted != got:
            raise SetupError(f"--budget 0 built other cuboids than the model declares: {got} vs {wanted}")
    estimated = plan_estimates(project, cube)
    build = measured_build(name, project, store, cube, None, connection, *passes)
    build.estimated = estimated
    report = SuiteReport(name, facts, facts_bytes, build, declared)

    report.cuboids, report.health_ms, report.outcomes, report.server_memory, report.server_cmdline = serve_and_ask(
        suite, project, workdir, connection, tables, args.repeat
    )
    if args.refresh:
        refresh = load_module(Path(__file__).resolve().parent / "refresh_benchmark.py", "refresh_benchmark")
        if args.day_source is None:
            raise SetupError("--refresh needs --day-source DIR (a dataset generated with another seed)")
        ensure_generated(args.day_source, facts, 7)
        report.refresh = refresh.refresh_suite(project, store, data_root, args.day_source, workdir,
                                               args.append_day, args.replace_day)  # fmt: skip
        # The mix again, once, on the refreshed store and facts: the answers must still agree with the SQL.
        log(f"[{name}] the question mix again after the refreshes (1 timed run each) ...")
        after = duckdb.connect()
        after_tables = suite.setup(after, data_root)
        _, _, report.after_refresh, report.after_refresh_memory, _ = serve_and_ask(
            suite, project, workdir, after, after_tables, 1
        )
    return report


def serve_and_ask(
    suite: Suite,
    project: Path,
    workdir: Path,
    connection: duckdb.DuckDBPyConnection,
    tables: dict[str, str],
    repeat: int,
) -> tuple[list[dict[str, Any]], float, list[Outcome], dict[str, int], str]:
    """``cube-server serve``, the question mix, then the server's peak RSS: (cuboids, /health ms, outcomes, …)."""
    server = Server(project, workdir)
    try:
        ready_s = server.wait_ready()
        log(f"[{suite.name}] cube-server serve ready on {server.base} after {ready_s:.1f} s")
        with httpx.Client(base_url=server.base, timeout=900) as client:
            listing = client.get(f"/v1/cubes/{suite.cube}/cuboids").json()
            if listing["status"] != "serving":
                raise SetupError(f"the store is not serving: {listing['status']}")
            health = http_floor(client)
            outcomes = run_questions(client, suite.cube, connection, suite.questions(tables), repeat)
        memory = server.memory_kb()
        log(f"[{suite.name}] server pid {memory['pid']} ({server.cmdline}): VmHWM {memory.get('VmHWM', 0) / 1024:,.0f} "
            f"MB, VmRSS {memory.get('VmRSS', 0) / 1024:,.0f} MB")  # fmt: skip
    finally:
        server.close()
    return listing["cuboids"], health, outcomes, memory, server.cmdline


def ensure_generated(data: Path, rows: int, seed: int) -> None:
    """A telecom dataset in ``data``: reused when ``data/manifest.json`` exists, else generated."""
    manifest = data / "manifest.json"
    if manifest.exists():
        found = json.loads(manifest.read_text(encoding="utf-8"))
        if found.get("rows") != rows or found.get("seed") != seed:
            log(f"note: {data} holds {found.get('rows'):,} rows of seed {found.get('seed')} (wanted {rows:,}, {seed})")
        return
    log(f"generating {rows:,} rows (seed {seed}) into {data} ...")
    started = time.perf_counter()
    subprocess.run([*cube_server_command(), "generate", "--rows", str(rows), "--seed", str(seed), "--out",
                    str(data)], check=True, cwd=ROOT)  # fmt: skip
    log(f"generated in {time.perf_counter() - started:.1f} s")


def ssb_suite(args: argparse.Namespace) -> SuiteReport:
    sys.path.insert(0, str(ROOT))
    from cube_server.project import load_project

    queries = load_module(SSB_PROJECT / "queries.py", "ssb_queries")
    configured = load_project(SSB_PROJECT, args.ssb_data)
    files = {name: [str(p) for p in paths] for name, paths in configured.table_files().items()}

    def setup(connection: duckdb.DuckDBPyConnection, data_root: Path) -> dict[str, str]:
        return dict(queries.parquet_tables(files))

    return run_suite(
        Suite(
            "ssb", "lineorder", SSB_PROJECT, configured.data_root, setup,
            lambda tables: ssb_questions(queries, tables), SSB_LEVELS, SSB_STAR, SSB_INPUTS, SSB_MEASURES,
            "SELECT count(*) FROM {lineorder}", lambda data_root: [Path(p) for p in files["lineorder"]],
        ),
        args,
    )  # fmt: skip


def telecom_suite(args: argparse.Namespace) -> SuiteReport:
    data = args.data or Path(tempfile.gettempdir()) / f"cube-bench-telecom-{args.rows}"
    manifest = data / "manifest.json"
    if manifest.exists():
        rows = json.loads(manifest.read_text(encoding="utf-8")).get("rows")
        if rows != args.rows:
            log(f"[telecom] note: {data} holds {rows:,} rows (--rows {args.rows:,} ignored)")
    else:
        ensure_generated(data, args.rows, 42)

    def setup(connection: duckdb.DuckDBPyConnection, data_root: Path) -> dict[str, str]:
        telecom_setup(connection, data_root)
        return {}

    return run_suite(
        Suite(
            "telecom", "fixed_line_revenue", TELECOM_PROJECT, data, setup, lambda tables: telecom_questions(),
            telecom_levels(), TELECOM_STAR, TELECOM_INPUTS, TELECOM_MEASURES, "SELECT count(*) FROM charges",
            lambda data_root: sorted((data_root / "facts").glob("*.parquet")),
        ),
        args,
    )  # fmt: skip


# ---- report -------------------------------------------------------------------------------------
def mb(kilobytes: float) -> str:
    return f"{kilobytes / 1024:,.0f} MB"


def print_build(run: BuildRun, facts: int) -> None:
    what = "declared cuboids only" if run.budget == 0 else "declared and selected cuboids"
    command = "cube-server build" + (f" --budget {run.budget:g}" if run.budget is not None else "")
    internal = f" ({run.internal_s:.1f} s inside the build)" if run.internal_s is not None else ""
    print(f"- `{command}` ({what}): {run.cuboids} cuboids, {run.rows:,} rows ({run.rows / facts:.2%} of the facts), "
          f"version directory {run.store_bytes / 1e6:,.1f} MB ({run.store_disk_bytes / 1e6:,.1f} MB on disk); "
          f"**{run.wall_s:.1f} s** wall{internal}, peak RSS {mb(run.maxrss_kb)}.")  # fmt: skip
    passes = "; ".join(f"{sets} sets with {', '.join(measures)}: {seconds:.1f} s, {groups:,} groups"
                       for sets, measures, seconds, groups in run.passes)  # fmt: skip
    if run.pass_error is None:
        print(f"  GROUPING SETS over the raw facts, the same {run.sets} grains, one pass per set of measures "
              f"({passes}): **{run.grouping_sets_s:.1f} s**; build / passes = "
              f"**{run.wall_s / run.grouping_sets_s:.2f}**.")  # fmt: skip
    else:
        print(f"  GROUPING SETS over the raw facts, the same {run.sets} grains ({passes}): **did not complete**: "
              f"{run.pass_error}.")  # fmt: skip
    if run.estimated and run.budget != 0:
        off = [(name, run.estimated[name], rows) for name, rows in run.built.items() if name in run.estimated]
        total_estimated = sum(e for _, e, _ in off)
        print(f"  `cube-server plan` estimated {total_estimated:,} rows for these cuboids; the build wrote "
              f"{run.rows:,}. The largest:\n")  # fmt: skip
        print("  | cuboid | estimated rows | built rows | built / estimated |\n  |---|---:|---:|---:|")
        for name, estimate, rows in sorted(off, key=lambda item: -item[2])[:10]:
            print(f"  | {name} | {estimate:,} | {rows:,} | {rows / max(estimate, 1):,.1f}× |")
        print()


def print_outcomes(outcomes: list[Outcome], repeat: int) -> list[float]:
    print(f"Median of {repeat} runs after one warm-up each. ours = HTTP round trip including JSON decoding; "
          "engine = the server's own time for the query (its Server-Timing header), the rest being HTTP, "
          "routing and JSON encoding; speed-up = DuckDB / ours.\n")  # fmt: skip
    print("| query | source | cells | ours ms (HTTP) | engine ms | DuckDB ms | speed-up | check |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for o in outcomes:
        check = "ok" if o.problem is None else f"**MISMATCH**: {o.problem}"
        print(f"| {o.name} | {o.source} | {o.cells} | {o.ours_ms:,.1f} | {o.engine_ms:,.1f} | {o.duckdb_ms:,.1f} | "
              f"{o.speedup:,.1f}× | {check} |")  # fmt: skip
    good = [o for o in outcomes if o.problem is None]
    if not good:
        return []
    ratios = [o.speedup for o in good]
    from_cuboids = [o.speedup for o in good if o.source.startswith("cuboid:")]
    geomean = statistics.geometric_mean(ratios)
    line = f"\nMedian speed-up {statistics.median(ratios):.1f}× (geometric mean {geomean:.1f}×)"
    if from_cuboids and len(from_cuboids) != len(ratios):
        line += f"; answered from cuboids ({len(from_cuboids)}): median {statistics.median(from_cuboids):.1f}×"
    total_ours = sum(o.ours_ms for o in good)
    total_duckdb = sum(o.duckdb_ms for o in good)
    print(line + f"; totals {total_ours:,.0f} ms ours vs {total_duckdb:,.0f} ms DuckDB.")
    return ratios


def print_report(report: SuiteReport, repeat: int) -> None:
    print(f"\n### Suite `{report.name}`: {report.facts:,} facts ({report.facts_bytes / 1e9:.2f} GB of fact files)\n")
    stored_rows = sum(c["rows"] for c in report.cuboids)
    stored_bytes = sum(c["bytes"] for c in report.cuboids)
    print(f"Store: {len(report.cuboids)} cuboids, {stored_rows:,} rows ({stored_rows / report.facts:.2%} of the "
          f"facts), {stored_bytes / 1e6:.1f} MB.\n")  # fmt: skip
    print("| cuboid | grain | rows | bytes | built from |\n|---|---|---:|---:|---|")
    for c in report.cuboids:
        print(f"| {c['name']} | {', '.join(c['grain'])} | {c['rows']:,} | {c['bytes']:,} | {c['built_from']} |")
    print("\nBuild against GROUPING SETS over the raw facts producing the groups of the same cuboids:\n")
    for run in filter(None, (report.declared, report.build)):
        print_build(run, report.facts)
    print()
    for note in report.notes:
        print(f"Note: {note}\n")
    print(f"HTTP floor: GET /health takes {report.health_ms:.1f} ms (median of 50) on this server.\n")
    ratios = print_outcomes(report.outcomes, repeat)
    memory = report.server_memory
    if memory:
        print(f"\nServer (pid {memory['pid']}, `{report.server_cmdline}`) after the mix: peak RSS (VmHWM) "
              f"{mb(memory.get('VmHWM', 0))}, RSS now {mb(memory.get('VmRSS', 0))}; "
              f"CUBE_CUBOID_MEMORY_ROWS={os.environ.get('CUBE_CUBOID_MEMORY_ROWS', '5000000 (default)')}.")  # fmt: skip
    refresh = report.refresh
    if refresh is not None:
        module = sys.modules["refresh_benchmark"]
        module.print_refresh(refresh, report.build.wall_s, report.build.internal_s)
        print("\n#### The question mix again, after both refreshes (1 timed run each)\n")
        print_outcomes(report.after_refresh, 1)
        if report.after_refresh_memory:
            print(f"\nServer peak RSS (VmHWM) after this mix: {mb(report.after_refresh_memory.get('VmHWM', 0))}.")
    print_targets(report, ratios)


def print_targets(report: SuiteReport, ratios: list[float]) -> None:
    rows = []
    if ratios:
        median = statistics.median(ratios)
        rows.append(("median speed-up over HTTP vs DuckDB on the raw Parquet ≥ 100×", f"{median:.1f}×", median >= 100))
    build = report.build
    for target, run in (("full build ≤ 1.5× GROUPING SETS over the facts (same cuboids)", build),
                        ("(declared only) build ≤ 1.5× its GROUPING SETS pass", report.declared)):  # fmt: skip
        if run is None:
            continue
        if run.pass_error is not None:
            rows.append((target, f"{run.wall_s:.1f} s; the passes did not complete ({run.pass_error[:100]})", False))
            continue
        passes = f"{len(run.passes)} pass{'es' if len(run.passes) > 1 else ''}"
        ratio = f"{run.wall_s:.1f} s / {run.grouping_sets_s:.1f} s ({passes}) = {run.wall_s / run.grouping_sets_s:.2f}×"
        rows.append((target, ratio, run.wall_s <= 1.5 * run.grouping_sets_s))
    if report.refresh is not None:
        for run in (report.refresh.append, report.refresh.replace):
            rows.append((f"one-day {run.mode} ≤ 2% of the full build",
                         f"{run.wall_s:.1f} s = {run.wall_s / build.wall_s:.1%} of {build.wall_s:.1f} s",
                         run.wall_s <= 0.02 * build.wall_s))  # fmt: skip
    if report.server_memory:
        hwm = report.server_memory.get("VmHWM", 0)
        rows.append(("server peak RSS during the mix ≤ 1.5 GB", f"{hwm / 1024:,.0f} MB", hwm * 1024 <= 1.5e9))
    print("\n#### Targets\n\n| target | measured | |\n|---|---|---|")
    for target, measured, met in rows:
        print(f"| {target} | {measured} | {'met' if met else '**missed**'} |")


def code_state() -> str:
    """Where the subprocesses import cube_server from, and that checkout's commit and changed files."""
    found = subprocess.run([sys.executable, "-c", "import cube_server; print(cube_server.__file__)"],
                           capture_output=True, text=True, cwd=tempfile.gettempdir())  # fmt: skip
    package = Path(found.stdout.strip() or ".").parent.parent
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=package)
    if head.returncode != 0:
        return f"cube_server from {package} (not a git checkout)"
    status = subprocess.run(["git", "status", "--short"], capture_output=True, text=True, cwd=package)
    changed = " ".join(line.strip() for line in status.stdout.splitlines())
    state = f"cube_server from {package}, commit {head.stdout.strip()}"
    return state + (f"; uncommitted: {changed}" if changed else "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", choices=["ssb", "telecom", "all"], default="all")
    parser.add_argument("--rows", type=int, default=10_000_000, help="telecom facts (default 10,000,000)")
    parser.add_argument("--data", type=Path, default=None, help="telecom dataset directory (reused if complete)")
    parser.add_argument("--ssb-data", type=Path, default=None, help="SSB Parquet directory (default: as configured)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per question (default 5)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary projects and stores")
    parser.add_argument(
        "--declared-build",
        action="store_true",
        help="also build with --budget 0 (declared cuboids only) and time its GROUPING SETS pass",
    )
    parser.add_argument(
        "--refresh",
        action="store_true",
        help="telecom: run on a hard-linked copy of --data, then append one day and replace another with "
        "cube-server refresh (benchmarks/refresh_benchmark.py) and ask the mix again",
    )
    parser.add_argument(
        "--day-source",
        type=Path,
        default=None,
        help="dataset the appended day comes from (generated there with seed 7 when absent)",
    )
    parser.add_argument(
        "--reserve-disk-gb",
        type=float,
        default=12.0,
        help="the GROUPING SETS passes may spill to disk all but this many GB of the free space (default 12)",
    )
    parser.add_argument("--append-day", default="2025-06-15")
    parser.add_argument("--replace-day", default="2025-06-16")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.refresh and args.suite != "telecom":
        parser.error("--refresh needs --suite telecom (the SSB facts are one file, not a glob)")

    started = time.perf_counter()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GiB RAM, "
          f"{platform.system()} {platform.release()}; Python {platform.python_version()}, "
          f"DuckDB {duckdb.__version__}, httpx {httpx.__version__}")  # fmt: skip
    print(f"Code: {code_state()}")
    reports = []
    try:
        if args.suite in ("ssb", "all"):
            reports.append(ssb_suite(args))
            print_report(reports[-1], args.repeat)
        if args.suite in ("telecom", "all"):
            reports.append(telecom_suite(args))
            print_report(reports[-1], args.repeat)
    except (SetupError, subprocess.CalledProcessError) as error:
        print(f"benchmark failed: {error}", file=sys.stderr)
        return 2
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"\nTotal benchmark time {time.perf_counter() - started:.0f} s; peak RSS of this process (the SQL side and "
          f"the GROUPING SETS passes) {mb(peak)}.")  # fmt: skip
    print(f"Code at the end: {code_state()}")
    failures = [
        (r.name + suffix, o)
        for r in reports
        for suffix, outcomes in (("", r.outcomes), (" after refresh", r.after_refresh))
        for o in outcomes
        if o.problem is not None
    ]
    if failures:
        print(f"\n{len(failures)} answer(s) differ from direct SQL:", file=sys.stderr)
        for suite, outcome in failures:
            print(f"  MISMATCH [{suite}] {outcome.name}: {outcome.problem}", file=sys.stderr)
        return 1
    print("All answers agree with direct SQL.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
