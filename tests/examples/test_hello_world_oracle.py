"""Oracle tests of examples/hello_world (the Cubes tutorial's IBRD balance sheet).

Every answer of the engine is compared, whole and exactly (keys, labels, values, their Python types),
with a hand-written SQL query run on a plain DuckDB connection over the same CSV file. The oracle
never goes through ``cube_server``; drill-through ids are checked against the CSV read line by line.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from api.cli import main as cli_main
from cube_server.cut_syntax import format_cuts, parse_cuts, parse_drilldown
from cube_server.engine import CubeEngine
from cube_server.project import load_project, open_engine
from cube_server.query import FactsQuery, MembersQuery, OrderItem, PivotQuery, PointCut, Query, SetCut
from cube_server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "examples" / "hello_world"
DATA = (ROOT / ".." / "shared" / "datasets" / "cubes_hello_world" / "data.csv").resolve()
CUBE = "irbd_balance"
COLUMNS = ["category", "category_label", "subcategory", "subcategory_label", "line_item", "year", "amount"]

# The two aggregates of the model, as SQL (a SUM of nothing is 0, as in Cubes).
MEASURES = "coalesce(sum(amount), 0) AS amount_sum, count(*) AS record_count"
CATEGORY = '"category" AS "item.category", category_label AS "item.category.label"'
SUBCATEGORY = '"subcategory" AS "item.subcategory", subcategory_label AS "item.subcategory.label"'
LINE_ITEM = 'line_item AS "item.line_item"'
NONNEGOTIABLE = "Nonnegotiable, nonintrest-bearing demand obligations on account of subscribed capital"


# ---- fixtures and helpers ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine() -> CubeEngine:
    return open_engine(load_project(PROJECT), Settings())


@pytest.fixture(scope="module")
def db() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    names = ", ".join(f"'{name}'" for name in COLUMNS)
    connection.execute(
        f"CREATE TABLE balance AS SELECT * FROM read_csv('{DATA}', header = true, names = [{names}], "
        "types = {'year': 'BIGINT', 'amount': 'BIGINT'})"
    )
    yield connection
    connection.close()


def sql(db: duckdb.DuckDBPyConnection, text: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cursor = db.execute(text, params or [])
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


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


def aggregate(engine: CubeEngine, cut: str = "", drilldown: str = "", **kwargs: Any) -> Any:
    return engine.aggregate(Query(CUBE, cuts=parse_cuts(cut), drilldown=parse_drilldown(drilldown), **kwargs))


def check(
    result: Any,
    db: duckdb.DuckDBPyConnection,
    where: str,
    cells_sql: str | None,
    params: list[Any],
    *,
    empty: bool = False,
) -> None:
    """The summary over ``where`` and, when given, every cell (in order) and the cell count.

    The cell is expected to hold facts unless ``empty``, so no comparison passes by being empty.
    """
    (summary,) = sql(db, f"SELECT {MEASURES} FROM balance WHERE {where}", params)
    assert_exact(result.summary, summary)
    assert (summary["record_count"] == 0) == empty
    if cells_sql is None:
        assert result.cells == [] and result.total_cell_count is None
        return
    expected = sql(db, cells_sql, params)
    assert_exact(result.cells, expected)
    assert result.total_cell_count == len(expected)


# ---- project -------------------------------------------------------------------------------------


def test_validate_command_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["validate", str(PROJECT)]) == 0
    assert "valid" in capsys.readouterr().out


def test_model_has_cubes_names(engine: CubeEngine) -> None:
    cube = engine.cube(CUBE)
    assert [d.name for d in cube.dimensions] == ["item", "year"]
    assert [level.name for level in cube.dimension("item").levels] == ["category", "subcategory", "line_item"]
    assert [m.name for m in cube.measures] == ["amount_sum", "record_count"]
    assert cube.key == "id"


# ---- aggregate, drilldown, slice ----------------------------------------------------------------


def test_whole_cube(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = aggregate(engine)
    check(result, db, "TRUE", None, [])
    assert result.summary == {"amount_sum": 1116860, "record_count": 62}


def test_drilldown_category(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = aggregate(engine, drilldown="item")
    cells = f"SELECT {CATEGORY}, {MEASURES} FROM balance GROUP BY ALL ORDER BY 1"
    check(result, db, "TRUE", cells, [])
    assert result.levels == {"item": ["category"]}


def test_drilldown_subcategory_carries_the_category(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    # "da" is both Derivative Assets (a) and Deferred Amounts (e): the path keeps them apart.
    result = aggregate(engine, drilldown="item:subcategory")
    cells = f"SELECT {CATEGORY}, {SUBCATEGORY}, {MEASURES} FROM balance GROUP BY ALL ORDER BY 1, 3"
    check(result, db, "TRUE", cells, [])
    assert len([c for c in result.cells if c["item.subcategory"] == "da"]) == 2


def test_drilldown_line_item(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = aggregate(engine, drilldown="item:line_item")
    cells = f"SELECT {CATEGORY}, {SUBCATEGORY}, {LINE_ITEM}, {MEASURES} FROM balance GROUP BY ALL ORDER BY 1, 3, 5"
    check(result, db, "TRUE", cells, [])
    assert result.total_cell_count == 31


def test_drilldown_year(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = aggregate(engine, drilldown="year")
    cells = f'SELECT "year" AS "year.year", {MEASURES} FROM balance GROUP BY ALL ORDER BY 1'
    check(result, db, "TRUE", cells, [])


def test_drilldown_category_by_year(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = aggregate(engine, drilldown="item|year")
    cells = f'SELECT {CATEGORY}, "year" AS "year.year", {MEASURES} FROM balance GROUP BY ALL ORDER BY 1, 3'
    check(result, db, "TRUE", cells, [])


def test_slice_year_by_category(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = aggregate(engine, cut="year:2010", drilldown="item")
    cells = f"SELECT {CATEGORY}, {MEASURES} FROM balance WHERE year = ? GROUP BY ALL ORDER BY 1"
    check(result, db, "year = ?", cells, [2010])


def test_point_cut_on_subcategory_drills_to_line_items(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    # the cut fixes two levels, so a bare drilldown goes to the third
    result = aggregate(engine, cut="item:a,da", drilldown="item")
    where = "category = ? AND subcategory = ?"
    cells = (
        f"SELECT {CATEGORY}, {SUBCATEGORY}, {LINE_ITEM}, {MEASURES} FROM balance WHERE {where} GROUP BY ALL ORDER BY 5"
    )
    check(result, db, where, cells, ["a", "da"])
    assert [c["item.line_item"] for c in result.cells] == ["Borrowings", "Client operations", "Investments", "Other"]


def test_dice_category_and_year(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = aggregate(engine, cut="item:a|year:2009", drilldown="item:subcategory")
    where = "category = ? AND year = ?"
    cells = f"SELECT {CATEGORY}, {SUBCATEGORY}, {MEASURES} FROM balance WHERE {where} GROUP BY ALL ORDER BY 3"
    check(result, db, where, cells, ["a", 2009])


def test_set_cut_of_categories(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = aggregate(engine, cut="item:a;e", drilldown="item|year")
    where = "category IN ('a', 'e')"
    cells = (
        f'SELECT {CATEGORY}, "year" AS "year.year", {MEASURES} FROM balance WHERE {where} GROUP BY ALL ORDER BY 1, 3'
    )
    check(result, db, where, cells, [])


def test_set_cut_of_paths_sharing_a_code(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = aggregate(engine, cut="item:a,da;e,da", drilldown="item:subcategory")
    where = "(category = 'a' AND subcategory = 'da') OR (category = 'e' AND subcategory = 'da')"
    cells = f"SELECT {CATEGORY}, {SUBCATEGORY}, {MEASURES} FROM balance WHERE {where} GROUP BY ALL ORDER BY 1, 3"
    check(result, db, where, cells, [])
    assert [c["item.subcategory.label"] for c in result.cells] == ["Derivative Assets", "Deferred Amounts"]


def test_range_cut_on_year_open_end(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = aggregate(engine, cut="year:2010-", drilldown="year")
    cells = f'SELECT "year" AS "year.year", {MEASURES} FROM balance WHERE year >= 2010 GROUP BY ALL ORDER BY 1'
    check(result, db, "year >= 2010", cells, [])


def test_range_cut_is_lexicographic_on_the_path(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    # (category, subcategory) from (a, oa) to (e, da), both ends included: a/oa, a/orcv, a/rcv, a/s, e/cs, e/da
    result = aggregate(engine, cut="item:a,oa-e,da", drilldown="item:subcategory")
    where = (
        "(category > 'a' OR (category = 'a' AND subcategory >= 'oa')) "
        "AND (category < 'e' OR (category = 'e' AND subcategory <= 'da'))"
    )
    cells = f"SELECT {CATEGORY}, {SUBCATEGORY}, {MEASURES} FROM balance WHERE {where} GROUP BY ALL ORDER BY 1, 3"
    check(result, db, where, cells, [])
    assert [(c["item.category"], c["item.subcategory"]) for c in result.cells] == [
        ("a", "oa"),
        ("a", "orcv"),
        ("a", "rcv"),
        ("a", "s"),
        ("e", "cs"),
        ("e", "da"),
    ]


def test_range_cut_open_start(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = aggregate(engine, cut="item:-e", drilldown="item")
    cells = f"SELECT {CATEGORY}, {MEASURES} FROM balance WHERE category <= 'e' GROUP BY ALL ORDER BY 1"
    check(result, db, "category <= 'e'", cells, [])


def test_negated_cut(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = aggregate(engine, cut="!item:l", drilldown="item")
    cells = f"SELECT {CATEGORY}, {MEASURES} FROM balance WHERE category <> 'l' GROUP BY ALL ORDER BY 1"
    check(result, db, "category <> 'l'", cells, [])


def test_escaped_line_item_with_comma_and_hyphen(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    cut = format_cuts([PointCut("item", ("a", "nn", NONNEGOTIABLE))])
    assert cut == r"item:a,nn,Nonnegotiable\, nonintrest\-bearing demand obligations on account of subscribed capital"
    result = aggregate(engine, cut=cut, drilldown="year")
    where = "category = ? AND subcategory = ? AND line_item = ?"
    cells = f'SELECT "year" AS "year.year", {MEASURES} FROM balance WHERE {where} GROUP BY ALL ORDER BY 1'
    check(result, db, where, cells, ["a", "nn", NONNEGOTIABLE])
    assert result.summary == {"amount_sum": 2325, "record_count": 2}


def test_same_line_item_text_on_two_paths(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    # "Investments" is a line item of Derivative Assets and of Derivative Liabilities
    cut = format_cuts([SetCut("item", (("a", "da", "Investments"), ("l", "dl", "Investments")))])
    result = aggregate(engine, cut=cut, drilldown="item:line_item")
    where = "line_item = 'Investments' AND subcategory IN ('da', 'dl')"
    cells = (
        f"SELECT {CATEGORY}, {SUBCATEGORY}, {LINE_ITEM}, {MEASURES} FROM balance WHERE {where} GROUP BY ALL ORDER BY 1"
    )
    check(result, db, where, cells, [])
    assert result.total_cell_count == 2


def test_unknown_member_is_an_empty_cell(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = aggregate(engine, cut="year:2031", drilldown="item")
    cells = f"SELECT {CATEGORY}, {MEASURES} FROM balance WHERE year = 2031 GROUP BY ALL"
    check(result, db, "year = 2031", cells, [], empty=True)
    assert_exact(result.summary, {"amount_sum": 0, "record_count": 0})


def test_order_by_measure_with_paging(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = aggregate(
        engine, drilldown="item:line_item", order=(OrderItem("amount_sum", descending=True),), limit=5, offset=3
    )
    expected = sql(
        db,
        f"SELECT {CATEGORY}, {SUBCATEGORY}, {LINE_ITEM}, {MEASURES} FROM balance GROUP BY ALL "
        "ORDER BY amount_sum DESC, 1, 3, 5 LIMIT 5 OFFSET 3",
    )
    assert_exact(result.cells, expected)
    assert result.total_cell_count == 31


def test_measure_selection(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = aggregate(engine, drilldown="year", measures=("record_count",))
    expected = sql(db, 'SELECT "year" AS "year.year", count(*) AS record_count FROM balance GROUP BY ALL ORDER BY 1')
    assert_exact(result.cells, expected)
    assert result.measures == ["record_count"]


# ---- drilldown and rollup operations -------------------------------------------------------------


def test_drilldown_operation_children_of_a_category(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = engine.drilldown(Query(CUBE, cuts=parse_cuts("item:l")), "item")
    where = "category = 'l'"
    cells = f"SELECT {CATEGORY}, {SUBCATEGORY}, {MEASURES} FROM balance WHERE {where} GROUP BY ALL ORDER BY 3"
    check(result, db, where, cells, [])


def test_drilldown_operation_two_levels(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = engine.drilldown(Query(CUBE, cuts=parse_cuts("item:e|year:2010")), "item", depth=2)
    where = "category = 'e' AND year = 2010"
    cells = f"SELECT {CATEGORY}, {SUBCATEGORY}, {LINE_ITEM}, {MEASURES} FROM balance WHERE {where} GROUP BY ALL"
    check(result, db, where, cells + " ORDER BY 3, 5", [])


def test_rollup_of_a_drilled_level(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    query = Query(CUBE, cuts=parse_cuts("year:2009"), drilldown=parse_drilldown("item:line_item"))
    result = engine.rollup(query, "item")
    cells = f"SELECT {CATEGORY}, {SUBCATEGORY}, {MEASURES} FROM balance WHERE year = 2009 GROUP BY ALL ORDER BY 1, 3"
    check(result, db, "year = 2009", cells, [])
    assert result.meta.extra["rolled_up_from"] == {
        "dimension": "item",
        "cut": "year:2009",
        "drilldown": "item:line_item",
    }


def test_rollup_past_the_top_drops_the_drilldown(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    query = Query(CUBE, drilldown=parse_drilldown("item:subcategory|year"))
    result = engine.rollup(query, "item", steps=2)
    cells = f'SELECT "year" AS "year.year", {MEASURES} FROM balance GROUP BY ALL ORDER BY 1'
    check(result, db, "TRUE", cells, [])


def test_rollup_shortens_the_cut(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = engine.rollup(Query(CUBE, cuts=parse_cuts("item:a,da")), "item")
    check(result, db, "category = 'a'", None, [])


# ---- pivot ---------------------------------------------------------------------------------------


def test_pivot_category_by_year_with_totals(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = engine.pivot(PivotQuery(CUBE, rows=parse_drilldown("item"), columns=parse_drilldown("year")))
    rows = sql(db, f"SELECT {CATEGORY}, {MEASURES} FROM balance GROUP BY ALL ORDER BY 1")
    columns = sql(db, f'SELECT "year" AS "year.year", {MEASURES} FROM balance GROUP BY ALL ORDER BY 1')
    grid = {
        (r["item.category"], r["year.year"]): [r["amount_sum"], r["record_count"]]
        for r in sql(db, f'SELECT {CATEGORY}, "year" AS "year.year", {MEASURES} FROM balance GROUP BY ALL')
    }
    (grand,) = sql(db, f"SELECT {MEASURES} FROM balance")
    assert result.row_levels == ["item.category"] and result.column_levels == ["year.year"]
    assert_exact(result.row_headers, [[r["item.category"]] for r in rows])
    assert_exact(result.row_header_labels, [[r["item.category.label"]] for r in rows])
    assert_exact(result.column_headers, [[c["year.year"]] for c in columns])
    expected_values = [[grid.get((r["item.category"], c["year.year"])) for c in columns] for r in rows]
    assert_exact(result.values, expected_values)
    assert_exact(result.row_totals, [[r["amount_sum"], r["record_count"]] for r in rows])
    assert_exact(result.column_totals, [[c["amount_sum"], c["record_count"]] for c in columns])
    assert_exact(result.grand_total, [grand["amount_sum"], grand["record_count"]])


def test_pivot_subcategories_of_assets_without_totals(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = engine.pivot(
        PivotQuery(
            CUBE,
            rows=parse_drilldown("item:subcategory"),
            columns=parse_drilldown("year"),
            cuts=parse_cuts("item:a"),
            measures=("amount_sum",),
            totals=False,
        )
    )
    rows = sql(db, f"SELECT DISTINCT {CATEGORY}, {SUBCATEGORY} FROM balance WHERE category = 'a' ORDER BY 1, 3")
    years = [r["y"] for r in sql(db, "SELECT DISTINCT year AS y FROM balance WHERE category = 'a' ORDER BY 1")]
    grid = {
        (r["s"], r["y"]): [r["v"]]
        for r in sql(
            db, "SELECT subcategory AS s, year AS y, sum(amount) AS v FROM balance WHERE category = 'a' GROUP BY ALL"
        )
    }
    assert_exact(result.row_headers, [[r["item.category"], r["item.subcategory"]] for r in rows])
    assert_exact(result.column_headers, [[y] for y in years])
    assert_exact(result.values, [[grid.get((r["item.subcategory"], y)) for y in years] for r in rows])
    assert result.row_totals is None and result.column_totals is None and result.grand_total is None


# ---- members -------------------------------------------------------------------------------------


def test_members_of_the_top_level(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = engine.members(MembersQuery(CUBE, "item"))
    expected = sql(db, f"SELECT DISTINCT {CATEGORY} FROM balance ORDER BY 1")
    assert_exact(result.rows, expected)
    assert result.total_count == 3


def test_members_of_a_level_under_a_cut_with_search(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = engine.members(MembersQuery(CUBE, "item", level="subcategory", cuts=parse_cuts("item:a"), search="receiv"))
    expected = sql(
        db,
        f"SELECT DISTINCT {CATEGORY}, {SUBCATEGORY} FROM balance WHERE category = 'a' "
        "AND (subcategory ILIKE '%receiv%' OR subcategory_label ILIKE '%receiv%') ORDER BY 3",
    )
    assert_exact(result.rows, expected)
    assert [r["item.subcategory.label"] for r in result.rows] == ["Other Receivables", "Receivables"]


def test_members_of_line_items_paged(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = engine.members(MembersQuery(CUBE, "item", level="line_item", limit=7, offset=10))
    page = sql(
        db, f"SELECT DISTINCT {CATEGORY}, {SUBCATEGORY}, {LINE_ITEM} FROM balance ORDER BY 1, 3, 5 LIMIT 7 OFFSET 10"
    )
    (count,) = sql(db, "SELECT count(*) AS n FROM (SELECT DISTINCT category, subcategory, line_item FROM balance)")
    assert_exact(result.rows, page)
    assert result.total_count == count["n"] == 31


def test_members_of_the_flat_year(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    result = engine.members(MembersQuery(CUBE, "year"))
    assert_exact(result.rows, sql(db, 'SELECT DISTINCT "year" AS "year.year" FROM balance ORDER BY 1'))


# ---- facts (drill-through) -----------------------------------------------------------------------


def _csv_rows() -> list[dict[str, Any]]:
    """The data file read line by line: the synthetic key ``id`` is the 1-based data line number."""
    with DATA.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        return [
            {"id": number, **dict(zip(COLUMNS, values, strict=True))} for number, values in enumerate(reader, start=1)
        ]


def test_facts_of_equity_by_id(engine: CubeEngine) -> None:
    result = engine.facts(FactsQuery(CUBE, cuts=parse_cuts("item:e")))
    expected = [
        {
            "id": row["id"],
            "item.category": row["category"],
            "item.category_label": row["category_label"],
            "item.subcategory": row["subcategory"],
            "item.subcategory_label": row["subcategory_label"],
            "item.line_item": row["line_item"],
            "year.year": int(row["year"]),
            "amount": int(row["amount"]),
        }
        for row in _csv_rows()
        if row["category"] == "e"
    ]
    assert_exact(result.rows, expected)
    assert result.total_count == 8


def test_facts_with_fields_order_and_page(engine: CubeEngine, db: duckdb.DuckDBPyConnection) -> None:
    query = FactsQuery(
        CUBE,
        cuts=parse_cuts("year:2010|!item:l"),
        fields=("id", "item.line_item", "amount"),
        order=(OrderItem("amount", descending=True),),
        limit=4,
        offset=1,
    )
    result = engine.facts(query)
    rows = [r for r in _csv_rows() if r["year"] == "2010" and r["category"] != "l"]
    rows.sort(key=lambda r: -int(r["amount"]))
    expected = [{"id": r["id"], "item.line_item": r["line_item"], "amount": int(r["amount"])} for r in rows[1:5]]
    assert_exact(result.rows, expected)
    (count,) = sql(db, "SELECT count(*) AS n FROM balance WHERE year = 2010 AND category <> 'l'")
    assert result.total_count == count["n"]
