"""WHERE on level columns to cuts, one per dimension.

A predicate that fixes levels from the top of a hierarchy down (``time_year = 2024 AND time_quarter
IN (1, 2)``, ``time_year BETWEEN 2023 AND 2024``) becomes a point, set or range cut directly. Any
other predicate on one dimension's columns (``geography_province = 'gd'``, ``NOT``, ``OR``, ``<>``,
``LIKE``, ``IS NULL``) is evaluated, with SQL's three-valued logic, over the members of the deepest
level it names, and becomes a set cut of the matching members' paths. So a cut is always a path from
the top, as the engine (and its cuboid router) wants. An OR across two dimensions has no cut: it is
refused rather than answered wrongly.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlglot import exp

from cube_models import Dimension, Hierarchy, Level
from cube_server.errors import ResultTooLargeError, SqlUnsupportedError, SqlValueError
from cube_server.query import Cut, Path, PointCut, RangeCut, SetCut
from cube_server.sql.tables import AttributeColumn, CubeTable, MeasureColumn

# (dimension, hierarchy, level) -> the members of that level (the engine's member rows), within the principal's rows
MemberSource = Callable[[str, str, str], Iterable[dict[str, Any]]]
INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
MAX_SET_PATHS = 10_000
ColumnValue = Callable[[exp.Column], Any]  # a column's value in the row a condition is evaluated for
COMPARISONS = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE)


@dataclass(frozen=True, slots=True)
class Filter:
    cuts: tuple[Cut, ...] = ()
    empty: bool = False  # no member can match: the answer has no rows


class NotLiteral(Exception):
    """Control flow: an expression that is not a constant."""


def literal_value(node: exp.Expression) -> Any:
    """The Python value of a constant expression (a literal, NULL, TRUE, -5, '2024-01-01'::date)."""
    if isinstance(node, exp.Paren):
        return literal_value(node.this)
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Boolean):
        return bool(node.this)
    if isinstance(node, exp.Literal):
        if node.is_string:
            return node.this
        text = node.this
        try:
            return int(text)
        except ValueError:
            return Decimal(text)
    if isinstance(node, exp.Neg):
        value = literal_value(node.this)
        if isinstance(value, int | Decimal | float):
            return -value
    if isinstance(node, exp.Cast):
        return literal_value(node.this)
    raise NotLiteral(node.sql())


def where_cuts(condition: exp.Expression | None, table: CubeTable, members: MemberSource, max_members: int) -> Filter:
    if condition is None:
        return Filter()
    by_dimension: dict[str, list[exp.Expression]] = {}
    for conjunct in _conjuncts(condition):
        columns = _attribute_columns(conjunct, table)
        dimensions = {column.dimension.name for column in columns}
        if not dimensions:
            if evaluate(conjunct, _no_column) is not True:
                return Filter(empty=True)
            continue
        if len(dimensions) > 1:
            raise SqlUnsupportedError(
                f"a condition may name the levels of one dimension only ({', '.join(sorted(dimensions))} in "
                f"{conjunct.sql(dialect='postgres')}); OR across dimensions cannot be cut",
                condition=conjunct.sql(dialect="postgres"),
            )
        by_dimension.setdefault(dimensions.pop(), []).append(conjunct)
    cuts = []
    for name, conjuncts in by_dimension.items():
        dimension = table.cube.dimension(name)
        levels = {column.level.name for c in conjuncts for column in _attribute_columns(c, table)}
        hierarchy = _hierarchy_with(dimension, levels)
        for group in _by_member_level(conjuncts, hierarchy, table):
            cut = _path_cut(dimension, hierarchy, group, table)
            if cut is None:
                cut = _member_cut(dimension, hierarchy, group, table, members, max_members)
            if cut is None:
                return Filter(empty=True)
            cuts.append(cut)
    return Filter(tuple(cuts))


def _by_member_level(
    conjuncts: list[exp.Expression], hierarchy: Hierarchy, table: CubeTable
) -> list[list[exp.Expression]]:
    """The conjuncts in groups each evaluated over one level's members: an attribute other than a key or label is
    in the members of its own level only, so a condition naming one is tested there (each group is a cut)."""
    plain: list[exp.Expression] = []
    own_level: dict[str, list[exp.Expression]] = {}
    for conjunct in conjuncts:
        columns = _attribute_columns(conjunct, table)
        own = {column.level.name for column in columns if not column.in_cells}
        if not own:
            plain.append(conjunct)
            continue
        level = own.pop()
        if own or max(hierarchy.depth_of(c.level.name) for c in columns) > hierarchy.depth_of(level):
            raise SqlUnsupportedError(
                f"{conjunct.sql(dialect='postgres')}: a condition on an attribute other than a level's key or label "
                "may name only that level and the levels above it",
            )
        own_level.setdefault(level, []).append(conjunct)
    return ([plain] if plain else []) + list(own_level.values())


def _conjuncts(node: exp.Expression) -> list[exp.Expression]:
    if isinstance(node, exp.And):
        return _conjuncts(node.this) + _conjuncts(node.expression)
    if isinstance(node, exp.Paren):
        return _conjuncts(node.this)
    return [node]


def _attribute_columns(node: exp.Expression, table: CubeTable) -> list[AttributeColumn]:
    columns = []
    for reference in node.find_all(exp.Column):
        column = table.column(reference.name)
        if isinstance(column, MeasureColumn):
            raise SqlUnsupportedError(
                f"WHERE cannot test measure {column.name!r}: a measure is known per group, so filter it with HAVING",
                column=column.name,
            )
        columns.append(column)
    return columns


def _hierarchy_with(dimension: Dimension, levels: set[str]) -> Hierarchy:
    default = dimension.hierarchy()
    for hierarchy in (default, *(h for h in dimension.hierarchies if h.name != default.name)):
        if levels <= set(hierarchy.levels):
            return hierarchy
    raise SqlUnsupportedError(
        f"no hierarchy of {dimension.name!r} has all of the levels {', '.join(sorted(levels))} named in WHERE",
        dimension=dimension.name,
    )


def _hierarchy_name(dimension: Dimension, hierarchy: Hierarchy) -> str | None:
    return None if hierarchy.name == dimension.default_hierarchy_name else hierarchy.name


# ---- direct cuts: levels fixed from the top down ------------------------------------------------
def _path_cut(
    dimension: Dimension, hierarchy: Hierarchy, conjuncts: list[exp.Expression], table: CubeTable
) -> Cut | None:
    """A point, set or range cut when the conjuncts fix the hierarchy's levels from the top; else None."""
    per_level: dict[str, tuple[str, Any]] = {}
    for conjunct in conjuncts:
        simple = _simple(conjunct, table)
        if simple is None:
            return None
        column, constraint = simple
        merged = _merge(per_level.get(column.level.name), constraint)
        if merged is None:
            return None
        per_level[column.level.name] = merged
    levels = dimension.levels_of(hierarchy)
    depth = len(per_level)
    if set(per_level) != {level.name for level in levels[:depth]}:
        return None  # not a prefix of the hierarchy: the members decide
    prefix_values = [per_level[level.name] for level in levels[: depth - 1]]
    if any(kind != "in" for kind, _ in prefix_values):
        return None
    last_kind, last = per_level[levels[depth - 1].name]
    prefixes = list(itertools.product(*(values for _, values in prefix_values)))
    if last_kind == "in":
        paths = [(*prefix, value) for prefix in prefixes for value in last]
        if not paths or len(paths) > MAX_SET_PATHS:
            return None  # no path (the members then find none) or too many to list
        return _set_or_point(dimension, hierarchy, paths)
    low, high = last
    if len(prefixes) != 1 or (prefixes[0] and (low is None or high is None)):
        return None  # an open end below a fixed prefix would run past it
    prefix = prefixes[0]
    return RangeCut(
        dimension.name,
        (*prefix, low) if low is not None else None,
        (*prefix, high) if high is not None else None,
        _hierarchy_name(dimension, hierarchy),
    )


def _set_or_point(dimension: Dimension, hierarchy: Hierarchy, paths: list[Path]) -> Cut:
    name = _hierarchy_name(dimension, hierarchy)
    if len(paths) == 1:
        return PointCut(dimension.name, paths[0], name)
    return SetCut(dimension.name, tuple(paths), name)


def _simple(node: exp.Expression, table: CubeTable) -> tuple[AttributeColumn, tuple[str, Any]] | None:
    """``key = v``, ``key IN (...)``, ``key BETWEEN a AND b`` or a one-sided bound, as (column, constraint)."""
    if node.args.get("negate"):
        return None
    try:
        if isinstance(node, exp.In) and isinstance(node.this, exp.Column) and not node.args.get("query"):
            column = _key_column(node.this, table)
            values = [literal_value(v) for v in node.expressions]
            return (column, ("in", _elements(column, values))) if column and None not in values else None
        if isinstance(node, exp.Between) and isinstance(node.this, exp.Column):
            column = _key_column(node.this, table)
            low, high = literal_value(node.args["low"]), literal_value(node.args["high"])
            if column is None or low is None or high is None:
                return None
            return column, ("range", (_element(column, low), _element(column, high)))
        if isinstance(node, (exp.EQ, exp.GT, exp.GTE, exp.LT, exp.LTE)):
            left, right, kind = node.this, node.expression, type(node)
            if isinstance(right, exp.Column) and not isinstance(left, exp.Column):
                left, right, kind = right, left, _FLIPPED.get(kind, kind)
            if not isinstance(left, exp.Column):
                return None
            column = _key_column(left, table)
            value = literal_value(right)
            if column is None or value is None:
                return None
            return _bound(column, kind, value)
    except NotLiteral:
        return None
    return None


_FLIPPED: dict[type, type] = {exp.GT: exp.LT, exp.LT: exp.GT, exp.GTE: exp.LTE, exp.LTE: exp.GTE}


def _bound(column: AttributeColumn, kind: type, value: Any) -> tuple[AttributeColumn, tuple[str, Any]] | None:
    if kind is exp.EQ:
        return column, ("in", _elements(column, [value]))
    integer = column.sql_type.upper() in INTEGER_TYPES
    if kind in (exp.GT, exp.LT) and not integer:
        return None  # a range cut is inclusive; strict bounds of strings go through the members
    number = _integer(column, value) if integer else None
    if kind is exp.GT:
        return column, ("range", (str(number + 1), None))  # type: ignore[operator]
    if kind is exp.LT:
        return column, ("range", (None, str(number - 1)))  # type: ignore[operator]
    element = _element(column, value)
    return column, ("range", (element, None) if kind is exp.GTE else (None, element))


def _merge(existing: tuple[str, Any] | None, new: tuple[str, Any]) -> tuple[str, Any] | None:
    """Two constraints on one level: sets intersect, ranges narrow; a set with a range goes to the members."""
    if existing is None:
        return new
    if existing[0] == new[0] == "in":
        return "in", [value for value in existing[1] if value in new[1]]
    if existing[0] == new[0] == "range":
        (low1, high1), (low2, high2) = existing[1], new[1]
        if (low1 is not None and low2 is not None) or (high1 is not None and high2 is not None):
            return None  # comparing two bounds of one side needs the column's order: leave it to the members
        return "range", (low1 if low1 is not None else low2, high1 if high1 is not None else high2)
    return None


def _key_column(node: exp.Column, table: CubeTable) -> AttributeColumn | None:
    column = table.column(node.name)
    return column if isinstance(column, AttributeColumn) and column.is_key else None


def _integer(column: AttributeColumn, value: Any) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        number = Decimal(str(value))
        if number != number.to_integral_value():
            raise ValueError
        return int(number)
    except (ValueError, InvalidOperation) as exc:
        raise SqlValueError(
            f"invalid input syntax for type {column.sql_type.lower()}: {value!r} (column {column.name})",
            column=column.name,
        ) from exc


def _element(column: AttributeColumn, value: Any) -> str:
    """A cut path element: the text of the value as the column's type reads it."""
    if column.sql_type.upper() in INTEGER_TYPES:
        return str(_integer(column, value))
    return value.isoformat() if isinstance(value, date) else str(value)


def _elements(column: AttributeColumn, values: list[Any]) -> list[str]:
    return list(dict.fromkeys(_element(column, value) for value in values))


# ---- cuts from the members ----------------------------------------------------------------------
def _member_cut(
    dimension: Dimension,
    hierarchy: Hierarchy,
    conjuncts: list[exp.Expression],
    table: CubeTable,
    members: MemberSource,
    max_members: int,
) -> Cut | None:
    """A set cut of the members (at the deepest level named) that satisfy every conjunct; None when none do."""
    levels = dimension.levels_of(hierarchy)
    named = {column.level.name for c in conjuncts for column in _attribute_columns(c, table)}
    depth = max(hierarchy.depth_of(name) for name in named)
    path_levels: tuple[Level, ...] = levels[:depth]
    paths: list[Path] = []
    seen = 0
    for row in members(dimension.name, hierarchy.name, path_levels[-1].name):
        seen += 1
        if seen > max_members:
            raise ResultTooLargeError(
                f"WHERE on {dimension.name} is tested member by member and level {path_levels[-1].ref} has more than "
                f"{max_members} members; fix the levels above it with = or IN",
                limit=max_members,
            )
        lookup = _member_value(row, table)
        if all(evaluate(conjunct, lookup) is True for conjunct in conjuncts):
            paths.append(tuple(None if row[level.ref] is None else _text(row[level.ref]) for level in path_levels))
    if not paths:
        return None
    return _set_or_point(dimension, hierarchy, paths)


def _member_value(row: dict[str, Any], table: CubeTable) -> ColumnValue:
    def value(node: exp.Column) -> Any:
        column = table.column(node.name)
        assert isinstance(column, AttributeColumn)
        return row.get(column.cell_key)

    return value


def _no_column(node: exp.Column) -> Any:
    raise AssertionError(f"a constant condition has no column ({node.sql()})")


def _text(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def evaluate(node: exp.Expression, lookup: ColumnValue) -> bool | None:
    """SQL's three-valued truth of ``node`` for one member (None is unknown)."""
    if node.args.get("negate"):  # x IS NOT NULL, x NOT IN (...), x NOT LIKE ...
        positive = node.copy()
        positive.set("negate", None)
        value = evaluate(positive, lookup)
        return None if value is None else not value
    if isinstance(node, exp.Paren):
        return evaluate(node.this, lookup)
    if isinstance(node, exp.And):
        left, right = evaluate(node.this, lookup), evaluate(node.expression, lookup)
        if left is False or right is False:
            return False
        return None if left is None or right is None else True
    if isinstance(node, exp.Or):
        left, right = evaluate(node.this, lookup), evaluate(node.expression, lookup)
        if left is True or right is True:
            return True
        return None if left is None or right is None else False
    if isinstance(node, exp.Not):
        value = evaluate(node.this, lookup)
        return None if value is None else not value
    if isinstance(node, exp.Is):
        value = _value(node.this, lookup)
        target = node.expression
        if isinstance(target, exp.Null):
            return value is None
        if isinstance(target, exp.Boolean):
            return value is bool(target.this)
    if isinstance(node, COMPARISONS):
        left, right = _pair(node.this, node.expression, lookup)
        if left is None or right is None:
            return None
        return _compare(type(node), left, right)
    if isinstance(node, exp.In) and not node.args.get("query"):
        value = _value(node.this, lookup)
        if value is None:
            return None
        results = [_compare(exp.EQ, *_pair(node.this, item, lookup)) for item in node.expressions]
        if any(result is True for result in results):
            return True
        return None if any(result is None for result in results) else False
    if isinstance(node, exp.Between):
        low = evaluate(exp.GTE(this=node.this, expression=node.args["low"]), lookup)
        high = evaluate(exp.LTE(this=node.this, expression=node.args["high"]), lookup)
        return _evaluate_and(low, high)
    if isinstance(node, (exp.Like, exp.ILike)):
        value, pattern = _value(node.this, lookup), _value(node.expression, lookup)
        if value is None or pattern is None:
            return None
        flags = re.IGNORECASE if isinstance(node, exp.ILike) else 0
        return re.fullmatch(_like_regex(str(pattern)), str(value), flags | re.DOTALL) is not None
    if isinstance(node, (exp.Boolean, exp.Null, exp.Literal)):
        value = literal_value(node)
        return None if value is None else bool(value)
    raise SqlUnsupportedError(
        f"conditions support =, <>, <, >, <=, >=, IN, BETWEEN, LIKE, IS NULL, AND, OR and NOT of columns and "
        f"constants, not {node.sql(dialect='postgres')}",
        condition=node.sql(dialect="postgres"),
    )


def _evaluate_and(left: bool | None, right: bool | None) -> bool | None:
    if left is False or right is False:
        return False
    return None if left is None or right is None else True


def _value(node: exp.Expression, lookup: ColumnValue) -> Any:
    if isinstance(node, exp.Column):
        return lookup(node)
    try:
        return literal_value(node)
    except NotLiteral:
        raise SqlUnsupportedError(
            f"conditions compare columns with constants, not with {node.sql(dialect='postgres')}"
        ) from None


def _pair(left: exp.Expression, right: exp.Expression, lookup: ColumnValue) -> tuple[Any, Any]:
    """Both sides' values, a constant read as the type of the column it is compared with."""
    a, b = _value(left, lookup), _value(right, lookup)
    if isinstance(left, exp.Column) and not isinstance(right, exp.Column):
        b = _like(b, a, left.name)
    elif isinstance(right, exp.Column) and not isinstance(left, exp.Column):
        a = _like(a, b, right.name)
    return a, b


def _like(value: Any, model: Any, column: str) -> Any:
    """``value`` as the type of ``model`` (a member's value), as PostgreSQL reads an untyped literal."""
    if value is None or model is None or type(value) is type(model):
        return value
    try:
        if isinstance(model, bool):
            return str(value).lower() in ("t", "true", "1", "yes", "on")
        if isinstance(model, int):
            return _integer_value(value)
        if isinstance(model, float | Decimal):
            return type(model)(str(value))
        if isinstance(model, datetime):
            return datetime.fromisoformat(str(value))
        if isinstance(model, date):
            return date.fromisoformat(str(value))
    except (ValueError, InvalidOperation) as exc:
        raise SqlValueError(f"invalid input {value!r} for column {column}", column=column) from exc
    return str(value)


def _integer_value(value: Any) -> int | Decimal:
    number = Decimal(str(value))
    return int(number) if number == number.to_integral_value() else number


def _compare(kind: type, left: Any, right: Any) -> bool | None:
    if left is None or right is None:
        return None
    try:
        if kind is exp.EQ:
            return bool(left == right)
        if kind is exp.NEQ:
            return bool(left != right)
        if kind is exp.GT:
            return bool(left > right)
        if kind is exp.GTE:
            return bool(left >= right)
        if kind is exp.LT:
            return bool(left < right)
        return bool(left <= right)
    except TypeError as exc:
        raise SqlValueError(f"cannot compare {left!r} with {right!r}") from exc


def _like_regex(pattern: str) -> str:
    parts = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            parts.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        index += 1
    return "".join(parts)
