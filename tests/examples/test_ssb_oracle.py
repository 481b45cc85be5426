"""The SSB example (``examples/ssb``) checked against hand-written SQL, on a deterministic sample.

The full 6M order lines are too slow for every test run (``benchmarks/ssb_check.py`` checks them), so a
module fixture writes a sample of ``lineorder``: every order whose key is a multiple of 50, plus the lines
between customers and suppliers of the two UK cities of SSB flight 3 (else Q3.4 would be empty at this
size), about 120,000 rows. The dimension tables are the original files, by absolute path. The engine
reads them through a temporary ``cube-server.toml`` that uses ``examples/ssb/model.json`` itself.

Every expectation is SQL written here (or, for the 13 SSB queries, in ``examples/ssb/queries.py``) and run
on a plain DuckDB connection over the same files; nothing in it goes through ``cube_server``. Answers are
compared whole: every cell's keys, labels and values, in the engine's order, the summary and the counts.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import duckdb
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from cube_models import validate_model
from cube_server.cut_syntax import parse_cuts, parse_drilldown
from cube_server.engine import CubeEngine
from cube_server.project import load_project, open_engine
from cube_server.query import FactsQuery, MembersQuery, OrderItem, PivotQuery, Query
from cube_server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SSB = ROOT / "examples" / "ssb"
CUBE = "lineorder"


def _load_queries() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ssb_queries", SSB / "queries.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


queries = _load_queries()
SSB_PROJECT = load_project(SSB)
DATA = SSB_PROJECT.data_root
pytestmark = pytest.mark.skipif(
    SSB_PROJECT.missing_tables() != [], reason=f"the SSB data is not at {DATA} (examples/ssb/cube-server.toml)"
)

# ---- the oracle's own description of the star: hand-written, not read from the model ------------
# dimension -> (join clause or None for fact columns, {hierarchy: [(level, key column, label column)]})
DIMENSIONS: dict[str, tuple[str | None, dict[str, list[tuple[str, str, str | None]]]]] = {
    "order_date": (
        "JOIN {dates} ON lo_orderdate = d_datekey",
        {
            "default": [
                ("year", "d_year", None),
                ("yearmonth", "d_yearmonthnum", "d_yearmonth"),
                ("date", "d_datekey", None),
            ],
            "weekly": [("year", "d_year", None), ("week", "d_weeknuminyear", None)],
        },
    ),
    "customer": (
        "JOIN {customer} ON lo_custkey = c_custkey",
        {"default": [("region", "c_region", None), ("nation", "c_nation", None), ("city", "c_city", None)]},
    ),
    "supplier": (
        "JOIN {supplier} ON lo_suppkey = s_suppkey",
        {"default": [("region", "s_region", None), ("nation", "s_nation", None), ("city", "s_city", None)]},
    ),
    "part": (
        "JOIN {part} ON lo_partkey = p_partkey",
        {"default": [("mfgr", "p_mfgr", None), ("category", "p_category", None), ("brand", "p_brand1", None)]},
    ),
    "discount": (None, {"default": [("discount", "lo_discount", None)]}),
    "quantity": (None, {"default": [("quantity", "lo_quantity", None)]}),
}
MEASURES = {
    "revenue": "SUM(lo_revenue)",
    "supplycost": "SUM(lo_supplycost)",
    "extendedprice": "SUM(lo_extendedprice)",
    "discounted_price": "SUM(lo_extendedprice * lo_discount)",
    "profit": "SUM(lo_revenue - lo_supplycost)",
    "record_count": "COUNT(*)",
}
ALL_LEVELS = [
    (dimension, hierarchy, depth)
    for dimension, (_, hierarchies) in DIMENSIONS.items()
    for hierarchy, levels in hierarchies.items()
    for depth in range(1, len(levels) + 1)
    if not (hierarchy != "default" and depth == 1)  # the weekly hierarchy's year is the default one's
]


# ---- fixtures ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The sample's table files: lineorder sampled into a temporary directory, the others as they are."""
    directory = tmp_path_factory.mktemp("ssb_sample")
    files = {spec.name: (DATA / spec.path).resolve() for spec in SSB_PROJECT.table_specs}
    sample = directory / "lineorder.parquet"
    uk = "('UNITED KI1', 'UNITED KI5')"
    with duckdb.connect() as connection:
        connection.execute(
            f"""
            COPY (
              SELECT * FROM read_parquet('{files["lineorder"]}')
              WHERE lo_orderkey % 50 = 0
                 OR (lo_custkey IN (SELECT c_custkey FROM read_parquet('{files["customer"]}') WHERE c_city IN {uk})
                     AND lo_suppkey IN (SELECT s_suppkey FROM read_parquet('{files["supplier"]}') WHERE s_city IN {uk}))
              ORDER BY lo_orderkey, lo_linenumber
            ) TO '{sample}' (FORMAT parquet)
            """
        )
    return {name: str(sample if name == "lineorder" else path) for name, path in files.items()}


@pytest.fixture(scope="module")
def ssb_engine(tables: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> CubeEngine:
    project = tmp_path_factory.mktemp("ssb_project")
    lines = [
        f"model = '{SSB / 'model.json'}'",
        "[data]",
        f"root = '{Path(tables['lineorder']).parent}'",
        "[tables]",
        "lineorder = 'lineorder.parquet'",
        *(f"{name} = '{path}'" for name, path in tables.items() if name != "lineorder"),
    ]
    (project / "cube-server.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return open_engine(load_project(project), Settings())


@pytest.fixture(scope="module")
def db(tables: dict[str, str]) -> Iterator[Any]:
    with duckdb.connect() as connection:
        yield connection


@pytest.fixture(scope="module")
def placeholders(tables: dict[str, str]) -> dict[str, str]:
    return queries.parquet_tables(tables)  # type: ignore[no-any-return]


# ---- the oracle ----------------------------------------------------------------------------------
def rows(db: Any, sql: str, placeholders: dict[str, str]) -> list[dict[str, Any]]:
    cursor = db.execute(sql.format(**placeholders))
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def grouped(drills: list[tuple[str, str, int]], measures: list[str], where: str = "TRUE") -> tuple[str, str]:
    """SQL for the cells grouped by ``drills`` ((dimension, hierarchy, depth)) and for their summary."""
    joins = {DIMENSIONS[dimension][0] for dimension in DIMENSIONS if DIMENSIONS[dimension][0]}
    select, group = [], []
    for dimension, hierarchy, depth in drills:
        for level, key, label in DIMENSIONS[dimension][1][hierarchy][:depth]:
            select.append(f'{key} AS "{dimension}.{level}"')
            group.append(key)
            if label:
                select.append(f'{label} AS "{dimension}.{level}.label"')
                group.append(label)
    values = [f'{MEASURES[m]} AS "{m}"' for m in measures]
    star = "FROM {lineorder} " + " ".join(sorted(joins)) + f" WHERE {where}"
    cells = f"SELECT {', '.join(select + values)} {star} GROUP BY {', '.join(group)}"
    cells += f" ORDER BY {', '.join(group)}"  # the engine's order: each drilled level's key, ascending
    summary_values = [f'COALESCE({MEASURES[m]}, 0) AS "{m}"' for m in measures]
    return cells, f"SELECT {', '.join(summary_values)} {star}"


def expected(
    db: Any,
    placeholders: dict[str, str],
    drills: list[tuple[str, str, int]],
    measures: list[str],
    where: str = "TRUE",
) -> dict[str, Any]:
    cells_sql, summary_sql = grouped(drills, measures, where)
    cells = rows(db, cells_sql, placeholders) if drills else []
    return {
        "cells": cells,
        "summary": rows(db, summary_sql, placeholders)[0],
        "total_cell_count": len(cells) if drills else None,
    }


def answer(engine: CubeEngine, cut: str = "", drilldown: str = "", measures: Sequence[str] = ()) -> dict[str, Any]:
    drilled = parse_drilldown(drilldown) if drilldown else ()
    query = Query(CUBE, parse_cuts(cut) if cut else (), drilled, tuple(measures))
    result = engine.aggregate(query)
    return {"cells": result.cells, "summary": result.summary, "total_cell_count": result.total_cell_count}


def assert_exact(got: Any, want: Any) -> None:
    """Equal values, and integers stay integers (sums of 64-bit columns come back as exact decimals)."""
    assert got == want
    for value in _leaves(got):
        assert not isinstance(value, float), value


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


# ---- the 13 SSB queries --------------------------------------------------------------------------
@pytest.mark.parametrize("query", queries.SSB_QUERIES, ids=[q.name for q in queries.SSB_QUERIES])
def test_ssb_query(ssb_engine: CubeEngine, db: Any, placeholders: dict[str, str], query: Any) -> None:
    want = queries.expected_answer(db, query, placeholders)
    # The sample must not make the comparison vacuous.
    assert want["cells"] or any(want["summary"].values()), query.name
    assert_exact(queries.engine_answer(ssb_engine, query), want)


def test_ssb_query_list_is_the_benchmark() -> None:
    assert [q.name for q in queries.SSB_QUERIES] == [
        "Q1.1", "Q1.2", "Q1.3", "Q2.1", "Q2.2", "Q2.3", "Q3.1", "Q3.2", "Q3.3", "Q3.4", "Q4.1", "Q4.2", "Q4.3",
    ]  # fmt: skip
    for query in queries.SSB_QUERIES:
        assert ("{lineorder}" in query.sql) and query.measures


# ---- every dimension, level and measure ----------------------------------------------------------
@pytest.mark.parametrize(
    ("dimension", "hierarchy", "depth"), ALL_LEVELS, ids=[f"{d}@{h}:{n}" for d, h, n in ALL_LEVELS]
)
def test_every_level(
    ssb_engine: CubeEngine, db: Any, placeholders: dict[str, str], dimension: str, hierarchy: str, depth: int
) -> None:
    level = DIMENSIONS[dimension][1][hierarchy][depth - 1][0]
    at = "" if hierarchy == "default" else f"@{hierarchy}"
    got = answer(ssb_engine, drilldown=f"{dimension}{at}:{level}", measures=["revenue", "record_count"])
    want = expected(db, placeholders, [(dimension, hierarchy, depth)], ["revenue", "record_count"])
    assert want["total_cell_count"] > 1
    assert_exact(got, want)


def test_every_measure(ssb_engine: CubeEngine, db: Any, placeholders: dict[str, str]) -> None:
    got = answer(ssb_engine, drilldown="order_date:year")  # no measures: all of them
    want = expected(db, placeholders, [("order_date", "default", 1)], list(MEASURES))
    assert list(got["summary"]) == list(MEASURES)
    assert_exact(got, want)


def test_model_levels_and_types(ssb_engine: CubeEngine) -> None:
    cube = ssb_engine.cube(CUBE)
    shape = {d.name: {h.name: list(h.levels) for h in d.hierarchies} for d in cube.dimensions}
    assert shape == {
        dimension: {h: [level for level, _, _ in levels] for h, levels in hierarchies.items()}
        for dimension, (_, hierarchies) in DIMENSIONS.items()
    }
    assert [m.name for m in cube.measures] == list(MEASURES)
    types = ssb_engine.attribute_types(CUBE)
    assert types["order_date.yearmonth"] == "INTEGER" and types["order_date.yearmonth_name"] == "VARCHAR"
    assert types["discount.discount"] == types["quantity.quantity"] == "INTEGER"


def test_measures_over_a_dice(ssb_engine: CubeEngine, db: Any, placeholders: dict[str, str]) -> None:
    got = answer(ssb_engine, "customer:ASIA|supplier:EUROPE,FRANCE|part:MFGR#3;MFGR#5|order_date:1996")
    want = expected(
        db,
        placeholders,
        [],
        list(MEASURES),
        "c_region = 'ASIA' AND s_region = 'EUROPE' AND s_nation = 'FRANCE' AND p_mfgr IN ('MFGR#3', 'MFGR#5')"
        " AND d_year = 1996",
    )
    assert want["summary"]["record_count"] > 0
    assert_exact(got, want)


# ---- drilldown and rollup ------------------------------------------------------------------------
def test_drilldown_one_level_below_the_cut(ssb_engine: CubeEngine, db: Any, placeholders: dict[str, str]) -> None:
    result = ssb_engine.drilldown(Query(CUBE, parse_cuts("customer:ASIA,CHINA"), measures=("revenue",)), "customer")
    want = expected(
        db, placeholders, [("customer", "default", 3)], ["revenue"], "c_region = 'ASIA' AND c_nation = 'CHINA'"
    )
    assert want["total_cell_count"] == 10
    assert_exact({"cells": result.cells, "summary": result.summary, "total_cell_count": result.total_cell_count}, want)


def test_drilldown_two_levels_with_another_drilled_dimension(
    ssb_engine: CubeEngine, db: Any, placeholders: dict[str, str]
) -> None:
    query = Query(CUBE, parse_cuts("part:MFGR#3"), parse_drilldown("order_date:year"), ("profit",))
    result = ssb_engine.drilldown(query, "part", depth=2)
    want = expected(
        db, placeholders, [("order_date", "default", 1), ("part", "default", 3)], ["profit"], "p_mfgr = 'MFGR#3'"
    )
    assert_exact({"cells": result.cells, "summary": result.summary, "total_cell_count": result.total_cell_count}, want)


def test_rollup_of_a_drilldown(ssb_engine: CubeEngine, db: Any, placeholders: dict[str, str]) -> None:
    query = Query(CUBE, parse_cuts("supplier:EUROPE"), parse_drilldown("supplier:city"), ("revenue", "record_count"))
    result = ssb_engine.rollup(query, "supplier")
    want = expected(db, placeholders, [("supplier", "default", 2)], ["revenue", "record_count"], "s_region = 'EUROPE'")
    assert result.levels == {"supplier": ["region", "nation"]}
    assert result.meta.extra["rolled_up_from"] == {
        "dimension": "supplier",
        "cut": "supplier:EUROPE",
        "drilldown": "supplier:city",
    }
    assert_exact({"cells": result.cells, "summary": result.summary, "total_cell_count": result.total_cell_count}, want)


def test_rollup_of_a_cut_two_steps(ssb_engine: CubeEngine, db: Any, placeholders: dict[str, str]) -> None:
    query = Query(CUBE, parse_cuts("order_date:1995,199503,19950314"), measures=("revenue",))
    result = ssb_engine.rollup(query, "order_date", steps=2)  # day -> year
    want = expected(db, placeholders, [], ["revenue"], "d_year = 1995")
    assert_exact({"cells": result.cells, "summary": result.summary, "total_cell_count": result.total_cell_count}, want)


# ---- cuts: ranges with open ends, negation, other hierarchies, unknown members -------------------
RANGE_CUTS = [
    ("discount:8-", "discount", "lo_discount >= 8"),
    ("discount:-2", "discount", "lo_discount <= 2"),
    ("quantity:-24", "quantity", "lo_quantity < 25"),
    ("quantity:45-", "quantity", "lo_quantity >= 45"),
    ("quantity:10-20|!discount:0", "discount", "lo_quantity BETWEEN 10 AND 20 AND lo_discount <> 0"),
    ("discount:3-3|quantity:-10", "quantity", "lo_discount = 3 AND lo_quantity <= 10"),
]


@pytest.mark.parametrize(("cut", "drilled", "where"), RANGE_CUTS, ids=[c for c, _, _ in RANGE_CUTS])
def test_range_cuts_on_fact_dimensions(
    ssb_engine: CubeEngine, db: Any, placeholders: dict[str, str], cut: str, drilled: str, where: str
) -> None:
    got = answer(ssb_engine, cut, drilled, ["discounted_price", "record_count"])
    want = expected(db, placeholders, [(drilled, "default", 1)], ["discounted_price", "record_count"], where)
    assert want["total_cell_count"] > 1
    assert_exact(got, want)


def test_point_and_set_cuts_on_fact_dimensions(ssb_engine: CubeEngine, db: Any, placeholders: dict[str, str]) -> None:
    got = answer(ssb_engine, "discount:3|quantity:1;2;3;4;5;49;50", "quantity", ["revenue"])
    where = "lo_discount = 3 AND lo_quantity IN (1, 2, 3, 4, 5, 49, 50)"
    want = expected(db, placeholders, [("quantity", "default", 1)], ["revenue"], where)
    assert want["total_cell_count"] == 7
    assert_exact(got, want)


def test_month_range_across_years_with_labels(ssb_engine: CubeEngine, db: Any, placeholders: dict[str, str]) -> None:
    got = answer(ssb_engine, "order_date:1997,199711-1998,199802", "order_date:yearmonth", ["revenue"])
    want = expected(
        db, placeholders, [("order_date", "default", 2)], ["revenue"], "d_yearmonthnum BETWEEN 199711 AND 199802"
    )
    assert [c["order_date.yearmonth.label"] for c in got["cells"]] == ["Nov1997", "Dec1997", "Jan1998", "Feb1998"]
    assert_exact(got, want)


def test_week_range_on_the_weekly_hierarchy(ssb_engine: CubeEngine, db: Any, placeholders: dict[str, str]) -> None:
    got = answer(ssb_engine, "order_date@weekly:1994,50-1995,3", "order_date@weekly:week", ["revenue"])
    where = "(d_year = 1994 AND d_weeknuminyear >= 50) OR (d_year = 1995 AND d_weeknuminyear <= 3)"
    want = expected(db, placeholders, [("order_date", "weekly", 2)], ["revenue"], where)
    assert want["total_cell_count"] == 7  # weeks 50-53 of 1994, 1-3 of 1995
    assert_exact(got, want)


def test_unknown_members_give_an_empty_cell(ssb_engine: CubeEngine, db: Any, placeholders: dict[str, str]) -> None:
    got = answer(ssb_engine, "customer:ATLANTIS|order_date:2031", "part:mfgr", list(MEASURES))
    want = expected(db, placeholders, [("part", "default", 1)], list(MEASURES), "FALSE")
    assert got["summary"] == {name: 0 for name in MEASURES}
    assert_exact(got, want)


# ---- pivot, members, facts -----------------------------------------------------------------------
def test_pivot_with_totals(ssb_engine: CubeEngine, db: Any, placeholders: dict[str, str]) -> None:
    pivot = ssb_engine.pivot(
        PivotQuery(
            CUBE,
            rows=parse_drilldown("customer:region"),
            columns=parse_drilldown("order_date:year"),
            cuts=parse_cuts("part:MFGR#1"),
            measures=("revenue", "record_count"),
        )
    )
    measures, where = ["revenue", "record_count"], "p_mfgr = 'MFGR#1'"
    by_row = expected(db, placeholders, [("customer", "default", 1)], measures, where)
    by_column = expected(db, placeholders, [("order_date", "default", 1)], measures, where)
    grid = expected(db, placeholders, [("customer", "default", 1), ("order_date", "default", 1)], measures, where)
    regions = [c["customer.region"] for c in by_row["cells"]]
    years = [c["order_date.year"] for c in by_column["cells"]]
    values: list[list[Any]] = [[None] * len(years) for _ in regions]
    for cell in grid["cells"]:
        values[regions.index(cell["customer.region"])][years.index(cell["order_date.year"])] = [
            cell[m] for m in measures
        ]
    assert (len(regions), len(years)) == (5, 7)
    assert pivot.row_levels == ["customer.region"] and pivot.column_levels == ["order_date.year"]
    assert pivot.row_headers == [[r] for r in regions] and pivot.column_headers == [[y] for y in years]
    assert_exact(pivot.values, values)
    assert_exact(pivot.row_totals, [[c[m] for m in measures] for c in by_row["cells"]])
    assert_exact(pivot.column_totals, [[c[m] for m in measures] for c in by_column["cells"]])
    assert_exact(pivot.grand_total, [grid["summary"][m] for m in measures])


def test_members_of_part_brand_with_search(ssb_engine: CubeEngine, db: Any, placeholders: dict[str, str]) -> None:
    page = ssb_engine.members(MembersQuery(CUBE, "part", level="brand", search="mfgr#221", limit=5, offset=3))
    members = """
        SELECT DISTINCT p_mfgr AS "part.mfgr", p_category AS "part.category", p_brand1 AS "part.brand"
        FROM {lineorder} JOIN {part} ON lo_partkey = p_partkey
        WHERE p_brand1 ILIKE '%MFGR#221%'
    """
    everything = rows(db, members + " ORDER BY 1, 2, 3", placeholders)
    assert len(everything) == 11  # MFGR#221 and MFGR#2210 … MFGR#2219
    assert page.total_count == len(everything)
    assert page.rows == everything[3:8]
    assert [c.name for c in page.columns] == ["part.mfgr", "part.category", "part.brand"]


def test_members_of_a_level_under_a_cut(ssb_engine: CubeEngine, db: Any, placeholders: dict[str, str]) -> None:
    page = ssb_engine.members(MembersQuery(CUBE, "customer", level="nation", cuts=parse_cuts("customer:EUROPE")))
    want = rows(
        db,
        """SELECT DISTINCT c_region AS "customer.region", c_nation AS "customer.nation"
           FROM {lineorder} JOIN {customer} ON lo_custkey = c_custkey
           WHERE c_region = 'EUROPE' ORDER BY 1, 2""",
        placeholders,
    )
    assert (page.rows, page.total_count) == (want, 5)


def test_members_of_months_with_labels(ssb_engine: CubeEngine, db: Any, placeholders: dict[str, str]) -> None:
    page = ssb_engine.members(MembersQuery(CUBE, "order_date", level="yearmonth", limit=3, offset=12))
    want = rows(
        db,
        """SELECT DISTINCT d_year AS "order_date.year", d_yearmonthnum AS "order_date.yearmonth",
                  d_yearmonth AS "order_date.yearmonth.label"
           FROM {lineorder} JOIN {dates} ON lo_orderdate = d_datekey ORDER BY 1, 2""",
        placeholders,
    )
    assert page.total_count == len(want) == 80  # January 1992 … August 1998
    assert page.rows == want[12:15]
    assert page.rows[0]["order_date.yearmonth.label"] == "Jan1993"


def test_facts_drill_through(ssb_engine: CubeEngine, db: Any, placeholders: dict[str, str]) -> None:
    fields = (
        "lo_orderkey",
        "lo_linenumber",
        "order_date.date",
        "customer.nation",
        "part.brand",
        "discount.discount",
        "quantity.quantity",
        "lo_revenue",
        "lo_extendedprice",
    )
    page = ssb_engine.facts(
        FactsQuery(
            CUBE,
            cuts=parse_cuts("order_date:1993|discount:1-3|quantity:-24|customer:AMERICA"),
            fields=fields,
            order=(OrderItem("lo_revenue", descending=True), OrderItem("lo_orderkey"), OrderItem("lo_linenumber")),
            limit=25,
            offset=10,
        )
    )
    star = """
        FROM {lineorder} JOIN {dates} ON lo_orderdate = d_datekey JOIN {customer} ON lo_custkey = c_custkey
          JOIN {part} ON lo_partkey = p_partkey
        WHERE d_year = 1993 AND lo_discount BETWEEN 1 AND 3 AND lo_quantity < 25 AND c_region = 'AMERICA'
    """
    want = rows(
        db,
        """SELECT lo_orderkey, lo_linenumber, d_datekey AS "order_date.date", c_nation AS "customer.nation",
                  p_brand1 AS "part.brand", lo_discount AS "discount.discount", lo_quantity AS "quantity.quantity",
                  lo_revenue, lo_extendedprice """
        + star
        + " ORDER BY lo_revenue DESC, lo_orderkey, lo_linenumber LIMIT 25 OFFSET 10",
        placeholders,
    )
    total = rows(db, "SELECT COUNT(*) AS n " + star, placeholders)[0]["n"]
    assert total > 35
    assert (page.rows, page.total_count) == (want, total)
    assert [c.name for c in page.columns] == list(fields)


# ---- over HTTP: the JSON numbers are exact integers ----------------------------------------------
def test_http_aggregate_is_the_sql_answer(ssb_engine: CubeEngine, db: Any, placeholders: dict[str, str]) -> None:
    query = next(q for q in queries.SSB_QUERIES if q.name == "Q4.2")
    client = TestClient(create_app(ssb_engine))
    response = client.get(
        f"/v1/cubes/{CUBE}/aggregate",
        params={"cut": query.cut, "drilldown": query.drilldown, "measures": ",".join(query.measures)},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    want = queries.expected_answer(db, query, placeholders)
    assert body["cells"] == want["cells"] and body["summary"] == want["summary"]
    assert body["total_cell_count"] == want["total_cell_count"]
    assert all(type(cell["profit"]) is int for cell in body["cells"])


# ---- model format ----------------------------------------------------------------------------------
def test_cubes_1_1_mapping_key_of_a_flat_dimension(
    tables: dict[str, str], tmp_path: Path, db: Any, placeholders: dict[str, str]
) -> None:
    raw = json.loads((SSB / "model.json").read_text(encoding="utf-8"))
    raw.pop("$schema", None)
    mappings = raw["cubes"][0]["mappings"]
    for name in ("discount", "quantity"):
        mappings[name] = mappings.pop(f"{name}.{name}")  # Cubes 1.1: a flat dimension's ref is its name
    model = tmp_path / "model.json"
    model.write_text(json.dumps(raw), encoding="utf-8")
    assert validate_model(model) == []  # accepted by validation (it lists the dimension name as a mapping target)
    lines = [f"model = '{model}'", "[tables]", *(f"{name} = '{path}'" for name, path in tables.items())]
    (tmp_path / "cube-server.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    engine = open_engine(load_project(tmp_path), Settings())
    query = queries.SSB_QUERIES[0]
    assert_exact(queries.engine_answer(engine, query), queries.expected_answer(db, query, placeholders))
