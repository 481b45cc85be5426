"""The grammar of analyst calculations: frozen specs with a round-trip parse/format pair.

A calculation is a function call over a measure; several are separated by ``|`` (as cuts are).
Arguments are names or positive integers; an optional last argument names the drilled dimension the
calculation works along (by default: the drilled ``role: time`` dimension for period calculations,
the last drilled dimension for the others).

=================================  ========================================  ==============================
form                               value per cell                            output column
=================================  ========================================  ==============================
``share(revenue, total)``          revenue / revenue over the whole cut      ``revenue__share_total``
``share(revenue, parent[, dim])``  revenue / revenue of the parent member    ``revenue__share_parent``
``change(revenue, previous)``      revenue - revenue of the previous period  ``revenue__change_previous``
``growth(revenue, last_year)``     change / revenue of the same period a     ``revenue__growth_last_year``
                                   year before
``ytd(revenue)``, ``qtd(revenue)`` running total from the year's (quarter's) ``revenue__ytd``
                                   first period
``rank(revenue[, dim])``           1 for the largest within the parent       ``revenue__rank``
``top(5, revenue[, dim])``         the rank; keeps only ranks 1 to 5         ``revenue__top_5``
``bottom(5, revenue[, dim])``      the rank from the smallest; keeps 1 to 5  ``revenue__bottom_5``
``moving_avg(revenue, 3[, dim])``  mean over this period and the 2 before    ``revenue__moving_avg_3``
=================================  ========================================  ==============================

A dimension named explicitly is part of the column name: ``rank(revenue, geography)`` is
``revenue__rank_geography``.

>>> parse_calculations("growth(revenue, previous)|top(3, revenue, geography)")
(PeriodComparison(measure='revenue', result=<Comparison.GROWTH: 'growth'>, \
reference=<Reference.PREVIOUS: 'previous'>, dimension=None), TopN(count=3, measure='revenue', bottom=False, \
dimension='geography'))
>>> format_calculations(parse_calculations(" share( revenue,parent ) | moving_avg(call_minutes,3)"))
'share(revenue, parent)|moving_avg(call_minutes, 3)'
>>> [c.name for c in parse_calculations("ytd(revenue)|bottom(2, arpu)|rank(revenue, product)")]
['revenue__ytd', 'arpu__bottom_2', 'revenue__rank_product']
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from cube_server.errors import CalculationError

MAX_CALCULATION_STRING = 20_000
MAX_TOP = 10_000  # top/bottom N
MAX_PERIODS = 1_000  # moving average window
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_COUNT = re.compile(r"[0-9]{1,9}")
_CALL = re.compile(r"\s*([a-z_]+)\s*\((.*)\)\s*", re.DOTALL)


class ShareOf(StrEnum):
    TOTAL = "total"
    PARENT = "parent"


class Comparison(StrEnum):
    CHANGE = "change"  # the difference to the reference period
    GROWTH = "growth"  # the difference as a fraction of the reference period's value


class Reference(StrEnum):
    PREVIOUS = "previous"
    LAST_YEAR = "last_year"


class RunningPeriod(StrEnum):
    YEAR = "ytd"
    QUARTER = "qtd"


def _suffix(dimension: str | None) -> str:
    return f"_{dimension}" if dimension else ""


@dataclass(frozen=True, slots=True)
class Share:
    measure: str
    of: ShareOf
    dimension: str | None = None

    @property
    def name(self) -> str:
        return f"{self.measure}__share_{self.of}{_suffix(self.dimension)}"


@dataclass(frozen=True, slots=True)
class PeriodComparison:
    measure: str
    result: Comparison
    reference: Reference
    dimension: str | None = None

    @property
    def name(self) -> str:
        return f"{self.measure}__{self.result}_{self.reference}{_suffix(self.dimension)}"


@dataclass(frozen=True, slots=True)
class RunningTotal:
    measure: str
    period: RunningPeriod
    dimension: str | None = None

    @property
    def name(self) -> str:
        return f"{self.measure}__{self.period}{_suffix(self.dimension)}"


@dataclass(frozen=True, slots=True)
class Rank:
    measure: str
    dimension: str | None = None

    @property
    def name(self) -> str:
        return f"{self.measure}__rank{_suffix(self.dimension)}"


@dataclass(frozen=True, slots=True)
class TopN:
    count: int
    measure: str
    bottom: bool = False
    dimension: str | None = None

    @property
    def name(self) -> str:
        return f"{self.measure}__{'bottom' if self.bottom else 'top'}_{self.count}{_suffix(self.dimension)}"


@dataclass(frozen=True, slots=True)
class MovingAverage:
    measure: str
    periods: int
    dimension: str | None = None

    @property
    def name(self) -> str:
        return f"{self.measure}__moving_avg_{self.periods}{_suffix(self.dimension)}"


Calculation = Share | PeriodComparison | RunningTotal | Rank | TopN | MovingAverage
# The calculations that compare periods of a role: time dimension.
PERIOD_CALCULATIONS = (PeriodComparison, RunningTotal, MovingAverage)


# ---- parsing -------------------------------------------------------------------------------------
def _fail(text: str, message: str) -> CalculationError:
    return CalculationError(f"wrong calculation {text.strip()!r}: {message}", calculation=text.strip())


def _name(text: str, argument: str, what: str) -> str:
    if not _NAME.fullmatch(argument):
        raise _fail(text, f"{what} must be a name, not {argument!r}")
    return argument


def _count(text: str, argument: str, what: str, largest: int) -> int:
    if not _COUNT.fullmatch(argument) or not 1 <= int(argument) <= largest:
        raise _fail(text, f"{what} must be a whole number from 1 to {largest}, not {argument!r}")
    return int(argument)


def _choice(text: str, argument: str, choices: type[StrEnum]) -> str:
    allowed = [str(choice) for choice in choices]  # type: ignore[var-annotated]
    if argument not in allowed:
        raise _fail(text, f"expected one of {', '.join(allowed)}, not {argument!r}")
    return argument


def _arity(text: str, function: str, arguments: list[str], fewest: int, signature: str) -> str | None:
    """Check the number of arguments; the one past ``fewest``, if given, is the dimension."""
    if not fewest <= len(arguments) <= fewest + 1:
        raise _fail(text, f"{function} takes {signature}")
    return _name(text, arguments[fewest], "the dimension") if len(arguments) > fewest else None


def parse_calculation(text: str) -> Calculation:
    """Parse one calculation such as ``growth(revenue, last_year)``."""
    match = _CALL.fullmatch(text)
    if match is None:
        raise _fail(text, "expected function(argument, ...), e.g. growth(revenue, previous)")
    function = match.group(1)
    arguments = [argument.strip() for argument in match.group(2).split(",")]
    if function == "share":
        dimension = _arity(text, function, arguments, 2, "(measure, total|parent[, dimension])")
        of = ShareOf(_choice(text, arguments[1], ShareOf))
        if of is ShareOf.TOTAL and dimension is not None:
            raise _fail(text, "a share of the total names no dimension")
        return Share(_name(text, arguments[0], "the measure"), of, dimension)
    if function in ("change", "growth"):
        dimension = _arity(text, function, arguments, 2, "(measure, previous|last_year[, dimension])")
        reference = Reference(_choice(text, arguments[1], Reference))
        return PeriodComparison(_name(text, arguments[0], "the measure"), Comparison(function), reference, dimension)
    if function in ("ytd", "qtd"):
        dimension = _arity(text, function, arguments, 1, "(measure[, dimension])")
        return RunningTotal(_name(text, arguments[0], "the measure"), RunningPeriod(function), dimension)
    if function == "rank":
        dimension = _arity(text, function, arguments, 1, "(measure[, dimension])")
        return Rank(_name(text, arguments[0], "the measure"), dimension)
    if function in ("top", "bottom"):
        dimension = _arity(text, function, arguments, 2, "(count, measure[, dimension])")
        count = _count(text, arguments[0], "the count", MAX_TOP)
        return TopN(count, _name(text, arguments[1], "the measure"), function == "bottom", dimension)
    if function == "moving_avg":
        dimension = _arity(text, function, arguments, 2, "(measure, periods[, dimension])")
        periods = _count(text, arguments[1], "the number of periods", MAX_PERIODS)
        return MovingAverage(_name(text, arguments[0], "the measure"), periods, dimension)
    raise _fail(text, f"unknown function {function!r}; one of {', '.join(FUNCTIONS)}")


FUNCTIONS = ("share", "change", "growth", "ytd", "qtd", "rank", "top", "bottom", "moving_avg")


def parse_calculations(text: str | None) -> tuple[Calculation, ...]:
    """Parse ``|``-separated calculations (empty or None gives none)."""
    if not text or not text.strip():
        return ()
    if len(text) > MAX_CALCULATION_STRING:
        raise CalculationError(f"calculation string longer than {MAX_CALCULATION_STRING} characters")
    return tuple(parse_calculation(piece) for piece in text.split("|"))


# ---- formatting ----------------------------------------------------------------------------------
def _call(function: str, *arguments: object) -> str:
    return f"{function}({', '.join(str(argument) for argument in arguments if argument is not None)})"


def format_calculation(calculation: Calculation) -> str:
    if isinstance(calculation, Share):
        return _call("share", calculation.measure, calculation.of, calculation.dimension)
    if isinstance(calculation, PeriodComparison):
        c = calculation
        return _call(str(c.result), c.measure, c.reference, c.dimension)
    if isinstance(calculation, RunningTotal):
        return _call(str(calculation.period), calculation.measure, calculation.dimension)
    if isinstance(calculation, Rank):
        return _call("rank", calculation.measure, calculation.dimension)
    if isinstance(calculation, TopN):
        function = "bottom" if calculation.bottom else "top"
        return _call(function, calculation.count, calculation.measure, calculation.dimension)
    return _call("moving_avg", calculation.measure, calculation.periods, calculation.dimension)


def format_calculations(calculations: tuple[Calculation, ...] | list[Calculation]) -> str:
    return "|".join(format_calculation(calculation) for calculation in calculations)
