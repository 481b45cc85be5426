"""Cut objects as Cubes writes them in ``cell`` (``/aggregate``) and ``cuts`` (``/cell``).

A cut object has ``type``, ``dimension``, ``hierarchy`` (always filled in), ``level_depth`` (its
longest path), ``invert``, ``hidden``, then ``path`` (point), ``from``/``to`` (range; an open end is
``[]``) or ``paths`` (set). Path elements stay the text of the request; ``__null__`` is null.
Cut objects also come in (a report's ``cell``): :func:`cut_from_object` reads them.
"""

from __future__ import annotations

from typing import Any

from cube_server.errors import InvalidParameterError
from cube_server.query import Cut, Path, PointCut, RangeCut, SetCut
from cube_server.resolve import BoundCut, cut_paths

CUT_TYPES = ("point", "range", "set")


def cut_object(bound: BoundCut) -> dict[str, Any]:
    cut = bound.cut
    body: dict[str, Any] = {
        "type": _type_of(cut),
        "dimension": cut.dimension,
        "hierarchy": bound.hierarchy.name,
        "level_depth": max((len(path) for path in cut_paths(cut)), default=0),
        "invert": cut.invert,
        "hidden": False,
    }
    if isinstance(cut, PointCut):
        body["path"] = list(cut.path)
    elif isinstance(cut, SetCut):
        body["paths"] = [list(path) for path in cut.paths]
    else:
        body["from"] = list(cut.from_path or ())
        body["to"] = list(cut.to_path or ())
    return body


def _type_of(cut: Cut) -> str:
    if isinstance(cut, PointCut):
        return "point"
    return "set" if isinstance(cut, SetCut) else "range"


def cut_from_object(value: Any) -> Cut:
    """A cut from its object form: type, dimension, path (or from and to, or paths), hierarchy, invert."""
    if not isinstance(value, dict):
        raise InvalidParameterError("a cut object must be a JSON object")
    kind, dimension = value.get("type"), value.get("dimension")
    if kind not in CUT_TYPES or not isinstance(dimension, str):
        raise InvalidParameterError(f"a cut object needs a dimension and a type ({', '.join(CUT_TYPES)})", cut=value)
    hierarchy = value.get("hierarchy")
    if hierarchy is not None and not isinstance(hierarchy, str):
        raise InvalidParameterError("a cut object's hierarchy must be a name", cut=value)
    invert = bool(value.get("invert", False))
    if kind == "point":
        return PointCut(dimension, _path(value.get("path")), hierarchy, invert)
    if kind == "set":
        paths = value.get("paths")
        if not isinstance(paths, list) or not paths:
            raise InvalidParameterError("a set cut object needs a list of paths", cut=value)
        return SetCut(dimension, tuple(_path(path) for path in paths), hierarchy, invert)
    low, high = value.get("from"), value.get("to")
    from_path = _path(low) if low else None
    to_path = _path(high) if high else None
    if from_path is None and to_path is None:
        raise InvalidParameterError("a range cut object needs from or to", cut=value)
    return RangeCut(dimension, from_path, to_path, hierarchy, invert)


def _path(value: Any) -> Path:
    if not isinstance(value, list) or not value:
        raise InvalidParameterError(f"a cut path must be a non-empty list, not {value!r}")
    if any(isinstance(element, dict | list) for element in value):
        raise InvalidParameterError(f"a cut path holds member keys, not {value!r}")
    return tuple(None if element is None else str(element) for element in value)
