"""Analyst calculations, computed after the cuboid lookup over the cells the engine already answers.

Shares of the total and of the parent, period-over-period change and growth (previous period, same
period last year), running totals (year- and quarter-to-date), ranks and top/bottom N within a parent,
and moving averages. Ask for them with ``Query(calculations=parse_calculations("growth(revenue, previous)"))``
and ``CubeEngine.aggregate``: each becomes a column of kind ``"calculation"`` named like
``revenue__growth_previous``. The grammar is in :mod:`~cube_server.calculations.syntax`, the binding to a
query in :mod:`~cube_server.calculations.bind`, the lookups beside the cells shown in
:mod:`~cube_server.calculations.lookups` (the periods they read in :mod:`~cube_server.calculations.spans`,
period arithmetic in :mod:`~cube_server.calculations.periods`), the semantics in
:mod:`~cube_server.calculations.evaluate`, the rounding in :mod:`~cube_server.calculations.arithmetic`, and
order and paging in :mod:`~cube_server.calculations.plan`.
"""

from __future__ import annotations

from cube_server.calculations.bind import BoundCalculation, bind_calculations, with_calculated_measures
from cube_server.calculations.plan import CalculationPlan
from cube_server.calculations.syntax import (
    Calculation,
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
    format_calculation,
    format_calculations,
    parse_calculation,
    parse_calculations,
)

__all__ = [
    "BoundCalculation",
    "Calculation",
    "CalculationPlan",
    "Comparison",
    "MovingAverage",
    "PeriodComparison",
    "Rank",
    "Reference",
    "RunningPeriod",
    "RunningTotal",
    "Share",
    "ShareOf",
    "TopN",
    "bind_calculations",
    "format_calculation",
    "format_calculations",
    "parse_calculation",
    "parse_calculations",
    "with_calculated_measures",
]
