"""From a bound query to what it needs of a cuboid, and the router's verdict in words for explain."""

from __future__ import annotations

from typing import Any

from aggregates.router import QueryNeeds, Route
from cube_models import Measure
from cube_server.query import PointCut, SetCut
from cube_server.resolve import BoundCut, DrillLevels, cut_paths


def needs_of(
    cuts: tuple[BoundCut, ...], drilldown: tuple[DrillLevels, ...], measures: tuple[Measure, ...]
) -> QueryNeeds:
    """Levels grouped or cut on, levels kept apart per dimension, and values allowed on top levels."""
    levels: set[str] = set()
    fixed: dict[str, set[str]] = {}
    partition_values: dict[str, set[str]] = {}
    for drill in drilldown:
        refs = {level.ref for level in drill.levels}
        levels |= refs
        fixed.setdefault(drill.dimension.name, set()).update(refs)
    for bound in cuts:
        depth = max((len(path) for path in cut_paths(bound.cut)), default=0)
        touched = {level.ref for level in bound.levels[:depth]}
        levels |= touched
        cut = bound.cut
        if isinstance(cut, PointCut) and not cut.invert:
            fixed.setdefault(bound.dimension.name, set()).update(touched)
        if isinstance(cut, (PointCut, SetCut)) and not cut.invert:
            paths = [cut.path] if isinstance(cut, PointCut) else list(cut.paths)
            top = bound.levels[0].ref
            values = {_canonical(path[0]) for path in paths if path and path[0] is not None}
            partition_values[top] = partition_values.get(top, values) & values if top in partition_values else values
    return QueryNeeds(
        frozenset(levels),
        {dimension: frozenset(refs) for dimension, refs in fixed.items()},
        measures,
        {level: frozenset(values) for level, values in partition_values.items()},
    )


def _canonical(value: str) -> str:
    """Partition directories are named by the key's text: 2025, not 02025."""
    return str(int(value)) if value.strip().lstrip("-").isdigit() else value


def source_label(route: Route) -> str:
    return f"cuboid:{route.chosen.name}" if route.chosen is not None else "facts"


def candidates_of(route: Route) -> list[dict[str, Any]]:
    return [
        {"cuboid": c.cuboid, "usable": c.usable, "reason": c.reason, "estimated_rows": c.estimated_rows}
        for c in route.candidates
    ]
