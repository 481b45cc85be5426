"""Cuboids as points of the lattice: which levels they keep, and which cuboid covers which query.

A cuboid keeps, for each of its dimensions, one level of one hierarchy, and stores the keys (and labels)
of every level on the path from the top to it. A query needs a set of levels (its drilldown and the levels
its cuts touch); a cuboid *covers* it when it stores every one of them.

>>> fine = CuboidSpec("c", (("time", "default", "month"),), frozenset({"time.year", "time.quarter", "time.month"}))
>>> covers(fine, frozenset({"time.year"})), covers(fine, frozenset({"time.day"}))
(True, False)
"""

from __future__ import annotations

from dataclasses import dataclass

from cube_models import Cube, Dimension


@dataclass(frozen=True, slots=True)
class CuboidSpec:
    """A cuboid to build or a built one: its name, the level kept per dimension, and the levels it stores.

    ``measures`` names the measures it holds, or ``None`` for every stored measure of its cube.
    """

    name: str
    grain: tuple[tuple[str, str, str], ...]  # (dimension, hierarchy, level), sorted by dimension
    levels: frozenset[str]  # "dimension.level" of every stored level
    measures: tuple[str, ...] | None = None

    def levels_of(self, dimension: str) -> frozenset[str]:
        return frozenset(level for level in self.levels if level.split(".", 1)[0] == dimension)

    def levels_by_dimension(self) -> dict[str, frozenset[str]]:
        return {dimension: self.levels_of(dimension) for dimension in self.dimensions}

    @property
    def dimensions(self) -> tuple[str, ...]:
        return tuple(dimension for dimension, _, _ in self.grain)


def covers(cuboid: CuboidSpec, needed: frozenset[str]) -> bool:
    """``cuboid`` can answer a query needing ``needed`` levels (it stores each of them)."""
    return needed <= cuboid.levels


def make_spec(cube: Cube, name: str, grain: tuple[tuple[str, str, str], ...]) -> CuboidSpec:
    levels: set[str] = set()
    for dimension_name, hierarchy_name, level_name in grain:
        dimension = cube.dimension(dimension_name)
        hierarchy = dimension.hierarchy(hierarchy_name)
        path = hierarchy.levels[: hierarchy.depth_of(level_name)]
        levels.update(f"{dimension_name}.{level}" for level in path)
    return CuboidSpec(name, tuple(sorted(grain)), frozenset(levels))


def declared_cuboids(cube: Cube) -> list[CuboidSpec]:
    """The cuboids the model declares, or the default set when it declares none."""
    if cube.cuboids:
        return [make_spec(cube, declaration.name, declaration.levels) for declaration in cube.cuboids]
    return default_cuboids(cube)


def default_cuboids(cube: Cube) -> list[CuboidSpec]:
    """One cuboid per dimension and hierarchy, at its deepest level not marked high-cardinality.

    Cheap to build and small, they answer every single-dimension question (and totals); combinations
    of dimensions need declared cuboids.
    """
    specs: list[CuboidSpec] = []
    for dimension in cube.dimensions:
        for hierarchy in dimension.hierarchies:
            level = _deepest_low_cardinality(dimension, hierarchy.levels)
            if level is None:
                continue
            name = (
                f"{dimension.name}_{level}"
                if hierarchy.name == dimension.default_hierarchy_name
                else (f"{dimension.name}_{hierarchy.name}_{level}")
            )
            specs.append(make_spec(cube, name, ((dimension.name, hierarchy.name, level),)))
    return specs


def _deepest_low_cardinality(dimension: Dimension, levels: tuple[str, ...]) -> str | None:
    chosen = None
    for name in levels:
        if dimension.level(name).cardinality == "high":
            break
        chosen = name
    return chosen


def build_order(specs: list[CuboidSpec]) -> list[CuboidSpec]:
    """Finer cuboids first, so each coarser one can be computed from an already built ancestor."""
    return sorted(specs, key=lambda spec: (-len(spec.levels), spec.name))
