"""Oracle tests: every engine operation checked against hand-written SQL run directly on the Parquet files.

Part of the contract suite: each test runs once per engine holding the facts (``duckdb`` over the Parquet
files, ``postgresql`` over the same rows loaded into a PostgreSQL cluster) and must give the same exact answer.

The expected answers never go through ``cube_server``: a module fixture opens a plain DuckDB connection
and declares its own star view over the generated files (LEFT JOINs on the codes, ``unknown`` for every
string attribute of a missing dimension row, time levels from the timestamp). Each test states its
expectation as SQL over that view and compares exactly: Decimal money with its scale, integer counts,
and whole cell sets (keys, labels and measures), in the engine's documented order.
"""

from __future__ import annotations

import decimal
from collections.abc import Iterator
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import duckdb
import pytest

from cube_server.cut_syntax import parse_cuts, parse_drilldown
from cube_server.engine import CubeEngine
from cube_server.query import FactsQuery, MembersQuery, OrderItem, PivotQuery, Query

CUBE = "fixed_line_revenue"


@pytest.fixture(scope="module", params=["duckdb", "postgresql"])
def engine(request: pytest.FixtureRequest, engine: CubeEngine) -> CubeEngine:
    """The session's facts served by each engine in turn."""
    return request.getfixturevalue("pg_engine") if request.param == "postgresql" else engine

# ---- the oracle's own star ----------------------------------------------------------------------
# (dimension, table alias, table key column, level attributes) for the joined dimensions; a level's
# attributes are <level>, <level>_name_en, <level>_name_zh.
_JOINED = {
    "geography": ("g", "geography_code", ("scope", "continent", "country", "region", "province", "city")),
    "organisation": ("o", "branch_code", ("head_office", "province_branch", "city_branch")),
    "product": ("p", "product_code", ("line", "product")),
    "customer": ("c", "customer_code", ("segment", "customer")),
}


def _star_sql(data: Path) -> str:
    columns = [
        "f.charge_id",
        "f.charged_at",
        "f.geography_code",
        "f.branch_code",
        "f.product_code",
        "f.customer_code",
        "f.channel_code",
        "f.revenue",
        "f.call_minutes",
        'year(f.charged_at) AS "time.year"',
        'quarter(f.charged_at) AS "time.quarter"',
        'month(f.charged_at) AS "time.month"',
        'day(f.charged_at) AS "time.day"',
        'hour(f.charged_at) AS "time.hour"',
        'minute(f.charged_at) AS "time.minute"',
        'second(f.charged_at) AS "time.second"',
        # ISO 8601 year and week, spelled with strftime rather than EXTRACT.
        """CAST(strftime(f.charged_at, '%G') AS BIGINT) AS "time.isoyear\"""",
        """CAST(strftime(f.charged_at, '%V') AS BIGINT) AS "time.isoweek\"""",
    ]
    for dimension, (alias, key, levels) in _JOINED.items():
        for level in levels:
            for column in (level, f"{level}_name_en", f"{level}_name_zh"):
                columns.append(
                    f"CASE WHEN {alias}.{key} IS NULL THEN 'unknown' ELSE {alias}.{column} END "
                    f'AS "{dimension}.{column}"'
                )
    for column, attribute in (
        ("channel_code", "channel"),
        ("channel_name_en", "channel_name_en"),
        ("channel_name_zh", "channel_name_zh"),
    ):
        columns.append(
            f"""CASE WHEN ch.channel_code IS NULL THEN 'unknown' ELSE ch.{column} END AS "channel.{attribute}\""""
        )
    return f"""
        CREATE VIEW star AS
        SELECT {", ".join(columns)}
        FROM read_parquet('{data}/facts/*.parquet') AS f
        LEFT JOIN read_parquet('{data}/geography.parquet') AS g ON f.geography_code = g.geography_code
        LEFT JOIN read_parquet('{data}/organisation.parquet') AS o ON f.branch_code = o.branch_code
        LEFT JOIN read_parquet('{data}/product.parquet') AS p ON f.product_code = p.product_code
        LEFT JOIN read_parquet('{data}/customer.parquet') AS c ON f.customer_code = c.customer_code
        LEFT JOIN read_parquet('{data}/channel.parquet') AS ch ON f.channel_code = ch.channel_code
    """


# The stored measures, as the model defines them (SUM is 0 on an empty cell).
MEASURES = """
    coalesce(sum(revenue), 0) AS revenue,
    coalesce(sum(call_minutes), 0) AS call_minutes,
    count(*) AS record_count,
    count(DISTINCT customer_code) AS subscribers
"""


class Oracle:
    def __init__(self, connection: duckdb.DuckDBPyConnection, data: Path) -> None:
        self.connection = connection
        self.data = data

    def rows(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        cursor = self.connection.execute(sql, params or [])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def cells(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        """Rows with ARPU added where revenue and subscribers are both there."""
        return [with_arpu(row) for row in self.rows(sql, params)]

    def summary(self, where: str = "TRUE", params: list[Any] | None = None) -> dict[str, Any]:
        (row,) = self.cells(f"SELECT {MEASURES} FROM star WHERE {where}", params)
        return row

    def scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        return self.connection.execute(sql, params or []).fetchone()[0]  # type: ignore[index]


def arpu(revenue: Decimal, subscribers: int) -> Decimal | None:
    """revenue / subscribers, rounded half-even to cents; NULL when there are no subscribers."""
    if not subscribers:
        return None
    with decimal.localcontext() as context:
        context.prec = 60
        return (Decimal(revenue) / Decimal(subscribers)).quantize(Decimal("0.01"), rounding=decimal.ROUND_HALF_EVEN)


def with_arpu(row: dict[str, Any]) -> dict[str, Any]:
    if "revenue" in row and "subscribers" in row:
        return {**row, "arpu": arpu(row["revenue"], row["subscribers"])}
    return row


def only(rows: list[dict[str, Any]], *keys: str) -> list[dict[str, Any]]:
    return [{k: row[k] for k in keys} for row in rows]


def _typed(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _typed(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_typed(item) for item in value]
    if isinstance(value, Decimal):
        return ("Decimal", str(value))  # keeps the scale: 0.00 is not 0
    return (type(value).__name__, value)


def assert_exact(actual: Any, expected: Any) -> None:
    """Equal values, and equal types and decimal scales (no float, no int-for-Decimal)."""
    assert actual == expected
    assert _typed(actual) == _typed(expected)


@pytest.fixture(scope="module")
def oracle(telecom_data: Path) -> Iterator[Oracle]:
    connection = duckdb.connect()
    connection.execute(_star_sql(telecom_data))
    yield Oracle(connection, telecom_data)
    connection.close()


def aggregate(engine: CubeEngine, cut: str = "", drilldown: str = "", **kwargs: Any) -> Any:
    return engine.aggregate(Query(CUBE, cuts=parse_cuts(cut), drilldown=parse_drilldown(drilldown), **kwargs))


def label_columns(dimension: str, *levels: str) -> str:
    """SELECT list of the keys and labels of ``levels`` (all have an ``<level>_name_en`` label)."""
    return ", ".join(
        f'"{dimension}.{level}", "{dimension}.{level}_name_en" AS "{dimension}.{level}.label"' for level in levels
    )


def keys(dimension: str, *levels: str) -> str:
    return ", ".join(f'"{dimension}.{level}"' for level in levels)


def ordered(dimension: str, *levels: str) -> str:
    return ", ".join(f'"{dimension}.{level}" ASC NULLS LAST' for level in levels)


GEO = ("scope", "continent", "country", "region", "province", "city")
ORG = ("head_office", "province_branch", "city_branch")


# ---- aggregate --------------------------------------------------------------------------------------


def test_oracle_aggregate_whole_cube(engine: CubeEngine, oracle: Oracle) -> None:
    result = aggregate(engine)
    assert_exact(result.summary, oracle.summary())
    assert result.cells == []
    assert result.total_cell_count is None
    assert result.summary["record_count"] == 60_000


def test_oracle_aggregate_drilldown_channel(engine: CubeEngine, oracle: Oracle) -> None:
    result = aggregate(engine, drilldown="channel")
    expected = oracle.cells(f"""
        SELECT "channel.channel", "channel.channel_name_en" AS "channel.channel.label", {MEASURES}
        FROM star GROUP BY ALL ORDER BY "channel.channel"
    """)
    assert_exact(result.cells, expected)
    assert result.total_cell_count == len(expected) == 4
    assert_exact(result.summary, oracle.summary())


def test_oracle_aggregate_time_quarters(engine: CubeEngine, oracle: Oracle) -> None:
    result = aggregate(engine, drilldown="time:quarter")
    expected = oracle.cells(f"""
        SELECT "time.year", "time.quarter", {MEASURES}
        FROM star GROUP BY ALL ORDER BY "time.year", "time.quarter"
    """)
    assert_exact(result.cells, expected)
    assert len(expected) == 8 and result.total_cell_count == 8


def test_oracle_aggregate_two_dimensions_under_a_cut(engine: CubeEngine, oracle: Oracle) -> None:
    result = aggregate(engine, cut="time:2024", drilldown="channel|customer:segment")
    expected = oracle.cells(f"""
        SELECT "channel.channel", "channel.channel_name_en" AS "channel.channel.label",
               {label_columns("customer", "segment")}, {MEASURES}
        FROM star WHERE "time.year" = 2024
        GROUP BY ALL ORDER BY "channel.channel", "customer.segment"
    """)
    assert_exact(result.cells, expected)
    assert result.total_cell_count == len(expected)
    assert_exact(result.summary, oracle.summary('"time.year" = 2024'))


def test_oracle_aggregate_measure_subset(engine: CubeEngine, oracle: Oracle) -> None:
    """Only the requested measures come back, even when a calculated one needs the others."""
    result = aggregate(engine, drilldown="product:line", measures=("arpu", "record_count"))
    expected = only(
        oracle.cells(f"""SELECT {label_columns("product", "line")}, {MEASURES}
                                    FROM star GROUP BY ALL ORDER BY "product.line" """),
        "product.line",
        "product.line.label",
        "arpu",
        "record_count",
    )
    assert_exact(result.cells, expected)
    assert_exact(result.summary, only([oracle.summary()], "arpu", "record_count")[0])


# ---- drilldown ------------------------------------------------------------------------------------


def test_oracle_drilldown_depth_one_below_a_geography_cut(engine: CubeEngine, oracle: Oracle) -> None:
    result = engine.drilldown(Query(CUBE, cuts=parse_cuts("geography:domestic,asia,cn")), "geography", 1)
    expected = oracle.cells(f"""
        SELECT {label_columns("geography", *GEO[:4])}, {MEASURES}
        FROM star WHERE "geography.scope" = 'domestic' AND "geography.continent" = 'asia' AND "geography.country" = 'cn'
        GROUP BY ALL ORDER BY {ordered("geography", *GEO[:4])}
    """)
    assert_exact(result.cells, expected)
    assert result.levels == {"geography": list(GEO[:4])}
    assert result.total_cell_count == len(expected) > 1


def test_oracle_drilldown_depth_two_organisation(engine: CubeEngine, oracle: Oracle) -> None:
    result = engine.drilldown(Query(CUBE), "organisation", 2)
    expected = oracle.cells(f"""
        SELECT {label_columns("organisation", *ORG[:2])}, {MEASURES}
        FROM star GROUP BY ALL ORDER BY {ordered("organisation", *ORG[:2])}
    """)
    assert_exact(result.cells, expected)
    assert len(expected) == 31


def test_oracle_drilldown_depth_two_from_a_year(engine: CubeEngine, oracle: Oracle) -> None:
    result = engine.drilldown(Query(CUBE, cuts=parse_cuts("time:2025")), "time", 2)
    expected = oracle.cells(f"""
        SELECT "time.year", "time.quarter", "time.month", {MEASURES}
        FROM star WHERE "time.year" = 2025 GROUP BY ALL ORDER BY ALL
    """)
    assert_exact(result.cells, expected)
    assert [c["time.month"] for c in result.cells] == list(range(1, 13))


def test_oracle_drilldown_keeps_other_drilled_dimensions(engine: CubeEngine, oracle: Oracle) -> None:
    result = engine.drilldown(
        Query(CUBE, cuts=parse_cuts("time:2025,4"), drilldown=parse_drilldown("channel")), "product", 1
    )
    expected = oracle.cells(f"""
        SELECT "channel.channel", "channel.channel_name_en" AS "channel.channel.label",
               {label_columns("product", "line")}, {MEASURES}
        FROM star WHERE "time.year" = 2025 AND "time.quarter" = 4
        GROUP BY ALL ORDER BY "channel.channel", "product.line"
    """)
    assert_exact(result.cells, expected)


def test_oracle_drilldown_international_to_province_gives_null_keys(engine: CubeEngine, oracle: Oracle) -> None:
    """Ragged geography: below the country, international rows have NULL region and province."""
    result = engine.drilldown(Query(CUBE, cuts=parse_cuts("geography:international")), "geography", 4)
    expected = oracle.cells(f"""
        SELECT {label_columns("geography", *GEO[:5])}, {MEASURES}
        FROM star WHERE "geography.scope" = 'international'
        GROUP BY ALL ORDER BY {ordered("geography", *GEO[:5])}
    """)
    assert_exact(result.cells, expected)
    assert result.levels == {"geography": list(GEO[:5])}
    assert expected and all(
        c["geography.region"] is None and c["geography.province.label"] is None for c in result.cells
    )


# ---- rollup -----------------------------------------------------------------------------------------


def test_oracle_rollup_of_a_drilled_level(engine: CubeEngine, oracle: Oracle) -> None:
    query = Query(CUBE, cuts=parse_cuts("geography:domestic,asia,cn"), drilldown=parse_drilldown("geography:province"))
    result = engine.rollup(query, "geography", 1)
    expected = oracle.cells(f"""
        SELECT {label_columns("geography", *GEO[:4])}, {MEASURES}
        FROM star WHERE "geography.country" = 'cn' AND "geography.scope" = 'domestic' AND "geography.continent" = 'asia'
        GROUP BY ALL ORDER BY {ordered("geography", *GEO[:4])}
    """)
    assert_exact(result.cells, expected)
    assert result.meta.extra["rolled_up_from"]["drilldown"] == "geography:province"


def test_oracle_rollup_of_a_time_drilldown_two_steps(engine: CubeEngine, oracle: Oracle) -> None:
    query = Query(CUBE, cuts=parse_cuts("time:2024,1"), drilldown=parse_drilldown("time:day"))
    result = engine.rollup(query, "time", 2)  # day -> quarter
    expected = oracle.cells(f"""
        SELECT "time.year", "time.quarter", {MEASURES}
        FROM star WHERE "time.year" = 2024 AND "time.quarter" = 1 GROUP BY ALL ORDER BY ALL
    """)
    assert_exact(result.cells, expected)
    assert len(expected) == 1


def test_oracle_rollup_of_a_cut(engine: CubeEngine, oracle: Oracle) -> None:
    """No drilled time level: rolling up shortens the time cut (December 2024 -> 2024)."""
    query = Query(CUBE, cuts=parse_cuts("time:2024,4,12"), drilldown=parse_drilldown("product:line"))
    result = engine.rollup(query, "time", 2)
    expected = oracle.cells(f"""
        SELECT {label_columns("product", "line")}, {MEASURES}
        FROM star WHERE "time.year" = 2024 GROUP BY ALL ORDER BY "product.line"
    """)
    assert_exact(result.cells, expected)
    assert_exact(result.summary, oracle.summary('"time.year" = 2024'))
    assert result.meta.extra["rolled_up_from"]["cut"] == "time:2024,4,12"
    # Rolling up past the top removes the cut: the whole cube.
    assert_exact(engine.rollup(query, "time", 3).summary, oracle.summary())


# ---- slice and dice ---------------------------------------------------------------------------------


def test_oracle_slice_dice_several_cuts(engine: CubeEngine, oracle: Oracle) -> None:
    cut = (
        "time:2025,1,2|geography:domestic,asia,cn,east_china;domestic,asia,cn,south_china"
        "|customer:key_account|!channel:web_portal"
    )
    result = aggregate(engine, cut=cut, drilldown="product:product|channel")
    where = """
        "time.year" = 2025 AND "time.quarter" = 1 AND "time.month" = 2
        AND "geography.scope" = 'domestic' AND "geography.continent" = 'asia' AND "geography.country" = 'cn'
        AND "geography.region" IN ('east_china', 'south_china')
        AND "customer.segment" = 'key_account'
        AND "channel.channel" <> 'web_portal'
    """
    expected = oracle.cells(f"""
        SELECT {label_columns("product", "line", "product")},
               "channel.channel", "channel.channel_name_en" AS "channel.channel.label", {MEASURES}
        FROM star WHERE {where}
        GROUP BY ALL ORDER BY "product.line", "product.product", "channel.channel"
    """)
    assert_exact(result.cells, expected)
    assert_exact(result.summary, oracle.summary(where))
    assert result.total_cell_count == len(expected) > 3


def test_oracle_set_cut(engine: CubeEngine, oracle: Oracle) -> None:
    result = aggregate(engine, cut="product:ordinary_telephone,local_call;data_services", drilldown="product:product")
    expected = oracle.cells(f"""
        SELECT {label_columns("product", "line", "product")}, {MEASURES}
        FROM star
        WHERE ("product.line" = 'ordinary_telephone' AND "product.product" = 'local_call')
           OR "product.line" = 'data_services'
        GROUP BY ALL ORDER BY "product.line", "product.product"
    """)
    assert_exact(result.cells, expected)
    assert [c["product.product"] for c in result.cells] == ["broadband", "iptv", "leased_line", "local_call"]


def test_oracle_set_cut_with_an_unknown_member(engine: CubeEngine, oracle: Oracle) -> None:
    result = aggregate(engine, cut="channel:no_such_channel;web_portal", drilldown="channel")
    expected = oracle.cells(f"""
        SELECT "channel.channel", "channel.channel_name_en" AS "channel.channel.label", {MEASURES}
        FROM star WHERE "channel.channel" = 'web_portal' GROUP BY ALL
    """)
    assert_exact(result.cells, expected)


def test_oracle_negated_cut_keeps_everything_else_including_orphans(engine: CubeEngine, oracle: Oracle) -> None:
    result = aggregate(engine, cut="!geography:international", drilldown="geography:scope|customer:segment")
    expected = oracle.cells(f"""
        SELECT {label_columns("geography", "scope")}, {label_columns("customer", "segment")}, {MEASURES}
        FROM star WHERE "geography.scope" IS DISTINCT FROM 'international'
        GROUP BY ALL ORDER BY "geography.scope", "customer.segment"
    """)
    assert_exact(result.cells, expected)
    assert "unknown" in {c["customer.segment"] for c in result.cells}  # orphan customers are kept
    assert_exact(result.summary, oracle.summary("\"geography.scope\" IS DISTINCT FROM 'international'"))


def test_oracle_negated_cut_on_a_segment_keeps_orphan_customers(engine: CubeEngine, oracle: Oracle) -> None:
    result = aggregate(engine, cut="!customer:key_account", drilldown="customer:segment")
    expected = oracle.cells(f"""
        SELECT {label_columns("customer", "segment")}, {MEASURES}
        FROM star WHERE "customer.segment" <> 'key_account' GROUP BY ALL ORDER BY "customer.segment"
    """)
    assert_exact(result.cells, expected)
    assert [c["customer.segment"] for c in result.cells] == ["public", "unknown"]
    # The orphans are exactly the facts whose customer_code is missing from customer.parquet.
    orphans = oracle.scalar(f"""SELECT count(*) FROM read_parquet('{oracle.data}/facts/*.parquet')
                                WHERE customer_code NOT IN (SELECT customer_code
                                                            FROM read_parquet('{oracle.data}/customer.parquet'))""")
    assert result.cells[1]["record_count"] == orphans > 0


def test_oracle_negated_ragged_cut_keeps_rows_with_null_levels(engine: CubeEngine, oracle: Oracle) -> None:
    """NOT over a NULL comparison: a cut on a region of Japan (there is none) negated keeps every row."""
    result = aggregate(engine, cut="!geography:international,asia,jp,kanto", drilldown="geography:country")
    expected = oracle.cells(f"""
        SELECT {label_columns("geography", *GEO[:3])}, {MEASURES}
        FROM star GROUP BY ALL ORDER BY {ordered("geography", *GEO[:3])}
    """)
    assert_exact(result.cells, expected)
    assert_exact(result.summary, oracle.summary())
    assert "jp" in {c["geography.country"] for c in result.cells}


def test_oracle_negated_unknown_member_drops_orphan_products(engine: CubeEngine, oracle: Oracle) -> None:
    result = aggregate(engine, cut="!product:unknown")
    assert_exact(result.summary, oracle.summary("\"product.line\" <> 'unknown'"))
    assert result.summary["record_count"] == 60_000 - oracle.scalar(
        "SELECT count(*) FROM star WHERE \"product.product\" = 'unknown'"
    )


# ---- edge cases: empty cells, unknown members, ragged paths, orphans --------------------------------


def test_oracle_empty_cell_future_year(engine: CubeEngine, oracle: Oracle) -> None:
    result = aggregate(engine, cut="time:2030", drilldown="geography")
    expected = oracle.summary('"time.year" = 2030')
    assert_exact(result.summary, expected)
    assert_exact(
        result.summary,
        {
            "revenue": Decimal("0.00"),
            "call_minutes": Decimal("0.00"),
            "record_count": 0,
            "subscribers": 0,
            "arpu": None,
        },
    )
    assert result.cells == []
    assert result.total_cell_count == 0


@pytest.mark.parametrize("cut", ["geography:atlantis", "time:abc", "customer:public,nobody", "time:2025,5"])
def test_oracle_unknown_member_point_cut_is_empty(engine: CubeEngine, oracle: Oracle, cut: str) -> None:
    """A member that does not exist (or cannot, like quarter 5) gives an empty cell, not an error."""
    result = aggregate(engine, cut=cut, drilldown="product")
    assert_exact(result.summary, oracle.summary("FALSE"))
    assert result.cells == [] and result.total_cell_count == 0


def test_oracle_point_cut_compares_numbers_as_numbers(engine: CubeEngine, oracle: Oracle) -> None:
    result = aggregate(engine, cut="time:2025,01,02", drilldown="time:day")
    expected = oracle.cells(f"""
        SELECT "time.year", "time.quarter", "time.month", "time.day", {MEASURES}
        FROM star WHERE charged_at >= '2025-02-01' AND charged_at < '2025-03-01' GROUP BY ALL ORDER BY ALL
    """)
    assert_exact(result.cells, expected)
    assert len(expected) == 28


def test_oracle_ragged_null_path_cut(engine: CubeEngine, oracle: Oracle) -> None:
    result = aggregate(engine, cut="geography:international,asia,jp,__null__", drilldown="geography")
    expected = oracle.cells(f"""
        SELECT {label_columns("geography", *GEO[:5])}, {MEASURES}
        FROM star WHERE "geography.scope" = 'international' AND "geography.continent" = 'asia'
                    AND "geography.country" = 'jp' AND "geography.region" IS NULL
        GROUP BY ALL
    """)
    assert_exact(result.cells, expected)
    assert len(expected) == 1 and expected[0]["geography.province"] is None


def test_oracle_orphan_products_kept_under_unknown(engine: CubeEngine, oracle: Oracle) -> None:
    result = aggregate(engine, drilldown="product:line")
    expected = oracle.cells(f"""
        SELECT {label_columns("product", "line")}, {MEASURES}
        FROM star GROUP BY ALL ORDER BY "product.line"
    """)
    assert_exact(result.cells, expected)
    unknown = [c for c in result.cells if c["product.line"] == "unknown"]
    assert len(unknown) == 1 and unknown[0]["product.line.label"] == "unknown" and unknown[0]["record_count"] > 0
    # Nothing vanishes: the total over all facts is the sum over the lines, unknown included.
    raw_total = oracle.scalar(f"SELECT sum(revenue) FROM read_parquet('{oracle.data}/facts/*.parquet')")
    assert sum(c["revenue"] for c in result.cells) == result.summary["revenue"] == raw_total


def test_oracle_orphan_customers_distinct_under_unknown_member(engine: CubeEngine, oracle: Oracle) -> None:
    """All orphan customer codes read as the one member ``unknown``, but still count as distinct subscribers."""
    result = aggregate(engine, cut="customer:unknown", drilldown="customer:customer")
    expected = oracle.cells(f"""
        SELECT {label_columns("customer", "segment", "customer")}, {MEASURES}
        FROM star WHERE "customer.segment" = 'unknown' GROUP BY ALL
    """)
    assert_exact(result.cells, expected)
    assert len(result.cells) == 1 and result.cells[0]["subscribers"] > 1


# ---- ranges on time ---------------------------------------------------------------------------------


def test_oracle_range_cut_days_across_a_year_boundary(engine: CubeEngine, oracle: Oracle) -> None:
    """Day-level path on (year, quarter, month, day): 2024-11-25 .. 2025-01-05, inclusive."""
    result = aggregate(engine, cut="time:2024,4,11,25-2025,1,1,5", drilldown="time:day")
    expected = oracle.cells(f"""
        SELECT "time.year", "time.quarter", "time.month", "time.day", {MEASURES}
        FROM star WHERE charged_at >= TIMESTAMP '2024-11-25' AND charged_at < TIMESTAMP '2025-01-06'
        GROUP BY ALL ORDER BY ALL
    """)
    assert_exact(result.cells, expected)
    assert len(expected) == 6 + 31 + 5
    assert_exact(
        result.summary, oracle.summary("charged_at >= TIMESTAMP '2024-11-25' AND charged_at < TIMESTAMP '2025-01-06'")
    )


def test_oracle_range_cut_is_lexicographic_on_the_key_tuple(engine: CubeEngine, oracle: Oracle) -> None:
    """``time:2024,11,25-2025,1,5`` reads as (year, quarter, month) tuples: only 2025 Q1 lies in between."""
    result = aggregate(engine, cut="time:2024,11,25-2025,1,5", drilldown="time:month")
    expected = oracle.cells(f"""
        SELECT "time.year", "time.quarter", "time.month", {MEASURES}
        FROM star
        WHERE ("time.year" > 2024 OR ("time.year" = 2024 AND ("time.quarter" > 11
               OR ("time.quarter" = 11 AND "time.month" >= 25))))
          AND ("time.year" < 2025 OR ("time.year" = 2025 AND ("time.quarter" < 1
               OR ("time.quarter" = 1 AND "time.month" <= 5))))
        GROUP BY ALL ORDER BY ALL
    """)
    assert_exact(result.cells, expected)
    assert [(c["time.year"], c["time.month"]) for c in expected] == [(2025, 1), (2025, 2), (2025, 3)]


def test_oracle_range_cut_months_across_a_year_boundary(engine: CubeEngine, oracle: Oracle) -> None:
    result = aggregate(engine, cut="time:2024,4,12-2025,1,2", drilldown="time:month")
    expected = oracle.cells(f"""
        SELECT "time.year", "time.quarter", "time.month", {MEASURES}
        FROM star WHERE charged_at >= TIMESTAMP '2024-12-01' AND charged_at < TIMESTAMP '2025-03-01'
        GROUP BY ALL ORDER BY ALL
    """)
    assert_exact(result.cells, expected)
    assert [(c["time.year"], c["time.month"]) for c in result.cells] == [(2024, 12), (2025, 1), (2025, 2)]


def test_oracle_range_cut_year_quarter_pairs(engine: CubeEngine, oracle: Oracle) -> None:
    """``time:2024,12-2025,2`` is (year, quarter) from (2024, 12) to (2025, 2): 2025 Q1 and Q2."""
    result = aggregate(engine, cut="time:2024,12-2025,2", drilldown="time:month")
    expected = oracle.cells(f"""
        SELECT "time.year", "time.quarter", "time.month", {MEASURES}
        FROM star WHERE "time.year" = 2025 AND "time.quarter" IN (1, 2) GROUP BY ALL ORDER BY ALL
    """)
    assert_exact(result.cells, expected)
    assert len(expected) == 6


def test_oracle_range_cut_compares_numbers_as_numbers(engine: CubeEngine, oracle: Oracle) -> None:
    """Month 2 to month 10: as text "2" > "10" and the range would be empty."""
    result = aggregate(engine, cut="time:2025,1,2-2025,4,10", drilldown="time:month")
    expected = oracle.cells(f"""
        SELECT "time.year", "time.quarter", "time.month", {MEASURES}
        FROM star WHERE charged_at >= TIMESTAMP '2025-02-01' AND charged_at < TIMESTAMP '2025-11-01'
        GROUP BY ALL ORDER BY ALL
    """)
    assert_exact(result.cells, expected)
    assert [c["time.month"] for c in result.cells] == list(range(2, 11))


def test_oracle_open_ended_range_cut(engine: CubeEngine, oracle: Oracle) -> None:
    result = aggregate(engine, cut="time:2025,4,12,30-", drilldown="time:day")
    expected = oracle.cells(f"""
        SELECT "time.year", "time.quarter", "time.month", "time.day", {MEASURES}
        FROM star WHERE charged_at >= TIMESTAMP '2025-12-30' GROUP BY ALL ORDER BY ALL
    """)
    assert_exact(result.cells, expected)
    assert [c["time.day"] for c in result.cells] == [30, 31]


def test_oracle_negated_range_cut(engine: CubeEngine, oracle: Oracle) -> None:
    """Everything outside 2024 Q1 .. 2025 Q3 (inclusive on the (year, quarter) tuple): 2025 Q4."""
    result = aggregate(engine, cut="!time:2024,1-2025,3", drilldown="time:month")
    expected = oracle.cells(f"""
        SELECT "time.year", "time.quarter", "time.month", {MEASURES}
        FROM star WHERE charged_at >= TIMESTAMP '2025-10-01' GROUP BY ALL ORDER BY ALL
    """)
    assert_exact(result.cells, expected)
    assert_exact(result.summary, oracle.summary("charged_at >= TIMESTAMP '2025-10-01'"))


def test_oracle_weekly_cut_with_calendar_drilldown(engine: CubeEngine, oracle: Oracle) -> None:
    """A cut on one hierarchy and a drilldown on the other: ISO week 2025-W01 by calendar month."""
    result = aggregate(engine, cut="time@weekly:2025,1", drilldown="time:month")
    expected = oracle.cells(f"""
        SELECT "time.year", "time.quarter", "time.month", {MEASURES}
        FROM star WHERE charged_at >= TIMESTAMP '2024-12-30' AND charged_at < TIMESTAMP '2025-01-06'
        GROUP BY ALL ORDER BY ALL
    """)
    assert_exact(result.cells, expected)
    assert [(c["time.year"], c["time.month"]) for c in result.cells] == [(2024, 12), (2025, 1)]


# ---- ISO weeks and hours -----------------------------------------------------------------------------


def test_oracle_iso_week_one_includes_the_last_days_of_december(engine: CubeEngine, oracle: Oracle) -> None:
    result = engine.drilldown(Query(CUBE, cuts=parse_cuts("time@weekly:2025,1")), "time", 1)
    expected = oracle.cells(f"""
        SELECT 2025::BIGINT AS "time.isoyear", 1::BIGINT AS "time.isoweek", day(charged_at) AS "time.day", {MEASURES}
        FROM star WHERE charged_at >= TIMESTAMP '2024-12-30' AND charged_at < TIMESTAMP '2025-01-06'
        GROUP BY ALL ORDER BY "time.day"
    """)
    assert_exact(result.cells, expected)
    assert [c["time.day"] for c in result.cells] == [1, 2, 3, 4, 5, 30, 31]
    assert result.levels == {"time@weekly": ["isoyear", "isoweek", "day"]}


def test_oracle_iso_weeks_across_the_year_boundary(engine: CubeEngine, oracle: Oracle) -> None:
    result = aggregate(engine, cut="time@weekly:2024,52-2025,2", drilldown="time@weekly:isoweek")
    expected = oracle.cells(f"""
        SELECT "time.isoyear", "time.isoweek", {MEASURES}
        FROM star WHERE charged_at >= TIMESTAMP '2024-12-23' AND charged_at < TIMESTAMP '2025-01-13'
        GROUP BY ALL ORDER BY ALL
    """)
    assert_exact(result.cells, expected)
    assert [(c["time.isoyear"], c["time.isoweek"]) for c in result.cells] == [(2024, 52), (2025, 1), (2025, 2)]


def test_oracle_iso_year_2026_holds_the_last_days_of_2025(engine: CubeEngine, oracle: Oracle) -> None:
    result = aggregate(engine, cut="time@weekly:2026", drilldown="time@weekly:day")
    expected = oracle.cells(f"""
        SELECT 2026::BIGINT AS "time.isoyear", 1::BIGINT AS "time.isoweek", day(charged_at) AS "time.day", {MEASURES}
        FROM star WHERE charged_at >= TIMESTAMP '2025-12-29' GROUP BY ALL ORDER BY ALL
    """)
    assert_exact(result.cells, expected)
    assert [c["time.day"] for c in result.cells] == [29, 30, 31]
    assert_exact(aggregate(engine, cut="time:2026").summary, oracle.summary("FALSE"))


def test_oracle_hour_of_day_within_a_day(engine: CubeEngine, oracle: Oracle) -> None:
    result = aggregate(engine, cut="time:2025,1,2,14", drilldown="time:hour")
    expected = oracle.cells(f"""
        SELECT 2025::BIGINT AS "time.year", 1::BIGINT AS "time.quarter", 2::BIGINT AS "time.month",
               14::BIGINT AS "time.day", hour(charged_at) AS "time.hour", {MEASURES}
        FROM star WHERE CAST(charged_at AS DATE) = DATE '2025-02-14' GROUP BY ALL ORDER BY "time.hour"
    """)
    assert_exact(result.cells, expected)
    assert result.total_cell_count == len(expected) > 10
    assert_exact(result.summary, oracle.summary("CAST(charged_at AS DATE) = DATE '2025-02-14'"))


def test_oracle_minutes_within_an_hour(engine: CubeEngine, oracle: Oracle) -> None:
    result = engine.drilldown(Query(CUBE, cuts=parse_cuts("time:2024,4,12,31,10")), "time", 1)
    expected = oracle.cells(f"""
        SELECT "time.year", "time.quarter", "time.month", "time.day", "time.hour", "time.minute", {MEASURES}
        FROM star WHERE charged_at >= TIMESTAMP '2024-12-31 10:00:00' AND charged_at < TIMESTAMP '2024-12-31 11:00:00'
        GROUP BY ALL ORDER BY ALL
    """)
    assert_exact(result.cells, expected)
    assert expected


# ---- distinct counts, ordering and paging ---------------------------------------------------------


def test_oracle_distinct_subscribers_are_not_additive(engine: CubeEngine, oracle: Oracle) -> None:
    result = aggregate(engine, cut="time:2025", drilldown="time:month", measures=("subscribers", "arpu"))
    expected = only(
        oracle.cells(f"""
        SELECT "time.year", "time.quarter", "time.month", {MEASURES}
        FROM star WHERE "time.year" = 2025 GROUP BY ALL ORDER BY ALL
    """),
        "time.year",
        "time.quarter",
        "time.month",
        "subscribers",
        "arpu",
    )
    assert_exact(result.cells, expected)
    summary = oracle.summary('"time.year" = 2025')
    assert_exact(result.summary, {"subscribers": summary["subscribers"], "arpu": summary["arpu"]})
    assert result.summary["subscribers"] < sum(c["subscribers"] for c in result.cells)


def test_oracle_top_customers_by_revenue(engine: CubeEngine, oracle: Oracle) -> None:
    result = aggregate(engine, drilldown="customer:customer", order=(OrderItem("revenue", True),), limit=10)
    expected = oracle.cells(f"""
        SELECT {label_columns("customer", "segment", "customer")}, {MEASURES}
        FROM star GROUP BY ALL
        ORDER BY revenue DESC, "customer.segment" ASC NULLS LAST, "customer.customer" ASC NULLS LAST
        LIMIT 10
    """)
    assert_exact(result.cells, expected)
    assert result.total_cell_count == oracle.scalar(
        'SELECT count(*) FROM (SELECT DISTINCT "customer.segment", "customer.customer" FROM star)'
    )
    assert_exact(result.summary, oracle.summary())


def test_oracle_order_ties_broken_by_level_keys(engine: CubeEngine, oracle: Oracle) -> None:
    """Many customers pay the same monthly fee: ties on revenue fall back to (segment, customer) ascending."""
    cut = "time:2025,1,1|product:data_services,iptv"
    result = aggregate(
        engine,
        cut=cut,
        drilldown="customer:customer",
        measures=("revenue",),
        order=(OrderItem("revenue", True),),
        limit=25,
        offset=5,
    )
    expected = oracle.cells(f"""
        SELECT {label_columns("customer", "segment", "customer")}, coalesce(sum(revenue), 0) AS revenue
        FROM star WHERE "time.year" = 2025 AND "time.quarter" = 1 AND "time.month" = 1 AND "product.product" = 'iptv'
        GROUP BY ALL
        ORDER BY revenue DESC, "customer.segment" ASC NULLS LAST, "customer.customer" ASC NULLS LAST
        LIMIT 25 OFFSET 5
    """)
    assert_exact(result.cells, expected)
    revenues = [c["revenue"] for c in expected]
    assert len(set(revenues)) < len(revenues)  # the page really has ties


def test_oracle_order_by_calculated_arpu(engine: CubeEngine, oracle: Oracle) -> None:
    result = aggregate(
        engine,
        drilldown="organisation:province_branch",
        measures=("revenue", "subscribers", "arpu"),
        order=(OrderItem("arpu", True),),
        limit=8,
    )
    rows = oracle.cells(f"""
        SELECT {label_columns("organisation", *ORG[:2])}, coalesce(sum(revenue), 0) AS revenue,
               count(DISTINCT customer_code) AS subscribers
        FROM star GROUP BY ALL
    """)
    # Exact ARPU (not the rounded one) desc, then the level keys asc.
    rows.sort(
        key=lambda r: (
            -Fraction(r["revenue"]) / r["subscribers"],
            r["organisation.head_office"],
            r["organisation.province_branch"],
        )
    )
    assert_exact(result.cells, rows[:8])
    assert result.total_cell_count == len(rows) == 31


def test_oracle_order_by_label_descending(engine: CubeEngine, oracle: Oracle) -> None:
    result = aggregate(
        engine,
        cut="geography:domestic,asia,cn,east_china",
        drilldown="geography:province",
        order=(OrderItem("geography.province.label", True),),
        measures=("record_count",),
    )
    expected = oracle.cells(f"""
        SELECT {label_columns("geography", *GEO[:5])}, count(*) AS record_count
        FROM star WHERE "geography.region" = 'east_china' AND "geography.country" = 'cn'
        GROUP BY ALL ORDER BY "geography.province.label" DESC, {ordered("geography", *GEO[:5])}
    """)
    assert_exact(result.cells, expected)


def test_oracle_order_by_ragged_level_puts_nulls_last(engine: CubeEngine, oracle: Oracle) -> None:
    """Descending on region: Chinese regions Z..A, then the international countries (NULL region)."""
    result = aggregate(
        engine,
        drilldown="geography:region",
        order=(OrderItem("geography.region", True),),
        measures=("record_count", "subscribers"),
        limit=30,
    )
    expected = oracle.cells(f"""
        SELECT {label_columns("geography", *GEO[:4])}, count(*) AS record_count,
               count(DISTINCT customer_code) AS subscribers
        FROM star GROUP BY ALL
        ORDER BY "geography.region" DESC NULLS LAST, {ordered("geography", *GEO[:4])}
        LIMIT 30
    """)
    assert_exact(result.cells, expected)
    assert expected[0]["geography.region"] is not None and expected[-1]["geography.region"] is None


def test_oracle_paging_and_total_cell_count(engine: CubeEngine, oracle: Oracle) -> None:
    sql = f"""
        SELECT {label_columns("geography", *GEO)}, {MEASURES}
        FROM star GROUP BY ALL ORDER BY {ordered("geography", *GEO)}
    """
    everything = oracle.cells(sql)
    pages = []
    for offset in range(0, len(everything) + 40, 40):
        result = aggregate(engine, drilldown="geography:city", limit=40, offset=offset)
        assert result.total_cell_count == len(everything)
        assert_exact(result.summary, oracle.summary())  # the summary is of the whole cell, not the page
        assert_exact(result.cells, oracle.cells(sql + f" LIMIT 40 OFFSET {offset}"))
        pages.extend(result.cells)
    assert_exact(pages, everything)
    assert everything[-1]["geography.city"] is None  # ragged international rows sort last


# ---- pivot ------------------------------------------------------------------------------------------


def _pivot_expected(
    oracle: Oracle, rows: list[str], columns: list[str], measures: list[str], where: str
) -> dict[str, Any]:
    row_sql = ", ".join(f'"{r}"' for r in rows)
    column_sql = ", ".join(f'"{c}"' for c in columns)
    order = ", ".join(f'"{k}" ASC NULLS LAST' for k in [*rows, *columns])
    by_row = oracle.cells(
        f"SELECT {row_sql}, {MEASURES} FROM star WHERE {where} GROUP BY ALL "
        f"ORDER BY {', '.join(f'{chr(34)}{r}{chr(34)} ASC NULLS LAST' for r in rows)}"
    )
    by_column = oracle.cells(
        f"SELECT {column_sql}, {MEASURES} FROM star WHERE {where} GROUP BY ALL "
        f"ORDER BY {', '.join(f'{chr(34)}{c}{chr(34)} ASC NULLS LAST' for c in columns)}"
    )
    grid = oracle.cells(
        f"SELECT {row_sql}, {column_sql}, {MEASURES} FROM star WHERE {where} GROUP BY ALL ORDER BY {order}"
    )
    row_keys = [[r[k] for k in rows] for r in by_row]
    column_keys = [[c[k] for k in columns] for c in by_column]
    values: list[list[Any]] = [[None] * len(column_keys) for _ in row_keys]
    for cell in grid:
        r = row_keys.index([cell[k] for k in rows])
        c = column_keys.index([cell[k] for k in columns])
        values[r][c] = [cell[m] for m in measures]
    grand = oracle.summary(where)
    return {
        "row_headers": row_keys,
        "column_headers": column_keys,
        "values": values,
        "row_totals": [[r[m] for m in measures] for r in by_row],
        "column_totals": [[c[m] for m in measures] for c in by_column],
        "grand_total": [grand[m] for m in measures],
    }


def _pivot_actual(table: Any) -> dict[str, Any]:
    return {
        name: getattr(table, name)
        for name in ("row_headers", "column_headers", "values", "row_totals", "column_totals", "grand_total")
    }


def test_oracle_pivot_region_by_year_with_totals(engine: CubeEngine, oracle: Oracle) -> None:
    measures = ["revenue", "record_count", "subscribers", "arpu"]
    table = engine.pivot(
        PivotQuery(
            CUBE,
            rows=parse_drilldown("geography:region"),
            columns=parse_drilldown("time:year"),
            measures=tuple(measures),
        )
    )
    rows = [f"geography.{level}" for level in GEO[:4]]
    expected = _pivot_expected(oracle, rows, ["time.year"], measures, "TRUE")
    assert_exact(_pivot_actual(table), expected)
    assert table.row_levels == rows and table.column_levels == ["time.year"]
    names = ", ".join(f'"geography.{level}_name_en"' for level in GEO[:4])
    labels = oracle.rows(f"""
        SELECT DISTINCT {names}, {keys("geography", *GEO[:4])} FROM star ORDER BY {ordered("geography", *GEO[:4])}
    """)
    assert table.row_header_labels == [[row[f"geography.{lv}_name_en"] for lv in GEO[:4]] for row in labels]
    # The totals are queried, not summed: distinct subscribers over both years are fewer than the sum.
    assert table.grand_total is not None and table.column_totals is not None
    assert table.grand_total[2] < sum(total[2] for total in table.column_totals)


def test_oracle_pivot_sparse_grid_has_none_for_empty_cells(engine: CubeEngine, oracle: Oracle) -> None:
    measures = ["revenue", "call_minutes", "subscribers"]
    table = engine.pivot(
        PivotQuery(
            CUBE,
            rows=parse_drilldown("geography:country"),
            columns=parse_drilldown("time:month"),
            cuts=parse_cuts("geography:international|time:2025"),
            measures=tuple(measures),
        )
    )
    rows = [f"geography.{level}" for level in GEO[:3]]
    expected = _pivot_expected(
        oracle,
        rows,
        ["time.year", "time.quarter", "time.month"],
        measures,
        '"geography.scope" = \'international\' AND "time.year" = 2025',
    )
    assert_exact(_pivot_actual(table), expected)
    assert any(value is None for row in table.values for value in row)


def test_oracle_pivot_segments_by_channel_distinct_totals(engine: CubeEngine, oracle: Oracle) -> None:
    measures = ["subscribers", "arpu", "revenue"]
    table = engine.pivot(
        PivotQuery(
            CUBE,
            rows=parse_drilldown("customer:segment"),
            columns=parse_drilldown("channel"),
            cuts=parse_cuts("time:2024,3"),
            measures=tuple(measures),
        )
    )
    expected = _pivot_expected(
        oracle, ["customer.segment"], ["channel.channel"], measures, '"time.year" = 2024 AND "time.quarter" = 3'
    )
    assert_exact(_pivot_actual(table), expected)


def test_oracle_pivot_rows_only(engine: CubeEngine, oracle: Oracle) -> None:
    table = engine.pivot(
        PivotQuery(
            CUBE,
            rows=parse_drilldown("organisation:province_branch"),
            columns=(),
            cuts=parse_cuts("product:data_services"),
            measures=("revenue", "subscribers"),
        )
    )
    by_row = oracle.cells(f"""
        SELECT {keys("organisation", *ORG[:2])}, {MEASURES} FROM star WHERE "product.line" = 'data_services'
        GROUP BY ALL ORDER BY ALL
    """)
    assert table.row_headers == [[r["organisation.head_office"], r["organisation.province_branch"]] for r in by_row]
    assert table.column_headers == [[]] and table.column_totals is None
    assert_exact(table.values, [[[r["revenue"], r["subscribers"]]] for r in by_row])
    assert_exact(table.row_totals, [[r["revenue"], r["subscribers"]] for r in by_row])
    grand = oracle.summary("\"product.line\" = 'data_services'")
    assert_exact(table.grand_total, [grand["revenue"], grand["subscribers"]])


def test_oracle_pivot_of_an_empty_cut(engine: CubeEngine, oracle: Oracle) -> None:
    measures = ["revenue", "subscribers", "arpu"]
    table = engine.pivot(
        PivotQuery(
            CUBE,
            rows=parse_drilldown("channel"),
            columns=parse_drilldown("time:year"),
            cuts=parse_cuts("time:2030"),
            measures=tuple(measures),
        )
    )
    expected = _pivot_expected(oracle, ["channel.channel"], ["time.year"], measures, '"time.year" = 2030')
    assert_exact(_pivot_actual(table), expected)
    assert_exact(table.grand_total, [Decimal("0.00"), 0, None])


# ---- members ----------------------------------------------------------------------------------------


def test_oracle_members_search_with_paging(engine: CubeEngine, oracle: Oracle) -> None:
    rows = engine.members(MembersQuery(CUBE, "customer", level="customer", search="haina", limit=3, offset=2))
    sql = f"""
        SELECT DISTINCT {label_columns("customer", "segment", "customer")}, "customer.customer_name_zh"
        FROM star WHERE "customer.customer" ILIKE '%haina%' OR "customer.customer_name_en" ILIKE '%haina%'
        ORDER BY {ordered("customer", "segment", "customer")}
    """
    everything = oracle.rows(sql)
    assert_exact(rows.rows, everything[2:5])
    assert rows.total_count == len(everything) > 5


def test_oracle_members_of_a_level_under_a_cut(engine: CubeEngine, oracle: Oracle) -> None:
    rows = engine.members(
        MembersQuery(CUBE, "geography", level="province", cuts=parse_cuts("geography:domestic,asia,cn,east_china"))
    )
    expected = oracle.rows(f"""
        SELECT DISTINCT {label_columns("geography", *GEO[:5])}, "geography.province_name_zh"
        FROM star WHERE "geography.scope" = 'domestic' AND "geography.region" = 'east_china'
        ORDER BY {ordered("geography", *GEO[:5])}
    """)
    assert_exact(rows.rows, expected)
    assert rows.total_count == len(expected) == 7


def test_oracle_members_ragged_level_last_page(engine: CubeEngine, oracle: Oracle) -> None:
    rows = engine.members(MembersQuery(CUBE, "geography", level="province", limit=10, offset=30))
    sql = f"""
        SELECT DISTINCT {label_columns("geography", *GEO[:5])}, "geography.province_name_zh"
        FROM star ORDER BY {ordered("geography", *GEO[:5])}
    """
    everything = oracle.rows(sql)
    assert_exact(rows.rows, everything[30:40])
    assert rows.total_count == len(everything)
    assert everything[-1]["geography.province"] is None  # the international members, with NULL province, last


def test_oracle_members_of_time_levels(engine: CubeEngine, oracle: Oracle) -> None:
    months = engine.members(MembersQuery(CUBE, "time", level="month", cuts=parse_cuts("time:2025"), search="1"))
    expected = oracle.rows("""
        SELECT DISTINCT "time.year", "time.quarter", "time.month" FROM star
        WHERE "time.year" = 2025 AND CAST("time.month" AS VARCHAR) LIKE '%1%' ORDER BY ALL
    """)
    assert_exact(months.rows, expected)
    assert [m["time.month"] for m in months.rows] == [1, 10, 11, 12]
    weeks = engine.members(
        MembersQuery(
            CUBE, "time", level="isoweek", hierarchy="weekly", cuts=parse_cuts("time@weekly:2025"), limit=5, offset=49
        )
    )
    expected_weeks = oracle.rows(
        'SELECT DISTINCT "time.isoyear", "time.isoweek" FROM star WHERE "time.isoyear" = 2025 ORDER BY ALL'
    )
    assert_exact(weeks.rows, expected_weeks[49:54])
    assert weeks.total_count == len(expected_weeks) == 52


def test_oracle_members_search_underscore_is_literal(engine: CubeEngine, oracle: Oracle) -> None:
    """``_`` in the search text is not a LIKE wildcard: "_c" finds local_call, not "Voicemail" or "Local Call"."""
    rows = engine.members(MembersQuery(CUBE, "product", level="product", search="_C"))
    expected = oracle.rows(f"""
        SELECT DISTINCT {label_columns("product", "line", "product")}, "product.product_name_zh" FROM star
        WHERE contains(lower("product.product"), '_c') OR contains(lower("product.product_name_en"), '_c')
        ORDER BY {ordered("product", "line", "product")}
    """)
    assert_exact(rows.rows, expected)
    assert [r["product.product"] for r in rows.rows] == ["international_call", "local_call"]
    assert engine.members(MembersQuery(CUBE, "product", level="product", search="%")).total_count == 0


def test_oracle_members_include_the_unknown_member(engine: CubeEngine, oracle: Oracle) -> None:
    rows = engine.members(MembersQuery(CUBE, "customer", level="segment"))
    expected = oracle.rows(f"""
        SELECT DISTINCT {label_columns("customer", "segment")}, "customer.segment_name_zh"
        FROM star ORDER BY "customer.segment"
    """)
    assert_exact(rows.rows, expected)
    assert [r["customer.segment"] for r in rows.rows] == ["key_account", "public", "unknown"]


# ---- facts ------------------------------------------------------------------------------------------


def test_oracle_facts_cut_fields_order_and_paging(engine: CubeEngine, oracle: Oracle) -> None:
    fields = ("charge_id", "time.month", "time.day", "customer.customer", "product.product", "revenue", "call_minutes")
    rows = engine.facts(
        FactsQuery(
            CUBE,
            cuts=parse_cuts("channel:account_manager|time:2025,4"),
            fields=fields,
            order=(OrderItem("revenue", True), OrderItem("charge_id")),
            limit=5,
            offset=3,
        )
    )
    where = '"channel.channel" = \'account_manager\' AND "time.year" = 2025 AND "time.quarter" = 4'
    expected = oracle.rows(f"""
        SELECT {", ".join(f'"{f}"' for f in fields)} FROM star WHERE {where}
        ORDER BY revenue DESC, charge_id ASC LIMIT 5 OFFSET 3
    """)
    assert_exact(rows.rows, expected)
    assert [list(row) for row in rows.rows] == [list(fields)] * 5
    assert rows.total_count == oracle.scalar(f"SELECT count(*) FROM star WHERE {where}")


def test_oracle_facts_of_orphan_products_with_every_field(engine: CubeEngine, oracle: Oracle) -> None:
    rows = engine.facts(FactsQuery(CUBE, cuts=parse_cuts("product:unknown"), limit=4, offset=2))
    expected = oracle.rows("""
        SELECT * EXCLUDE (charged_at) FROM star WHERE "product.product" = 'unknown' ORDER BY charge_id LIMIT 4 OFFSET 2
    """)
    assert_exact(rows.rows, expected)
    assert rows.total_count == oracle.scalar("SELECT count(*) FROM star WHERE \"product.line\" = 'unknown'") > 4
    assert all(row["product.product_name_zh"] == "unknown" for row in rows.rows)


def test_oracle_facts_ragged_geography_ordered_by_attribute(engine: CubeEngine, oracle: Oracle) -> None:
    fields = ("charge_id", "geography.country", "geography.region", "geography.city_name_en", "revenue")
    rows = engine.facts(
        FactsQuery(
            CUBE,
            cuts=parse_cuts("geography:international,europe"),
            fields=fields,
            order=(OrderItem("geography.country", True), OrderItem("charge_id", True)),
            limit=12,
            offset=4,
        )
    )
    expected = oracle.rows(f"""
        SELECT {", ".join(f'"{f}"' for f in fields)} FROM star
        WHERE "geography.scope" = 'international' AND "geography.continent" = 'europe'
        ORDER BY "geography.country" DESC, charge_id DESC LIMIT 12 OFFSET 4
    """)
    assert_exact(rows.rows, expected)
    assert all(row["geography.region"] is None for row in rows.rows)
