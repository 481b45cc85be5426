"""The client's Python arguments as ``/v1`` query parameters: cuts, drilldowns, orders and name lists.

Cuts are written by the server's own formatter (:func:`cube_server.cut_syntax.format_cuts`): one
grammar, one escaper, so a member holding ``-``, ``,``, ``|`` or ``:`` reaches the server exactly as
given, and the parse/format round trip the server is tested for covers the client too. That module
needs only the model's error classes, never HTTP, SQL or DuckDB.

>>> cut_parameter({"time": [2025, 3], "geography": ["domestic", "gd"]})
'time:2025,3|geography:domestic,gd'
>>> cut_parameter({"time": Range([2024, 4, 11], [2025, 1, 2]), "channel": Not(AnyOf("web", "shop"))})
'time:2024,4,11-2025,1,2|!channel:web;shop'
>>> cut_parameter({"time@weekly": (2025, 1), "product": "a-b", "geography": ["international", "asia", None]})
'time@weekly:2025,1|product:a\\\\-b|geography:international,asia,__null__'
>>> drilldown_parameter(["time", ("geography", "province"), ("time", "weekly", "isoweek")])
['time', 'geography:province', 'time@weekly:isoweek']
>>> order_parameter(["time.month", ("revenue", "desc")])
['time.month', 'revenue:desc']
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from cube_server.cut_syntax import format_cuts, format_drilldown, format_path
from cube_server.query import Cut, DrilldownItem, Path, PointCut, RangeCut, SetCut

Member: TypeAlias = str | int | dt.date | None  # None is the NULL member
MemberPath: TypeAlias = Member | Sequence[Member]


@dataclass(frozen=True, slots=True)
class Range:
    """Members from ``low`` to ``high``, both included; either end may be ``None`` (open)."""

    low: MemberPath | None = None
    high: MemberPath | None = None


class AnyOf:
    """Any of these members (a set cut), in the order given; each a key or a path of keys."""

    __slots__ = ("paths",)

    def __init__(self, *paths: MemberPath) -> None:
        if not paths:
            raise ValueError("AnyOf needs at least one member")
        self.paths = paths

    def __repr__(self) -> str:
        return f"AnyOf{self.paths!r}"


@dataclass(frozen=True, slots=True)
class Not:
    """Everything but the cut given: a member path, a :class:`Range`, an :class:`AnyOf` or a set."""

    cut: Any


CutValue: TypeAlias = MemberPath | Range | AnyOf | Not | set[Any] | frozenset[Any]
CutArgument: TypeAlias = Mapping[str, CutValue] | Sequence[Cut] | str | None
LevelArgument: TypeAlias = str | tuple[str, str] | tuple[str, str, str] | DrilldownItem
OrderArgument: TypeAlias = str | tuple[str, str]


def cut_parameter(cut: CutArgument) -> str | None:
    """``{"dimension" or "dimension@hierarchy": value}``, a list of cut objects, or a cut string as is."""
    if cut is None or isinstance(cut, str):
        return cut or None
    if isinstance(cut, Mapping):
        cuts = [_cut(key, value) for key, value in cut.items()]
    else:
        cuts = list(cut)
        for item in cuts:
            if not isinstance(item, (PointCut, SetCut, RangeCut)):
                raise TypeError(f"a cut list holds PointCut, SetCut or RangeCut objects, not {item!r}")
    return format_cuts(cuts) or None


def _cut(key: str, value: CutValue) -> Cut:
    dimension, _, hierarchy = key.partition("@")
    invert = False
    while isinstance(value, Not):
        invert, value = not invert, value.cut
    if isinstance(value, Range):
        if value.low is None and value.high is None:
            raise ValueError(f"the range on {key!r} needs at least one end")
        low = None if value.low is None else _path(value.low)
        high = None if value.high is None else _path(value.high)
        return RangeCut(dimension, low, high, hierarchy or None, invert)
    if isinstance(value, AnyOf):
        return SetCut(dimension, tuple(_path(path) for path in value.paths), hierarchy or None, invert)
    if isinstance(value, (set, frozenset)):
        if not value:
            raise ValueError(f"the set of members on {key!r} is empty")
        paths = sorted((_path(path) for path in value), key=format_path)  # a stable URL for an unordered set
        return SetCut(dimension, tuple(paths), hierarchy or None, invert)
    return PointCut(dimension, _path(value), hierarchy or None, invert)


def _path(value: MemberPath) -> Path:
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError("a member path cannot be empty")
        return tuple(_member(element) for element in value)
    return (_member(value),)  # type: ignore[arg-type]


def _member(value: Member) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, dt.date)):
        raise TypeError(f"a member key is a str, an int, a date or None, not {type(value).__name__}: {value!r}")
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def drilldown_parameter(levels: LevelArgument | Iterable[LevelArgument] | None) -> list[str]:
    """``"time"``, ``"time:month"``, ``("time", "month")`` or ``("time", "weekly", "isoweek")``, or a list."""
    if levels is None:
        return []
    if isinstance(levels, (str, DrilldownItem)) or _is_level_tuple(levels):
        levels = [levels]  # type: ignore[list-item]
    return [_level(item) for item in levels]  # type: ignore[union-attr]


def _is_level_tuple(value: Any) -> bool:
    return isinstance(value, tuple) and 2 <= len(value) <= 3 and all(isinstance(part, str) for part in value)


def _level(item: LevelArgument) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, DrilldownItem):
        return format_drilldown([item])
    if isinstance(item, tuple) and len(item) == 2:
        return format_drilldown([DrilldownItem(item[0], None, item[1])])
    if isinstance(item, tuple) and len(item) == 3:
        return format_drilldown([DrilldownItem(item[0], item[1], item[2])])
    raise TypeError(f"a level is 'dimension[:level]', (dimension, level) or (dimension, hierarchy, level): {item!r}")


def order_parameter(order: OrderArgument | Iterable[OrderArgument] | None) -> list[str]:
    """``"revenue"``, ``"revenue:desc"`` or ``("revenue", "desc")``, or a list of them."""
    if order is None:
        return []
    if isinstance(order, str) or _is_level_tuple(order):
        order = [order]  # type: ignore[list-item]
    items = []
    for item in order:  # type: ignore[union-attr]
        if isinstance(item, tuple):
            ref, direction = item
            if direction not in ("asc", "desc"):
                raise ValueError(f"order direction must be 'asc' or 'desc', not {direction!r}")
            items.append(f"{ref}:{direction}")
        else:
            items.append(item)
    return items


def names_parameter(names: str | Iterable[str] | None) -> list[str]:
    """Measure or field names: one comma-separated string or a list of names."""
    if names is None:
        return []
    return [names] if isinstance(names, str) else list(names)
