"""``/cube/{cube}/cell``: each cut of a cell with the members its paths name (``details``).

A path's details hold one object per level of the path: that level's key and label attributes (and,
for the last level, its other attributes) by ref, plus ``_key`` and ``_label``. A path that names no
member has ``null`` details. Ranges give ``{"from": ..., "to": ...}``, sets one list per path.
"""

from __future__ import annotations

from typing import Any

from api.slicer.cells import cut_object
from api.slicer.refs import WireRefs
from api.slicer.rows import member_columns
from cube_server.access.restricted import RestrictedEngine
from cube_server.query import MembersQuery, Path, PointCut, RangeCut, SetCut
from cube_server.resolve import BoundCut


def cut_with_details(engine: RestrictedEngine, cube: str, bound: BoundCut, refs: WireRefs) -> dict[str, Any]:
    return {**cut_object(bound), "details": cut_details(engine, cube, bound, refs)}


def cut_details(engine: RestrictedEngine, cube: str, bound: BoundCut, refs: WireRefs) -> Any:
    cut = bound.cut
    if isinstance(cut, PointCut):
        return path_details(engine, cube, bound, cut.path, refs)
    if isinstance(cut, SetCut):
        return [path_details(engine, cube, bound, path, refs) for path in cut.paths]
    assert isinstance(cut, RangeCut)
    return {
        "from": path_details(engine, cube, bound, cut.from_path, refs) if cut.from_path else [],
        "to": path_details(engine, cube, bound, cut.to_path, refs) if cut.to_path else [],
    }


def path_details(
    engine: RestrictedEngine, cube: str, bound: BoundCut, path: Path, refs: WireRefs
) -> list[dict[str, Any]] | None:
    levels = bound.levels[: len(path)]
    dimension, hierarchy = bound.dimension.name, bound.hierarchy.name
    cut = PointCut(dimension, path, hierarchy)
    rows = engine.members(MembersQuery(cube, dimension, levels[-1].name, hierarchy, (cut,), None, 1, 0)).rows
    if not rows:
        return None
    row = rows[0]
    details = []
    for depth, level in enumerate(levels, start=1):
        columns = member_columns((level,), refs) if depth == len(levels) else refs.level_columns(level)
        item: dict[str, Any] = {wire: row[column] for column, wire in columns}
        item["_key"] = row[level.ref]
        has_label = level.label_attribute is not None and level.label_attribute != level.key
        item["_label"] = row[f"{level.ref}.label"] if has_label else row[level.ref]
        details.append(item)
    return details
