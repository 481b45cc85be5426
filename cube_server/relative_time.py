"""Relative time in cuts on ``role: time`` dimensions (Cubes' calendar keywords), against a given clock.

A path of one element on a time dimension may name a moment instead of a member: ``today``,
``yesterday``, ``tomorrow``; ``<n><unit>ago`` and ``<n><unit>forward`` move by whole units from now;
``last<n><unit>`` and ``next<n><unit>`` first truncate now to the start of the unit (a week starts on
the calendar's first weekday). Units are ``year quarter month week day hour``, with an optional plural
``s``; ``n`` defaults to 1. The moment becomes a path with one element per level of the cut's
hierarchy, each read from the level's calendar role (or name). Anything else is kept as a member.

>>> now = datetime(2026, 11, 23, 15, 30)
>>> relative_moment("last3months", now)
datetime.datetime(2026, 8, 1, 0, 0)
>>> calendar_path(relative_moment("90daysago", now), ("year", "month", "day"))
('2026', '8', '25')
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime, timedelta

from cube_models import Cube, Dimension, Level
from cube_server.errors import CutSyntaxError
from cube_server.query import Cut, Path, PointCut, RangeCut, SetCut

OFFSET_UNITS = ("year", "quarter", "month", "week", "day", "hour")
_FINE = re.compile(r"(?P<offset>\d+)?(?P<unit>[a-z_]+?)(?P<direction>ago|forward)")
_TRUNCATED = re.compile(r"(?P<direction>last|next)(?P<offset>\d+)?(?P<unit>[a-z_]+)")
_NAMED = {"today": 0, "yesterday": -1, "tomorrow": 1}
MAX_OFFSET = 10_000


def relative_moment(text: str, now: datetime, first_weekday: int = 0) -> datetime | None:
    """The moment a relative-time keyword names, or None when ``text`` is not one."""
    if text in _NAMED:
        return now + timedelta(days=_NAMED[text])
    match = _FINE.fullmatch(text)
    truncate = False
    if match is None:
        match = _TRUNCATED.fullmatch(text)
        truncate = True
    if match is None:
        return None
    unit = _unit(match.group("unit"), text)
    offset = int(match.group("offset") or 1)
    if offset > MAX_OFFSET:
        raise CutSyntaxError(f"relative time offset {offset} is larger than {MAX_OFFSET}", cut=text)
    if match.group("direction") in ("ago", "last"):
        offset = -offset
    moment = truncate_moment(now, unit, first_weekday) if truncate else now
    return add_units(moment, unit, offset)


def _unit(name: str, text: str) -> str:
    unit = name[:-1] if name.endswith("s") else name
    if unit not in OFFSET_UNITS:
        raise CutSyntaxError(f"unknown time unit {name!r} in {text!r}; units are {', '.join(OFFSET_UNITS)}", cut=text)
    return unit


def truncate_moment(moment: datetime, unit: str, first_weekday: int = 0) -> datetime:
    """The start of the ``unit`` holding ``moment``.

    >>> truncate_moment(datetime(2026, 11, 26, 9, 45), "week")  # a Thursday; weeks start on Monday
    datetime.datetime(2026, 11, 23, 0, 0)
    """
    moment = moment.replace(minute=0, second=0, microsecond=0)
    if unit == "hour":
        return moment
    moment = moment.replace(hour=0)
    if unit == "day":
        return moment
    if unit == "week":
        return moment - timedelta(days=(moment.weekday() - first_weekday) % 7)
    if unit == "month":
        return moment.replace(day=1)
    if unit == "quarter":
        return moment.replace(month=(moment.month - 1) // 3 * 3 + 1, day=1)
    if unit == "year":
        return moment.replace(month=1, day=1)
    raise ValueError(f"unknown unit {unit!r}")


def add_units(moment: datetime, unit: str, amount: int) -> datetime:
    """``moment`` moved by ``amount`` units; a day past the end of the month is clamped to its last day.

    >>> add_units(datetime(2026, 3, 31), "month", -1)
    datetime.datetime(2026, 2, 28, 0, 0)
    """
    if unit == "hour":
        return moment + timedelta(hours=amount)
    if unit in ("day", "week"):
        return moment + timedelta(days=amount * (7 if unit == "week" else 1))
    months = amount * {"month": 1, "quarter": 3, "year": 12}[unit]
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise CutSyntaxError("relative time out of the calendar's range")
    return moment.replace(year=year, month=month + 1, day=min(moment.day, _days_in_month(year, month + 1)))


def _days_in_month(year: int, month: int) -> int:
    following = datetime(year + month // 12, month % 12 + 1, 1)
    return (following - timedelta(days=1)).day


def calendar_path(moment: datetime, units: tuple[str, ...], first_weekday: int = 0) -> tuple[str, ...]:
    """One path element per calendar unit, as the text of an integer."""
    values = []
    for unit in units:
        if unit in ("year", "month", "day", "hour", "minute", "second"):
            value = getattr(moment, unit)
        elif unit == "quarter":
            value = (moment.month - 1) // 3 + 1
        elif unit == "isoyear":
            value = moment.isocalendar()[0]
        elif unit in ("isoweek", "week"):
            value = moment.isocalendar()[1]
        elif unit in ("weekday", "dow"):
            value = (moment.weekday() - first_weekday) % 7
        elif unit == "isoweekday":
            value = moment.isoweekday()
        else:
            raise CutSyntaxError(f"level {unit!r} has no calendar unit, so relative time cannot name its members")
        values.append(str(value))
    return tuple(values)


def level_unit(level: Level) -> str:
    return level.role or level.name


def resolve_relative_cuts(cube: Cube, cuts: tuple[Cut, ...], now: datetime, first_weekday: int = 0) -> tuple[Cut, ...]:
    """Replace relative-time paths on the cube's ``role: time`` dimensions by calendar paths.

    Cuts on other dimensions, unknown dimensions (reported later, when the query binds its names) and
    paths that are not keywords are returned as they are.
    """
    by_name = {dimension.name: dimension for dimension in cube.dimensions}
    resolved: list[Cut] = []
    for cut in cuts:
        dimension = by_name.get(cut.dimension)
        if dimension is None or dimension.role != "time":
            resolved.append(cut)
            continue
        resolved.append(_resolve_cut(cut, dimension, now, first_weekday))
    return tuple(resolved)


def _resolve_cut(cut: Cut, dimension: Dimension, now: datetime, first_weekday: int) -> Cut:
    hierarchy = dimension.hierarchy(cut.hierarchy)
    units = tuple(level_unit(level) for level in dimension.levels_of(hierarchy))

    def convert(path: Path | None) -> Path | None:
        if path is None or len(path) != 1 or path[0] is None:
            return path
        moment = relative_moment(path[0], now, first_weekday)
        return path if moment is None else calendar_path(moment, units, first_weekday)

    if isinstance(cut, PointCut):
        return replace(cut, path=convert(cut.path) or cut.path)
    if isinstance(cut, SetCut):
        return replace(cut, paths=tuple(convert(path) or path for path in cut.paths))
    assert isinstance(cut, RangeCut)
    return replace(cut, from_path=convert(cut.from_path), to_path=convert(cut.to_path))
