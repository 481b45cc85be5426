"""Turn HTTP parameters (query string or JSON body) into engine queries: parse once, at the edge."""

from __future__ import annotations

from collections.abc import Iterable

from api.schemas import QueryBody
from cube_server.calculations import Calculation, parse_calculations
from cube_server.cut_syntax import parse_cuts, parse_drilldown, parse_order
from cube_server.query import Cut, DrilldownItem, FactsQuery, MembersQuery, OrderItem, PivotQuery, Query


def _strings(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def cuts_of(values: str | list[str] | None) -> tuple[Cut, ...]:
    cuts: list[Cut] = []
    for text in _strings(values):
        cuts.extend(parse_cuts(text))
    return tuple(cuts)


def calculations_of(values: str | list[str] | None) -> tuple[Calculation, ...]:
    """Calculations from ``|``-separated strings, repeated parameters allowed."""
    calculations: list[Calculation] = []
    for text in _strings(values):
        calculations.extend(parse_calculations(text))
    return tuple(calculations)


def drilldown_of(values: str | list[str] | None) -> tuple[DrilldownItem, ...]:
    items: list[DrilldownItem] = []
    for text in _strings(values):
        items.extend(parse_drilldown(text))
    return tuple(items)


def names_of(values: str | list[str] | None) -> tuple[str, ...]:
    """Comma- (or Cubes' pipe-) separated names, repeated parameters allowed."""
    names: list[str] = []
    for text in _strings(values):
        names.extend(part.strip() for part in text.replace("|", ",").split(",") if part.strip())
    return tuple(names)


def levels_of(values: str | list[str] | None) -> tuple[DrilldownItem, ...]:
    """Pivot axes: comma-separated level references such as ``geography:province,time:year``."""
    items: list[DrilldownItem] = []
    for name in names_of(values):
        parsed = parse_drilldown(name)
        items.extend(parsed)
    return tuple(items)


def order_of(values: str | list[str] | None) -> tuple[OrderItem, ...]:
    items: list[OrderItem] = []
    for text in _strings(values):
        items.extend(parse_order(text))
    return tuple(items)


def cell_query(
    cube: str,
    cut: Iterable[str] | str | None,
    drilldown: Iterable[str] | str | None,
    measures: Iterable[str] | str | None,
    order: Iterable[str] | str | None,
    limit: int | None,
    offset: int,
    version: str | None = None,
    calculations: Iterable[str] | str | None = None,
) -> Query:
    return Query(
        cube=cube,
        cuts=cuts_of(_list(cut)),
        drilldown=drilldown_of(_list(drilldown)),
        measures=names_of(_list(measures)),
        order=order_of(_list(order)),
        limit=limit,
        offset=offset,
        version=version,
        calculations=calculations_of(_list(calculations)),
    )


def _list(value: Iterable[str] | str | None) -> list[str] | str | None:
    if value is None or isinstance(value, str):
        return value
    return list(value)


def pivot_query(cube: str, body: QueryBody) -> PivotQuery:
    return PivotQuery(
        cube,
        levels_of(body.rows),
        levels_of(body.columns),
        cuts_of(body.cut),
        names_of(body.measures),
        body.totals,
        body.version,
    )


def members_query(cube: str, dimension: str, body: QueryBody) -> MembersQuery:
    return MembersQuery(
        cube,
        dimension,
        body.level,
        body.hierarchy,
        cuts_of(body.cut),
        body.search,
        body.limit,
        body.offset,
        body.version,
    )


def facts_query(cube: str, body: QueryBody) -> FactsQuery:
    return FactsQuery(
        cube, cuts_of(body.cut), names_of(body.fields), order_of(body.order), body.limit, body.offset, body.version
    )
