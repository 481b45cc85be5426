"""Calendar periods of a time hierarchy's members: which member is the previous period, the same period
a year before, the first period of its year or quarter.

A member's path (its keys from the hierarchy's top down to the drilled level) is read through the levels'
roles (``year``, ``quarter``, ``month``, ``day``, ``hour``, ``minute``, ``second``, ``isoyear``,
``isoweek``; a level of a ``role: time`` dimension named so has that role) into an *ordinal*: a whole
number counting periods of the drilled level, so the previous period is ``ordinal - 1``. Keys may be
date parts (``2025, 1, 3`` for March 2025), ``yyyymm`` or ``yyyymmdd`` numbers, ``Q1`` to ``Q4``, or dates.

>>> months = PeriodScheme("month", ("year", "quarter", "month"))
>>> march = months.ordinal((2025, 1, 3))
>>> months.path_of(months.last_year(march)), months.path_of(march - 3), months.path_of(months.year_start(march))
((2024, 3), (2024, 12), (2025, 1))
>>> days = PeriodScheme("day", ("year", "month", "day"))
>>> days.last_year(days.ordinal((2024, 2, 29))) is None  # no 29 February a year before
True
>>> PeriodScheme("month", ("year", "month")).ordinal((1994, 199403)) == months.ordinal((1994, 1, 3))
True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

# The fewest periods of each grain a year holds: how many years back N periods can reach.
PERIODS_PER_YEAR = {
    "year": 1,
    "isoyear": 1,
    "quarter": 4,
    "month": 12,
    "isoweek": 52,
    "day": 365,
    "hour": 365 * 24,
    "minute": 365 * 24 * 60,
    "second": 365 * 24 * 3600,
}
# Grains finer than a day count units of a day from the day's ordinal.
UNITS_PER_DAY = {"day": 1, "hour": 24, "minute": 24 * 60, "second": 24 * 3600}
YEAR_ROLES = ("year", "isoyear")
_QUARTER = re.compile(r"[Qq]?([1-4])")
_INTEGER = re.compile(r"-?[0-9]+")


class UndecodablePeriodError(ValueError):
    """A member's keys that do not read as a calendar period of the scheme's grain."""


def _integer(value: Any) -> int:
    if isinstance(value, bool):
        raise UndecodablePeriodError(value)
    if isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value)
    raise UndecodablePeriodError(value)


def _parts(roles: tuple[str | None, ...], path: tuple[Any, ...]) -> dict[str, Any]:
    """The calendar parts a path spells, by its levels' roles (levels of other roles are ignored)."""
    parts: dict[str, Any] = {}
    for role, value in zip(roles, path, strict=False):
        if role not in PERIODS_PER_YEAR:
            continue
        if value is None:
            raise UndecodablePeriodError("NULL member")
        if role == "quarter":
            match = _QUARTER.fullmatch(str(value).strip())
            if match is None:
                raise UndecodablePeriodError(value)
            parts["quarter"] = int(match.group(1))
        elif role == "month":
            _month(parts, value)
        elif role == "day":
            _day(parts, value)
        else:
            parts[role] = _integer(value)
    return parts


def _month(parts: dict[str, Any], value: Any) -> None:
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}", value.strip()):
        year, month = value.strip().split("-")
        parts["year"], parts["month"] = int(year), int(month)
        return
    number = _integer(value)
    if 1 <= number <= 12:
        parts["month"] = number
    elif 100_001 <= number <= 999_912 and 1 <= number % 100 <= 12:  # yyyymm
        parts["year"], parts["month"] = divmod(number, 100)
    else:
        raise UndecodablePeriodError(value)


def _day(parts: dict[str, Any], value: Any) -> None:
    if isinstance(value, datetime):
        parts["date"] = value.date()
        return
    if isinstance(value, date):
        parts["date"] = value
        return
    if isinstance(value, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value.strip()):
        parts["date"] = date.fromisoformat(value.strip())
        return
    number = _integer(value)
    if 1 <= number <= 31:
        parts["day"] = number
    elif 10_000_101 <= number <= 99_991_231:  # yyyymmdd
        try:
            parts["date"] = date(number // 10_000, number // 100 % 100, number % 100)
        except ValueError as exc:
            raise UndecodablePeriodError(value) from exc
    else:
        raise UndecodablePeriodError(value)


@dataclass(frozen=True, slots=True)
class PeriodScheme:
    """Period arithmetic at one grain (the drilled level's role), reading paths by their levels' roles."""

    grain: str
    roles: tuple[str | None, ...]

    def ordinal(self, path: tuple[Any, ...]) -> int:
        """The period a member's path names, as a count of periods; raises when the keys do not read."""
        try:
            return self._ordinal(_parts(self.roles, path))
        except (KeyError, ValueError, OverflowError) as exc:
            raise UndecodablePeriodError(path) from exc

    def _ordinal(self, parts: dict[str, Any]) -> int:
        grain = self.grain
        if grain in YEAR_ROLES:
            return int(parts[grain])
        if grain == "quarter":
            return int(parts["year"]) * 4 + int(parts["quarter"]) - 1
        if grain == "month":
            return int(parts["year"]) * 12 + int(parts["month"]) - 1
        if grain == "isoweek":
            return _week_ordinal(date.fromisocalendar(parts["isoyear"], parts["isoweek"], 1))
        day = parts["date"] if "date" in parts else date(parts["year"], parts["month"], parts["day"])
        units = day.toordinal() * UNITS_PER_DAY[grain]
        if grain in ("hour", "minute", "second"):
            units += parts["hour"] * UNITS_PER_DAY[grain] // 24
        if grain in ("minute", "second"):
            units += parts["minute"] * UNITS_PER_DAY[grain] // (24 * 60)
        if grain == "second":
            units += parts["second"]
        return units

    def last_year(self, ordinal: int) -> int | None:
        """The same period a year before (None where there is none: 29 February, ISO week 53)."""
        grain = self.grain
        if grain in YEAR_ROLES:
            return ordinal - 1
        if grain == "quarter":
            return ordinal - 4
        if grain == "month":
            return ordinal - 12
        if grain == "isoweek":
            year, week, _ = _week_monday(ordinal).isocalendar()
            try:
                return _week_ordinal(date.fromisocalendar(year - 1, week, 1))
            except ValueError:
                return None
        day, within = divmod(ordinal, UNITS_PER_DAY[grain])
        try:
            earlier = date.fromordinal(day).replace(year=date.fromordinal(day).year - 1)
        except ValueError:
            return None
        return earlier.toordinal() * UNITS_PER_DAY[grain] + within

    def year_start(self, ordinal: int) -> int:
        """The first period of the ordinal's year (its ISO year for ISO weeks)."""
        grain = self.grain
        if grain in YEAR_ROLES:
            return ordinal
        if grain == "quarter":
            return ordinal - ordinal % 4
        if grain == "month":
            return ordinal - ordinal % 12
        if grain == "isoweek":
            return _week_ordinal(date.fromisocalendar(_week_monday(ordinal).isocalendar()[0], 1, 1))
        day = date.fromordinal(ordinal // UNITS_PER_DAY[grain])
        return date(day.year, 1, 1).toordinal() * UNITS_PER_DAY[grain]

    def quarter_start(self, ordinal: int) -> int:
        """The first period of the ordinal's quarter (grains finer than a quarter, ISO weeks excepted)."""
        grain = self.grain
        if grain == "quarter":
            return ordinal
        if grain == "month":
            return ordinal - ordinal % 3
        day = date.fromordinal(ordinal // UNITS_PER_DAY[grain])
        return date(day.year, (day.month - 1) // 3 * 3 + 1, 1).toordinal() * UNITS_PER_DAY[grain]

    @property
    def has_quarters(self) -> bool:
        return self.grain in ("quarter", "month", *UNITS_PER_DAY)

    def parts_of(self, ordinal: int) -> dict[str, Any]:
        """The calendar parts of an ordinal (year, quarter, month, date, hour, ...), as far as its grain has them."""
        grain = self.grain
        if grain in YEAR_ROLES:
            return {grain: ordinal}
        if grain == "quarter":
            return {"year": ordinal // 4, "quarter": ordinal % 4 + 1}
        if grain == "month":
            year, month = divmod(ordinal, 12)
            return {"year": year, "quarter": month // 3 + 1, "month": month + 1}
        if grain == "isoweek":
            year, week, _ = _week_monday(ordinal).isocalendar()
            return {"isoyear": year, "isoweek": week}
        units = UNITS_PER_DAY[grain]
        day, within = divmod(ordinal, units)
        when = date.fromordinal(day)
        iso = when.isocalendar()
        parts = {"year": when.year, "quarter": (when.month - 1) // 3 + 1, "month": when.month, "day": when.day}
        parts |= {"date": when, "isoyear": iso[0], "isoweek": iso[1]}
        seconds = within * (86400 // units)
        parts |= {"hour": seconds // 3600, "minute": seconds // 60 % 60, "second": seconds % 60}
        return parts

    def path_of(self, ordinal: int) -> tuple[Any, ...]:
        """A readable spelling of an ordinal (year and period numbers, or a date), for messages and tests."""
        grain = self.grain
        if grain in YEAR_ROLES:
            return (ordinal,)
        if grain in ("quarter", "month"):
            per_year = PERIODS_PER_YEAR[grain]
            return (ordinal // per_year, ordinal % per_year + 1)
        if grain == "isoweek":
            year, week, _ = _week_monday(ordinal).isocalendar()
            return (year, week)
        day, within = divmod(ordinal, UNITS_PER_DAY[grain])
        return (date.fromordinal(day), within) if grain != "day" else (date.fromordinal(day),)


def _week_ordinal(monday: date) -> int:
    return (monday.toordinal() - 1) // 7  # day 1 (1 January of year 1) is a Monday


def _week_monday(ordinal: int) -> date:
    return date.fromordinal(ordinal * 7 + 1)
