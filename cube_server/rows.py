"""Plans that page through rows rather than cells: members of a level, and drill-through to facts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from cube_models.errors import AttributeNotFoundError
from cube_server.backends import Backend
from cube_server.errors import InvalidParameterError
from cube_server.plan import Plan, RowLayout
from cube_server.query import FactsQuery, MembersQuery, OrderItem
from cube_server.render import CutRenderer, cut_refs
from cube_server.resolve import bind_cuts
from cube_server.result import Meta, RowStream
from cube_server.star import Star

MAX_SEARCH = 200
# Rows per record batch of a streamed page: large enough for Arrow to pay off, small enough to hold.
STREAM_BATCH_ROWS = 65_536


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def members_plan(star: Star, renderer: CutRenderer, query: MembersQuery, limit: int | None, version: str) -> Plan:
    cube = star.cube
    dimension = cube.dimension(query.dimension)
    hierarchy = dimension.hierarchy(query.hierarchy)
    level_name = query.level or hierarchy.levels[0]
    dimension.level(level_name)
    if level_name not in hierarchy.levels:
        raise InvalidParameterError(f"level {level_name!r} is not in hierarchy {hierarchy.name!r}", level=level_name)
    levels = dimension.levels_of(hierarchy)[: hierarchy.depth_of(level_name)]
    target = levels[-1]
    refs: list[tuple[str, str]] = []  # (output name, attribute ref)
    for level in levels[:-1]:
        refs.append((level.ref, level.key_attribute.ref))
        if level.label_attribute:
            refs.append((f"{level.ref}.label", level.attribute(level.label_attribute).ref))
    refs.append((target.ref, target.key_attribute.ref))
    if target.label_attribute:
        refs.append((f"{target.ref}.label", target.attribute(target.label_attribute).ref))
    for attribute in target.attributes:
        if attribute.name not in (target.key, target.label_attribute):
            refs.append((attribute.ref, attribute.ref))
    bound_cuts = bind_cuts(cube, query.cuts)
    # Members depend only on the fact columns they read: group their distinct values, not every fact row.
    star = star.over_distinct_facts({ref for _, ref in refs} | cut_refs(bound_cuts))
    renderer = CutRenderer(star, renderer.types)
    columns = [star.attribute(ref).label(f"a{i}") for i, (_, ref) in enumerate(refs)]
    conditions = [renderer.condition(bound) for bound in bound_cuts]
    from_clause = star.from_clause_for({ref for _, ref in refs} | cut_refs(bound_cuts))
    if query.search:
        if len(query.search) > MAX_SEARCH:
            raise InvalidParameterError(f"search text longer than {MAX_SEARCH} characters")
        pattern = _like_pattern(query.search)
        searched = [sa.cast(star.attribute(target.key_attribute.ref), sa.String).ilike(pattern, escape="\\")]
        if target.label_attribute:
            label_ref = target.attribute(target.label_attribute).ref
            searched.append(sa.cast(star.attribute(label_ref), sa.String).ilike(pattern, escape="\\"))
        conditions.append(sa.or_(*searched))
    inner = sa.select(*columns).select_from(from_clause).where(*conditions).subquery("cell")
    distinct = sa.select(*inner.c).group_by(*inner.c).subquery("members")
    order = []
    for level in levels:
        position = next(i for i, (name, _) in enumerate(refs) if name == level.ref)
        column = distinct.c[f"a{position}"]
        order.append((column.desc() if level.order == "desc" else column.asc()).nulls_last())
    page = sa.select(*distinct.c).order_by(*order).limit(limit).offset(query.offset)
    count = sa.select(sa.func.count().label("n")).select_from(distinct)

    meta = Meta(
        cube.name,
        "facts",
        version,
        extra={"dimension": dimension.name, "hierarchy": hierarchy.name, "level": target.name},
    )
    names = tuple((f"a{i}", name) for i, (name, _) in enumerate(refs))
    layout = RowLayout("members", "count", names, "attribute", meta)
    statements = {"count": count, "members": page}
    grain = [level.ref for level in levels]
    return Plan("members", cube, grain, [], statements, layout.shape, version=version, layout=layout)


def fact_fields(star: Star) -> list[str]:
    """Every field a fact row can show, in a stable order: key, dimension attributes, measures, details."""
    cube = star.cube
    fields = [cube.key] if cube.key else []
    for dimension in cube.dimensions:
        for level in dimension.levels:
            fields.extend(attribute.ref for attribute in level.attributes)
    fields.extend(column.name for column in cube.fact_columns if column.name not in fields)
    fields.extend(detail.name for detail in cube.details if detail.name not in fields)
    return fields


def field_expression(star: Star, name: str) -> sa.ColumnElement[Any]:
    """The SQL of one fact field: a dimension attribute (``dim.attr``), a fact column or a detail."""
    if "." in name:
        dimension, attribute = name.split(".", 1)
        star.cube.dimension(dimension).attribute(attribute)
        return star.attribute(name)
    column = next((c for c in star.cube.fact_columns if c.name == name), None)
    if column is not None and column.expression is not None:
        return star.render(column.expression, star.fact_value)
    return star.fact_value(name)


def facts_plan(star: Star, renderer: CutRenderer, query: FactsQuery, limit: int | None, version: str) -> Plan:
    cube = star.cube
    available = fact_fields(star)
    fields = list(query.fields) or available
    for name in fields:
        if name not in available:
            raise AttributeNotFoundError(f"cube {cube.name!r} has no fact field {name!r}", field=name)
    if len(set(fields)) != len(fields):
        raise InvalidParameterError("a field is listed twice")
    labels = {name: f"f{i}" for i, name in enumerate(fields)}
    columns = [field_expression(star, name).label(labels[name]) for name in fields]
    bound_cuts = bind_cuts(cube, query.cuts)
    conditions = [renderer.condition(bound) for bound in bound_cuts]
    order = list(query.order) or ([OrderItem(cube.key)] if cube.key else [])
    for item in order:
        if item.ref not in available:
            raise InvalidParameterError(f"cannot order facts by {item.ref!r}", order=item.ref)
    order_by = _fact_order(star, order)
    filters = cut_refs(bound_cuts)
    order_refs = {item.ref for item in order}
    if star.joins_keep_fact_rows():
        # The page of fact rows first, joined to the dimensions after: a page of 50 rows does not join every
        # fact row the cuts keep to every dimension (left joins to keyed dimensions keep the rows as they are).
        source = star.sources[cube.fact]
        paged = sa.select(*source.c).select_from(star.from_clause_for(filters | order_refs)).where(*conditions)
        paged_star = star.over_facts(paged.order_by(*order_by).limit(limit).offset(query.offset).subquery(cube.fact))  # type: ignore[arg-type]
        columns = [field_expression(paged_star, name).label(labels[name]) for name in fields]
        page = sa.select(*columns).select_from(paged_star.from_clause_for(set(fields) | order_refs))
        page = page.order_by(*_fact_order(paged_star, order))
    else:
        from_clause = star.from_clause_for(set(fields) | order_refs | filters)
        page = sa.select(*columns).select_from(from_clause).where(*conditions).order_by(*order_by)
        page = page.limit(limit).offset(query.offset)
    count = sa.select(sa.func.count().label("n")).select_from(star.from_clause_for(filters)).where(*conditions)

    names = tuple((labels[name], name) for name in fields)
    layout = RowLayout("facts", "count", names, "field", Meta(cube.name, "facts", version))
    statements = {"count": count, "facts": page}
    return Plan("facts", cube, [], [], statements, layout.shape, version=version, layout=layout)


def _fact_order(star: Star, order: list[OrderItem]) -> list[sa.ColumnElement[Any]]:
    expressions = [(field_expression(star, item.ref), item.descending) for item in order]
    return [(value.desc() if descending else value.asc()).nulls_last() for value, descending in expressions]


def open_row_stream(backend: Backend, plan: Plan, deadline: float, batch_rows: int) -> RowStream:
    """Count the rows, then start the page statement and hand its batches on as the engine produces them.

    The first batch is read here, so an error of the query is raised before anything is sent.
    """
    layout = plan.layout
    if layout is None:
        raise InvalidParameterError(f"{plan.operation} answers cannot be streamed")
    count = backend.execute(backend.compile(plan.statements[layout.count]), deadline)
    total = int(count.column(0)[0].as_py())
    stream = backend.stream(backend.compile(plan.statements[layout.page]), deadline, batch_rows)
    schema = layout.output_schema(stream.schema)
    batches = iter(stream)
    try:
        first = next(batches, None)
    except BaseException:
        stream.close()
        raise

    def renamed() -> Iterator[pa.RecordBatch]:
        if first is None:
            return
        yield layout.rename(first, schema)
        for batch in batches:
            yield layout.rename(batch, schema)

    return RowStream(layout.columns(stream.schema), schema, renamed(), total, layout.meta)
