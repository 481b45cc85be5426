"""The span of time a path of calendar parts names: ``(2025, 1, 3)`` as year, quarter, month is March 2025.

A cut on time levels extracted from one timestamp column (``year(charged_at) = 2025 AND month(...) = 3``)
gets the same condition as a range of the column itself (``charged_at >= 2025-03-01 AND < 2025-04-01``)
beside it: a range a scan can use to skip the row groups and files outside it, which extracted parts hide.
"""

from __future__ import annotations

import datetime as dt

# The calendar parts a level may extract, coarsest first; a quarter may stand between the year and the month.
PARTS = ("year", "quarter", "month", "day", "hour", "minute", "second")
_CHAIN = ("year", "month", "day", "hour", "minute", "second")
_STEP = {
    "day": dt.timedelta(days=1),
    "hour": dt.timedelta(hours=1),
    "minute": dt.timedelta(minutes=1),
    "second": dt.timedelta(seconds=1),
}


def period_of(path: list[tuple[str, str]]) -> tuple[dt.datetime, dt.datetime] | None:
    """``[start, end)`` of the period ``(part, value)`` pairs name, or None when they are not a calendar path."""
    parts = [part for part, _ in path]
    if [part for part in parts if part != "quarter"] != list(_CHAIN[: len([p for p in parts if p != "quarter"])]):
        return None
    if "quarter" in parts and parts.index("quarter") != 1:
        return None
    try:
        values = {part: int(value) for part, value in path}
        quarter, month = values.get("quarter"), values.get("month")
        if quarter is not None and month is not None and (month - 1) // 3 + 1 != quarter:
            return None  # no such month: the extracted parts already select nothing
        if month is None and quarter is not None:
            month = 3 * (quarter - 1) + 1
        start = dt.datetime(
            values["year"], month or 1, values.get("day", 1), values.get("hour", 0), values.get("minute", 0),
            values.get("second", 0),
        )  # fmt: skip
        last = parts[-1]
        if last == "year":
            end = start.replace(year=start.year + 1)
        elif last in ("quarter", "month"):
            months = start.month - 1 + (3 if last == "quarter" else 1)
            end = start.replace(year=start.year + months // 12, month=months % 12 + 1)
        else:
            end = start + _STEP[last]
    except (KeyError, ValueError, OverflowError):
        return None
    return start, end
