"""The 13 queries of the Star Schema Benchmark as cube queries, each with its hand-written SQL.

One list, shared by ``tests/examples/test_ssb_oracle.py`` (over a sample) and ``benchmarks/ssb_check.py``
(over the full 6M rows); both load this file by path. Predicates follow O'Neil et al., "Star Schema
Benchmark" (revision 3, 2009), as ClickHouse's and StarRocks' SSB suites also spell them.

Each entry gives the cube query (``cut``, ``drilldown`` and ``order`` in the URL grammar, ``measures``)
and ``sql``: the SSB query written by hand for DuckDB. Its tables are placeholders (``{lineorder}``,
``{dates}``, ``{customer}``, ``{supplier}``, ``{part}``) filled with ``read_parquet('…')`` of the same files the
engine reads. The SQL names its columns as the engine's cells do (``order_date.year``, ``part.brand``…) and
also returns the coarser levels of each drilled hierarchy (``part.mfgr`` and ``part.category`` with
``part.brand``): a brand determines its category and manufacturer, so grouping by them changes no cell.
Flight 1 has no drilldown: its SQL returns the one summary row. The expected summary of a drilled query is
the sum of its cells (every SSB measure is a sum).

Mapping notes: SSB's ``lo_quantity < 25`` is the open range ``quantity:-24`` (range ends are inclusive);
``d_yearmonthnum = 199401`` is the path ``order_date:1994,199401``; week 6 of 1994 is
``order_date@weekly:1994,6``; a brand is the path ``mfgr,category,brand`` (``part:MFGR#2,MFGR#22,MFGR#2239``).
Where SSB orders by revenue (flight 3) the engine's order ties are broken by the drilled levels, so the SQL
adds the same tie-breaks.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class SSBQuery(NamedTuple):
    name: str
    cut: str
    drilldown: str
    measures: tuple[str, ...]
    order: str
    sql: str


TABLES = ("lineorder", "dates", "customer", "supplier", "part")

SSB_QUERIES: tuple[SSBQuery, ...] = (
    # ---- flight 1: one date dimension, discount and quantity ranges on the fact table ----------
    SSBQuery(
        "Q1.1",
        "order_date:1993|discount:1-3|quantity:-24",
        "",
        ("discounted_price",),
        "",
        """
        SELECT SUM(lo_extendedprice * lo_discount) AS discounted_price
        FROM {lineorder} JOIN {dates} ON lo_orderdate = d_datekey
        WHERE d_year = 1993 AND lo_discount BETWEEN 1 AND 3 AND lo_quantity < 25
        """,
    ),
    SSBQuery(
        "Q1.2",
        "order_date:1994,199401|discount:4-6|quantity:26-35",
        "",
        ("discounted_price",),
        "",
        """
        SELECT SUM(lo_extendedprice * lo_discount) AS discounted_price
        FROM {lineorder} JOIN {dates} ON lo_orderdate = d_datekey
        WHERE d_yearmonthnum = 199401 AND lo_discount BETWEEN 4 AND 6 AND lo_quantity BETWEEN 26 AND 35
        """,
    ),
    SSBQuery(
        "Q1.3",
        "order_date@weekly:1994,6|discount:5-7|quantity:26-35",
        "",
        ("discounted_price",),
        "",
        """
        SELECT SUM(lo_extendedprice * lo_discount) AS discounted_price
        FROM {lineorder} JOIN {dates} ON lo_orderdate = d_datekey
        WHERE d_weeknuminyear = 6 AND d_year = 1994
          AND lo_discount BETWEEN 5 AND 7 AND lo_quantity BETWEEN 26 AND 35
        """,
    ),
    # ---- flight 2: part and supplier restrictions, revenue by year and brand --------------------
    SSBQuery(
        "Q2.1",
        "part:MFGR#1,MFGR#12|supplier:AMERICA",
        "order_date:year|part:brand",
        ("revenue",),
        "",
        """
        SELECT d_year AS "order_date.year", p_mfgr AS "part.mfgr", p_category AS "part.category",
               p_brand1 AS "part.brand", SUM(lo_revenue) AS revenue
        FROM {lineorder}
          JOIN {dates} ON lo_orderdate = d_datekey
          JOIN {part} ON lo_partkey = p_partkey
          JOIN {supplier} ON lo_suppkey = s_suppkey
        WHERE p_category = 'MFGR#12' AND s_region = 'AMERICA'
        GROUP BY d_year, p_mfgr, p_category, p_brand1
        ORDER BY d_year, p_brand1
        """,
    ),
    SSBQuery(
        "Q2.2",
        "part:MFGR#2,MFGR#22,MFGR#2221-MFGR#2,MFGR#22,MFGR#2228|supplier:ASIA",
        "order_date:year|part:brand",
        ("revenue",),
        "",
        """
        SELECT d_year AS "order_date.year", p_mfgr AS "part.mfgr", p_category AS "part.category",
               p_brand1 AS "part.brand", SUM(lo_revenue) AS revenue
        FROM {lineorder}
          JOIN {dates} ON lo_orderdate = d_datekey
          JOIN {part} ON lo_partkey = p_partkey
          JOIN {supplier} ON lo_suppkey = s_suppkey
        WHERE p_brand1 BETWEEN 'MFGR#2221' AND 'MFGR#2228' AND s_region = 'ASIA'
        GROUP BY d_year, p_mfgr, p_category, p_brand1
        ORDER BY d_year, p_brand1
        """,
    ),
    SSBQuery(
        "Q2.3",
        "part:MFGR#2,MFGR#22,MFGR#2239|supplier:EUROPE",
        "order_date:year|part:brand",
        ("revenue",),
        "",
        """
        SELECT d_year AS "order_date.year", p_mfgr AS "part.mfgr", p_category AS "part.category",
               p_brand1 AS "part.brand", SUM(lo_revenue) AS revenue
        FROM {lineorder}
          JOIN {dates} ON lo_orderdate = d_datekey
          JOIN {part} ON lo_partkey = p_partkey
          JOIN {supplier} ON lo_suppkey = s_suppkey
        WHERE p_brand1 = 'MFGR#2239' AND s_region = 'EUROPE'
        GROUP BY d_year, p_mfgr, p_category, p_brand1
        ORDER BY d_year, p_brand1
        """,
    ),
    # ---- flight 3: customer × supplier geography over years, ordered by revenue -----------------
    SSBQuery(
        "Q3.1",
        "customer:ASIA|supplier:ASIA|order_date:1992-1997",
        "customer:nation|supplier:nation|order_date:year",
        ("revenue",),
        "order_date.year,revenue:desc",
        """
        SELECT c_region AS "customer.region", c_nation AS "customer.nation",
               s_region AS "supplier.region", s_nation AS "supplier.nation",
               d_year AS "order_date.year", SUM(lo_revenue) AS revenue
        FROM {lineorder}
          JOIN {customer} ON lo_custkey = c_custkey
          JOIN {supplier} ON lo_suppkey = s_suppkey
          JOIN {dates} ON lo_orderdate = d_datekey
        WHERE c_region = 'ASIA' AND s_region = 'ASIA' AND d_year >= 1992 AND d_year <= 1997
        GROUP BY c_region, c_nation, s_region, s_nation, d_year
        ORDER BY d_year ASC, revenue DESC, c_nation, s_nation
        """,
    ),
    SSBQuery(
        "Q3.2",
        "customer:AMERICA,UNITED STATES|supplier:AMERICA,UNITED STATES|order_date:1992-1997",
        "customer:city|supplier:city|order_date:year",
        ("revenue",),
        "order_date.year,revenue:desc",
        """
        SELECT c_region AS "customer.region", c_nation AS "customer.nation", c_city AS "customer.city",
               s_region AS "supplier.region", s_nation AS "supplier.nation", s_city AS "supplier.city",
               d_year AS "order_date.year", SUM(lo_revenue) AS revenue
        FROM {lineorder}
          JOIN {customer} ON lo_custkey = c_custkey
          JOIN {supplier} ON lo_suppkey = s_suppkey
          JOIN {dates} ON lo_orderdate = d_datekey
        WHERE c_nation = 'UNITED STATES' AND s_nation = 'UNITED STATES' AND d_year >= 1992 AND d_year <= 1997
        GROUP BY c_region, c_nation, c_city, s_region, s_nation, s_city, d_year
        ORDER BY d_year ASC, revenue DESC, c_city, s_city
        """,
    ),
    SSBQuery(
        "Q3.3",
        "customer:EUROPE,UNITED KINGDOM,UNITED KI1;EUROPE,UNITED KINGDOM,UNITED KI5"
        "|supplier:EUROPE,UNITED KINGDOM,UNITED KI1;EUROPE,UNITED KINGDOM,UNITED KI5"
        "|order_date:1992-1997",
        "customer:city|supplier:city|order_date:year",
        ("revenue",),
        "order_date.year,revenue:desc",
        """
        SELECT c_region AS "customer.region", c_nation AS "customer.nation", c_city AS "customer.city",
               s_region AS "supplier.region", s_nation AS "supplier.nation", s_city AS "supplier.city",
               d_year AS "order_date.year", SUM(lo_revenue) AS revenue
        FROM {lineorder}
          JOIN {customer} ON lo_custkey = c_custkey
          JOIN {supplier} ON lo_suppkey = s_suppkey
          JOIN {dates} ON lo_orderdate = d_datekey
        WHERE (c_city = 'UNITED KI1' OR c_city = 'UNITED KI5')
          AND (s_city = 'UNITED KI1' OR s_city = 'UNITED KI5')
          AND d_year >= 1992 AND d_year <= 1997
        GROUP BY c_region, c_nation, c_city, s_region, s_nation, s_city, d_year
        ORDER BY d_year ASC, revenue DESC, c_city, s_city
        """,
    ),
    SSBQuery(
        "Q3.4",
        "customer:EUROPE,UNITED KINGDOM,UNITED KI1;EUROPE,UNITED KINGDOM,UNITED KI5"
        "|supplier:EUROPE,UNITED KINGDOM,UNITED KI1;EUROPE,UNITED KINGDOM,UNITED KI5"
        "|order_date:1997,199712",
        "customer:city|supplier:city|order_date:year",
        ("revenue",),
        "order_date.year,revenue:desc",
        """
        SELECT c_region AS "customer.region", c_nation AS "customer.nation", c_city AS "customer.city",
               s_region AS "supplier.region", s_nation AS "supplier.nation", s_city AS "supplier.city",
               d_year AS "order_date.year", SUM(lo_revenue) AS revenue
        FROM {lineorder}
          JOIN {customer} ON lo_custkey = c_custkey
          JOIN {supplier} ON lo_suppkey = s_suppkey
          JOIN {dates} ON lo_orderdate = d_datekey
        WHERE (c_city = 'UNITED KI1' OR c_city = 'UNITED KI5')
          AND (s_city = 'UNITED KI1' OR s_city = 'UNITED KI5')
          AND d_yearmonth = 'Dec1997'
        GROUP BY c_region, c_nation, c_city, s_region, s_nation, s_city, d_year
        ORDER BY d_year ASC, revenue DESC, c_city, s_city
        """,
    ),
    # ---- flight 4: profit (revenue - supply cost) over all four dimensions ----------------------
    SSBQuery(
        "Q4.1",
        "customer:AMERICA|supplier:AMERICA|part:MFGR#1;MFGR#2",
        "order_date:year|customer:nation",
        ("profit",),
        "",
        """
        SELECT d_year AS "order_date.year", c_region AS "customer.region", c_nation AS "customer.nation",
               SUM(lo_revenue - lo_supplycost) AS profit
        FROM {lineorder}
          JOIN {dates} ON lo_orderdate = d_datekey
          JOIN {customer} ON lo_custkey = c_custkey
          JOIN {supplier} ON lo_suppkey = s_suppkey
          JOIN {part} ON lo_partkey = p_partkey
        WHERE c_region = 'AMERICA' AND s_region = 'AMERICA' AND (p_mfgr = 'MFGR#1' OR p_mfgr = 'MFGR#2')
        GROUP BY d_year, c_region, c_nation
        ORDER BY d_year, c_nation
        """,
    ),
    SSBQuery(
        "Q4.2",
        "customer:AMERICA|supplier:AMERICA|order_date:1997;1998|part:MFGR#1;MFGR#2",
        "order_date:year|supplier:nation|part:category",
        ("profit",),
        "",
        """
        SELECT d_year AS "order_date.year", s_region AS "supplier.region", s_nation AS "supplier.nation",
               p_mfgr AS "part.mfgr", p_category AS "part.category", SUM(lo_revenue - lo_supplycost) AS profit
        FROM {lineorder}
          JOIN {dates} ON lo_orderdate = d_datekey
          JOIN {customer} ON lo_custkey = c_custkey
          JOIN {supplier} ON lo_suppkey = s_suppkey
          JOIN {part} ON lo_partkey = p_partkey
        WHERE c_region = 'AMERICA' AND s_region = 'AMERICA' AND (d_year = 1997 OR d_year = 1998)
          AND (p_mfgr = 'MFGR#1' OR p_mfgr = 'MFGR#2')
        GROUP BY d_year, s_region, s_nation, p_mfgr, p_category
        ORDER BY d_year, s_nation, p_category
        """,
    ),
    SSBQuery(
        "Q4.3",
        "customer:AMERICA|supplier:AMERICA,UNITED STATES|order_date:1997;1998|part:MFGR#1,MFGR#14",
        "order_date:year|supplier:city|part:brand",
        ("profit",),
        "",
        """
        SELECT d_year AS "order_date.year", s_region AS "supplier.region", s_nation AS "supplier.nation",
               s_city AS "supplier.city", p_mfgr AS "part.mfgr", p_category AS "part.category",
               p_brand1 AS "part.brand", SUM(lo_revenue - lo_supplycost) AS profit
        FROM {lineorder}
          JOIN {dates} ON lo_orderdate = d_datekey
          JOIN {customer} ON lo_custkey = c_custkey
          JOIN {supplier} ON lo_suppkey = s_suppkey
          JOIN {part} ON lo_partkey = p_partkey
        WHERE c_region = 'AMERICA' AND s_nation = 'UNITED STATES' AND (d_year = 1997 OR d_year = 1998)
          AND p_category = 'MFGR#14'
        GROUP BY d_year, s_region, s_nation, s_city, p_mfgr, p_category, p_brand1
        ORDER BY d_year, s_city, p_brand1
        """,
    ),
)


def parquet_tables(files: dict[str, Any]) -> dict[str, str]:
    """``{table: path or [paths]}`` -> the placeholders' values, ``read_parquet([...])`` for each table."""

    def literal(path: Any) -> str:
        return "'" + str(path).replace("'", "''") + "'"

    values = {}
    for name in TABLES:
        paths = files[name] if isinstance(files[name], list | tuple) else [files[name]]
        values[name] = "read_parquet([" + ", ".join(literal(path) for path in paths) + "])"
    return values


def cube_query(query: SSBQuery) -> Any:
    """The engine's :class:`~cube_server.query.Query` of an SSB query (parsed from the URL grammar)."""
    from api.operations import cuts_of, drilldown_of, order_of
    from cube_server.query import Query

    return Query(
        "lineorder", cuts_of(query.cut), drilldown_of(query.drilldown or None), query.measures, order_of(query.order)
    )


def engine_answer(engine: Any, query: SSBQuery) -> dict[str, Any]:
    """Everything the engine answers that the SQL can check: cells (keys, labels, values), summary, count."""
    result = engine.aggregate(cube_query(query))
    return {"cells": result.cells, "summary": result.summary, "total_cell_count": result.total_cell_count}


def expected_answer(connection: Any, query: SSBQuery, tables: dict[str, str]) -> dict[str, Any]:
    """The same answer from the hand-written SQL run directly on DuckDB (``tables``: placeholder values)."""
    cursor = connection.execute(query.sql.format(**tables))
    names = [column[0] for column in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    if not query.drilldown:
        # SUM over no rows is NULL in SQL; an empty cell's sum is 0 in the cube (as in Cubes).
        summary = {name: 0 if value is None else value for name, value in rows[0].items()}
        return {"cells": [], "summary": summary, "total_cell_count": None}
    summary = {name: sum(cell[name] for cell in rows) for name in query.measures}
    return {"cells": rows, "summary": summary, "total_cell_count": len(rows)}
