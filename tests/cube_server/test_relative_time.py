"""Relative time cuts (Cubes' calendar keywords) against an injected clock, never today's date."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cube_models import model_from_dict
from cube_server.cut_syntax import parse_cuts
from cube_server.errors import CutSyntaxError
from cube_server.query import PointCut, RangeCut, SetCut
from cube_server.relative_time import add_units, calendar_path, relative_moment, resolve_relative_cuts

NOW = datetime(2026, 11, 26, 15, 30, 45)  # a Thursday
YMD = ("year", "month", "day")

MODEL = {
    "name": "calendar",
    "dimensions": [
        {
            "name": "date",
            "role": "time",
            "levels": ["year", "quarter", "month", "day"],
            "hierarchies": [
                {"name": "ymd", "levels": ["year", "month", "day"]},
                {"name": "yq", "levels": ["year", "quarter"]},
            ],
        },
        {"name": "stamp", "role": "time", "levels": ["year", "week_code"]},
        {"name": "product", "levels": ["category"]},
    ],
    "cubes": [
        {
            "name": "sales",
            "dimensions": ["date", "stamp", "product"],
            "measures": ["amount"],
            "aggregates": [{"name": "amount_sum", "function": "sum", "measure": "amount"}],
            "mappings": {
                "date.year": "year",
                "date.quarter": "quarter",
                "date.month": "month",
                "date.day": "day",
                "stamp.year": "stamp_year",
                "stamp.week_code": "week_code",
                "product.category": "category",
            },
        }
    ],
}
CUBE = model_from_dict(MODEL).cube("sales")


def resolve(text: str, now: datetime = NOW, first_weekday: int = 0) -> tuple[object, ...]:
    return resolve_relative_cuts(CUBE, parse_cuts(text), now, first_weekday)


# ---- keywords -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("keyword", "moment"),
    [
        ("today", NOW),
        ("yesterday", datetime(2026, 11, 25, 15, 30, 45)),
        ("tomorrow", datetime(2026, 11, 27, 15, 30, 45)),
        ("90daysago", datetime(2026, 8, 28, 15, 30, 45)),
        ("dayago", datetime(2026, 11, 25, 15, 30, 45)),
        ("3weeksago", datetime(2026, 11, 5, 15, 30, 45)),
        ("2monthsforward", datetime(2027, 1, 26, 15, 30, 45)),
        ("1yearago", datetime(2025, 11, 26, 15, 30, 45)),
        ("5hoursago", datetime(2026, 11, 26, 10, 30, 45)),
        ("2quartersforward", datetime(2027, 5, 26, 15, 30, 45)),
        ("lastmonth", datetime(2026, 10, 1)),
        ("last3months", datetime(2026, 8, 1)),
        ("nextmonth", datetime(2026, 12, 1)),
        ("nextyear", datetime(2027, 1, 1)),
        ("lastyear", datetime(2025, 1, 1)),
        ("lastquarter", datetime(2026, 7, 1)),
        ("lastweek", datetime(2026, 11, 16)),  # weeks start on Monday (first_weekday 0)
        ("lastday", datetime(2026, 11, 25)),
        ("last2hours", datetime(2026, 11, 26, 13)),
    ],
)
def test_keywords_name_moments(keyword: str, moment: datetime) -> None:
    assert relative_moment(keyword, NOW) == moment


def test_week_start_follows_the_first_weekday() -> None:
    # Thursday 26 November 2026: with weeks starting on Sunday (6), this week began on the 22nd.
    assert relative_moment("lastweek", NOW, first_weekday=6) == datetime(2026, 11, 15)
    assert relative_moment("nextweek", NOW, first_weekday=3) == datetime(2026, 12, 3)


def test_months_clamp_to_their_last_day() -> None:
    assert relative_moment("monthago", datetime(2026, 3, 31)) == datetime(2026, 2, 28)
    assert relative_moment("yearforward", datetime(2028, 2, 29)) == datetime(2029, 2, 28)
    assert add_units(datetime(2024, 1, 31), "month", 1) == datetime(2024, 2, 29)


@pytest.mark.parametrize("text", ["2025", "2025-01", "a", "", "agoago1", "LASTMONTH", "last", "last3"])
def test_other_text_is_not_a_keyword(text: str) -> None:
    assert relative_moment(text, NOW) is None


@pytest.mark.parametrize("text", ["3fortnightsago", "lastdecade", "next2minutes", "secondago"])
def test_unknown_units_are_errors(text: str) -> None:
    with pytest.raises(CutSyntaxError, match="unknown time unit"):
        relative_moment(text, NOW)


def test_huge_offsets_are_errors_not_crashes() -> None:
    with pytest.raises(CutSyntaxError):
        relative_moment("99999999yearsago", NOW)
    with pytest.raises(CutSyntaxError):
        relative_moment("9000yearsforward", NOW)


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)), st.integers(0, 500))
def test_days_ago_is_a_plain_offset(now: datetime, days: int) -> None:
    assert relative_moment(f"{days}daysago", now) == now - timedelta(days=days)


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)), st.integers(1, 120))
def test_last_months_start_a_month_n_months_back(now: datetime, months: int) -> None:
    moment = relative_moment(f"last{months}months", now)
    assert moment is not None
    assert (moment.day, moment.hour, moment.minute, moment.second) == (1, 0, 0, 0)
    assert (now.year * 12 + now.month) - (moment.year * 12 + moment.month) == months


# ---- paths --------------------------------------------------------------------------------------
def test_calendar_path_reads_each_unit() -> None:
    assert calendar_path(NOW, YMD) == ("2026", "11", "26")
    assert calendar_path(NOW, ("year", "quarter", "month", "day", "hour", "minute", "second")) == (
        "2026",
        "4",
        "11",
        "26",
        "15",
        "30",
        "45",
    )
    # 2027-01-01 is in ISO week 53 of 2026; it is a Friday.
    assert calendar_path(datetime(2027, 1, 1), ("isoyear", "isoweek", "isoweekday")) == ("2026", "53", "5")
    assert calendar_path(datetime(2027, 1, 1), ("weekday",), first_weekday=6) == ("5",)


def test_a_level_without_calendar_unit_is_an_error() -> None:
    with pytest.raises(CutSyntaxError, match="week_code"):
        resolve("stamp:today")


# ---- cuts ---------------------------------------------------------------------------------------
def test_point_cut_becomes_the_full_hierarchy_path() -> None:
    assert resolve("date:today") == (PointCut("date", ("2026", "11", "26")),)
    assert resolve("date@yq:lastquarter") == (PointCut("date", ("2026", "3"), "yq"),)


def test_range_ends_and_set_paths_are_converted() -> None:
    assert resolve("date:90daysago-today") == (RangeCut("date", ("2026", "8", "28"), ("2026", "11", "26")),)
    assert resolve("date:lastmonth-") == (RangeCut("date", ("2026", "10", "1"), None),)
    assert resolve("!date:yesterday;tomorrow") == (
        SetCut("date", (("2026", "11", "25"), ("2026", "11", "27")), invert=True),
    )


def test_members_and_other_dimensions_are_kept() -> None:
    assert resolve("date:2025,1") == parse_cuts("date:2025,1")
    assert resolve("date:2025") == parse_cuts("date:2025")
    assert resolve("product:today") == parse_cuts("product:today")  # not a time dimension
    assert resolve("date:__null__") == parse_cuts("date:__null__")
    # an unknown dimension is left for the query to report
    assert resolve("weather:today") == parse_cuts("weather:today")


def test_hello_world_year_dimension() -> None:
    cube = model_from_dict(
        {
            "dimensions": [{"name": "year", "role": "time"}],
            "cubes": [{"name": "balance", "dimensions": ["year"], "aggregates": [{"name": "n", "function": "count"}]}],
        }
    ).cube("balance")
    cuts = resolve_relative_cuts(cube, parse_cuts("year:lastyear-thisyear|year:yearago"), NOW)
    assert cuts == (RangeCut("year", ("2025",), ("thisyear",)), PointCut("year", ("2025",)))
