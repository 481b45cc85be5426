"""The star (or snowflake) of one cube as SQLAlchemy Core: its FROM clause, attribute and measure columns.

Attributes reached through a join with an ``unknown_member`` read as that member when the detail row
is missing, so facts with orphan keys are kept (and counted) under an explicit member instead of
vanishing from totals.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from cube_models import AggFunc, ColumnRef, Cube, Measure
from cube_models.expression import Binary, Call, Conditional, Expr, Literal, Name, Unary
from cube_server.errors import ProjectError
from cube_server.sql_dialect import cell_average, cell_total, level_extract

STRING_TYPES = ("VARCHAR", "TEXT", "STRING")


class Star:
    def __init__(self, cube: Cube, tables: dict[str, sa.TableClause]) -> None:
        self.cube = cube
        missing = [t for t in [cube.fact, *(j.detail.table for j in cube.joins)] if t not in tables]
        if missing:
            raise ProjectError(f"cube {cube.name!r} needs tables that are not configured: {', '.join(missing)}")
        self.sources: dict[str, sa.FromClause] = {cube.fact: tables[cube.fact]}
        self._unknown: dict[str, tuple[sa.ColumnElement[Any], str]] = {}
        joined: sa.FromClause = tables[cube.fact]
        for join in cube.joins:
            detail = tables[join.detail.table]
            source = detail.alias(join.alias) if join.alias else detail
            self.sources[join.detail_name] = source
            on = self._column(join.master) == self._column(ColumnRef(join.detail_name, join.detail.column))
            if join.method == "match":
                joined = joined.join(source, on)
            elif join.method == "master":
                joined = joined.outerjoin(source, on)
            else:
                joined = source.outerjoin(joined, on)
            if join.unknown_member is not None:
                key = self._column(ColumnRef(join.detail_name, join.detail.column))
                self._unknown[join.detail_name] = (key, join.unknown_member)
        self.from_clause = joined
        self._tables = tables
        self.string_refs: set[str] = set()
        # measure name -> SQL type of its input, learnt at startup: sums keep the input's exact type
        self.measure_types: dict[str, str] = {}

    def over_facts(self, facts: sa.TableClause) -> Star:
        """The same star over another relation with the fact table's columns (the rows a refresh changes)."""
        star = Star(self.cube, {**self._tables, self.cube.fact: facts})
        star.string_refs = self.string_refs
        star.measure_types = self.measure_types
        return star

    def over_distinct_facts(self, refs: set[str]) -> Star:
        """The star over the distinct values of the fact columns that ``refs`` read, directly or by their joins.

        The attributes ``refs`` name depend on those columns only, so grouping by them (as members do) gives
        the same groups from here as from every fact row, reading a few hundred codes, not millions of rows.
        """
        fact = self.cube.fact
        needed = self._tables_for(refs)
        columns = {self.cube.physical(ref).column for ref in refs if self.cube.physical(ref).table == fact}
        columns |= {
            join.master.column for join in self.cube.joins if join.detail_name in needed and join.master.table == fact
        }
        source = self.sources[fact]
        if not columns:
            return self
        # The other columns are there for the star's shape (every join names its column), as NULLs.
        kept = [column if column.name in columns else sa.null().label(column.name) for column in source.c]
        distinct = sa.select(*kept).distinct().subquery(fact)
        return self.over_facts(distinct)  # type: ignore[arg-type]

    def joins_keep_fact_rows(self) -> bool:
        """Whether every join is a left join to a keyed dimension: joining then adds and drops no fact rows."""
        return all(join.method == "master" for join in self.cube.joins)

    def from_clause_for(self, refs: set[str], measures: tuple[Measure, ...] = ()) -> sa.FromClause:
        """The FROM clause with only the joins a statement needs.

        A left join to a dimension table keyed by its join column neither adds nor drops fact rows,
        so joins nobody reads are left out; inner and right joins filter rows and are always kept.
        """
        needed = self._tables_for(refs, measures)
        joined: sa.FromClause = self.sources[self.cube.fact]
        for join in self.cube.joins:
            if join.detail_name not in needed:
                continue
            source = self.sources[join.detail_name]
            on = self._column(join.master) == self._column(ColumnRef(join.detail_name, join.detail.column))
            if join.method == "match":
                joined = joined.join(source, on)
            elif join.method == "master":
                joined = joined.outerjoin(source, on)
            else:
                joined = source.outerjoin(joined, on)
        return joined

    def _tables_for(self, refs: set[str], measures: tuple[Measure, ...] = ()) -> set[str]:
        needed = {self.cube.physical(ref).table for ref in refs}
        for measure in measures:
            needed |= self._measure_tables(measure)
        for join in reversed(self.cube.joins):
            if join.detail_name in needed or join.method != "master":
                needed.add(join.master.table)
                needed.add(join.detail_name)
        return needed

    def _measure_tables(self, measure: Measure) -> set[str]:
        names = set(measure.expression.names()) if measure.expression is not None else set()
        if measure.column is not None:
            names.add(measure.column)
        tables = set()
        for name in names:
            if "." in name:
                tables.add(name.split(".", 1)[0])
            else:
                tables.add(self.cube.physical(name).table)
        return tables

    def _column(self, ref: ColumnRef) -> sa.ColumnElement[Any]:
        source = self.sources.get(ref.table)
        if source is None:
            raise ProjectError(f"cube {self.cube.name!r} refers to table {ref.table!r}, which is not joined")
        if ref.column not in source.c:
            raise ProjectError(f"table {ref.table!r} has no column {ref.column!r} (cube {self.cube.name!r})")
        column: sa.ColumnElement[Any] = source.c[ref.column]
        if ref.extract:
            column = level_extract(ref.extract, column)
        return column

    def attribute(self, ref: str) -> sa.ColumnElement[Any]:
        """The SQL expression of a logical attribute reference (``dimension.attribute``)."""
        physical = self.cube.physical(ref)
        column = self._column(physical)
        unknown = self._unknown.get(physical.table)
        if unknown is not None and ref in self.string_refs:
            key, member = unknown
            column = sa.case((key.is_(None), sa.literal(member)), else_=column)
        return column

    def fact_value(self, name: str) -> sa.ColumnElement[Any]:
        """A fact column, a ``table.column`` or a declared measure column, for measure inputs."""
        if "." in name:
            table, column = name.split(".", 1)
            return self._column(ColumnRef(table, column))
        return self._column(self.cube.physical(name))

    def measure_input(self, measure: Measure) -> sa.ColumnElement[Any] | None:
        if measure.expression is not None:
            return self.render(measure.expression, self.fact_value)
        if measure.column is not None:
            return self.fact_value(measure.column)
        return None

    @staticmethod
    def aggregate(
        function: AggFunc, value: sa.ColumnElement[Any] | None, input_type: str = ""
    ) -> sa.ColumnElement[Any]:
        if function is AggFunc.COUNT:
            return sa.func.count()
        assert value is not None
        if function is AggFunc.SUM:
            return cell_total(value, input_type)
        if function is AggFunc.COUNT_NONEMPTY:
            return sa.func.count(value)
        if function is AggFunc.COUNT_DISTINCT:
            return sa.func.count(sa.distinct(value))
        if function is AggFunc.MIN:
            return sa.func.min(value)
        if function is AggFunc.MAX:
            return sa.func.max(value)
        if function is AggFunc.AVG:
            return cell_average(value)
        raise AssertionError(function)

    def measure_inputs(self, measure: Measure) -> list[sa.ColumnElement[Any]]:
        value = self.measure_input(measure)
        return [] if value is None else [value]

    def merge(self, measure: Measure, inputs: list[sa.ColumnElement[Any]]) -> sa.ColumnElement[Any]:
        assert measure.function is not None
        return self.aggregate(measure.function, inputs[0] if inputs else None, self.measure_types.get(measure.name, ""))

    def render(self, expr: Expr, resolve_name: Any) -> sa.ColumnElement[Any]:
        return render_expression(expr, resolve_name)


def render_expression(expr: Expr, resolve_name: Any) -> sa.ColumnElement[Any]:
    """Render a model expression with ``resolve_name(name) -> column`` for its names."""
    render = render_expression
    if isinstance(expr, Literal):
        if isinstance(expr.value, Decimal):
            return sa.literal(expr.value, sa.Numeric())
        return sa.literal(expr.value)
    if isinstance(expr, Name):
        return resolve_name(expr.name)  # type: ignore[no-any-return]
    if isinstance(expr, Unary):
        operand = render(expr.operand, resolve_name)
        return -operand if expr.op == "-" else sa.not_(operand)
    if isinstance(expr, Binary):
        return _binary(expr.op, render(expr.left, resolve_name), render(expr.right, resolve_name))
    if isinstance(expr, Conditional):
        return sa.case(
            (render(expr.condition, resolve_name), render(expr.then, resolve_name)),
            else_=render(expr.otherwise, resolve_name),
        )
    if isinstance(expr, Call):
        args = [render(arg, resolve_name) for arg in expr.args]
        return getattr(sa.func, expr.function)(*args)  # type: ignore[no-any-return]
    raise AssertionError(expr)


def _binary(op: str, left: sa.ColumnElement[Any], right: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op == "/":
        # Division by zero is NULL, not an error, in every measure expression.
        return sa.cast(left, sa.Double()) / sa.func.nullif(right, 0)
    if op == "%":
        return left % right
    if op == "and":
        return sa.and_(left, right)
    if op == "or":
        return sa.or_(left, right)
    comparisons = {"==": "__eq__", "!=": "__ne__", "<": "__lt__", "<=": "__le__", ">": "__gt__", ">=": "__ge__"}
    return getattr(left, comparisons[op])(right)  # type: ignore[no-any-return]
