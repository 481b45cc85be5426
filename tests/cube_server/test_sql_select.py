"""SQL over a cube table, in process: SELECTs translated to cube queries and answered by the engine.

Oracles: the engine's own answer to the equivalent cube query (cuts and drilldowns written by hand),
and, for WHERE, the cells of a full-path GROUP BY filtered here in Python with the same predicate.
"""

from __future__ import annotations

import operator
from decimal import Decimal
from typing import Any

import pytest
import sqlglot
from conftest import CUBE

from cube_server.cut_syntax import parse_cuts, parse_drilldown
from cube_server.engine import CubeEngine
from cube_server.errors import (
    SqlAggregationError,
    SqlUnknownColumnError,
    SqlUnsupportedError,
)
from cube_server.query import MembersQuery, OrderItem, Query
from cube_server.sql.answer import SqlAnswer, answer_select, cube_tables, explain_select, plan_select

GEOGRAPHY = ["geography_scope", "geography_continent", "geography_country", "geography_region", "geography_province"]


def run(engine: CubeEngine, sql: str) -> SqlAnswer:
    table = cube_tables(engine)[CUBE]
    return answer_select(engine, plan_select(engine, sqlglot.parse_one(sql, read="postgres"), table))


def cube_answer(engine: CubeEngine, cut: str, drilldown: str, measures: tuple[str, ...]) -> list[dict[str, Any]]:
    result = engine.aggregate(Query(CUBE, parse_cuts(cut), parse_drilldown(drilldown), measures))
    return result.cells if drilldown else [result.summary]


def test_a_cube_is_a_table_of_level_columns_and_measures(engine: CubeEngine) -> None:
    table = cube_tables(engine)[CUBE]
    names = [column.name for column in table.columns]
    assert names[:3] == ["time_year", "time_quarter", "time_month"]
    for name in ("geography_province", "geography_province_name_en", "channel_channel", "revenue", "subscribers"):
        assert name in names
    types = {column.name: column.sql_type for column in table.columns}
    assert types["time_year"] == "BIGINT" and types["geography_province"] == "VARCHAR"
    assert types["revenue"] == "DECIMAL(38,2)" and types["subscribers"] == "BIGINT" and types["arpu"] == "DECIMAL(38,2)"


def test_group_by_levels_with_where_is_the_engines_answer(engine: CubeEngine) -> None:
    answer = run(
        engine,
        "SELECT geography_region, geography_province, SUM(revenue) AS revenue, MEASURE(subscribers), COUNT(*) "
        "FROM public.fixed_line_revenue WHERE time_year = 2024 AND geography_scope = 'domestic' "
        "GROUP BY geography_region, geography_province",
    )
    assert [name for name, _ in answer.columns] == ["geography_region", "geography_province", "revenue", "measure",
                                                    "count"]  # fmt: skip
    cells = cube_answer(engine, "time:2024|geography:domestic", "geography:province",
                        ("revenue", "subscribers", "record_count"))  # fmt: skip
    expected = [(c["geography.region"], c["geography.province"], c["revenue"], c["subscribers"], c["record_count"])
                for c in cells]  # fmt: skip
    assert sorted(answer.rows) == sorted(expected) and len(expected) > 10
    assert answer.source == "facts"


def test_no_group_by_answers_one_row_of_totals(engine: CubeEngine) -> None:
    answer = run(engine, "SELECT SUM(revenue), COUNT(DISTINCT subscribers), MEASURE(arpu) FROM fixed_line_revenue")
    summary = cube_answer(engine, "", "", ("revenue", "subscribers", "arpu"))[0]
    assert answer.rows == [(summary["revenue"], summary["subscribers"], summary["arpu"])]


@pytest.mark.parametrize(
    "where",
    [
        "geography_province = 'gd'",
        "geography_province IN ('gd', 'gx', 'bj')",
        "geography_province <> 'gd' AND geography_scope = 'domestic'",
        "NOT (geography_region = 'south_china' OR geography_province = 'bj')",
        "geography_province BETWEEN 'fj' AND 'hn'",
        "geography_province > 'sh'",
        "geography_province < 'bj' OR geography_province >= 'zj'",
        "geography_province LIKE 'g%'",
        "geography_province IS NULL",
        "geography_province IS NOT NULL AND geography_country = 'cn'",
        "geography_province_name_en = 'Guangdong'",
        "geography_scope = 'domestic' AND geography_continent = 'asia' AND geography_country IN ('cn')",
        "geography_province IN ('no such province')",
    ],
)
def test_where_on_levels_cuts_like_a_predicate_on_the_members(engine: CubeEngine, where: str) -> None:
    names = [*GEOGRAPHY, "geography_province_name_en"]
    columns = ", ".join(names)
    cells = run(engine, f"SELECT {columns}, SUM(revenue) FROM fixed_line_revenue GROUP BY {columns}").rows
    expected = sum(
        (row[-1] for row in cells if _holds(where, dict(zip(names, row[:-1], strict=True)))), Decimal(0)
    )
    assert run(engine, f"SELECT SUM(revenue) FROM fixed_line_revenue WHERE {where}").rows == [(expected,)]


def _holds(where: str, row: dict[str, Any]) -> bool:
    """The predicate evaluated by DuckDB over one row (SQL's NULL semantics)."""
    import duckdb

    columns = ", ".join(f"?::VARCHAR AS {name}" for name in row)
    relation = duckdb.execute(f"SELECT count(*) FROM (SELECT {columns}) WHERE {where}", list(row.values()))
    return bool(relation.fetchone()[0])  # type: ignore[index]


def test_time_predicates_from_the_top_are_direct_cuts(engine: CubeEngine) -> None:
    table = cube_tables(engine)[CUBE]
    plan = plan_select(engine, sqlglot.parse_one(
        "SELECT product_line, SUM(revenue) FROM fixed_line_revenue WHERE time_year BETWEEN 2024 AND 2025 "
        "AND time_quarter IN (1, 2) GROUP BY 1", read="postgres"), table)  # fmt: skip
    assert plan.query.cuts == parse_cuts("time:2024,1;2024,2;2025,1;2025,2")
    plan = plan_select(engine, sqlglot.parse_one(
        "SELECT SUM(revenue) FROM fixed_line_revenue WHERE time_year > 2024", read="postgres"), table)  # fmt: skip
    assert plan.query.cuts == parse_cuts("time:2025-")
    by_range = run(engine, "SELECT SUM(revenue) FROM fixed_line_revenue WHERE time_year >= 2024 AND time_year <= 2024")
    by_point = run(engine, "SELECT SUM(revenue) FROM fixed_line_revenue WHERE time_year = 2024")
    assert by_range.rows == by_point.rows == [(cube_answer(engine, "time:2024", "", ("revenue",))[0]["revenue"],)]


def test_group_by_a_level_without_its_parents_merges_what_merges(engine: CubeEngine) -> None:
    answer = run(engine, "SELECT time_month, SUM(revenue), COUNT(*) FROM fixed_line_revenue GROUP BY time_month "
                         "ORDER BY time_month")  # fmt: skip
    totals: dict[int, list[Any]] = {}
    for cell in cube_answer(engine, "", "time:month", ("revenue", "record_count")):
        total = totals.setdefault(cell["time.month"], [Decimal(0), 0])
        total[0] += cell["revenue"]
        total[1] += cell["record_count"]
    assert answer.rows == [(month, revenue, count) for month, (revenue, count) in sorted(totals.items())]
    with pytest.raises(SqlAggregationError, match="subscribers cannot be merged"):
        run(engine, "SELECT time_month, MEASURE(subscribers) FROM fixed_line_revenue GROUP BY time_month")


@pytest.mark.parametrize(
    ("sql", "error", "words"),
    [
        ("SELECT SUM(subscribers) FROM fixed_line_revenue", SqlAggregationError, "count distinct"),
        ("SELECT MIN(revenue) FROM fixed_line_revenue", SqlAggregationError, "MEASURE(revenue)"),
        ("SELECT SUM(arpu) FROM fixed_line_revenue", SqlAggregationError, "formula"),
        ("SELECT COUNT(revenue) FROM fixed_line_revenue", SqlAggregationError, "COUNT(*)"),
        ("SELECT SUM(revenue) FROM fixed_line_revenue WHERE time_year = 2024 OR product_line = 'x'",
         SqlUnsupportedError, "OR across dimensions"),
        ("SELECT SUM(revenue) FROM fixed_line_revenue WHERE revenue > 5", SqlUnsupportedError, "HAVING"),
        ("SELECT revenue * 2 FROM fixed_line_revenue", SqlUnsupportedError, "cannot select"),
        ("SELECT no_such_column FROM fixed_line_revenue", SqlUnknownColumnError, "no_such_column"),
        ("SELECT time_month, SUM(revenue) FROM fixed_line_revenue GROUP BY time_year", SqlAggregationError,
         "GROUP BY"),
        ("SELECT SUM(revenue) FROM fixed_line_revenue a JOIN fixed_line_revenue b ON true", SqlUnsupportedError,
         "JOIN"),
    ],
)
def test_what_a_cube_cannot_answer_right_is_refused(engine: CubeEngine, sql: str, error: type, words: str) -> None:
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
        run(engine, sql)


def test_order_by_limit_offset(engine: CubeEngine) -> None:
    answer = run(engine, "SELECT product_product, SUM(revenue) AS revenue FROM fixed_line_revenue "
                         "GROUP BY product_line, product_product ORDER BY revenue DESC LIMIT 3 OFFSET 1")  # fmt: skip
    cells = cube_answer(engine, "", "product:product", ("revenue",))
    ranked = sorted(((c["product.product"], c["revenue"]) for c in cells), key=operator.itemgetter(1), reverse=True)
    assert answer.rows == ranked[1:4]
    engine_ordered = plan_select(engine, sqlglot.parse_one(
        "SELECT product_line, SUM(revenue) FROM fixed_line_revenue GROUP BY 1 ORDER BY 2 DESC LIMIT 2",
        read="postgres"), cube_tables(engine)[CUBE])  # fmt: skip
    assert engine_ordered.query.order == (OrderItem("revenue", True),) and engine_ordered.query.limit == 2


def test_distinct_and_bare_columns_group_by_what_they_select(engine: CubeEngine) -> None:
    lines = [c["product.line"] for c in cube_answer(engine, "", "product:line", ("revenue",))]
    assert run(engine, "SELECT DISTINCT product_line FROM fixed_line_revenue ORDER BY 1").rows == [(x,) for x in lines]
    bare = run(engine, "SELECT product_line, revenue FROM fixed_line_revenue ORDER BY product_line").rows
    assert bare == [(c["product.line"], c["revenue"]) for c in cube_answer(engine, "", "product:line", ("revenue",))]


def test_no_member_matching_answers_no_rows_or_empty_totals(engine: CubeEngine) -> None:
    assert run(engine, "SELECT product_line, SUM(revenue) FROM fixed_line_revenue WHERE time_year = 1900 "
                       "GROUP BY 1").rows == []  # fmt: skip
    assert run(engine, "SELECT SUM(revenue), COUNT(*) FROM fixed_line_revenue WHERE geography_province = 'none'"
               ).rows == [(0, 0)]  # fmt: skip
    assert run(engine, "SELECT SUM(revenue) FROM fixed_line_revenue WHERE 1 = 0").rows == [(0,)]


def test_explain_names_the_source_and_the_sql(engine: CubeEngine) -> None:
    table = cube_tables(engine)[CUBE]
    plan = plan_select(engine, sqlglot.parse_one(
        "SELECT product_line, SUM(revenue) FROM fixed_line_revenue WHERE time_year = 2024 GROUP BY 1",
        read="postgres"), table)  # fmt: skip
    lines = explain_select(engine, plan)
    assert lines[0] == f"Cube query on {CUBE}"
    assert lines[1] == "  source: facts" and "  cut: time:2024" in lines and "  drilldown: product:line" in lines
    assert any(line.strip().startswith("cells: SELECT") for line in lines)


def test_star_is_every_default_hierarchy_column_and_limit_0_asks_nothing(engine: CubeEngine) -> None:
    table = cube_tables(engine)[CUBE]
    star = plan_select(engine, sqlglot.parse_one(f"SELECT * FROM {CUBE} LIMIT 0", read="postgres"), table)
    names = [output.name for output in star.outputs]
    assert "time_second" in names and "revenue" in names and "time_isoweek" not in names
    assert names == [c.name for c in table.columns if c.name not in ("time_isoyear", "time_isoweek")]
    # columns of two hierarchies of one dimension cannot be grouped together, but LIMIT 0 only learns the columns
    empty = run(engine, f"SELECT time_isoweek, time_month, SUM(revenue) FROM {CUBE} LIMIT 0")
    assert empty.columns == [("time_isoweek", "BIGINT"), ("time_month", "BIGINT"), ("sum", "DECIMAL(38,2)")]
    assert empty.rows == []
    with pytest.raises(SqlUnsupportedError, match="no hierarchy of 'time'"):
        run(engine, f"SELECT time_isoweek, time_month, SUM(revenue) FROM {CUBE} GROUP BY 1, 2")


def test_having_filters_the_groups_by_their_measures(engine: CubeEngine) -> None:
    cells = cube_answer(engine, "", "product:product", ("revenue", "record_count"))
    expected = sorted((c["product.product"], c["revenue"]) for c in cells
                      if c["revenue"] > 100_000 and c["record_count"] >= 1000)  # fmt: skip
    answer = run(engine, f"SELECT product_product, SUM(revenue) AS revenue FROM {CUBE} GROUP BY product_line, "
                         "product_product HAVING revenue > 100000 AND COUNT(*) >= 1000 ORDER BY 1")  # fmt: skip
    assert answer.rows == expected and 0 < len(expected) < len(cells)
    top = run(engine, f"SELECT product_line, MEASURE(subscribers) FROM {CUBE} GROUP BY 1 HAVING "
                      "MEASURE(subscribers) > 0 AND product_line <> 'unknown' ORDER BY 2 DESC LIMIT 1")  # fmt: skip
    lines = cube_answer(engine, "", "product:line", ("subscribers",))
    best = max((c for c in lines if c["product.line"] != "unknown"), key=lambda c: c["subscribers"])
    assert top.rows == [(best["product.line"], best["subscribers"])]


def test_attributes_beyond_key_and_label_are_columns_too(engine: CubeEngine) -> None:
    table = cube_tables(engine)[CUBE]
    names = [column.name for column in table.columns]
    assert names.index("geography_province") < names.index("geography_province_name_en") < names.index(
        "geography_province_name_zh")  # fmt: skip
    members = {r["geography.province"]: r["geography.province_name_zh"] for r in engine.members(
        MembersQuery(CUBE, "geography", "province", limit=1000)).rows}  # fmt: skip
    cells = cube_answer(engine, "time:2024", "geography:province", ("revenue",))
    expected = sorted(((members[c["geography.province"]], c["revenue"]) for c in cells
                       if c["geography.province"] is not None), key=operator.itemgetter(0))  # fmt: skip
    answer = run(engine, f"SELECT geography_province_name_zh, SUM(revenue) FROM {CUBE} WHERE time_year = 2024 "
                         "AND geography_province_name_zh IS NOT NULL GROUP BY 1 ORDER BY 1")  # fmt: skip
    guangdong = next(c["revenue"] for c in cells if c["geography.province"] == "gd")
    assert answer.rows == expected and ("广东", guangdong) in answer.rows
    one = run(engine, f"SELECT geography_province, geography_province_name_zh, SUM(revenue) FROM {CUBE} "
                      "WHERE geography_province_name_zh = '广东' AND geography_city IS NOT NULL "
                      "AND time_year = 2024 GROUP BY geography_scope, geography_continent, geography_country, "
                      "geography_region, geography_province, geography_province_name_zh")  # fmt: skip
    assert one.rows == [("gd", "广东", guangdong)]
