"""Choose the cuboid that answers a query: every one that covers it and holds its measures, fewest rows wins.

Pure: it reads the manifest and the query's needs, and explains every candidate it rejects.
"""

from __future__ import annotations

from dataclasses import dataclass

from aggregates.algebra import can_merge
from aggregates.lattice import covers
from aggregates.store import BuiltCuboid
from cube_models import Measure


@dataclass(frozen=True, slots=True)
class QueryNeeds:
    """What a query asks of a cuboid.

    ``levels``: every level the query groups by or cuts on; ``fixed``: per dimension, the levels the query
    keeps apart (grouped by, or fixed by a point cut); ``partition_values``: the values a cut allows on a
    level, used to estimate how many rows a partitioned cuboid scans.
    """

    levels: frozenset[str]
    fixed: dict[str, frozenset[str]]
    measures: tuple[Measure, ...]
    partition_values: dict[str, frozenset[str]]


@dataclass(frozen=True, slots=True)
class Candidate:
    cuboid: str
    usable: bool
    reason: str
    estimated_rows: int | None


@dataclass(frozen=True, slots=True)
class Route:
    chosen: BuiltCuboid | None
    candidates: tuple[Candidate, ...]


def estimate_rows(cuboid: BuiltCuboid, needs: QueryNeeds) -> int:
    """Rows scanned after partition pruning (a cut on the partition level reads only its partitions)."""
    if cuboid.partition_level and cuboid.partition_level in needs.partition_values and cuboid.partitions:
        allowed = needs.partition_values[cuboid.partition_level]
        return sum(rows for value, rows in cuboid.partitions.items() if value in allowed)
    return cuboid.rows


def route(cuboids: list[BuiltCuboid], needs: QueryNeeds) -> Route:
    candidates: list[Candidate] = []
    best: tuple[int, str, BuiltCuboid] | None = None
    for cuboid in cuboids:
        spec = cuboid.spec
        missing = sorted(needs.levels - spec.levels)
        if not covers(spec, needs.levels):
            candidates.append(Candidate(cuboid.name, False, f"does not store {', '.join(missing)}", None))
            continue
        absent = [m.name for m in needs.measures if m.name not in cuboid.measures]
        if absent:
            candidates.append(Candidate(cuboid.name, False, f"does not hold {', '.join(absent)}", None))
            continue
        cuboid_levels = spec.levels_by_dimension()
        unmergeable = [m.name for m in needs.measures if not can_merge(m, cuboid_levels, needs.fixed)]
        if unmergeable:
            reason = f"{', '.join(unmergeable)} would be merged across members its key does not determine"
            candidates.append(Candidate(cuboid.name, False, reason, None))
            continue
        rows = estimate_rows(cuboid, needs)
        candidates.append(Candidate(cuboid.name, True, "covers the query", rows))
        if best is None or (rows, cuboid.name) < best[:2]:
            best = (rows, cuboid.name, cuboid)
    chosen = best[2] if best else None
    ranked = tuple(
        Candidate(
            c.cuboid,
            c.usable,
            "chosen: fewest rows to scan" if chosen and c.cuboid == chosen.name else c.reason,
            c.estimated_rows,
        )  # fmt: skip
        for c in candidates
    )
    return Route(chosen, ranked)
