"""The periods a reference lookup reads: ranges on the drilled hierarchy, as narrow as the cut allows.

Reference periods lie before the cells shown (the previous period, the same period a year before, the
year's first period, the periods of a moving window) and, when the drilled level is finer than the cut,
within them. When the cuts on the time dimension are paths of one depth on the drilled hierarchy, the
ranges are spelled at that depth: a cut on 10 May 2025 drilled by hour reads 9 and 10 May for the
previous hour, and 9 to 11 May 2024 for the same hour a year before (one period of margin either side,
so ISO weeks and leap days never fall outside). That needs keys that can be spelled back exactly:
numbers or dates (the cut's values are converted to the key's type), or text in the very style the cut
used (``Q1``). Otherwise the range is whole years of the hierarchy's top level (when it is a year that
the cuts bound), else all periods.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from cube_server.calculations.bind import BoundCalculation
from cube_server.calculations.periods import (
    PERIODS_PER_YEAR,
    UNITS_PER_DAY,
    YEAR_ROLES,
    PeriodScheme,
    UndecodablePeriodError,
)
from cube_server.calculations.syntax import MovingAverage, PeriodComparison, Reference, RunningPeriod, RunningTotal
from cube_server.query import Cut, PointCut, RangeCut, SetCut
from cube_server.resolve import BoundCut, DrillLevels, cut_paths

EXACT_KEY_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER")
EXACT_KEY_TYPES += ("UBIGINT", "DATE")
TEXT_KEY_TYPES = ("VARCHAR", "TEXT", "STRING")
# The fewest and the most days in a period of each grain: how many periods of one grain another holds.
_DAY = Fraction(1)
FEWEST_DAYS = {"year": 365, "isoyear": 364, "quarter": 90, "month": 28, "isoweek": 7}
MOST_DAYS = {"year": 366, "isoyear": 371, "quarter": 92, "month": 31, "isoweek": 7}
for _grain, _units in UNITS_PER_DAY.items():
    FEWEST_DAYS[_grain] = MOST_DAYS[_grain] = _DAY / _units  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Span:
    first: int
    last: int


def reference_ranges(
    cuts: tuple[BoundCut, ...],
    along: DrillLevels,
    calculations: list[BoundCalculation],
    key_types: dict[str, str],
) -> list[RangeCut | None]:
    """The ranges to read, one lookup each (``[None]``: all periods)."""
    narrow = _narrow_ranges(cuts, along, calculations, key_types)
    if narrow is not None:
        return narrow
    first, last = year_span(cuts, along)
    if first is None and last is None:
        return [None]
    back = max(_years_back(calc) for calc in calculations)
    low = None if first is None else (str(first - back),)
    high = None if last is None else (str(last),)
    return [RangeCut(along.dimension.name, low, high, along.hierarchy.name)]


# ---- ranges at the cut's depth ---------------------------------------------------------------------
def _narrow_ranges(
    cuts: tuple[BoundCut, ...],
    along: DrillLevels,
    calculations: list[BoundCalculation],
    key_types: dict[str, str],
) -> list[RangeCut | None] | None:
    # Negated cuts and cuts on another hierarchy only take cells away: the reference may ignore them.
    bounding = [
        bound.cut
        for bound in cuts
        if bound.dimension.name == along.dimension.name and not bound.cut.invert and _on_drilled(bound, along)
    ]
    paths = [cut_paths(cut) for cut in bounding]
    depths = {len(path) for cut in paths for path in cut}
    if not paths or len(depths) != 1 or any(_open_range(cut) for cut in bounding):
        return None
    depth = depths.pop()
    levels = along.levels[:depth]
    scheme = PeriodScheme(str(levels[-1].role), tuple(level.role for level in levels))
    example = paths[0][0]
    if scheme.grain not in PERIODS_PER_YEAR or not _spellable(scheme, levels, example, key_types):
        return None
    try:
        spans = [[scheme.ordinal(path) for path in cut] for cut in paths]
    except UndecodablePeriodError:
        return None
    first = max(min(ordinals) for ordinals in spans)
    last = min(max(ordinals) for ordinals in spans)
    needed = _merged([_needed(calc, scheme, first, last) for calc in calculations])
    ranges: list[RangeCut | None] = []
    for span in needed:
        low, high = spell_path(scheme, span.first, example), spell_path(scheme, span.last, example)
        if low is None or high is None:
            return None
        ranges.append(RangeCut(along.dimension.name, low, high, along.hierarchy.name))
    return ranges


def _on_drilled(bound: BoundCut, along: DrillLevels) -> bool:
    depth = max(len(path) for path in cut_paths(bound.cut))
    return bound.levels[:depth] == along.levels[:depth]


def _open_range(cut: Cut) -> bool:
    return isinstance(cut, RangeCut) and (cut.from_path is None or cut.to_path is None)


def _needed(calc: BoundCalculation, scheme: PeriodScheme, first: int, last: int) -> Span:
    """The periods (at the cut's grain) whose values the calculation reads for cells within [first, last]."""
    spec = calc.spec
    if isinstance(spec, PeriodComparison) and spec.reference is Reference.LAST_YEAR:
        return Span(_year_before(scheme, first) - 1, _year_before(scheme, last) + 1)
    if isinstance(spec, PeriodComparison):
        return Span(first - 1, last)
    if isinstance(spec, RunningTotal):
        if spec.period is RunningPeriod.YEAR:
            return Span(scheme.year_start(first), last)
        return Span(scheme.quarter_start(first) if scheme.has_quarters else first, last)
    assert isinstance(spec, MovingAverage) and calc.scheme is not None
    per_period = max(1, math.floor(Fraction(FEWEST_DAYS[scheme.grain]) / Fraction(MOST_DAYS[calc.scheme.grain])))
    return Span(first - math.ceil((spec.periods - 1) / per_period), last)


def _year_before(scheme: PeriodScheme, ordinal: int) -> int:
    earlier = scheme.last_year(ordinal)
    if earlier is not None:
        return earlier
    # 29 February and ISO week 53 have no same period a year before: one period less than a year back
    return ordinal - (365 * UNITS_PER_DAY[scheme.grain] if scheme.grain in UNITS_PER_DAY else 52)


def _merged(spans: list[Span]) -> list[Span]:
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: s.first):
        if merged and span.first <= merged[-1].last + 1:
            merged[-1] = Span(merged[-1].first, max(merged[-1].last, span.last))
        else:
            merged.append(span)
    return merged


# ---- spelling periods as the cut spells them ----------------------------------------------------------
def _spellable(scheme: PeriodScheme, levels: Any, example: tuple[str | None, ...], key_types: dict[str, str]) -> bool:
    """Every level's keys can be spelled from an ordinal: exact types, or text the cut's own style gives back."""
    if any(element is None for element in example):
        return False
    try:
        again = spell_path(scheme, scheme.ordinal(example), example)
    except UndecodablePeriodError:
        return False
    for index, level in enumerate(levels):
        kind = key_types.get(level.key_attribute.ref, "").upper()
        if kind in EXACT_KEY_TYPES:
            continue
        if kind not in TEXT_KEY_TYPES or again is None or again[index] != example[index]:
            return False
    return again is not None


def spell_path(scheme: PeriodScheme, ordinal: int, example: tuple[str | None, ...]) -> tuple[str, ...] | None:
    """The path of an ordinal, each element in the style of the example path's (None when one cannot be)."""
    parts = scheme.parts_of(ordinal)
    spelled = []
    for role, model in zip(scheme.roles, example, strict=True):
        element = _element(role, parts, (model or "").strip())
        if element is None:
            return None
        spelled.append(element)
    path = tuple(spelled)
    try:
        return path if scheme.ordinal(path) == ordinal else None
    except UndecodablePeriodError:
        return None


def _element(role: str | None, parts: dict[str, Any], model: str) -> str | None:
    if role not in parts:
        return None
    value = parts[role]
    if role == "quarter" and model[:1] in ("Q", "q"):
        return f"{model[0]}{value}"
    if role == "month" and re.fullmatch(r"[0-9]{6}", model):
        return f"{parts['year']:04d}{value:02d}"
    if role == "month" and re.fullmatch(r"[0-9]{4}-[0-9]{2}", model):
        return f"{parts['year']:04d}-{value:02d}"
    if role == "day":
        when = parts["date"]
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", model):
            return str(when.isoformat())
        if re.fullmatch(r"[0-9]{8}", model):
            return str(when.strftime("%Y%m%d"))
    text = str(value)
    return text.zfill(len(model)) if model.startswith("0") else text


# ---- whole years ------------------------------------------------------------------------------------------
def _years_back(calc: BoundCalculation) -> int:
    """How many years before the first one shown the calculation may read."""
    spec = calc.spec
    if isinstance(spec, PeriodComparison):
        return 1
    if isinstance(spec, MovingAverage):
        assert calc.scheme is not None
        return math.ceil((spec.periods - 1) / PERIODS_PER_YEAR[calc.scheme.grain])
    return 0  # a running total starts within the year shown


def year_span(cuts: tuple[BoundCut, ...], along: DrillLevels) -> tuple[int | None, int | None]:
    """The years the cuts on the time dimension allow, as (first, last); None where they do not bound them.

    Only cuts on a hierarchy with the same top level, a year, bound the span; negated cuts never do.
    """
    top = along.levels[0]
    low: int | None = None
    high: int | None = None
    if top.role not in YEAR_ROLES:
        return None, None
    for bound in cuts:
        cut = bound.cut
        if bound.dimension.name != along.dimension.name or cut.invert or bound.levels[0] != top:
            continue
        try:
            first, last = _years_of(cut)
        except ValueError:
            continue  # a year that is not a number bounds nothing we can count back from
        low = first if low is None else (low if first is None else max(low, first))
        high = last if high is None else (high if last is None else min(high, last))
    return low, high


def _years_of(cut: Cut) -> tuple[int | None, int | None]:
    if isinstance(cut, (PointCut, SetCut)):
        years = [int(_year(path[0])) for path in cut_paths(cut)]
        return min(years), max(years)
    assert isinstance(cut, RangeCut)
    first = int(_year(cut.from_path[0])) if cut.from_path else None
    last = int(_year(cut.to_path[0])) if cut.to_path else None
    return first, last


def _year(element: str | None) -> str:
    if element is None:
        raise ValueError("the NULL member is no year")
    return element
