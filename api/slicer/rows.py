"""Facts and members as Cubes' row arrays: ``/facts``, ``/fact/{id}`` and ``/members/{dimension}``.

JSON arrays stop at the record limit; CSV and JSON lines exports read the first page, then every
following row from one streamed engine statement (record batches as DuckDB produces them), so an
export is never held whole in memory and never re-reads earlier rows page after page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from api.slicer.params import Paging
from api.slicer.refs import FACT_KEY, WireRefs
from cube_models import Cube, Level
from cube_server.access.restricted import RestrictedEngine
from cube_server.errors import DrilldownError
from cube_server.query import Cut, FactsQuery, MembersQuery, OrderItem
from cube_server.result import Rows, RowStream

RestReader = Callable[[int, int | None], Iterator[dict[str, Any]]]  # (offset, rows or None for all) -> rows


@dataclass(frozen=True, slots=True)
class RowsAnswer:
    columns: list[str]  # row keys, in order
    labels: list[str]  # CSV header labels
    first: list[dict[str, Any]]  # the rows of the first page read
    start: int  # the offset of the first row
    end: int  # the offset after the last row of the listing (the page's end, or every row)
    read_rest: RestReader  # the rows after the first page, streamed, for exports
    paged: bool = False  # a page was asked for: the listing ends at ``end``

    def all_rows(self) -> Iterator[dict[str, Any]]:
        """Every row of the listing: the first page, then the rest in one stream."""
        yield from self.first
        offset = self.start + len(self.first)
        if self.first and offset < self.end:
            yield from self.read_rest(offset, self.end - offset if self.paged else None)


def _stream_rows(stream: RowStream) -> Iterator[dict[str, Any]]:
    for batch in stream.batches:
        yield from batch.to_pylist()


def _window(paging: Paging, limit: int) -> tuple[int, int, int | None]:
    """(rows to read first, offset, end): the page when paged, else every row; at most ``limit`` rows first."""
    page_limit, offset = paging.window(limit)
    assert page_limit is not None
    end = offset + paging.pagesize if paging.is_paged and paging.pagesize is not None else None
    return page_limit, offset, end


def _end(total: int, end: int | None) -> int:
    return total if end is None else min(total, end)


# ---- facts ---------------------------------------------------------------------------------------
def default_fields(cube: Cube) -> list[str]:
    """Cubes' default fact fields: dimension attributes level by level, then details, then measures."""
    fields = [attribute.ref for d in cube.dimensions for level in d.levels for attribute in level.attributes]
    fields += [detail.name for detail in cube.details if detail.name not in fields]
    fields += [column.name for column in cube.fact_columns if column.name not in fields]
    return fields


def fact_label(cube: Cube, refs: WireRefs, name: str) -> str:
    if name == FACT_KEY:
        return cube.key or FACT_KEY
    attribute = refs.attribute(name)
    if attribute is not None:
        return attribute.label
    for item in (*cube.fact_columns, *cube.details):
        if item.name == name:
            return item.label
    return name


def run_facts(
    engine: RestrictedEngine,
    cube_name: str,
    cuts: tuple[Cut, ...],
    fields: tuple[str, ...],
    order: tuple[OrderItem, ...],
    paging: Paging,
    refs: WireRefs,
    limit: int,
) -> RowsAnswer:
    """Facts in a cell; the key first (as ``__fact_key__``), then ``fields`` (engine names; default: all)."""
    cube = engine.cube(cube_name)
    wanted = list(fields) or default_fields(cube)
    names = ([cube.key] if cube.key else []) + [name for name in wanted if name != cube.key]
    page_limit, offset, end = _window(paging, limit)

    def read(page_size: int, at: int) -> Rows:
        return engine.facts(FactsQuery(cube.name, cuts, tuple(names), order, page_size, at))

    first = read(page_limit, offset)
    columns = [refs.fact_field(name) for name in names]

    def shape(rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        return ({refs.fact_field(name): row[name] for name in names} for row in rows)

    def rest(at: int, rows: int | None) -> Iterator[dict[str, Any]]:
        stream = engine.export_facts(FactsQuery(cube.name, cuts, tuple(names), order, rows, at))
        return shape(_stream_rows(stream))

    return RowsAnswer(
        columns,
        [fact_label(cube, refs, column) for column in columns],
        list(shape(first.rows)),
        offset,
        _end(first.total_count, end),
        rest,
        end is not None,
    )


def fact_body(engine: RestrictedEngine, cube_name: str, key: str, refs: WireRefs) -> dict[str, Any]:
    """One fact by its key, shaped like a ``/facts`` row with every field."""
    cube = engine.cube(cube_name)
    fact = engine.fact(cube.name, key)
    names = ([cube.key] if cube.key else []) + [name for name in default_fields(cube) if name != cube.key]
    return {refs.fact_field(name): fact[name] for name in names if name in fact}


# ---- members -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MembersRequest:
    cube: str
    dimension: str
    hierarchy: str | None = None
    depth: int | None = None
    level: str | None = None
    cuts: tuple[Cut, ...] = ()
    paging: Paging = Paging()


def run_members(
    engine: RestrictedEngine, request: MembersRequest, refs: WireRefs, limit: int
) -> tuple[dict[str, Any], RowsAnswer]:
    """(the ``{dimension, hierarchy, depth}`` head of the answer, its rows)."""
    cube = engine.cube(request.cube)
    dimension = cube.dimension(request.dimension)
    hierarchy = dimension.hierarchy(request.hierarchy)
    levels = dimension.levels_of(hierarchy)
    depth = request.depth or len(levels)
    if request.level is not None:
        dimension.level(request.level)  # an unknown level is an error of its own
        if request.level not in hierarchy.levels:
            raise DrilldownError(f"level {request.level!r} is not in hierarchy {hierarchy.name!r}", level=request.level)
        depth = hierarchy.depth_of(request.level)
    if depth > len(levels):
        raise DrilldownError(
            f"hierarchy {hierarchy.name!r} of {dimension.name!r} has only {len(levels)} levels, not {depth}",
            dimension=dimension.name,
        )
    shown = levels[:depth]
    page_limit, offset, end = _window(request.paging, limit)

    def read(page_size: int, at: int) -> Rows:
        query = MembersQuery(
            cube.name, dimension.name, shown[-1].name, hierarchy.name, request.cuts, None, page_size, at
        )
        return engine.members(query)

    columns = member_columns(shown, refs)
    first = read(page_limit, offset)

    def shape(rows: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        return ({wire: row[column] for column, wire in columns} for row in rows)

    def rest(at: int, rows: int | None) -> Iterator[dict[str, Any]]:
        query = MembersQuery(cube.name, dimension.name, shown[-1].name, hierarchy.name, request.cuts, None, rows, at)
        return shape(_stream_rows(engine.export_members(query)))

    head = {"dimension": dimension.name, "hierarchy": hierarchy.name, "depth": depth}
    answer = RowsAnswer(
        [wire for _, wire in columns],
        [_member_label(refs, wire) for _, wire in columns],
        list(shape(first.rows)),
        offset,
        _end(first.total_count, end),
        rest,
        end is not None,
    )
    return head, answer


def member_columns(levels: tuple[Level, ...], refs: WireRefs) -> list[tuple[str, str]]:
    """(engine column, wire ref) of a members row: key and label of each level, every attribute of the last."""
    columns = [column for level in levels for column in refs.level_columns(level)]
    target = levels[-1]
    shown = {target.key, target.label_attribute}
    columns += [(a.ref, refs.wire(a.ref)) for a in target.attributes if a.name not in shown]
    return columns


def _member_label(refs: WireRefs, wire: str) -> str:
    """Cubes heads members' CSV columns with attribute names."""
    attribute = refs.attribute(wire)
    return attribute.name if attribute is not None else wire
