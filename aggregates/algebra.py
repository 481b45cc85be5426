"""How each measure is stored in a cuboid and merged back: the measure algebra.

Every stored measure keeps one or more *partials* (``sum``, ``count``, ``min``, ``max``, ``distinct``) and
declares how partials merge when cells are rolled up. ``avg`` is kept as sum and count. A distinct count
is exact: it is kept as the count at the cuboid's own grain and may only be summed over rows that differ
in dimensions its counted key determines (an account has one segment, so distinct accounts per segment
add up to distinct accounts). Calculated measures are never stored.
"""

from __future__ import annotations

from cube_models import AggFunc, Measure

# function -> partials: (partial name, how the partial is computed from facts, how partials merge)
PARTIALS: dict[AggFunc, tuple[tuple[str, str, str], ...]] = {
    AggFunc.SUM: (("sum", "sum", "sum"),),
    AggFunc.COUNT: (("count", "count_rows", "sum"),),
    AggFunc.COUNT_NONEMPTY: (("count", "count", "sum"),),
    AggFunc.MIN: (("min", "min", "min"),),
    AggFunc.MAX: (("max", "max", "max"),),
    AggFunc.AVG: (("sum", "sum", "sum"), ("count", "count", "sum")),
    AggFunc.COUNT_DISTINCT: (("distinct", "count_distinct", "sum"),),
}


def partials(measure: Measure) -> tuple[tuple[str, str, str], ...]:
    assert measure.function is not None, "calculated measures are never stored"
    return PARTIALS[measure.function]


def partial_column(measure: Measure, partial: str) -> str:
    return f"{measure.name}__{partial}"


def can_merge(
    measure: Measure, cuboid_levels: dict[str, frozenset[str]], fixed_levels: dict[str, frozenset[str]]
) -> bool:
    """Whether ``measure`` stored in a cuboid gives the exact answer for a query.

    ``cuboid_levels`` maps each dimension of the cuboid to the levels it stores; ``fixed_levels`` maps a
    dimension to the levels the query keeps apart (grouped by, or fixed by a point cut). Only a distinct
    count is restricted: every cuboid dimension must be kept apart by the query, or determined by the key.
    """
    if measure.function is not AggFunc.COUNT_DISTINCT:
        return True
    for dimension, levels in cuboid_levels.items():
        if dimension in measure.determined_dimensions:
            continue
        if not levels <= fixed_levels.get(dimension, frozenset()):
            return False
    return True
