"""Analyst calculations checked against hand-written SQL with window functions over the raw facts.

The expected values never go through ``cube_server``: a module fixture declares its own star view over
the generated Parquet files, and each test states the calculation in SQL (LAG for the previous period
and the same period last year over a dense calendar, SUM() OVER for running totals and moving sums,
RANK() OVER (PARTITION BY parent) for ranks). Ratios are rounded here from the exact SQL values, as the
README documents: half-even to 6 decimal places. Then the same questions are asked of an engine whose
cells and lookups come from cuboids, and must give the same answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import CUBE, write_project

from aggregates.store import CuboidStore
from cube_models.errors import DimensionNotFoundError, MeasureNotFoundError
from cube_server.build import build_store
from cube_server.calculations import parse_calculations
from cube_server.cut_syntax import parse_cuts, parse_drilldown
from cube_server.engine import CubeEngine
from cube_server.errors import CalculationError, InvalidParameterError, ResultTooLargeError
from cube_server.project import load_project, open_engine
from cube_server.query import OrderItem, Query
from cube_server.result import CellSet
from cube_server.settings import Settings


@pytest.fixture(scope="module")
def oracle(telecom_data: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    connection.execute(f"""
        CREATE VIEW star AS SELECT
            year(f.charged_at) AS y, quarter(f.charged_at) AS q, month(f.charged_at) AS m, day(f.charged_at) AS d,
            CAST(strftime(f.charged_at, '%G') AS BIGINT) AS isoyear,
            CAST(strftime(f.charged_at, '%V') AS BIGINT) AS isoweek,
            CASE WHEN p.product_code IS NULL THEN 'unknown' ELSE p.line END AS line,
            CASE WHEN p.product_code IS NULL THEN 'unknown' ELSE p.product END AS product,
            CASE WHEN g.geography_code IS NULL THEN 'unknown' ELSE g.scope END AS scope,
            CASE WHEN g.geography_code IS NULL THEN 'unknown' ELSE g.region END AS region,
            CASE WHEN g.geography_code IS NULL THEN 'unknown' ELSE g.province END AS province,
            date_trunc('hour', f.charged_at) AS hour_start, f.revenue, f.call_minutes, f.customer_code
        FROM read_parquet('{telecom_data}/facts/*.parquet') AS f
        LEFT JOIN read_parquet('{telecom_data}/product.parquet') AS p ON f.product_code = p.product_code
        LEFT JOIN read_parquet('{telecom_data}/geography.parquet') AS g ON f.geography_code = g.geography_code
    """)
    yield connection
    connection.close()


def rows(connection: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = connection.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def expected_ratio(numerator: Any, denominator: Any) -> Decimal | None:
    """The documented rounding: exact quotient, half-even to 6 places; NULL for a NULL or zero denominator."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return Decimal(round(Fraction(numerator) / Fraction(denominator) * 10**6)).scaleb(-6)


def ask(engine: CubeEngine, cut: str, drilldown: str, measures: str, calculations: str, **extra: Any) -> CellSet:
    query = Query(
        CUBE,
        parse_cuts(cut),
        parse_drilldown(drilldown),
        tuple(measures.split(",")),
        calculations=parse_calculations(calculations),
        **extra,
    )
    return engine.aggregate(query)


def by_key(cells: list[dict[str, Any]], *refs: str) -> dict[tuple[Any, ...], dict[str, Any]]:
    return {tuple(cell[ref] for ref in refs): cell for cell in cells}


# Monthly values per partition over a dense calendar (a month without facts is 0, as the engine answers an
# empty cell), with the window functions each calculation stands for.
MONTHLY_WINDOWS = """
    WITH monthly AS (
        SELECT y, m, {partition}, sum({measure}) AS value FROM star WHERE {where} GROUP BY ALL
    ), calendar AS (
        SELECT y, m, {partition} FROM (SELECT DISTINCT {partition} FROM star WHERE {where}) AS members,
            range(2023, 2027) AS years(y), range(1, 13) AS months(m)
    ), dense AS (
        SELECT c.y, c.m, c.{partition}, coalesce(monthly.value, 0) AS value, monthly.value IS NOT NULL AS shown
        FROM calendar AS c LEFT JOIN monthly USING (y, m, {partition})
    )
    SELECT *,
        LAG(value) OVER w AS previous,
        LAG(value, 12) OVER w AS last_year,
        SUM(value) OVER (PARTITION BY {partition}, y ORDER BY m) AS ytd,
        SUM(value) OVER (PARTITION BY {partition}, y, (m + 2) // 3 ORDER BY m) AS qtd,
        SUM(value) OVER (w ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS last_three
    FROM dense
    WINDOW w AS (PARTITION BY {partition} ORDER BY y, m)
"""
PERIOD_CALCULATIONS = (
    "change(revenue, previous)|growth(revenue, previous)|change(revenue, last_year)|growth(revenue, last_year)"
    "|ytd(revenue)|qtd(revenue)|moving_avg(revenue, 3)"
)


def check_monthly(cells: list[dict[str, Any]], expected: list[dict[str, Any]], partition_ref: str) -> None:
    """Every shown cell equals the SQL windows of its (month, member); no other cell is shown."""
    shown = {(row["y"], row["m"], row["member"]): row for row in expected if row["shown"]}
    assert {(c["time.year"], c["time.month"], c[partition_ref]) for c in cells} == set(shown)
    for cell in cells:
        row = shown[(cell["time.year"], cell["time.month"], cell[partition_ref])]
        assert cell["revenue"] == row["value"]
        assert cell["revenue__change_previous"] == row["value"] - row["previous"]
        assert cell["revenue__growth_previous"] == expected_ratio(row["value"] - row["previous"], row["previous"])
        assert cell["revenue__change_last_year"] == row["value"] - row["last_year"]
        assert cell["revenue__growth_last_year"] == expected_ratio(row["value"] - row["last_year"], row["last_year"])
        assert cell["revenue__ytd"] == row["ytd"]
        assert cell["revenue__qtd"] == row["qtd"]
        assert cell["revenue__moving_avg_3"] == expected_ratio(row["last_three"], 3)


# ---- period calculations ---------------------------------------------------------------------------
def test_period_calculations_reach_outside_the_cut(engine: CubeEngine, oracle: duckdb.DuckDBPyConnection) -> None:
    # Q1 2025: January's previous month, last year's months and the moving window all lie outside the cut.
    result = ask(engine, "time:2025,1", "time:month|product:line", "revenue", PERIOD_CALCULATIONS)
    sql = MONTHLY_WINDOWS.format(partition="line", measure="revenue", where="TRUE")
    expected = rows(oracle, f"SELECT *, line AS member FROM ({sql}) WHERE y = 2025 AND m <= 3")
    check_monthly(result.cells, expected, "product.line")
    assert len(result.cells) >= 9 and result.total_cell_count == len(result.cells)
    # the previous quarter and the shown one, apart from last year's quarters (with a quarter of margin)
    assert result.meta.extra["lookups"] == {"reference:time:1": "facts", "reference:time:2": "facts"}
    january = by_key(result.cells, "time.month", "product.line")[(1, "data_services")]
    assert january["revenue__ytd"] == january["revenue"]  # the year starts with the first month shown


def test_missing_periods_count_as_empty_cells(engine: CubeEngine, oracle: duckdb.DuckDBPyConnection) -> None:
    # 221 leased-line charges over 24 months and 31 provinces: most province-months have no facts.
    cut = "time:2025|product:data_services,leased_line|geography:domestic"
    result = ask(engine, cut, "time:month|geography:province", "revenue", PERIOD_CALCULATIONS)
    where = "product = 'leased_line' AND scope = 'domestic'"
    sql = MONTHLY_WINDOWS.format(partition="province", measure="revenue", where=where)
    expected = rows(oracle, f"SELECT *, province AS member FROM ({sql}) WHERE y = 2025")
    check_monthly(result.cells, expected, "geography.province")
    after_gap = [c for c in result.cells if c["revenue__growth_previous"] is None]
    assert after_gap, "the data should have months whose previous month has no facts"
    for cell in after_gap:  # growth over an empty month has a zero denominator; the change is the whole value
        assert cell["revenue__change_previous"] == cell["revenue"]


def test_running_totals_include_the_periods_before_the_cut(
    engine: CubeEngine, oracle: duckdb.DuckDBPyConnection
) -> None:
    # Days of May 2025: the quarter-to-date includes April, the year-to-date January to April.
    result = ask(engine, "time:2025,2,5", "time:day|product:line", "revenue", "ytd(revenue)|qtd(revenue)")
    expected = rows(
        oracle,
        """
        SELECT * FROM (
            SELECT y, m, d, line, sum(revenue) AS revenue,
                SUM(sum(revenue)) OVER (PARTITION BY line, y ORDER BY m, d) AS ytd,
                SUM(sum(revenue)) OVER (PARTITION BY line, y, q ORDER BY m, d) AS qtd
            FROM star GROUP BY y, q, m, d, line
        ) WHERE y = 2025 AND m = 5
        """,
    )
    cells = by_key(result.cells, "time.day", "product.line")
    assert set(cells) == {(row["d"], row["line"]) for row in expected}
    for row in expected:
        cell = cells[(row["d"], row["line"])]
        assert (cell["revenue__ytd"], cell["revenue__qtd"]) == (row["ytd"], row["qtd"])


def test_same_day_last_year_and_29_february(engine: CubeEngine, oracle: duckdb.DuckDBPyConnection) -> None:
    result = ask(
        engine, "time:2025,1,2", "time:day", "revenue", "change(revenue, last_year)|growth(revenue, last_year)"
    )
    daily = rows(oracle, "SELECT y, m, d, sum(revenue) AS revenue FROM star WHERE m = 2 GROUP BY ALL")
    value = {(row["y"], row["d"]): row["revenue"] for row in daily}
    for cell in result.cells:
        reference = value[(2024, cell["time.day"])]
        assert cell["revenue__change_last_year"] == cell["revenue"] - reference
        assert cell["revenue__growth_last_year"] == expected_ratio(cell["revenue"] - reference, reference)
    leap = ask(engine, "time:2024,1,2", "time:day", "revenue", "change(revenue, last_year)")
    days = by_key(leap.cells, "time.day")
    assert days[(29,)]["revenue__change_last_year"] is None  # 2023 had no 29 February
    assert days[(28,)]["revenue__change_last_year"] == days[(28,)]["revenue"]  # 2023 had no facts: 0


def test_iso_week_growth_crosses_the_iso_year(engine: CubeEngine, oracle: duckdb.DuckDBPyConnection) -> None:
    result = ask(engine, "time@weekly:2025", "time@weekly:isoweek", "revenue", "growth(revenue, previous)")
    weekly = rows(
        oracle,
        """
        SELECT * FROM (
            SELECT isoyear, isoweek, revenue, LAG(revenue) OVER (ORDER BY isoyear, isoweek) AS previous
            FROM (SELECT isoyear, isoweek, sum(revenue) AS revenue FROM star GROUP BY ALL)
        ) WHERE isoyear = 2025
        """,
    )
    expected = {
        (r["isoyear"], r["isoweek"]): expected_ratio(r["revenue"] - r["previous"], r["previous"]) for r in weekly
    }
    assert len(result.cells) == len(expected) == 52
    for cell in result.cells:
        assert cell["revenue__growth_previous"] == expected[(cell["time.isoyear"], cell["time.isoweek"])]


def test_a_cut_on_another_hierarchy_shows_its_part_of_a_period_against_whole_ones(
    engine: CubeEngine, oracle: duckdb.DuckDBPyConnection
) -> None:
    # ISO week 1 of 2025 is 30 December 2024 to 5 January 2025: two partial months, each against a whole month.
    result = ask(engine, "time@weekly:2025,1", "time:month", "revenue", "change(revenue, previous)")
    shown = rows(
        oracle, "SELECT y, m, sum(revenue) AS revenue FROM star WHERE isoyear = 2025 AND isoweek = 1 GROUP BY ALL"
    )
    whole = {
        (r["y"], r["m"]): r["revenue"]
        for r in rows(oracle, "SELECT y, m, sum(revenue) AS revenue FROM star GROUP BY ALL")
    }
    cells = by_key(result.cells, "time.year", "time.month")
    assert set(cells) == {(2024, 12), (2025, 1)}
    for row in shown:
        previous = whole[(row["y"] - (row["m"] == 1), 12 if row["m"] == 1 else row["m"] - 1)]
        assert cells[(row["y"], row["m"])]["revenue__change_previous"] == row["revenue"] - previous


def test_first_month_of_the_data_has_no_growth(engine: CubeEngine) -> None:
    result = ask(
        engine, "time:2024,1,1", "time:month", "revenue", "growth(revenue, previous)|change(revenue, previous)"
    )
    (january,) = result.cells
    assert january["revenue__growth_previous"] is None  # December 2023 has no facts: a zero denominator
    assert january["revenue__change_previous"] == january["revenue"]


def test_zero_denominators_give_null(engine: CubeEngine) -> None:
    # Data services carry no call minutes: their shares of the line and their growth divide by zero.
    result = ask(
        engine,
        "time:2025,1|product:data_services",
        "time:month|product:product",
        "call_minutes",
        "share(call_minutes, parent, product)|growth(call_minutes, previous)|share(call_minutes, total)",
    )
    assert result.cells
    for cell in result.cells:
        assert cell["call_minutes"] == 0
        assert cell["call_minutes__share_parent_product"] is None
        assert cell["call_minutes__growth_previous"] is None
        assert cell["call_minutes__share_total"] is None


# ---- shares and ranks --------------------------------------------------------------------------------
SHARES_SQL = """
    WITH cells AS (
        SELECT region, province, sum(revenue) AS revenue, count(DISTINCT customer_code) AS subscribers
        FROM star WHERE y = 2025 AND scope = 'domestic' GROUP BY ALL
    ), regions AS (
        SELECT region, sum(revenue) AS revenue, count(DISTINCT customer_code) AS subscribers
        FROM star WHERE y = 2025 AND scope = 'domestic' GROUP BY ALL
    )
    SELECT c.*, r.revenue AS region_revenue, r.subscribers AS region_subscribers,
        (SELECT sum(revenue) FROM star WHERE y = 2025 AND scope = 'domestic') AS total,
        RANK() OVER (PARTITION BY c.region ORDER BY c.revenue DESC) AS rank_down,
        RANK() OVER (PARTITION BY c.region ORDER BY c.revenue ASC) AS rank_up
    FROM cells AS c JOIN regions AS r USING (region)
"""


def test_shares_of_total_and_parent_and_ranks_within_the_parent(
    engine: CubeEngine, oracle: duckdb.DuckDBPyConnection
) -> None:
    calculations = "share(revenue, total)|share(revenue, parent)|share(subscribers, parent)|rank(revenue)"
    result = ask(engine, "time:2025|geography:domestic", "geography:province", "revenue,subscribers", calculations)
    expected = rows(oracle, SHARES_SQL)
    cells = by_key(result.cells, "geography.province")
    assert set(cells) == {(row["province"],) for row in expected}
    for row in expected:
        cell = cells[(row["province"],)]
        assert cell["revenue__share_total"] == expected_ratio(row["revenue"], row["total"])
        assert cell["revenue__share_parent"] == expected_ratio(row["revenue"], row["region_revenue"])
        # a distinct count's parent is counted, not summed: an account calling two provinces counts once
        assert cell["subscribers__share_parent"] == expected_ratio(row["subscribers"], row["region_subscribers"])
        assert cell["revenue__rank"] == row["rank_down"]
    assert result.meta.extra["lookups"] == {"parent:geography": "facts"}


def test_top_and_bottom_n_within_the_parent(engine: CubeEngine, oracle: duckdb.DuckDBPyConnection) -> None:
    expected = rows(oracle, SHARES_SQL)
    top = ask(engine, "time:2025|geography:domestic", "geography:province", "revenue", "top(2, revenue)")
    assert {(c["geography.province"], c["revenue__top_2"]) for c in top.cells} == {
        (row["province"], row["rank_down"]) for row in expected if row["rank_down"] <= 2
    }
    assert top.total_cell_count == len(top.cells) == sum(1 for row in expected if row["rank_down"] <= 2)
    bottom = ask(engine, "time:2025|geography:domestic", "geography:province", "revenue", "bottom(1, revenue)")
    assert {c["geography.province"] for c in bottom.cells} == {r["province"] for r in expected if r["rank_up"] == 1}


def test_share_of_a_top_level_parent_is_the_share_within_the_other_dimensions(
    engine: CubeEngine, oracle: duckdb.DuckDBPyConnection
) -> None:
    result = ask(engine, "time:2025", "time:quarter|product:line", "revenue", "share(revenue, parent)")
    expected = rows(
        oracle,
        """
        SELECT q, line, sum(revenue) AS revenue, SUM(sum(revenue)) OVER (PARTITION BY q) AS quarter_total
        FROM star WHERE y = 2025 GROUP BY q, line
        """,
    )
    cells = by_key(result.cells, "time.quarter", "product.line")
    for row in expected:
        assert cells[(row["q"], row["line"])]["revenue__share_parent"] == expected_ratio(
            row["revenue"], row["quarter_total"]
        )


# ---- order, paging, explain ------------------------------------------------------------------------------
def test_order_by_a_calculation_then_page(engine: CubeEngine) -> None:
    base = ("time:2025", "time:month|product:line", "revenue", "growth(revenue, previous)")
    everything = ask(engine, *base, order=(OrderItem("revenue__growth_previous", descending=True),))
    growths = [cell["revenue__growth_previous"] for cell in everything.cells]
    present = [g for g in growths if g is not None]
    assert present == sorted(present, reverse=True) and growths[: len(present)] == present  # NULLs last
    page = ask(engine, *base, order=(OrderItem("revenue__growth_previous", descending=True),), limit=5, offset=3)
    assert page.cells == everything.cells[3:8]
    assert page.total_cell_count == everything.total_cell_count == len(everything.cells)


def test_unknown_order_reference_is_an_error(engine: CubeEngine) -> None:
    with pytest.raises(InvalidParameterError):
        ask(engine, "time:2025", "time:month", "revenue", "ytd(revenue)", order=(OrderItem("nonsense"),))


def explained(engine: CubeEngine, cut: str, drilldown: str, calculations: str) -> dict[str, Any]:
    query = Query(
        CUBE, parse_cuts(cut), parse_drilldown(drilldown), ("revenue",), calculations=parse_calculations(calculations)
    )
    return {s.name: s for s in engine.explain(engine.plan_aggregate(query)).statements}


def holds(parameters: tuple[Any, ...], run: tuple[Any, ...]) -> bool:
    """Whether the statement's parameters hold ``run`` in a row (a range's bounds, level by level)."""
    return any(parameters[i : i + len(run)] == run for i in range(len(parameters) - len(run) + 1))


def test_explain_shows_the_lookups_and_the_periods_they_read(engine: CubeEngine) -> None:
    statements = explained(engine, "time:2025,1", "time:month|geography:region", "growth(revenue, last_year)")
    assert set(statements) == {"cells", "reference:time"}
    # Q1 2025 is shown; a year before, with a quarter of margin either side: Q4 2023 to Q2 2024
    assert holds(statements["reference:time"].parameters, (2023, 2023, 4, 2024, 2024, 2))
    assert 2025 not in statements["reference:time"].parameters
    statements = explained(engine, "time:2025,1", "time:month|geography:region", "share(revenue, parent)")
    assert set(statements) == {"cells", "parent:geography"}


@pytest.mark.parametrize(
    ("cut", "drilldown", "calculations", "bounds", "absent"),
    [
        # one day by hour: from the day before (hour 0's previous hour is 23:00 the day before) to the day
        ("time:2025,2,5,10", "time:hour", "change(revenue, previous)", (2025, 2025, 2, 2, 5, 5, 9, 2025), ()),
        # a year's months: from January for the year-to-date, so the cut's own year
        ("time:2025", "time:month", "ytd(revenue)", (2025, 2025), (2024,)),
        # moving average of 40 days over May: 40 days reach back into March, two months before May
        ("time:2025,2,5", "time:day", "moving_avg(revenue, 40)", (2025, 2025, 1, 1, 3, 2025, 2025, 2, 2, 5), ()),
        # a cut on the weekly hierarchy bounds no calendar year: every period is read
        ("time@weekly:2025,1", "time:month", "change(revenue, previous)", (), (2024, 2025)),
        # a range with an open end: whole years, from the year before its first
        ("time:2025,2-", "time:month", "change(revenue, previous)", (2024,), (2025,)),
    ],
)
def test_reference_ranges_are_as_narrow_as_the_cut(
    engine: CubeEngine, cut: str, drilldown: str, calculations: str, bounds: tuple[Any, ...], absent: tuple[Any, ...]
) -> None:
    parameters = explained(engine, cut, drilldown, calculations)["reference:time"].parameters
    assert holds(parameters, bounds)
    assert not set(absent) & set(parameters)


def test_hourly_calculations_over_one_day(engine: CubeEngine, oracle: duckdb.DuckDBPyConnection) -> None:
    result = ask(
        engine, "time:2025,2,5,10", "time:hour", "revenue", "change(revenue, previous)|growth(revenue, last_year)"
    )
    expected = rows(
        oracle,
        """
        WITH hourly AS (SELECT hour_start, sum(revenue) AS revenue FROM star GROUP BY ALL),
        dense AS (
            SELECT moment AS hour_start, coalesce(hourly.revenue, 0) AS revenue
            FROM generate_series(TIMESTAMP '2024-01-01', TIMESTAMP '2025-12-31 23:00', INTERVAL 1 HOUR) AS hours(moment)
            LEFT JOIN hourly ON hourly.hour_start = moment
        )
        SELECT hour(hour_start) AS h, revenue, LAG(revenue) OVER (ORDER BY hour_start) AS previous,
            (SELECT revenue FROM dense AS d WHERE d.hour_start = w.hour_start - INTERVAL 1 YEAR) AS last_year
        FROM dense AS w QUALIFY CAST(hour_start AS DATE) = DATE '2025-05-10'
        """,
    )
    hours = {(row["h"],): row for row in expected}
    assert len(result.cells) >= 12 and set(by_key(result.cells, "time.hour")) <= set(hours)
    for cell in result.cells:
        row = hours[(cell["time.hour"],)]
        assert cell["revenue"] == row["revenue"]
        assert cell["revenue__change_previous"] == row["revenue"] - row["previous"]
        assert cell["revenue__growth_last_year"] == expected_ratio(row["revenue"] - row["last_year"], row["last_year"])


def test_measures_a_calculation_reads_are_added(engine: CubeEngine) -> None:
    result = ask(engine, "time:2025,1", "time:month", "record_count", "ytd(revenue)")
    assert result.measures == ["record_count", "revenue"]
    assert [c.name for c in result.columns][-3:] == ["record_count", "revenue", "revenue__ytd"]
    assert result.columns[-1].kind == "calculation"


def test_reference_lookups_are_guarded_by_max_cells(make_engine: Any) -> None:
    small = make_engine(max_cells=12)
    assert len(ask(small, "time:2025,1", "time:month|product:line", "revenue", "").cells) <= 12
    with pytest.raises(ResultTooLargeError):  # the reference holds Q4 2024 and Q1 2025: 6 months of 3 lines or more
        ask(small, "time:2025,1", "time:month|product:line", "revenue", "growth(revenue, previous)")


# ---- errors ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cut", "drilldown", "calculations", "error"),
    [
        ("", "product:line", "growth(revenue, previous)", CalculationError),  # no time dimension drilled
        ("", "time:month|product:line", "growth(revenue, previous, product)", CalculationError),  # not role: time
        ("", "", "share(revenue, total)", CalculationError),  # no drilldown
        ("", "time:month", "ytd(subscribers)", CalculationError),  # a distinct count does not run
        ("", "time:month", "ytd(arpu)", CalculationError),  # nor does a formula over one
        ("", "time:year", "qtd(revenue)", CalculationError),  # a year has no quarter to run from
        ("", "time:month", "rank(revenue, product)", CalculationError),  # product is not drilled
        ("", "time:month", "ytd(revenue)|ytd(revenue)", CalculationError),  # asked twice
        ("", "time:month", "ytd(profit)", MeasureNotFoundError),
        ("", "time:month", "rank(revenue, nowhere)", DimensionNotFoundError),
        ("time:2025,1,1", "time@weekly:day", "growth(revenue, previous)", CalculationError),  # a day of month only
    ],
)
def test_calculations_that_do_not_fit_the_query_are_user_errors(
    engine: CubeEngine, cut: str, drilldown: str, calculations: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        ask(engine, cut, drilldown, "revenue", calculations)


# ---- the same answers from cuboids -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def routed_and_facts(telecom_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[CubeEngine, CubeEngine]:
    directory = tmp_path_factory.mktemp("calculations-store")
    project_dir = write_project(directory, telecom_data)
    config = project_dir / "cube-server.toml"
    config.write_text(config.read_text(encoding="utf-8") + f'\n[store]\ndirectory = "{directory / "store"}"\n')
    project = load_project(project_dir)
    facts = open_engine(project, Settings(), use_store=False)
    build_store(facts, CuboidStore(project.store_dir))
    return open_engine(project, Settings(query_log=False)), facts


ROUTED = [
    (
        "time:2025,1",
        "time:month|product:line",
        "revenue",
        PERIOD_CALCULATIONS + "|share(revenue, parent)|rank(revenue)",
    ),
    ("time:2025", "time:month|customer:segment", "revenue,subscribers", "growth(subscribers, last_year)|ytd(revenue)"),
    ("time:2025", "geography:province", "revenue,subscribers", "share(subscribers, parent)|top(3, revenue)"),
    ("time:2024,4,11-2025,2,1", "time:day|product:line", "revenue", "moving_avg(revenue, 7)|qtd(revenue)"),
]


@pytest.mark.parametrize(("cut", "drilldown", "measures", "calculations"), ROUTED)
def test_answers_from_cuboids_equal_answers_from_facts(
    routed_and_facts: tuple[CubeEngine, CubeEngine], cut: str, drilldown: str, measures: str, calculations: str
) -> None:
    routed, facts = routed_and_facts
    from_cuboids = ask(routed, cut, drilldown, measures, calculations)
    from_facts = ask(facts, cut, drilldown, measures, calculations)
    assert from_cuboids.cells == from_facts.cells and from_cuboids.cells
    assert from_cuboids.summary == from_facts.summary
    assert [(c.name, c.arrow_type) for c in from_cuboids.columns] == [
        (c.name, c.arrow_type) for c in from_facts.columns
    ]
    assert set(from_facts.meta.extra.get("lookups", {}).values()) <= {"facts"}


def test_cells_and_reference_lookups_are_routed_to_cuboids(routed_and_facts: tuple[CubeEngine, CubeEngine]) -> None:
    routed, _ = routed_and_facts
    result = ask(routed, "time:2025,1", "time:month|product:line", "revenue", "growth(revenue, previous)")
    assert result.meta.source.startswith("cuboid:")
    assert result.meta.extra["lookups"]["reference:time"].startswith("cuboid:")
