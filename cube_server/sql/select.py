"""A parsed SELECT over one cube table to a cube :class:`Query`, and what to do with the engine's cells.

- Level columns in GROUP BY drill their dimension down to the deepest level named (in the hierarchy
  that holds them all); without GROUP BY (or with DISTINCT) the level columns selected group.
- ``SUM(revenue)``, ``MIN``/``MAX``/``AVG``, ``COUNT(*)``, ``COUNT(DISTINCT subscribers)`` ask for the
  measure only where the measure is aggregated that way (a sum, a count, a distinct count...);
  ``MEASURE(x)`` or a bare measure column asks for any measure as the cube defines it. Anything else
  (``SUM(subscribers)`` of a distinct count) is refused, never answered with a wrong number.
- WHERE becomes cuts (:mod:`cube_server.sql.where`); ORDER BY and LIMIT/OFFSET are the engine's when
  it can apply them, else applied here to every cell (at most ``max_cells``).
- A group that does not name every level above its deepest one (``GROUP BY time_month`` without the
  year and quarter) can hold several of the engine's cells: sums, counts, minima and maxima are merged;
  a measure that does not merge (a distinct count, a ratio) is refused when that happens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlglot import exp

from cube_models import Measure
from cube_models.measure import AggFunc
from cube_server.errors import SqlAggregationError, SqlUnsupportedError
from cube_server.query import DrilldownItem, OrderItem, Query
from cube_server.sql.tables import AttributeColumn, CubeTable, MeasureColumn
from cube_server.sql.where import Filter, MemberSource, NotLiteral, literal_value, where_cuts

MERGEABLE = {AggFunc.SUM: "sum", AggFunc.COUNT: "sum", AggFunc.COUNT_NONEMPTY: "sum", AggFunc.MIN: "min",
             AggFunc.MAX: "max"}  # fmt: skip
# SQL aggregate -> the measure functions it may ask for (a sum of counts is their count)
AGGREGATES: dict[type, tuple[str, tuple[AggFunc, ...]]] = {
    exp.Sum: ("sum", (AggFunc.SUM, AggFunc.COUNT, AggFunc.COUNT_NONEMPTY)),
    exp.Min: ("min", (AggFunc.MIN,)),
    exp.Max: ("max", (AggFunc.MAX,)),
    exp.Avg: ("avg", (AggFunc.AVG,)),
}


@dataclass(frozen=True, slots=True)
class Output:
    name: str
    sql_type: str
    attribute: AttributeColumn | None = None
    measure: Measure | None = None
    constant: Any = None


@dataclass(frozen=True, slots=True)
class SortKey:
    output: int | None  # an output column, or
    measure: str | None  # a measure not shown
    attribute: AttributeColumn | None  # or a grouped level column not shown
    descending: bool
    nulls_first: bool


@dataclass(slots=True)
class CubeSelect:
    """What to ask the engine, and how to turn its cells into the SELECT's rows."""

    table: CubeTable
    query: Query
    outputs: list[Output]
    grouped: bool
    group: list[AttributeColumn]
    merge: bool
    empty: bool
    sort: list[SortKey] = field(default_factory=list)  # applied here when the engine could not
    limit: int | None = None  # applied here when the engine could not
    offset: int = 0
    having: exp.Expression | None = None  # over columns named "measure:<name>" and "attribute:<column>"
    having_measures: list[str] = field(default_factory=list)
    looked_up: list[AttributeColumn] = field(default_factory=list)  # attributes the cells lack: from the members


def translate(
    select: exp.Select, table: CubeTable, members: MemberSource, *, max_members: int, max_page_size: int
) -> CubeSelect:
    _refuse_unsupported(select)
    outputs = [output for item in select.expressions for output in _outputs(item, table)]
    limit, offset = _page(select)
    if limit == 0:  # what clients send to learn a query's columns: no rows, nothing to ask the engine
        return CubeSelect(table, Query(table.name, measures=(_cheapest_measure(table),)), outputs, grouped=True,
                          group=[], merge=False, empty=True)  # fmt: skip
    group_nodes = select.args["group"].expressions if select.args.get("group") else []
    group = _group_columns(group_nodes, select.expressions, outputs, table)
    explicit_group = bool(group_nodes)
    if not explicit_group:
        group = list(dict.fromkeys(o.attribute for o in outputs if o.attribute is not None))
    else:
        _check_grouped(outputs, group)
    drilldown, merge = _drilldown(group, table)
    filtered = where_cuts(select.args["where"].this if select.args.get("where") else None, table, members, max_members)
    measures = list(dict.fromkeys(o.measure.name for o in outputs if o.measure is not None))
    sort = _sort_keys(select, outputs, table, group)
    for key in sort:
        if key.measure is not None and key.measure not in measures:
            measures.append(key.measure)
    having = _having(select.args["having"].this, select, outputs, table, group) if select.args.get("having") else None
    having_measures = sorted({n.name.partition(":")[2] for n in having.find_all(exp.Column)
                              if n.name.startswith("measure:")}) if having is not None else []  # fmt: skip
    measures.extend(name for name in having_measures if name not in measures)
    if not measures:
        measures.append(_cheapest_measure(table))  # the engine answers cells with a measure; it is not shown
    # attributes beyond key and label are looked up in the members, after the engine answered
    used = [*group, *(k.attribute for k in sort if k.attribute), *(o.attribute for o in outputs if o.attribute)]
    if having is not None:
        used += [table.column(n.name.partition(":")[2]) for n in having.find_all(exp.Column)  # type: ignore[misc]
                 if n.name.startswith("attribute:")]  # fmt: skip
    looked_up = list(dict.fromkeys(c for c in used if isinstance(c, AttributeColumn) and not c.in_cells))
    sorts_looked_up = any(
        (key.attribute is not None and not key.attribute.in_cells)
        or (key.output is not None and (attribute := outputs[key.output].attribute) is not None
            and not attribute.in_cells)
        for key in sort
    )  # fmt: skip
    # HAVING filters cells here, and a looked-up attribute orders them here: ordering and paging follow
    engine_sorts = not merge and having is None and not sorts_looked_up
    order = tuple(_order_item(key, outputs) for key in sort) if engine_sorts else ()
    engine_pages = engine_sorts and bool(drilldown) and (limit is None or limit <= max_page_size)
    query = Query(
        table.name,
        cuts=filtered.cuts,
        drilldown=drilldown,
        measures=tuple(measures),
        order=order,
        limit=limit if engine_pages else None,
        offset=offset if engine_pages else 0,
    )
    return CubeSelect(
        table,
        query,
        outputs,
        grouped=bool(drilldown),
        group=group,
        merge=merge,
        empty=filtered.empty,
        sort=[] if engine_sorts else sort,
        limit=None if engine_pages else limit,
        offset=0 if engine_pages else offset,
        having=having,
        having_measures=having_measures,
        looked_up=looked_up,
    )


def _refuse_unsupported(select: exp.Select) -> None:
    for key in ("joins", "laterals", "qualify", "windows", "with", "pivots", "sample"):
        if select.args.get(key):
            word = {"joins": "JOIN", "with": "WITH", "windows": "WINDOW", "laterals": "LATERAL"}.get(key, key.upper())
            raise SqlUnsupportedError(f"{word} is not supported on cube tables: ask one cube, grouped by its levels")
    distinct = select.args.get("distinct")
    if distinct is not None and distinct.args.get("on"):
        raise SqlUnsupportedError("DISTINCT ON is not supported on cube tables")
    group = select.args.get("group")
    if group is not None and any(group.args.get(k) for k in ("rollup", "cube", "grouping_sets")):
        raise SqlUnsupportedError("ROLLUP, CUBE and GROUPING SETS are not supported; the cube's totals are its queries")
    if select.find(exp.Window):
        raise SqlUnsupportedError("window functions are not supported on cube tables")


# ---- select list --------------------------------------------------------------------------------
def _outputs(item: exp.Expression, table: CubeTable) -> list[Output]:
    alias = item.alias if isinstance(item, exp.Alias) else None
    node = item.this if isinstance(item, exp.Alias) else item
    if isinstance(node, exp.Star) or (isinstance(node, exp.Column) and isinstance(node.this, exp.Star)):
        # every column of the dimensions' default hierarchies and every measure: levels of two hierarchies of one
        # dimension cannot be grouped together
        return [_column_output(column.name, column) for column in table.columns if _in_default_hierarchy(column)]
    if isinstance(node, exp.Column):
        column = table.column(node.name)
        return [_column_output(alias or node.name, column)]
    measure = measure_of(node, table)
    if measure is not None:
        name = alias or _default_name(node)
        return [Output(name, table.column(measure.name).sql_type, measure=measure)]
    try:
        value = literal_value(node)
    except NotLiteral:
        raise SqlUnsupportedError(
            f"cannot select {node.sql(dialect='postgres')} from a cube table: select level columns, measures, and "
            "SUM/MIN/MAX/AVG/COUNT/MEASURE of a measure",
            expression=node.sql(dialect="postgres"),
        ) from None
    return [Output(alias or "?column?", _constant_type(value), constant=value)]


def _in_default_hierarchy(column: AttributeColumn | MeasureColumn) -> bool:
    if isinstance(column, MeasureColumn):
        return True
    return column.level.name in column.dimension.hierarchy().levels


def _column_output(name: str, column: AttributeColumn | MeasureColumn) -> Output:
    if isinstance(column, AttributeColumn):
        return Output(name, column.sql_type, attribute=column)
    return Output(name, column.sql_type, measure=column.measure)


def _default_name(node: exp.Expression) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    names = {exp.Sum: "sum", exp.Min: "min", exp.Max: "max", exp.Avg: "avg", exp.Count: "count"}
    return names.get(type(node), "?column?")


def _constant_type(value: Any) -> str:
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "INTEGER"
    if isinstance(value, Decimal):
        return "DECIMAL"
    return "VARCHAR"


def measure_of(node: exp.Expression, table: CubeTable) -> Measure | None:
    """The measure an aggregate call asks for (None: ``node`` is no aggregate); refuses one it cannot answer."""
    if isinstance(node, exp.Anonymous) and str(node.name).lower() == "measure":
        if len(node.expressions) != 1 or not isinstance(node.expressions[0], exp.Column):
            raise SqlUnsupportedError("MEASURE takes one measure column: MEASURE(revenue)")
        return _measure_column(node.expressions[0], table, "MEASURE").measure
    if isinstance(node, exp.Count):
        argument = node.this
        if isinstance(argument, exp.Star):
            counts = [c.measure for c in table.measures if c.measure.function is AggFunc.COUNT]
            if not counts:
                raise SqlAggregationError(f"cube {table.name!r} has no count measure to answer COUNT(*)")
            return counts[0]
        if isinstance(argument, exp.Distinct) and len(argument.expressions) == 1:
            measure = _measure_column(argument.expressions[0], table, "COUNT(DISTINCT ...)").measure
            return _allowed(measure, "COUNT(DISTINCT ...)", (AggFunc.COUNT_DISTINCT,))
        raise SqlAggregationError(
            "COUNT answers COUNT(*) (the cube's record count) and COUNT(DISTINCT m) of a distinct-count measure; "
            "ask other measures with MEASURE(m)"
        )
    for kind, (word, functions) in AGGREGATES.items():
        if isinstance(node, kind):
            measure = _measure_column(node.this, table, word.upper()).measure
            return _allowed(measure, word.upper(), functions)
    if isinstance(node, exp.AggFunc):
        raise SqlUnsupportedError(
            f"{node.sql(dialect='postgres')}: the aggregates are SUM, MIN, MAX, AVG, COUNT and MEASURE"
        )
    return None


def _measure_column(node: exp.Expression, table: CubeTable, word: str) -> MeasureColumn:
    if isinstance(node, exp.Distinct) or not isinstance(node, exp.Column):
        raise SqlUnsupportedError(f"{word} takes one measure column, not {node.sql(dialect='postgres')}")
    column = table.column(node.name)
    if not isinstance(column, MeasureColumn):
        raise SqlAggregationError(
            f"{word}({column.name}): {column.name} is a level column; aggregate measures and group by levels",
            column=column.name,
        )
    return column


def _allowed(measure: Measure, word: str, functions: tuple[AggFunc, ...]) -> Measure:
    if measure.function in functions:
        return measure
    function = measure.function
    kind = f"a {function.value.replace('_', ' ')}" if function else f"the formula {measure.formula_text}"
    raise SqlAggregationError(
        f"{word}({measure.name}) cannot be answered: {measure.name} is {kind}, which {word} does not merge to the "
        f"right number; ask MEASURE({measure.name}) for its value per group",
        measure=measure.name,
    )


# ---- grouping -----------------------------------------------------------------------------------
def _group_columns(
    nodes: list[exp.Expression], items: list[exp.Expression], outputs: list[Output], table: CubeTable
) -> list[AttributeColumn]:
    group: list[AttributeColumn] = []
    for node in nodes:
        output = _output_named(node, items, outputs)
        if output is not None:
            if output.attribute is None:
                raise SqlAggregationError(f"cannot group by {node.sql(dialect='postgres')}: group by level columns")
            group.append(output.attribute)
            continue
        if not isinstance(node, exp.Column):
            raise SqlUnsupportedError(f"GROUP BY takes level columns, not {node.sql(dialect='postgres')}")
        column = table.column(node.name)
        if not isinstance(column, AttributeColumn):
            raise SqlAggregationError(f"cannot group by measure {column.name!r}: group by level columns")
        group.append(column)
    return list(dict.fromkeys(group))


def _output_named(node: exp.Expression, items: list[exp.Expression], outputs: list[Output]) -> Output | None:
    """An output a GROUP BY or ORDER BY item names: by position (1-based) or by its alias."""
    if isinstance(node, exp.Literal) and not node.is_string:
        position = int(node.this)
        if not 1 <= position <= len(outputs):
            raise SqlUnsupportedError(f"position {position} is not in the select list", position=position)
        return outputs[position - 1]
    if isinstance(node, exp.Column) and not node.table:
        aliased = [o for item, o in zip(items, outputs, strict=False) if isinstance(item, exp.Alias)]
        for output in aliased:
            if output.name == node.name:
                return output
    return None


def _check_grouped(outputs: list[Output], group: list[AttributeColumn]) -> None:
    levels = {column.level.ref for column in group}
    for output in outputs:
        if output.attribute is not None and output.attribute.level.ref not in levels:
            raise SqlAggregationError(
                f'column "{output.attribute.name}" must appear in the GROUP BY clause or be used in an aggregate '
                "function",
                column=output.attribute.name,
            )


def _drilldown(group: list[AttributeColumn], table: CubeTable) -> tuple[tuple[DrilldownItem, ...], bool]:
    """Drill each grouped dimension to its deepest grouped level; and whether cells may share a group."""
    items = []
    merge = False
    by_dimension: dict[str, list[AttributeColumn]] = {}
    for column in group:
        by_dimension.setdefault(column.dimension.name, []).append(column)
    for name, columns in by_dimension.items():
        dimension = table.cube.dimension(name)
        named = {column.level.name for column in columns}
        default = dimension.hierarchy()
        candidates = (default, *(h for h in dimension.hierarchies if h.name != default.name))
        hierarchy = next((h for h in candidates if named <= set(h.levels)), None)
        if hierarchy is None:
            raise SqlUnsupportedError(
                f"no hierarchy of {name!r} holds all of {', '.join(sorted(named))}: group by one hierarchy's levels",
                dimension=name,
            )
        depth = max(hierarchy.depth_of(level) for level in named)
        keys = {column.level.name for column in columns if column.is_key}
        merge = merge or not set(hierarchy.levels[:depth]) <= keys
        hierarchy_name = None if hierarchy.name == dimension.default_hierarchy_name else hierarchy.name
        items.append(DrilldownItem(name, hierarchy_name, hierarchy.levels[depth - 1]))
    return tuple(items), merge


def _having(
    condition: exp.Expression, select: exp.Select, outputs: list[Output], table: CubeTable, group: list[AttributeColumn]
) -> exp.Expression:
    """HAVING with each aggregate, measure and grouped level column replaced by a named reference to its value."""

    def reference(node: exp.Expression) -> exp.Expression:
        measure = measure_of(node, table) if not isinstance(node, exp.Column) else None
        if measure is not None:
            return exp.column(exp.to_identifier(f"measure:{measure.name}", quoted=True))
        if not isinstance(node, exp.Column):
            return node
        output = _output_named(node, select.expressions, outputs)
        column = output.measure or output.attribute if output is not None else table.column(node.name)
        if isinstance(column, MeasureColumn):
            column = column.measure
        if isinstance(column, AttributeColumn):
            if column.level.ref not in {c.level.ref for c in group}:
                raise SqlAggregationError(f'HAVING {column.name}: column "{column.name}" must appear in GROUP BY')
            return exp.column(exp.to_identifier(f"attribute:{column.name}", quoted=True))
        if column is None:
            raise SqlUnsupportedError(f"HAVING cannot test {node.sql(dialect='postgres')}")
        return exp.column(exp.to_identifier(f"measure:{column.name}", quoted=True))

    return condition.copy().transform(reference)


def _cheapest_measure(table: CubeTable) -> str:
    for column in table.measures:
        if column.measure.function is AggFunc.COUNT:
            return column.name
    stored = [c for c in table.measures if c.measure.formula is None]
    return (stored or list(table.measures))[0].name


# ---- order and page -----------------------------------------------------------------------------
def _sort_keys(
    select: exp.Select, outputs: list[Output], table: CubeTable, group: list[AttributeColumn]
) -> list[SortKey]:
    order = select.args.get("order")
    if order is None:
        return []
    keys = []
    for ordered in order.expressions:
        node = ordered.this
        descending = bool(ordered.args.get("desc"))
        nulls_first = bool(ordered.args.get("nulls_first"))
        output = _output_named(node, select.expressions, outputs)
        if output is None and isinstance(node, exp.Column):
            output = next((o for o in outputs if o.name == node.name), None)
        if output is not None:
            if output.attribute is not None or output.measure is not None:  # a constant orders nothing
                keys.append(SortKey(outputs.index(output), None, None, descending, nulls_first))
            continue
        if isinstance(node, exp.Column):
            column = table.column(node.name)
            if isinstance(column, MeasureColumn):
                keys.append(SortKey(None, column.name, None, descending, nulls_first))
                continue
            if column.level.ref not in {c.level.ref for c in group}:
                raise SqlAggregationError(
                    f'ORDER BY {column.name}: column "{column.name}" must appear in the GROUP BY clause',
                    column=column.name,
                )
            keys.append(SortKey(None, None, column, descending, nulls_first))
            continue
        measure = measure_of(node, table)
        if measure is None:
            raise SqlUnsupportedError(f"cannot order by {node.sql(dialect='postgres')}")
        position = next((i for i, o in enumerate(outputs) if o.measure == measure), None)
        keys.append(SortKey(position, None if position is not None else measure.name, None, descending, nulls_first))
    return keys


def _order_item(key: SortKey, outputs: list[Output]) -> OrderItem:
    if key.output is not None:
        output = outputs[key.output]
        if output.measure is not None:
            return OrderItem(output.measure.name, key.descending)
        assert output.attribute is not None
        return _attribute_order(output.attribute, key.descending)
    if key.measure is not None:
        return OrderItem(key.measure, key.descending)
    assert key.attribute is not None
    return _attribute_order(key.attribute, key.descending)


def _attribute_order(column: AttributeColumn, descending: bool) -> OrderItem:
    return OrderItem(column.cell_key, descending)


def _page(select: exp.Select) -> tuple[int | None, int]:
    limit_node = select.args.get("limit")
    limit: int | None = None
    if isinstance(limit_node, exp.Limit):
        limit = _count(limit_node.expression, "LIMIT")
    elif isinstance(limit_node, exp.Fetch):
        limit = _count(limit_node.args.get("count"), "FETCH FIRST") if limit_node.args.get("count") else 1
    offset_node = select.args.get("offset")
    offset = _count(offset_node.expression, "OFFSET") if offset_node is not None else 0
    return limit, offset or 0


def _count(node: exp.Expression | None, word: str) -> int | None:
    if node is None or (isinstance(node, exp.Var) and node.name.upper() == "ALL"):
        return None
    try:
        value = literal_value(node)
    except NotLiteral:
        raise SqlUnsupportedError(f"{word} takes a number, not {node.sql(dialect='postgres')}") from None
    if value is None:
        return None
    if not isinstance(value, int) or value < 0:
        raise SqlUnsupportedError(f"{word} must be a number of rows, 0 or more", value=str(value))
    return value


__all__ = ["CubeSelect", "Filter", "Output", "SortKey", "translate", "measure_of", "MERGEABLE"]
