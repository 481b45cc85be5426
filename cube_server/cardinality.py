"""The high-cardinality guard: no unpaged drilldown through a ``cardinality: high`` level the cell does not fix.

A level (or a whole dimension) marked ``high`` has too many members to list at once; a drilldown through
it is answered only when the caller pages the result, or when a point or set cut names members down to
that level (so the rows under it are few).
"""

from __future__ import annotations

from cube_models import Level
from cube_server.errors import HighCardinalityError
from cube_server.query import PointCut, SetCut
from cube_server.resolve import BoundCut, DrillLevels, cut_paths


def high_cardinality_levels(cuts: tuple[BoundCut, ...], drilldown: tuple[DrillLevels, ...]) -> list[Level]:
    """The drilled levels marked high-cardinality that no point or set cut fixes."""
    found = []
    for drill in drilldown:
        for level in drill.levels:
            is_high = level.cardinality == "high" or drill.dimension.cardinality == "high"
            if is_high and not _is_fixed(cuts, drill, level):
                found.append(level)
    return found


def _is_fixed(cuts: tuple[BoundCut, ...], drill: DrillLevels, level: Level) -> bool:
    """A point or set cut (not negated) whose every path reaches ``level`` in its own hierarchy."""
    for bound in cuts:
        cut = bound.cut
        if bound.dimension.name != drill.dimension.name or cut.invert or not isinstance(cut, PointCut | SetCut):
            continue
        names = [each.name for each in bound.levels]
        if level.name not in names:
            continue
        depth = names.index(level.name) + 1
        if all(len(path) >= depth for path in cut_paths(cut)):
            return True
    return False


def check_low_cardinality(cuts: tuple[BoundCut, ...], drilldown: tuple[DrillLevels, ...], is_paged: bool) -> None:
    """Raise :class:`HighCardinalityError` for an unpaged drilldown through an unfixed high-cardinality level."""
    if is_paged:
        return
    levels = high_cardinality_levels(cuts, drilldown)
    if levels:
        names = ", ".join(level.ref for level in levels)
        raise HighCardinalityError(
            f"cannot drill down through high-cardinality levels ({names}) without both page and pagesize, "
            "or a point or set cut on the level",
            levels=[level.ref for level in levels],
        )
