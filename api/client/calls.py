"""Every operation of ``/v1`` as a :class:`Call` (method, path, parameters), shared by both clients.

The operations are declared once here, with their Python arguments; :class:`api.client.CubeClient` and
:class:`api.client.AsyncCubeClient` only send the calls, one blocking, one awaitable.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import quote, urlencode

from api.client.arguments import (
    CutArgument,
    LevelArgument,
    OrderArgument,
    cut_parameter,
    drilldown_parameter,
    names_parameter,
    order_parameter,
)

# Longer query strings go as a JSON body to POST .../query (the server takes URLs up to 16,000 characters;
# proxies on the way often fewer).
MAX_QUERY_STRING = 6_000
ARROW_MEDIA_TYPE = "application/vnd.apache.arrow.stream"
Operation = Literal["aggregate", "drilldown", "rollup", "slice", "pivot", "members", "facts"]
Levels = LevelArgument | Iterable[LevelArgument] | None
Orders = OrderArgument | Iterable[OrderArgument] | None
Names = str | Iterable[str] | None

TableAnswer = TypeVar("TableAnswer")
JsonAnswer = TypeVar("JsonAnswer")


@dataclass(frozen=True, slots=True)
class Call:
    """One request: ``GET path?params``, or the same parameters as a JSON body to ``POST …/query``."""

    path: str
    params: dict[str, Any]
    cube: str | None = None
    operation: str | None = None  # set for the calls that POST .../query can carry
    dimension: str | None = None  # a members call's dimension (a path segment in the GET)

    def as_request(self) -> tuple[str, str, dict[str, Any] | None, dict[str, Any] | None]:
        """(method, path, query parameters, JSON body)."""
        if self.operation is None or len(urlencode(self.params, doseq=True)) <= MAX_QUERY_STRING:
            return "GET", self.path, self.params, None
        body = {"operation": self.operation, **self.params}
        if "calc" in body:
            body["calculations"] = body.pop("calc")  # the JSON body's name for GET's calc=
        if self.dimension is not None:
            body["dimension"] = self.dimension
        return "POST", f"/v1/cubes/{_segment(self.cube or '')}/query", None, body


def _segment(name: str) -> str:
    return quote(name, safe="")


def _clean(params: dict[str, Any]) -> dict[str, Any]:
    """Drop what the server would default anyway, so URLs stay short and readable."""
    return {key: value for key, value in params.items() if value not in (None, [], "")}


class CubeOperations(Generic[TableAnswer, JsonAnswer]):
    """The operations, with Python arguments; subclasses send the :class:`Call` each one builds.

    Arguments common to the table operations:

    - ``cut``: ``{"time": [2025, 3], "geography": ["domestic", "gd"]}``; values are a key or a path of
      keys (``None`` is the NULL member), ``Range(low, high)``, ``AnyOf(...)`` or a set, ``Not(...)``;
      ``"time@weekly"`` names a hierarchy. A cut string or a list of cut objects is sent as is.
    - ``drilldown`` (and a pivot's ``rows``/``columns``): ``["time", ("geography", "province")]``.
    - ``measures``/``fields``: a list of names. ``order``: ``["time.month", ("revenue", "desc")]``.
    - ``version``: read this store version (``result.meta.version`` of an earlier answer).
    - ``calculations`` (aggregate, slice, drilldown, rollup, explain): analyst calculations such as
      ``"growth(revenue, previous)"``, passed to the server's ``calc`` as given; each adds a column.
    """

    def _table(self, call: Call) -> TableAnswer:
        raise NotImplementedError

    def _json(self, call: Call) -> JsonAnswer:
        raise NotImplementedError

    # ---- model -------------------------------------------------------------------------------
    def cubes(self) -> JsonAnswer:
        """The cubes: name, label, category, description."""
        return self._json(Call("/v1/cubes", {}))

    def model(self, cube: str) -> JsonAnswer:
        """A cube's model: dimensions, hierarchies, levels, attributes with their types, measures."""
        return self._json(Call(f"/v1/cubes/{_segment(cube)}", {}))

    def ready(self) -> JsonAnswer:
        """The server's readiness (raises :class:`NotReadyError` while it loads)."""
        return self._json(Call("/ready", {}))

    # ---- cells ------------------------------------------------------------------------------
    def aggregate(
        self,
        cube: str,
        *,
        cut: CutArgument = None,
        drilldown: Levels = None,
        measures: Names = None,
        order: Orders = None,
        limit: int | None = None,
        offset: int = 0,
        version: str | None = None,
        calculations: Sequence[str] | None = None,
    ) -> TableAnswer:
        """Measures over a cell, grouped by the ``drilldown`` levels."""
        params = _cell_params(cut, drilldown, measures, order, limit, offset, version, calculations)
        return self._table(_cube_call(cube, "aggregate", params))

    def slice(
        self,
        cube: str,
        *,
        cut: CutArgument = None,
        drilldown: Levels = None,
        measures: Names = None,
        order: Orders = None,
        limit: int | None = None,
        offset: int = 0,
        version: str | None = None,
        calculations: Sequence[str] | None = None,
    ) -> TableAnswer:
        """The sub-cube the cuts give (a dice when several)."""
        params = _cell_params(cut, drilldown, measures, order, limit, offset, version, calculations)
        return self._table(_cube_call(cube, "slice", params))

    def drilldown(
        self,
        cube: str,
        dimension: str,
        *,
        depth: int = 1,
        cut: CutArgument = None,
        drilldown: Levels = None,
        measures: Names = None,
        order: Orders = None,
        limit: int | None = None,
        offset: int = 0,
        version: str | None = None,
        calculations: Sequence[str] | None = None,
    ) -> TableAnswer:
        """The children of the member the cut fixes on ``dimension``, ``depth`` levels down."""
        params = _cell_params(cut, drilldown, measures, order, limit, offset, version, calculations)
        return self._table(_cube_call(cube, "drilldown", {"dimension": dimension, "depth": depth, **params}))

    def rollup(
        self,
        cube: str,
        dimension: str,
        *,
        steps: int = 1,
        cut: CutArgument = None,
        drilldown: Levels = None,
        measures: Names = None,
        order: Orders = None,
        limit: int | None = None,
        offset: int = 0,
        version: str | None = None,
        calculations: Sequence[str] | None = None,
    ) -> TableAnswer:
        """The same question ``steps`` levels coarser on ``dimension``."""
        params = _cell_params(cut, drilldown, measures, order, limit, offset, version, calculations)
        return self._table(_cube_call(cube, "rollup", {"dimension": dimension, "steps": steps, **params}))

    def pivot(
        self,
        cube: str,
        *,
        rows: Levels = None,
        columns: Levels = None,
        measures: Names = None,
        cut: CutArgument = None,
        totals: bool = True,
        version: str | None = None,
    ) -> TableAnswer:
        """A wide table: the row levels, one ``<column key>:<measure>`` column per column member, totals."""
        params = {
            "rows": drilldown_parameter(rows),
            "columns": drilldown_parameter(columns),
            "measures": names_parameter(measures),
            "cut": cut_parameter(cut),
            "totals": totals,
            "version": version,
        }
        return self._table(_cube_call(cube, "pivot", params))

    # ---- rows -------------------------------------------------------------------------------
    def members(
        self,
        cube: str,
        dimension: str,
        *,
        level: str | None = None,
        hierarchy: str | None = None,
        cut: CutArgument = None,
        search: str | None = None,
        limit: int | None = None,
        offset: int = 0,
        version: str | None = None,
    ) -> TableAnswer:
        """Keys and labels of a level (default: the hierarchy's top level), paged."""
        params = {
            "level": level,
            "hierarchy": hierarchy,
            "cut": cut_parameter(cut),
            "search": search,
            "limit": limit,
            "offset": offset,
            "version": version,
        }
        call = _cube_call(cube, "members", params)
        return self._table(Call(f"{call.path}/{_segment(dimension)}", call.params, cube, "members", dimension))

    def facts(
        self,
        cube: str,
        *,
        cut: CutArgument = None,
        fields: Names = None,
        order: Orders = None,
        limit: int | None = None,
        offset: int = 0,
        version: str | None = None,
    ) -> TableAnswer:
        """Fact rows, paged (the server's default page size when no ``limit``)."""
        params = {
            "cut": cut_parameter(cut),
            "fields": names_parameter(fields),
            "order": order_parameter(order),
            "limit": limit,
            "offset": offset,
            "version": version,
        }
        return self._table(_cube_call(cube, "facts", params))

    def explain(self, cube: str, operation: Operation = "aggregate", **arguments: Any) -> JsonAnswer:
        """The plan and SQL of an operation, without running it; ``arguments`` as for that operation."""
        params: dict[str, Any] = {"operation": operation}
        for name, value in arguments.items():
            if name == "cut":
                params["cut"] = cut_parameter(value)
            elif name in ("drilldown", "rows", "columns"):
                params[name] = drilldown_parameter(value)
            elif name == "order":
                params["order"] = order_parameter(value)
            elif name in ("measures", "fields"):
                params[name] = names_parameter(value)
            elif name == "calculations":
                params["calc"] = list(value or [])
            else:
                params[name] = value
        return self._json(Call(f"/v1/cubes/{_segment(cube)}/explain", _clean(params)))


def _cell_params(
    cut: CutArgument,
    drilldown: Levels,
    measures: Names,
    order: Orders,
    limit: int | None,
    offset: int,
    version: str | None,
    calculations: Sequence[str] | None,
) -> dict[str, Any]:
    return {
        "cut": cut_parameter(cut),
        "drilldown": drilldown_parameter(drilldown),
        "measures": names_parameter(measures),
        "order": order_parameter(order),
        "limit": limit,
        "offset": offset,
        "version": version,
        "calc": list(calculations or []),
    }


def _cube_call(cube: str, operation: str, params: dict[str, Any]) -> Call:
    return Call(f"/v1/cubes/{_segment(cube)}/{operation}", {**_clean(params), "format": "arrow"}, cube, operation)
