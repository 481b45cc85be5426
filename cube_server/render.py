"""Render bound queries as SQLAlchemy Core statements over a cube's star, with bound parameters only.

Every statement reads from one inner SELECT over the star (the cell's cuts in its WHERE, the needed
attributes and measure inputs as labelled columns ``a<i>``/``m<i>``) and groups or pages on top of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from cube_models import Level, Measure
from cube_server.calendar_period import period_of
from cube_server.errors import CutSyntaxError
from cube_server.query import PointCut, RangeCut, SetCut
from cube_server.resolve import BoundCut
from cube_server.sql_dialect import INTEGER_TYPES
from cube_server.star import Star


class _NoSuchMember(Exception):
    """A cut value that cannot be a member of its level (e.g. text on an integer level)."""


def coerce(value: str, sql_type: str) -> Any:
    """Convert a cut path element to the level key's type, so numbers compare as numbers.

    >>> coerce("07", "BIGINT")
    7
    >>> coerce("1.50", "DECIMAL(12,2)")
    Decimal('1.50')
    >>> coerce("1997-12-24", "DATE")
    datetime.date(1997, 12, 24)
    """
    kind = sql_type.upper()
    try:
        if kind in INTEGER_TYPES:
            integer = int(value)
            # No level key is wider than 64 bits; a longer number names no member.
            if not -(2**63) <= integer < 2**63:
                raise _NoSuchMember(value)
            return integer
        if kind.startswith("DECIMAL") or kind in ("DOUBLE", "FLOAT", "REAL"):
            number = Decimal(value)
            if not number.is_finite() or abs(number.adjusted()) > 30:
                raise _NoSuchMember(value)
            return number
        if kind == "DATE":
            return date.fromisoformat(value)
        if kind.startswith("TIMESTAMP"):
            return datetime.fromisoformat(value)
        if kind == "BOOLEAN":
            lowered = value.lower()
            if lowered not in ("true", "false", "1", "0"):
                raise _NoSuchMember(value)
            return lowered in ("true", "1")
    except (ValueError, InvalidOperation) as exc:
        raise _NoSuchMember(value) from exc
    return value


def cut_refs(cuts: tuple[BoundCut, ...]) -> set[str]:
    """The attributes a set of cuts reads (the key of every level of each cut's hierarchy)."""
    return {level.key_attribute.ref for bound in cuts for level in bound.levels}


class CutRenderer:
    def __init__(self, star: Star, types: dict[str, str]) -> None:
        self.star = star
        self.types = types

    def condition(self, bound: BoundCut) -> sa.ColumnElement[bool]:
        cut = bound.cut
        if isinstance(cut, PointCut):
            condition = self.point(bound.levels, cut.path)
        elif isinstance(cut, SetCut):
            condition = sa.or_(*(self.point(bound.levels, path) for path in cut.paths))
        else:
            condition = self.range(bound, cut)
        if cut.invert:
            # NOT over a NULL comparison is NULL in SQL; a negated cut keeps rows the cut does not match.
            return sa.not_(sa.func.coalesce(condition, sa.false()))
        return condition

    def _key(self, level: Level) -> tuple[sa.ColumnElement[Any], str]:
        ref = level.key_attribute.ref
        return self.star.attribute(ref), self.types.get(ref, "VARCHAR")

    def point(self, levels: tuple[Level, ...], path: tuple[str | None, ...]) -> sa.ColumnElement[bool]:
        parts = []
        for level, value in zip(levels, path, strict=False):
            column, sql_type = self._key(level)
            if value is None:
                parts.append(column.is_(None))
                continue
            try:
                parts.append(column == coerce(value, sql_type))
            except _NoSuchMember:
                # An unknown member is not an error: the cell is simply empty.
                return sa.false()
        return sa.and_(*parts, *self._period(levels, path))

    def _period(self, levels: tuple[Level, ...], path: tuple[str | None, ...]) -> list[sa.ColumnElement[bool]]:
        """The calendar period a point on extracted time levels names, as a range of the fact column itself."""
        if not isinstance(self.star, Star) or not path:
            return []
        cube = self.star.cube
        refs = [cube.physical(level.key_attribute.ref) for level in levels[: len(path)]]
        columns = {(ref.table, ref.column) for ref in refs}
        if len(columns) != 1 or next(iter(columns))[0] != cube.fact or None in path:
            return []
        period = period_of([(ref.extract or "", str(value)) for ref, value in zip(refs, path, strict=False)])
        if period is None:
            return []
        table, name = next(iter(columns))
        column = self.star.fact_value(f"{table}.{name}")
        start, end = (sa.cast(sa.literal(bound.isoformat(sep=" ")), sa.DateTime) for bound in period)
        return [column >= start, column < end]

    def range(self, bound: BoundCut, cut: RangeCut) -> sa.ColumnElement[bool]:
        parts = []
        if cut.from_path is not None:
            parts.append(self._bound(bound, cut.from_path, lower=True))
        if cut.to_path is not None:
            parts.append(self._bound(bound, cut.to_path, lower=False))
        return sa.and_(*parts)

    def _bound(self, bound: BoundCut, path: tuple[str | None, ...], *, lower: bool) -> sa.ColumnElement[bool]:
        """Lexicographic, inclusive comparison of the level-key tuple with ``path`` (its own length)."""
        values = []
        for level, value in zip(bound.levels, path, strict=False):
            column, sql_type = self._key(level)
            if value is None:
                raise CutSyntaxError(f"a range bound cannot contain __null__ (dimension {bound.dimension.name!r})")
            try:
                values.append((column, coerce(value, sql_type)))
            except _NoSuchMember as exc:
                raise CutSyntaxError(
                    f"range bound {value!r} does not fit level {level.name!r} ({sql_type})",
                    dimension=bound.dimension.name,
                    level=level.name,
                ) from exc
        # (a, b) >= (x, y)  <=>  a > x OR (a = x AND b >= y); the last element is inclusive.
        condition: sa.ColumnElement[bool] | None = None
        for column, value in reversed(values):
            if condition is None:
                condition = column >= value if lower else column <= value
            else:
                strict = column > value if lower else column < value
                condition = sa.or_(strict, sa.and_(column == value, condition))
        assert condition is not None
        return condition


@dataclass
class InnerSelect:
    """The star filtered by the cell, exposing attributes and measure inputs under short labels."""

    star: Any  # a Star (facts) or a CuboidSource
    conditions: list[sa.ColumnElement[bool]]
    attribute_labels: dict[str, str]
    measure_labels: dict[str, str]
    filter_refs: set[str]

    @classmethod
    def make(
        cls,
        star: Star,
        conditions: list[sa.ColumnElement[bool]],
        attributes: list[str],
        measures: tuple[Measure, ...],
        filter_refs: set[str],
    ) -> InnerSelect:
        attribute_labels = {ref: f"a{i}" for i, ref in enumerate(dict.fromkeys(attributes))}
        measure_labels = {m.name: f"m{i}" for i, m in enumerate(measures)}
        return cls(star, conditions, attribute_labels, measure_labels, filter_refs)

    def subquery(self, measures: tuple[Measure, ...]) -> sa.Subquery:
        columns: list[sa.ColumnElement[Any]] = [
            self.star.attribute(ref).label(label) for ref, label in self.attribute_labels.items()
        ]
        for measure in measures:
            for index, value in enumerate(self.star.measure_inputs(measure)):
                columns.append(value.label(f"{self.measure_labels[measure.name]}_{index}"))
        if not columns:
            columns.append(sa.literal(1).label("one"))
        from_clause = self.star.from_clause_for(set(self.attribute_labels) | self.filter_refs, measures)
        statement = sa.select(*columns).select_from(from_clause)
        if self.conditions:
            statement = statement.where(*self.conditions)
        return statement.subquery("cell")


def measure_columns(
    inner: sa.Subquery, source: Any, labels: dict[str, str], measures: tuple[Measure, ...]
) -> list[sa.ColumnElement[Any]]:
    """Each measure aggregated (from facts) or merged (from a cuboid's partials), labelled ``v<i>``."""
    columns = []
    for index, measure in enumerate(measures):
        inputs = [inner.c[name] for name in _input_names(inner, labels[measure.name])]
        columns.append(source.merge(measure, inputs).label(f"v{index}"))
    return columns


def _input_names(inner: sa.Subquery, label: str) -> list[str]:
    names = []
    while f"{label}_{len(names)}" in inner.c:
        names.append(f"{label}_{len(names)}")
    return names
