"""Oracle tests of examples/foodmart: the `sales` and `warehouse` cubes over the FoodMart CSV files.

Each engine answer is compared, whole and exactly (keys, labels, values and their Python types, decimal
scales included), with hand-written SQL run on a plain DuckDB connection that reads the same CSV files
itself. The oracle's stars are inner joins: ``test_every_fact_has_its_dimension_rows`` shows that no fact
lacks a dimension row, so they equal the model's left outer ("master") joins. Drill-through ids are
checked against the fact CSV read line by line.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.cli import main as cli_main
from cube_server.cut_syntax import format_cuts, parse_cuts, parse_drilldown
from cube_server.engine import CubeEngine
from cube_server.project import load_project, open_engine
from cube_server.query import FactsQuery, MembersQuery, OrderItem, PivotQuery, PointCut, Query, SetCut
from cube_server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "examples" / "foodmart"
DATA = (ROOT / ".." / "shared" / "datasets" / "foodmart").resolve()
MONEY = "DECIMAL(10,4)"

# ---- the oracle's own tables and stars -----------------------------------------------------------

TABLES = {
    "sales_fact": ("sales_fact_1997.csv", {"store_sales": MONEY, "store_cost": MONEY, "unit_sales": MONEY}),
    "inventory_fact": ("inventory_fact_1997.csv", {"warehouse_sales": MONEY, "warehouse_cost": MONEY}),
    "time_by_day": ("time_by_day.csv", {"the_date": "DATE"}),
    "store": ("store.csv", {}),
    "product": ("product.csv", {}),
    "product_class": ("product_class.csv", {}),
    "customer": ("customer.csv", {}),
    "promotion": ("promotion.csv", {}),
    "warehouse": ("warehouse.csv", {}),
}

SHARED_COLUMNS = """
    s.store_country, s.store_state, s.store_city, s.store_name, s.store_type, s.store_sqft,
    t.the_year, t.quarter, t.month_of_year, t.the_month, t.week_of_year, t.the_date, t.the_day,
    pc.product_family, pc.product_department, pc.product_category, pc.product_subcategory,
    p.brand_name, p.product_name
"""
SHARED_JOINS = """
    JOIN store AS s ON f.store_id = s.store_id
    JOIN time_by_day AS t ON f.time_id = t.time_id
    JOIN product AS p ON f.product_id = p.product_id
    JOIN product_class AS pc ON p.product_class_id = pc.product_class_id
"""
SALES_STAR = f"""
    CREATE VIEW sales AS
    SELECT f.*, {SHARED_COLUMNS},
        c.country, c.state_province, c.city, c.fullname,
        c.gender, c.marital_status, c.education, c.yearly_income,
        pr.media_type, pr.promotion_name
    FROM sales_fact AS f {SHARED_JOINS}
    JOIN customer AS c ON f.customer_id = c.customer_id
    JOIN promotion AS pr ON f.promotion_id = pr.promotion_id
"""
INVENTORY_STAR = f"""
    CREATE VIEW inventory AS
    SELECT f.*, {SHARED_COLUMNS},
        w.warehouse_country, w.warehouse_state_province, w.warehouse_city, w.warehouse_name
    FROM inventory_fact AS f {SHARED_JOINS}
    JOIN warehouse AS w ON f.warehouse_id = w.warehouse_id
"""

# The measures, as SQL: sums are 0 on an empty cell; profit = store sales - store cost.
SALES = """
    coalesce(sum(unit_sales), 0) AS unit_sales,
    coalesce(sum(store_cost), 0) AS store_cost,
    coalesce(sum(store_sales), 0) AS store_sales,
    count(product_id) AS sales_count,
    count(DISTINCT customer_id) AS customer_count,
    coalesce(sum(CASE WHEN promotion_id <> 0 THEN store_sales ELSE 0 END), 0) AS promotion_sales,
    coalesce(sum(store_sales), 0) - coalesce(sum(store_cost), 0) AS profit
"""
WAREHOUSE = """
    coalesce(sum(units_shipped), 0) AS units_shipped,
    coalesce(sum(units_ordered), 0) AS units_ordered,
    coalesce(sum(warehouse_sales), 0) AS warehouse_sales,
    coalesce(sum(warehouse_cost), 0) AS warehouse_cost
"""

# Levels of each dimension and hierarchy as (key column, wire name, label column or None).
LEVELS: dict[str, list[tuple[str, str, str | None]]] = {
    "store": [
        ("store_country", "store.country", None),
        ("store_state", "store.state", None),
        ("store_city", "store.city", None),
        ("store_name", "store.name", None),
    ],
    "time": [
        ("the_year", "time.year", None),
        ("quarter", "time.quarter", None),
        ("month_of_year", "time.month", "the_month"),
    ],
    "time@weekly": [
        ("the_year", "time.year", None),
        ("week_of_year", "time.week", None),
        ("the_date", "time.day", "the_day"),
    ],
    "product": [
        ("product_family", "product.family", None),
        ("product_department", "product.department", None),
        ("product_category", "product.category", None),
        ("product_subcategory", "product.subcategory", None),
        ("brand_name", "product.brand", None),
        ("product_id", "product.name", "product_name"),
    ],
    "customers": [
        ("country", "customers.country", None),
        ("state_province", "customers.state", None),
        ("city", "customers.city", None),
        ("customer_id", "customers.name", "fullname"),
    ],
    "warehouse": [
        ("warehouse_country", "warehouse.country", None),
        ("warehouse_state_province", "warehouse.state_province", None),
        ("warehouse_city", "warehouse.city", None),
        ("warehouse_name", "warehouse.name", None),
    ],
}
FLAT = {
    "gender": "gender",
    "marital_status": "marital_status",
    "education": "education",
    "yearly_income": "yearly_income",
    "store_type": "store_type",
    "store_size": "store_sqft",
    "promotion_media": "media_type",
    "promotions": "promotion_name",
}
for _name, _column in FLAT.items():
    LEVELS[_name] = [(_column, f"{_name}.{_name}", None)]


def select(dimension: str, depth: int) -> str:
    """Keys (and labels) of the top ``depth`` levels, under their wire names."""
    parts = []
    for key, name, label in LEVELS[dimension][:depth]:
        parts.append(f'{key} AS "{name}"')
        if label:
            parts.append(f'{label} AS "{name}.label"')
    return ", ".join(parts)


def order(dimension: str, depth: int) -> str:
    """The engine's natural order of cells: level keys ascending, NULL last."""
    return ", ".join(f'"{name}" ASC NULLS LAST' for _, name, _ in LEVELS[dimension][:depth])


def names(dimension: str, depth: int) -> list[str]:
    return [name for _, name, _ in LEVELS[dimension][:depth]]


# ---- fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine() -> CubeEngine:
    return open_engine(load_project(PROJECT), Settings())


@pytest.fixture(scope="module")
def db() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    for table, (file, types) in TABLES.items():
        type_map = ", ".join(f"'{column}': '{sql_type}'" for column, sql_type in types.items())
        source = f"read_csv('{DATA / file}', header = true, types = {{{type_map}}})"
        connection.execute(f"CREATE TABLE {table} AS SELECT * FROM {source}")
    # The synthetic drill-through key: the 1-based data line (checked against the file by csv_line).
    for table in ("sales_fact", "inventory_fact"):
        connection.execute(f"CREATE TABLE {table}_keyed AS SELECT row_number() OVER () AS fact_id, * FROM {table}")
        connection.execute(f"DROP TABLE {table}")
        connection.execute(f"ALTER TABLE {table}_keyed RENAME TO {table}")
    connection.execute(SALES_STAR)
    connection.execute(INVENTORY_STAR)
    yield connection
    connection.close()


@cache
def csv_lines(file: str) -> list[dict[str, str]]:
    """A fact file read line by line with the csv module (index 0 is fact_id 1)."""
    with (DATA / file).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def sql(db: duckdb.DuckDBPyConnection, text: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cursor = db.execute(text, params or [])
    columns = [column[0] for column in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def _typed(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _typed(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_typed(item) for item in value]
    if isinstance(value, Decimal):
        if value.as_tuple().exponent == 0:
            # DuckDB sums integers as HUGEINT, which Arrow (and so the engine) carries as decimal128(38, 0);
            # a decimal without fraction digits is an integer (the JSON writer also writes it as one).
            return ("int", int(value))
        return ("Decimal", str(value))  # keeps the scale: 0.0000 is not 0
    return (type(value).__name__, value)


def assert_exact(actual: Any, expected: Any) -> None:
    """Equal values with equal types (no float; a decimal keeps its scale)."""
    assert actual == expected
    assert _typed(actual) == _typed(expected)


def aggregate(engine: CubeEngine, cube: str, cut: str = "", drilldown: str = "", **kwargs: Any) -> Any:
    return engine.aggregate(Query(cube, cuts=parse_cuts(cut), drilldown=parse_drilldown(drilldown), **kwargs))


def check(
    result: Any,
    db: duckdb.DuckDBPyConnection,
    star: str,
    where: str = "TRUE",
    drilled: tuple[tuple[str, int], ...] = (),
    params: list[Any] | None = None,
    *,
    empty: bool = False,
) -> list[dict[str, Any]]:
    """Summary over ``where`` and every cell, in the engine's order, for the (dimension, depth) drilled.

    The cell is expected to hold facts unless ``empty``, so no comparison passes by being empty.
    """
    measures = SALES if star == "sales" else WAREHOUSE
    (summary,) = sql(db, f"SELECT {measures} FROM {star} WHERE {where}", params)
    assert_exact(result.summary, summary)
    (count,) = sql(db, f"SELECT count(*) AS n FROM {star} WHERE {where}", params)
    assert (count["n"] == 0) == empty
    if not drilled:
        assert result.cells == [] and result.total_cell_count is None
        return []
    columns = ", ".join(select(d, n) for d, n in drilled)
    ordering = ", ".join(order(d, n) for d, n in drilled)
    expected = sql(
        db, f"SELECT {columns}, {measures} FROM {star} WHERE {where} GROUP BY ALL ORDER BY {ordering}", params
    )
    assert_exact(result.cells, expected)
    assert result.total_cell_count == len(expected)
    return expected


# ---- project ---------------------------------------------------------------------------------------


def test_validate_command_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["validate", str(PROJECT)]) == 0
    assert "valid" in capsys.readouterr().out


def test_every_fact_has_its_dimension_rows(db: duckdb.DuckDBPyConnection) -> None:
    # so the model's left outer joins equal the oracle's inner joins, and totals lose nothing
    assert sql(db, "SELECT count(*) AS n FROM sales") == sql(db, "SELECT count(*) AS n FROM sales_fact")
    assert sql(db, "SELECT count(*) AS n FROM inventory") == sql(db, "SELECT count(*) AS n FROM inventory_fact")


def test_model_shares_dimensions_between_cubes(engine: CubeEngine) -> None:
    sales, warehouse = engine.cube("sales"), engine.cube("warehouse")
    assert [d.name for d in sales.dimensions] == [
        "store",
        "time",
        "product",
        "customers",
        "gender",
        "marital_status",
        "education",
        "yearly_income",
        "store_type",
        "store_size",
        "promotion_media",
        "promotions",
    ]
    assert [d.name for d in warehouse.dimensions] == ["store", "time", "product", "warehouse"]
    assert sales.dimension("product") == warehouse.dimension("product")
    assert [h.name for h in sales.dimension("time").hierarchies] == ["default", "weekly"]
    assert sales.key == warehouse.key == "fact_id"


# ---- sales: aggregate over every dimension -----------------------------------------------------------


def test_sales_whole_cube(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = aggregate(engine, "sales")
    check(result, db, "sales")
    # Mondrian's published 1997 totals
    assert result.summary["unit_sales"] == Decimal("266773.0000")
    assert result.summary["store_sales"] == Decimal("565238.1300")
    assert result.summary["profit"] == Decimal("339610.8964")
    assert result.summary["customer_count"] == 5581


def test_sales_by_store_country(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    check(aggregate(engine, "sales", drilldown="store"), db, "sales", drilled=(("store", 1),))


def test_sales_by_store_name_in_a_country(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = aggregate(engine, "sales", cut="store:USA", drilldown="store:name")
    check(result, db, "sales", "store_country = 'USA'", (("store", 4),))


def test_sales_by_month_with_labels(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = aggregate(engine, "sales", drilldown="time:month")
    expected = check(result, db, "sales", drilled=(("time", 3),))
    assert [c["time.month.label"] for c in expected][:2] == ["January", "February"]
    assert {c["time.quarter"] for c in expected} == {"Q1", "Q2", "Q3", "Q4"}


def test_sales_by_week(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = aggregate(engine, "sales", cut="time@weekly:1997", drilldown="time@weekly")
    check(result, db, "sales", "the_year = 1997", (("time@weekly", 2),))
    assert result.levels == {"time@weekly": ["year", "week"]}


def test_sales_days_of_a_week_that_wraps_the_year(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    # FoodMart's week 2 of 1997 holds 1-4 January and 21-27 December: days are keyed by their date
    result = aggregate(engine, "sales", cut="time@weekly:1997,2", drilldown="time@weekly")
    expected = check(result, db, "sales", "the_year = 1997 AND week_of_year = 2", (("time@weekly", 3),))
    assert {c["time.day"].month for c in expected} == {1, 12}


def test_sales_on_one_day_with_an_escaped_date(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    cut = format_cuts([PointCut("time", ("1997", "2", "1997-12-24"), hierarchy="weekly")])
    assert cut == r"time@weekly:1997,2,1997\-12\-24"
    result = aggregate(engine, "sales", cut=cut, drilldown="store:city")
    check(result, db, "sales", "the_date = DATE '1997-12-24'", (("store", 3),))


def test_week_range_compares_numbers(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    # as text "9" > "10" and the range would be empty; week keys are numbers
    result = aggregate(engine, "sales", cut="time@weekly:1997,9-1997,10", drilldown="time@weekly:week")
    check(result, db, "sales", "the_year = 1997 AND week_of_year BETWEEN 9 AND 10", (("time@weekly", 2),))
    assert [c["time.week"] for c in result.cells] == [9, 10]


def test_month_range_is_lexicographic_on_the_path(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    # (year, quarter, month) from (1997, Q2, 5) to (1997, Q4, 10), both ends included
    result = aggregate(engine, "sales", cut="time:1997,Q2,5-1997,Q4,10", drilldown="time:month")
    where = (
        "the_year = 1997 AND (quarter > 'Q2' OR (quarter = 'Q2' AND month_of_year >= 5))"
        " AND (quarter < 'Q4' OR (quarter = 'Q4' AND month_of_year <= 10))"
    )
    check(result, db, "sales", where, (("time", 3),))
    assert [c["time.month"] for c in result.cells] == [5, 6, 7, 8, 9, 10]


def test_sales_by_product_department_through_the_snowflake(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = aggregate(engine, "sales", drilldown="product:department")
    check(result, db, "sales", drilled=(("product", 2),))


def test_sales_products_of_a_subcategory(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = aggregate(
        engine, "sales", cut="product:Drink,Beverages,Pure Juice Beverages,Juice", drilldown="product:name"
    )
    where = (
        "product_family = 'Drink' AND product_department = 'Beverages' AND product_category = ?"
        " AND product_subcategory = 'Juice'"
    )
    expected = check(result, db, "sales", where, (("product", 6),), ["Pure Juice Beverages"])
    assert all(isinstance(c["product.name"], int) and c["product.name.label"] for c in expected)


def test_sales_by_customer_state(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    check(aggregate(engine, "sales", drilldown="customers:state"), db, "sales", drilled=(("customers", 2),))


def test_sales_by_customer_in_a_city_ordered(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = aggregate(
        engine,
        "sales",
        cut="customers:USA,WA,Spokane",
        drilldown="customers",
        order=(OrderItem("store_sales", descending=True),),
        limit=10,
    )
    where = "country = 'USA' AND state_province = 'WA' AND city = 'Spokane'"
    expected = sql(
        db,
        f"SELECT {select('customers', 4)}, {SALES} FROM sales WHERE {where} GROUP BY ALL "
        f"ORDER BY store_sales DESC, {order('customers', 4)} LIMIT 10",
    )
    assert_exact(result.cells, expected)
    (count,) = sql(db, f"SELECT count(DISTINCT customer_id) AS n FROM sales WHERE {where}")
    assert result.total_cell_count == count["n"]


@pytest.mark.parametrize("dimension", list(FLAT))
def test_sales_by_attribute_dimension(dimension: str, engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    check(aggregate(engine, "sales", drilldown=dimension), db, "sales", drilled=((dimension, 1),))


def test_customer_count_is_distinct_in_every_cell(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    # a customer who shops in two quarters counts once in the total and once in each quarter
    result = aggregate(engine, "sales", drilldown="time:quarter", measures=("customer_count",))
    expected = sql(
        db,
        f"SELECT {select('time', 2)}, count(DISTINCT customer_id) AS customer_count FROM sales "
        f"GROUP BY ALL ORDER BY {order('time', 2)}",
    )
    assert_exact(result.cells, expected)
    assert sum(c["customer_count"] for c in result.cells) > result.summary["customer_count"] == 5581


# ---- sales: cuts ---------------------------------------------------------------------------------------


def test_escaped_yearly_income_cut(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    cut = format_cuts([PointCut("yearly_income", ("$30K - $50K",))])
    assert cut == r"yearly_income:$30K \- $50K"
    result = aggregate(engine, "sales", cut=cut, drilldown="gender")
    check(result, db, "sales", "yearly_income = '$30K - $50K'", (("gender", 1),))


def test_escaped_set_cut_of_media(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    cut = format_cuts([SetCut("promotion_media", (("Sunday Paper, Radio, TV",), ("Daily Paper, Radio",)))])
    assert cut == r"promotion_media:Sunday Paper\, Radio\, TV;Daily Paper\, Radio"
    result = aggregate(engine, "sales", cut=cut, drilldown="promotion_media")
    where = "media_type IN ('Sunday Paper, Radio, TV', 'Daily Paper, Radio')"
    check(result, db, "sales", where, (("promotion_media", 1),))
    assert result.total_cell_count == 2


def test_store_size_range_and_null_member(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = aggregate(engine, "sales", cut="store_size:-25000", drilldown="store_size")
    check(result, db, "sales", "store_sqft <= 25000", (("store_size", 1),))
    # stores without a size are the NULL member
    result = aggregate(engine, "sales", cut="store_size:__null__", drilldown="store:name")
    expected = check(result, db, "sales", "store_sqft IS NULL", (("store", 4),))
    assert expected


def test_negated_cut_keeps_null_members(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = aggregate(engine, "sales", cut="!store_size:20319", drilldown="store_size")
    check(result, db, "sales", "store_sqft IS DISTINCT FROM 20319", (("store_size", 1),))
    assert result.cells[-1]["store_size.store_size"] is None


def test_dice_over_five_dimensions(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    cut = "time:1997,Q1|store:USA,CA|gender:F|!promotions:No Promotion|marital_status:M;S"
    result = aggregate(engine, "sales", cut=cut, drilldown="product|education")
    where = (
        "the_year = 1997 AND quarter = 'Q1' AND store_country = 'USA' AND store_state = 'CA' AND gender = 'F'"
        " AND promotion_name <> 'No Promotion' AND marital_status IN ('M', 'S')"
    )
    check(result, db, "sales", where, (("product", 1), ("education", 1)))


def test_unknown_member_gives_an_empty_cell(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = aggregate(engine, "sales", cut="store:Atlantis", drilldown="gender")
    check(result, db, "sales", "store_country = 'Atlantis'", (("gender", 1),), empty=True)
    assert_exact(result.summary["profit"], Decimal("0.0000"))


# ---- sales: drilldown, rollup, pivot -------------------------------------------------------------------


def test_drilldown_operation_two_levels(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = engine.drilldown(Query("sales", cuts=parse_cuts("product:Food|time:1997,Q3")), "product", depth=2)
    where = "product_family = 'Food' AND the_year = 1997 AND quarter = 'Q3'"
    check(result, db, "sales", where, (("product", 3),))


def test_rollup_months_to_quarters(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    # FoodMart's 1997 sales are all in the USA
    query = Query("sales", cuts=parse_cuts("store:USA,OR"), drilldown=parse_drilldown("time:month|gender"))
    result = engine.rollup(query, "time")
    check(result, db, "sales", "store_country = 'USA' AND store_state = 'OR'", (("time", 2), ("gender", 1)))
    assert result.meta.extra["rolled_up_from"]["drilldown"] == "time:month|gender"


def test_rollup_shortens_the_cut(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = engine.rollup(Query("sales", cuts=parse_cuts("customers:USA,WA,Seattle")), "customers", steps=2)
    check(result, db, "sales", "country = 'USA'")


def test_pivot_family_by_quarter_with_totals(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    measures = ("store_sales", "customer_count", "profit")
    result = engine.pivot(
        PivotQuery("sales", rows=parse_drilldown("product"), columns=parse_drilldown("time:quarter"), measures=measures)
    )
    rows = sql(db, f"SELECT {select('product', 1)}, {SALES} FROM sales GROUP BY ALL ORDER BY 1")
    columns = sql(db, f"SELECT {select('time', 2)}, {SALES} FROM sales GROUP BY ALL ORDER BY 1, 2")
    grid = {
        (g["product.family"], g["time.year"], g["time.quarter"]): [g[m] for m in measures]
        for g in sql(db, f"SELECT {select('product', 1)}, {select('time', 2)}, {SALES} FROM sales GROUP BY ALL")
    }
    (grand,) = sql(db, f"SELECT {SALES} FROM sales")
    assert result.row_levels == ["product.family"]
    assert result.column_levels == ["time.year", "time.quarter"]
    assert_exact(result.row_headers, [[r["product.family"]] for r in rows])
    assert_exact(result.column_headers, [[c["time.year"], c["time.quarter"]] for c in columns])
    assert_exact(
        result.values,
        [[grid.get((r["product.family"], c["time.year"], c["time.quarter"])) for c in columns] for r in rows],
    )
    # totals are their own queries: distinct customers do not add up
    assert_exact(result.row_totals, [[r[m] for m in measures] for r in rows])
    assert_exact(result.column_totals, [[c[m] for m in measures] for c in columns])
    assert_exact(result.grand_total, [grand[m] for m in measures])


def test_pivot_of_two_attribute_dimensions_under_a_cut(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    query = PivotQuery(
        "sales",
        rows=parse_drilldown("education"),
        columns=parse_drilldown("marital_status|gender"),
        cuts=parse_cuts("store_type:Supermarket"),
        measures=("unit_sales", "promotion_sales"),
    )
    result = engine.pivot(query)
    where = "store_type = 'Supermarket'"
    rows = sql(db, f"SELECT education AS e, {SALES} FROM sales WHERE {where} GROUP BY ALL ORDER BY 1")
    columns = sql(
        db, f"SELECT marital_status AS m, gender AS g, {SALES} FROM sales WHERE {where} GROUP BY ALL ORDER BY 1, 2"
    )
    grid = {
        (r["e"], r["m"], r["g"]): [r["unit_sales"], r["promotion_sales"]]
        for r in sql(
            db,
            f"SELECT education AS e, marital_status AS m, gender AS g, {SALES} FROM sales WHERE {where} GROUP BY ALL",
        )
    }
    (grand,) = sql(db, f"SELECT {SALES} FROM sales WHERE {where}")
    assert_exact(result.row_headers, [[r["e"]] for r in rows])
    assert_exact(result.column_headers, [[c["m"], c["g"]] for c in columns])
    assert_exact(result.values, [[grid.get((r["e"], c["m"], c["g"])) for c in columns] for r in rows])
    assert_exact(result.row_totals, [[r["unit_sales"], r["promotion_sales"]] for r in rows])
    assert_exact(result.column_totals, [[c["unit_sales"], c["promotion_sales"]] for c in columns])
    assert_exact(result.grand_total, [grand["unit_sales"], grand["promotion_sales"]])


# ---- sales: members and facts --------------------------------------------------------------------------


def test_members_of_store_cities(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = engine.members(MembersQuery("sales", "store", level="city"))
    expected = sql(db, f"SELECT DISTINCT {select('store', 3)} FROM sales ORDER BY {order('store', 3)}")
    assert_exact(result.rows, expected)
    assert result.total_count == len(expected)


def test_members_of_product_brands_searched_under_a_cut(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = engine.members(
        MembersQuery("sales", "product", level="brand", cuts=parse_cuts("product:Food,Snack Foods"), search="best")
    )
    where = "product_family = 'Food' AND product_department = 'Snack Foods' AND brand_name ILIKE '%best%'"
    expected = sql(
        db, f"SELECT DISTINCT {select('product', 5)} FROM sales WHERE {where} ORDER BY {order('product', 5)}"
    )
    assert_exact(result.rows, expected)
    assert expected


def test_members_of_yearly_income(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = engine.members(MembersQuery("sales", "yearly_income"))
    expected = sql(db, f"SELECT DISTINCT {select('yearly_income', 1)} FROM sales ORDER BY 1")
    assert_exact(result.rows, expected)
    assert "$30K - $50K" in [r["yearly_income.yearly_income"] for r in result.rows]


def test_members_of_weekly_days_paged(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = engine.members(MembersQuery("sales", "time", level="day", hierarchy="weekly", limit=9, offset=5))
    members = f"SELECT DISTINCT {select('time@weekly', 3)} FROM sales"
    assert_exact(result.rows, sql(db, f"{members} ORDER BY {order('time@weekly', 3)} LIMIT 9 OFFSET 5"))
    (count,) = sql(db, f"SELECT count(*) AS n FROM ({members})")
    assert result.total_count == count["n"]


def test_members_of_customers_searched(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = engine.members(MembersQuery("sales", "customers", level="name", search="fitzsim"))
    expected = sql(
        db,
        f"SELECT DISTINCT {select('customers', 4)} FROM sales "
        "WHERE CAST(customer_id AS VARCHAR) ILIKE '%fitzsim%' OR fullname ILIKE '%fitzsim%' "
        f"ORDER BY {order('customers', 4)}",
    )
    assert_exact(result.rows, expected)
    assert "Carol Fitzsimmons" in [r["customers.name.label"] for r in result.rows]


SALES_FACT_FIELDS = {
    "fact_id": "fact_id",
    "store.country": "store_country",
    "store.state": "store_state",
    "store.city": "store_city",
    "store.name": "store_name",
    "time.year": "the_year",
    "time.quarter": "quarter",
    "time.month": "month_of_year",
    "time.month_name": "the_month",
    "time.week": "week_of_year",
    "time.date": "the_date",
    "time.weekday": "the_day",
    "product.family": "product_family",
    "product.department": "product_department",
    "product.category": "product_category",
    "product.subcategory": "product_subcategory",
    "product.brand": "brand_name",
    "product.product_id": "product_id",
    "product.product_name": "product_name",
    "customers.country": "country",
    "customers.state": "state_province",
    "customers.city": "city",
    "customers.customer_id": "customer_id",
    "customers.fullname": "fullname",
    "gender.gender": "gender",
    "marital_status.marital_status": "marital_status",
    "education.education": "education",
    "yearly_income.yearly_income": "yearly_income",
    "store_type.store_type": "store_type",
    "store_size.store_size": "store_sqft",
    "promotion_media.promotion_media": "media_type",
    "promotions.promotions": "promotion_name",
    "unit_sales": "unit_sales",
    "store_cost": "store_cost",
    "store_sales": "store_sales",
    "product_id": "product_id",
    "time_id": "time_id",
    "customer_id": "customer_id",
    "promotion_id": "promotion_id",
    "store_id": "store_id",
}


def _check_fact_lines(rows: list[dict[str, Any]], file: str, columns: tuple[str, ...]) -> None:
    lines = csv_lines(file)
    for row in rows:
        line = lines[row["fact_id"] - 1]
        for column in columns:
            value = row[column]
            assert (str(value) if isinstance(value, Decimal | int) else value) == line[column], (row, line)


def test_sales_facts_drill_through_every_field(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    cut = r"time@weekly:1997,2,1997\-12\-24|store:USA,WA,Bellingham"
    result = engine.facts(FactsQuery("sales", cuts=parse_cuts(cut)))
    columns = ", ".join(f'{column} AS "{name}"' for name, column in SALES_FACT_FIELDS.items())
    where = (
        "the_date = DATE '1997-12-24' AND store_country = 'USA' AND store_state = 'WA' AND store_city = 'Bellingham'"
    )
    expected = sql(db, f"SELECT {columns} FROM sales WHERE {where} ORDER BY fact_id")
    assert [column.name for column in result.columns] == list(SALES_FACT_FIELDS)
    assert_exact(result.rows, expected)
    assert result.total_count == len(expected) > 0
    _check_fact_lines(result.rows, "sales_fact_1997.csv", ("product_id", "time_id", "customer_id", "store_sales"))


def test_sales_facts_with_fields_order_and_page(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    query = FactsQuery(
        "sales",
        cuts=parse_cuts(format_cuts([PointCut("yearly_income", ("$150K +",))]) + "|promotion_media:TV"),
        fields=("fact_id", "customers.fullname", "promotions.promotions", "store_sales", "unit_sales"),
        order=(OrderItem("store_sales", descending=True), OrderItem("fact_id")),
        limit=6,
        offset=2,
    )
    result = engine.facts(query)
    where = "yearly_income = '$150K +' AND media_type = 'TV'"
    expected = sql(
        db,
        'SELECT fact_id, fullname AS "customers.fullname", promotion_name AS "promotions.promotions", '
        f"store_sales, unit_sales FROM sales WHERE {where} ORDER BY store_sales DESC, fact_id LIMIT 6 OFFSET 2",
    )
    assert_exact(result.rows, expected)
    (count,) = sql(db, f"SELECT count(*) AS n FROM sales WHERE {where}")
    assert result.total_count == count["n"]
    _check_fact_lines(result.rows, "sales_fact_1997.csv", ("store_sales", "unit_sales"))


# ---- API round trip --------------------------------------------------------------------------------------


def test_api_round_trip_with_an_escaped_cut(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    client = TestClient(create_app(engine))
    cut = format_cuts([PointCut("yearly_income", ("$30K - $50K",)), PointCut("store", ("USA", "OR"))])
    response = client.get(
        "/v1/cubes/sales/aggregate",
        params={"cut": cut, "drilldown": "gender|marital_status", "measures": "store_sales,customer_count,profit"},
    )
    assert response.status_code == 200, response.text
    body = json.loads(response.text, parse_float=Decimal)  # exact digits, as written
    where = "yearly_income = '$30K - $50K' AND store_country = 'USA' AND store_state = 'OR'"
    measures = """coalesce(sum(store_sales), 0) AS store_sales, count(DISTINCT customer_id) AS customer_count,
        coalesce(sum(store_sales), 0) - coalesce(sum(store_cost), 0) AS profit"""
    (summary,) = sql(db, f"SELECT {measures} FROM sales WHERE {where}")
    cells = sql(
        db,
        f'SELECT gender AS "gender.gender", marital_status AS "marital_status.marital_status", {measures} '
        f"FROM sales WHERE {where} GROUP BY ALL ORDER BY 1, 2",
    )
    assert_exact(body["summary"], summary)
    assert_exact(body["cells"], cells)
    assert body["total_cell_count"] == 4
    assert body["levels"] == {"gender": ["gender"], "marital_status": ["marital_status"]}


# ---- warehouse cube ------------------------------------------------------------------------------------


def test_warehouse_whole_cube(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = aggregate(engine, "warehouse")
    check(result, db, "inventory")
    assert set(result.summary) == {"units_shipped", "units_ordered", "warehouse_sales", "warehouse_cost"}


def test_warehouse_by_state_province(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = aggregate(engine, "warehouse", drilldown="warehouse:state_province")
    check(result, db, "inventory", drilled=(("warehouse", 2),))


def test_warehouse_with_an_escaped_name_by_month(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    cut = format_cuts([PointCut("warehouse", ("USA", "WA", "Bremerton", "Destination, Inc."))])
    assert cut == r"warehouse:USA,WA,Bremerton,Destination\, Inc."
    result = aggregate(engine, "warehouse", cut=cut, drilldown="time:month")
    where = "warehouse_country = 'USA' AND warehouse_state_province = 'WA' AND warehouse_name = 'Destination, Inc.'"
    check(result, db, "inventory", where, (("time", 3),))


def test_warehouse_dice_by_product_and_store(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    # FoodMart's 1997 inventory has warehouses in the USA only
    # unescaped, "Non-Consumable" would be the range from "Non" to "Consumable"
    negated = format_cuts([PointCut("product", ("Non-Consumable",), invert=True)])
    assert negated == r"!product:Non\-Consumable"
    cut = "time:1997,Q1-1997,Q2|warehouse:USA,OR;USA,WA|" + negated
    result = aggregate(engine, "warehouse", cut=cut, drilldown="product|store:state")
    where = (
        "the_year = 1997 AND quarter BETWEEN 'Q1' AND 'Q2' AND warehouse_country = 'USA'"
        " AND warehouse_state_province IN ('OR', 'WA')"
        " AND product_family <> 'Non-Consumable'"
    )
    check(result, db, "inventory", where, (("product", 1), ("store", 2)))


def test_warehouse_rollup_and_drilldown(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = engine.drilldown(Query("warehouse", cuts=parse_cuts("warehouse:USA")), "warehouse", depth=3)
    check(result, db, "inventory", "warehouse_country = 'USA'", (("warehouse", 4),))
    rolled = engine.rollup(Query("warehouse", drilldown=parse_drilldown("warehouse:city|time:quarter")), "warehouse")
    check(rolled, db, "inventory", drilled=(("warehouse", 2), ("time", 2)))


def test_warehouse_pivot_store_state_by_family(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    measures = ("units_shipped", "warehouse_sales")
    result = engine.pivot(
        PivotQuery(
            "warehouse", rows=parse_drilldown("store:state"), columns=parse_drilldown("product"), measures=measures
        )
    )
    rows = sql(
        db, f"SELECT store_country AS k, store_state AS s, {WAREHOUSE} FROM inventory GROUP BY ALL ORDER BY 1, 2"
    )
    columns = sql(db, f"SELECT product_family AS k, {WAREHOUSE} FROM inventory GROUP BY ALL ORDER BY 1")
    grid = {
        ((g["r"], g["s"]), g["c"]): [g[m] for m in measures]
        for g in sql(
            db,
            f"SELECT store_country AS r, store_state AS s, product_family AS c, {WAREHOUSE} "
            "FROM inventory GROUP BY ALL",
        )
    }
    (grand,) = sql(db, f"SELECT {WAREHOUSE} FROM inventory")
    assert_exact(result.row_headers, [[r["k"], r["s"]] for r in rows])
    assert_exact(result.column_headers, [[c["k"]] for c in columns])
    assert_exact(result.values, [[grid.get(((r["k"], r["s"]), c["k"])) for c in columns] for r in rows])
    assert_exact(result.row_totals, [[r[m] for m in measures] for r in rows])
    assert_exact(result.column_totals, [[c[m] for m in measures] for c in columns])
    assert_exact(result.grand_total, [grand[m] for m in measures])


def test_warehouse_members_of_names(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = engine.members(MembersQuery("warehouse", "warehouse", level="name", cuts=parse_cuts("warehouse:USA")))
    expected = sql(
        db,
        f"SELECT DISTINCT {select('warehouse', 4)} FROM inventory WHERE warehouse_country = 'USA' "
        f"ORDER BY {order('warehouse', 4)}",
    )
    assert_exact(result.rows, expected)
    assert result.total_count == len(expected)


def test_warehouse_facts_drill_through(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    fields = ("fact_id", "warehouse.name", "store.name", "product.product_name", "units_shipped", "warehouse_cost")
    query = FactsQuery("warehouse", cuts=parse_cuts("warehouse:USA,OR|time:1997,Q4,12"), fields=fields, limit=15)
    result = engine.facts(query)
    where = "warehouse_country = 'USA' AND warehouse_state_province = 'OR' AND the_year = 1997 AND month_of_year = 12"
    expected = sql(
        db,
        'SELECT fact_id, warehouse_name AS "warehouse.name", store_name AS "store.name", '
        'product_name AS "product.product_name", units_shipped, warehouse_cost '
        f"FROM inventory WHERE {where} ORDER BY fact_id LIMIT 15",
    )
    assert_exact(result.rows, expected)
    (count,) = sql(db, f"SELECT count(*) AS n FROM inventory WHERE {where}")
    assert result.total_count == count["n"] > 15
    _check_fact_lines(result.rows, "inventory_fact_1997.csv", ("units_shipped", "warehouse_cost"))
