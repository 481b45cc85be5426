"""The parts of calculations without data: the grammar (round trip, errors), period arithmetic over the key
styles of the example models, and ranks and shares over hand-made cells (ties, NULLs, zero totals)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from conftest import CUBE
from hypothesis import given
from hypothesis import strategies as st

from cube_server.calculations import (
    Comparison,
    MovingAverage,
    PeriodComparison,
    Rank,
    Reference,
    RunningPeriod,
    RunningTotal,
    Share,
    ShareOf,
    TopN,
    bind_calculations,
    format_calculation,
    format_calculations,
    parse_calculation,
    parse_calculations,
)
from cube_server.calculations.evaluate import CellRows, Evaluator
from cube_server.calculations.periods import PeriodScheme, UndecodablePeriodError
from cube_server.calculations.spans import spell_path
from cube_server.calculations.syntax import MAX_PERIODS, MAX_TOP
from cube_server.cut_syntax import parse_drilldown
from cube_server.engine import CubeEngine
from cube_server.errors import CalculationError
from cube_server.resolve import bind_drilldown

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)
dimensions = st.none() | names
calculations = st.one_of(
    st.builds(Share, names, st.just(ShareOf.PARENT), dimensions),
    st.builds(Share, names, st.just(ShareOf.TOTAL)),
    st.builds(PeriodComparison, names, st.sampled_from(Comparison), st.sampled_from(Reference), dimensions),
    st.builds(RunningTotal, names, st.sampled_from(RunningPeriod), dimensions),
    st.builds(Rank, names, dimensions),
    st.builds(TopN, st.integers(1, MAX_TOP), names, st.booleans(), dimensions),
    st.builds(MovingAverage, names, st.integers(1, MAX_PERIODS), dimensions),
)


# ---- grammar -------------------------------------------------------------------------------------------
@given(st.lists(calculations, min_size=1, max_size=6))
def test_calculations_round_trip_through_format_and_parse(specs: list[Any]) -> None:
    text = format_calculations(specs)
    assert parse_calculations(text) == tuple(specs)
    assert format_calculations(parse_calculations(text)) == text


@given(calculations)
def test_a_column_name_is_the_measure_and_what_was_asked(spec: Any) -> None:
    assert spec.name.startswith(f"{spec.measure}__")
    assert parse_calculation(format_calculation(spec)).name == spec.name
    if spec.dimension is not None:
        assert spec.name.endswith(f"_{spec.dimension}")


@given(st.text(max_size=40))
def test_any_text_parses_or_is_a_calculation_error(text: str) -> None:
    try:
        parsed = parse_calculations(text)
    except CalculationError as error:
        assert error.code == "invalid_calculation" and error.message
    else:
        assert parse_calculations(format_calculations(parsed)) == parsed


def test_parse_reads_every_function_with_spaces_anywhere() -> None:
    text = " share(revenue ,total)| share( revenue, parent, geography ) |change(revenue,previous)"
    text += "|growth(revenue, last_year)|ytd(revenue)|qtd(revenue, time)|rank(arpu)|top(10, revenue)"
    text += "|bottom(3, revenue, product)|moving_avg(revenue, 12)"
    assert parse_calculations(text) == (
        Share("revenue", ShareOf.TOTAL),
        Share("revenue", ShareOf.PARENT, "geography"),
        PeriodComparison("revenue", Comparison.CHANGE, Reference.PREVIOUS),
        PeriodComparison("revenue", Comparison.GROWTH, Reference.LAST_YEAR),
        RunningTotal("revenue", RunningPeriod.YEAR),
        RunningTotal("revenue", RunningPeriod.QUARTER, "time"),
        Rank("arpu"),
        TopN(10, "revenue"),
        TopN(3, "revenue", bottom=True, dimension="product"),
        MovingAverage("revenue", 12),
    )
    assert [c.name for c in parse_calculations(text)] == [
        "revenue__share_total",
        "revenue__share_parent_geography",
        "revenue__change_previous",
        "revenue__growth_last_year",
        "revenue__ytd",
        "revenue__qtd_time",
        "arpu__rank",
        "revenue__top_10",
        "revenue__bottom_3_product",
        "revenue__moving_avg_12",
    ]
    assert parse_calculations("") == parse_calculations(None) == parse_calculations("  ") == ()


@pytest.mark.parametrize(
    "text",
    [
        "growth(revenue)",
        "growth(revenue, yesterday)",
        "share(revenue, total, geography)",
        "share(revenue)",
        "top(0, revenue)",
        "top(x, revenue)",
        "top(-1, revenue)",
        f"moving_avg(revenue, {MAX_PERIODS + 1})",
        "moving_avg(revenue)",
        "median(revenue)",
        "GROWTH(revenue, previous)",
        "growth revenue previous",
        "rank(re-venue)",
        "rank()",
        "top(5, revenue, geography, time)",
        "ytd(revenue)|",
        "ytd(revenue)) ",
        "x" * 20_001,
    ],
)
def test_malformed_calculations_are_invalid_calculation(text: str) -> None:
    with pytest.raises(CalculationError) as caught:
        parse_calculations(text)
    assert caught.value.code == "invalid_calculation"


# ---- periods -----------------------------------------------------------------------------------------
def test_month_periods_read_from_date_parts_yyyymm_and_text() -> None:
    telecom = PeriodScheme("month", ("year", "quarter", "month"))
    ssb = PeriodScheme("month", ("year", "month"))
    assert telecom.ordinal((2025, 1, 3)) == ssb.ordinal((2025, 202503)) == ssb.ordinal(("2025", "2025-03"))
    march = telecom.ordinal((2025, 1, 3))
    assert telecom.path_of(march - 3) == (2024, 12)
    assert telecom.path_of(telecom.last_year(march)) == (2024, 3)  # type: ignore[arg-type]
    assert telecom.path_of(telecom.year_start(march)) == (2025, 1)
    assert telecom.path_of(telecom.quarter_start(telecom.ordinal((2025, 2, 5)))) == (2025, 4)


def test_quarters_read_from_numbers_and_q_names() -> None:
    foodmart = PeriodScheme("quarter", ("year", "quarter"))
    assert foodmart.ordinal((1997, "Q1")) == foodmart.ordinal((1997, 1)) == foodmart.ordinal((1996, "Q4")) + 1
    assert foodmart.last_year(foodmart.ordinal((1997, "Q3"))) == foodmart.ordinal((1996, 3))
    assert foodmart.year_start(foodmart.ordinal((1997, "Q3"))) == foodmart.ordinal((1997, "Q1"))


def test_days_read_from_dates_yyyymmdd_and_day_of_month() -> None:
    foodmart = PeriodScheme("day", ("year", "quarter", "month", "day"))
    ssb = PeriodScheme("day", ("year", "month", "day"))
    first = foodmart.ordinal((1997, "Q1", 1, date(1997, 1, 1)))
    assert first == ssb.ordinal((1997, 199701, 19970101)) == ssb.ordinal((1997, 1, 1)) == date(1997, 1, 1).toordinal()
    assert foodmart.path_of(first - 1) == (date(1996, 12, 31),)
    assert foodmart.last_year(date(2024, 2, 29).toordinal()) is None
    assert foodmart.last_year(date(2025, 3, 1).toordinal()) == date(2024, 3, 1).toordinal()
    assert foodmart.quarter_start(date(2025, 5, 17).toordinal()) == date(2025, 4, 1).toordinal()


def test_hours_and_seconds_count_within_their_day() -> None:
    hours = PeriodScheme("hour", ("year", "quarter", "month", "day", "hour"))
    midnight = hours.ordinal((2025, 1, 1, 1, 0))
    assert hours.path_of(midnight - 1) == (date(2024, 12, 31), 23)
    assert hours.path_of(hours.last_year(hours.ordinal((2025, 2, 5, 17, 9)))) == (date(2024, 5, 17), 9)  # type: ignore[arg-type]
    assert hours.year_start(hours.ordinal((2025, 2, 5, 17, 9))) == midnight
    seconds = PeriodScheme("second", ("year", "quarter", "month", "day", "hour", "minute", "second"))
    assert seconds.ordinal((2025, 1, 1, 1, 0, 0, 0)) - 1 == seconds.ordinal((2024, 4, 12, 31, 23, 59, 59))


def test_iso_weeks_cross_iso_years_and_week_53_has_no_last_year() -> None:
    weeks = PeriodScheme("isoweek", ("isoyear", "isoweek"))
    assert weeks.ordinal((2021, 1)) - 1 == weeks.ordinal((2020, 53))
    assert weeks.last_year(weeks.ordinal((2020, 53))) is None  # 2019 had 52 ISO weeks
    assert weeks.last_year(weeks.ordinal((2025, 10))) == weeks.ordinal((2024, 10))
    assert weeks.year_start(weeks.ordinal((2025, 10))) == weeks.ordinal((2025, 1))


@pytest.mark.parametrize(
    ("scheme", "path"),
    [
        (PeriodScheme("month", ("year", "quarter", "month")), (2025, 1, None)),
        (PeriodScheme("month", ("year", "quarter", "month")), (2025, 1, 13)),
        (PeriodScheme("quarter", ("year", "quarter")), (2025, "Q5")),
        (PeriodScheme("day", ("isoyear", "isoweek", "day")), (2025, 1, 30)),  # a day of month without its month
        (PeriodScheme("day", ("year", "month", "day")), (2025, 2, 30)),
        (PeriodScheme("year", ("year",)), ("twenty",)),
    ],
)
def test_keys_that_are_no_period_do_not_read(scheme: PeriodScheme, path: tuple[Any, ...]) -> None:
    with pytest.raises(UndecodablePeriodError):
        scheme.ordinal(path)


# ---- ranks and shares over hand-made cells --------------------------------------------------------------
def evaluate_on(engine: CubeEngine, drilldown: str, text: str, cells: list[dict[str, Any]], total: Any) -> list[Any]:
    cube = engine.cube(CUBE)
    drills = bind_drilldown(cube, parse_drilldown(drilldown), ())
    (calc,) = bind_calculations(cube, parse_calculations(text), drills)
    bases = [{"revenue": cell["revenue"]} for cell in cells]
    rows = CellRows(cells, bases, {"revenue": Decimal("0.00")})
    return Evaluator(cube, rows, {"revenue": total}, {}, {}).column(calc)


def test_ranks_share_ties_and_skip_null(engine: CubeEngine) -> None:
    values = [Decimal("5.00"), Decimal("9.00"), None, Decimal("9.00"), Decimal("1.00")]
    cells = [{"product.line": f"l{i}", "revenue": value} for i, value in enumerate(values)]
    assert evaluate_on(engine, "product:line", "rank(revenue)", cells, None) == [3, 1, None, 1, 4]
    assert evaluate_on(engine, "product:line", "bottom(2, revenue)", cells, None) == [2, 3, None, 3, 1]


def test_ranks_are_within_the_parent(engine: CubeEngine) -> None:
    cells = [
        {"product.line": line, "product.product": product, "revenue": Decimal(value)}
        for line, product, value in [("a", "a1", "3"), ("a", "a2", "7"), ("b", "b1", "1"), ("b", "b2", "0")]
    ]
    assert evaluate_on(engine, "product:product", "rank(revenue)", cells, None) == [2, 1, 1, 2]


def test_share_of_a_zero_or_null_total_is_null(engine: CubeEngine) -> None:
    cells = [{"product.line": "a", "revenue": Decimal("0.00")}, {"product.line": "b", "revenue": None}]
    assert evaluate_on(engine, "product:line", "share(revenue, total)", cells, Decimal("0.00")) == [None, None]
    assert evaluate_on(engine, "product:line", "share(revenue, total)", cells, None) == [None, None]
    cells[0]["revenue"] = Decimal("-1.00")
    assert evaluate_on(engine, "product:line", "share(revenue, total)", cells, Decimal("3.00")) == [
        Decimal("-0.333333"),
        None,
    ]


# ---- spelling reference ranges in the cut's own style -------------------------------------------------
@pytest.mark.parametrize(
    ("scheme", "example", "shift", "spelled"),
    [
        (PeriodScheme("quarter", ("year", "quarter")), ("1997", "Q1"), -1, ("1996", "Q4")),  # FoodMart text
        (PeriodScheme("month", ("year", "month")), ("1994", "199401"), -1, ("1993", "199312")),  # SSB yyyymm
        (PeriodScheme("day", ("year", "month", "day")), ("1994", "199403", "19940301"), -1,
         ("1994", "199402", "19940228")),
        (PeriodScheme("month", ("year", "quarter", "month")), ("2025", "1", "03"), -2, ("2025", "1", "01")),  # padded
        (PeriodScheme("day", ("year", "quarter", "month", "day")), ("1997", "Q1", "1", "1997-01-01"), -1,
         ("1996", "Q4", "12", "1996-12-31")),
        (PeriodScheme("isoweek", ("isoyear", "isoweek")), ("2021", "1"), -1, ("2020", "53")),
    ],
)  # fmt: skip
def test_reference_bounds_are_spelled_as_the_cut_spells_its_periods(
    scheme: PeriodScheme, example: tuple[str, ...], shift: int, spelled: tuple[str, ...]
) -> None:
    assert spell_path(scheme, scheme.ordinal(example) + shift, example) == spelled
    assert spell_path(scheme, scheme.ordinal(example), example) == example


def test_periods_that_cannot_be_spelled_give_none() -> None:
    weekly = PeriodScheme("day", ("year", "week", "day"))  # FoodMart's own week numbers have no calendar rule
    assert spell_path(weekly, date(1997, 1, 3).toordinal(), ("1997", "2", "1997-01-03")) is None
