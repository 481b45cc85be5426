"""Bind a query's names to the model: dimensions, hierarchies, levels, measures and order items."""

from __future__ import annotations

from dataclasses import dataclass

from cube_models import Cube, Dimension, Hierarchy, Level, Measure
from cube_server.errors import CutSyntaxError, DrilldownError, InvalidParameterError, PathTooLongError
from cube_server.query import Cut, DrilldownItem, OrderItem, PointCut, SetCut

# Each member of a set cut is one more condition to compile and plan (about a millisecond each): a bound keeps one
# request from holding a core for minutes (a 1 MB body can list half a million members).
MAX_CUT_MEMBERS = 1_000


@dataclass(frozen=True, slots=True)
class DrillLevels:
    """One drilled dimension: its hierarchy and the levels from the top down to the drilled one."""

    dimension: Dimension
    hierarchy: Hierarchy
    levels: tuple[Level, ...]

    @property
    def level(self) -> Level:
        return self.levels[-1]

    @property
    def key(self) -> str:
        """Cubes' ``levels`` key: the dimension, with ``@hierarchy`` when not the default one."""
        if self.hierarchy.name == self.dimension.default_hierarchy_name:
            return self.dimension.name
        return f"{self.dimension.name}@{self.hierarchy.name}"


@dataclass(frozen=True, slots=True)
class BoundCut:
    cut: Cut
    dimension: Dimension
    hierarchy: Hierarchy
    levels: tuple[Level, ...]


@dataclass(frozen=True, slots=True)
class BoundOrder:
    kind: str  # "measure", "key" or "label"
    ref: str
    descending: bool


def bind_cuts(cube: Cube, cuts: tuple[Cut, ...]) -> tuple[BoundCut, ...]:
    members = sum(len(cut_paths(cut)) for cut in cuts)
    if members > MAX_CUT_MEMBERS:
        raise CutSyntaxError(
            f"the cuts name {members} members; a query may name at most {MAX_CUT_MEMBERS}", members=members
        )
    bound = []
    for cut in cuts:
        dimension = cube.dimension(cut.dimension)
        hierarchy = dimension.hierarchy(cut.hierarchy)
        levels = dimension.levels_of(hierarchy)
        for path in cut_paths(cut):
            if len(path) > len(levels):
                names = ", ".join(level.name for level in levels)
                raise PathTooLongError(
                    f"path {list(path)} is longer than hierarchy {hierarchy.name!r} of {dimension.name!r} ({names})",
                    dimension=dimension.name,
                )
            if len(path) == 0:
                raise CutSyntaxError(f"empty path in cut on {dimension.name!r}", dimension=dimension.name)
        bound.append(BoundCut(cut, dimension, hierarchy, levels))
    return tuple(bound)


def cut_paths(cut: Cut) -> list[tuple[str | None, ...]]:
    if isinstance(cut, PointCut):
        return [cut.path]
    if isinstance(cut, SetCut):
        return list(cut.paths)
    return [path for path in (cut.from_path, cut.to_path) if path is not None]


def point_depth(cuts: tuple[BoundCut, ...], dimension: str, hierarchy: str) -> int:
    """Depth of the deepest non-negated point cut on a dimension's hierarchy (0 when none)."""
    depth = 0
    for bound in cuts:
        cut = bound.cut
        if (
            isinstance(cut, PointCut)
            and not cut.invert
            and bound.dimension.name == dimension
            and bound.hierarchy.name == hierarchy
        ):
            depth = max(depth, len(cut.path))
    return depth


def bind_drilldown(cube: Cube, items: tuple[DrilldownItem, ...], cuts: tuple[BoundCut, ...]) -> tuple[DrillLevels, ...]:
    result: list[DrillLevels] = []
    for item in items:
        dimension = cube.dimension(item.dimension)
        hierarchy = dimension.hierarchy(item.hierarchy)
        levels = dimension.levels_of(hierarchy)
        if item.level is not None:
            dimension.level(item.level)  # unknown level -> unknown_level
            if item.level not in hierarchy.levels:
                raise DrilldownError(
                    f"level {item.level!r} is not in hierarchy {hierarchy.name!r} of {dimension.name!r}",
                    dimension=dimension.name,
                    level=item.level,
                )
            depth = hierarchy.depth_of(item.level)
        else:
            depth = point_depth(cuts, dimension.name, hierarchy.name) + 1
            if depth > len(levels):
                raise DrilldownError(
                    f"hierarchy {hierarchy.name!r} of {dimension.name!r} has only {len(levels)} levels; "
                    f"cannot drill to level {depth}",
                    dimension=dimension.name,
                )
        if any(existing.dimension.name == dimension.name for existing in result):
            raise DrilldownError(f"dimension {dimension.name!r} is drilled twice", dimension=dimension.name)
        result.append(DrillLevels(dimension, hierarchy, levels[:depth]))
    return tuple(result)


def bind_measures(cube: Cube, names: tuple[str, ...]) -> tuple[tuple[Measure, ...], tuple[Measure, ...]]:
    """The requested measures and the stored (non-calculated) measures needed to compute them."""
    requested = tuple(cube.measure(name) for name in names) if names else cube.measures
    if len(set(m.name for m in requested)) != len(requested):
        raise InvalidParameterError("a measure is listed twice", measures=list(names))
    needed: dict[str, Measure] = {}

    def add(measure: Measure) -> None:
        if measure.formula is None:
            needed.setdefault(measure.name, measure)
            return
        for name in sorted(measure.formula.names()):
            add(cube.measure(name))

    for measure in requested:
        add(measure)
    return requested, tuple(needed.values())


def bind_order(
    cube: Cube, items: tuple[OrderItem, ...], drilldown: tuple[DrillLevels, ...], measures: tuple[Measure, ...]
) -> tuple[BoundOrder, ...]:
    levels = {level.ref: level for drill in drilldown for level in drill.levels}
    measure_names = {m.name for m in measures}
    result = []
    for item in items:
        ref = item.ref
        if ref in measure_names:
            result.append(BoundOrder("measure", ref, item.descending))
        elif ref in levels:
            result.append(BoundOrder("key", ref, item.descending))
        elif ref.endswith(".label") and ref[: -len(".label")] in levels:
            level = levels[ref[: -len(".label")]]
            kind = "label" if level.label_attribute else "key"
            result.append(BoundOrder(kind, level.ref, item.descending))
        else:
            known = [*measure_names, *levels]
            raise InvalidParameterError(
                f"cannot order by {ref!r}: not a requested measure or a drilled level", order=ref, allowed=known
            )
    return tuple(result)
