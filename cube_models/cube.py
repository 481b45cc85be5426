"""A cube: its dimensions, measures and the physical mapping onto a star or snowflake schema."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cube_models.dimension import Attribute, Dimension, Level
from cube_models.errors import AttributeNotFoundError, DimensionNotFoundError, MeasureNotFoundError
from cube_models.measure import FactColumn, Measure

EXTRACT_UNITS = (
    "year",
    "quarter",
    "month",
    "day",
    "hour",
    "minute",
    "second",
    "isoyear",
    "isoweek",
    "week",
    "dow",
    "isodow",
    "doy",
)


@dataclass(frozen=True, slots=True)
class ColumnRef:
    """A physical column, optionally with a date part extracted from it."""

    table: str
    column: str
    extract: str | None = None


@dataclass(frozen=True, slots=True)
class Join:
    """One star/snowflake join; ``method`` is Cubes' match (inner), master (left) or detail (right).

    ``unknown_member`` (an extension of the Cubes format) names the key given to every attribute
    reached through this join when the detail row is missing, so orphan facts stay countable.
    """

    master: ColumnRef
    detail: ColumnRef
    alias: str | None = None
    method: str = "match"
    unknown_member: str | None = None

    @property
    def detail_name(self) -> str:
        return self.alias or self.detail.table


@dataclass(frozen=True, slots=True)
class CuboidDeclaration:
    """A rollup the model asks to precompute: one (dimension, hierarchy, level) per kept dimension."""

    name: str
    levels: tuple[tuple[str, str, str], ...]


@dataclass(frozen=True, slots=True)
class Cube:
    name: str
    label: str
    fact: str
    dimensions: tuple[Dimension, ...]
    measures: tuple[Measure, ...]
    fact_columns: tuple[FactColumn, ...]
    mappings: dict[str, ColumnRef] = field(compare=False, hash=False)
    joins: tuple[Join, ...] = ()
    key: str | None = None
    details: tuple[Attribute, ...] = ()
    cuboids: tuple[CuboidDeclaration, ...] = ()
    description: str | None = None
    category: str | None = None
    info: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def dimension(self, name: str) -> Dimension:
        for dimension in self.dimensions:
            if dimension.name == name:
                return dimension
        raise DimensionNotFoundError(f"cube {self.name!r} has no dimension {name!r}", cube=self.name, dimension=name)

    def measure(self, name: str) -> Measure:
        for measure in self.measures:
            if measure.name == name:
                return measure
        raise MeasureNotFoundError(f"cube {self.name!r} has no measure {name!r}", cube=self.name, measure=name)

    def level(self, reference: str) -> tuple[Dimension, Level]:
        """Resolve ``dimension:level`` or ``dimension.level``."""
        for separator in (":", "."):
            if separator in reference:
                dimension_name, level_name = reference.split(separator, 1)
                dimension = self.dimension(dimension_name)
                return dimension, dimension.level(level_name)
        dimension = self.dimension(reference)
        return dimension, dimension.levels_of(dimension.hierarchy())[0]

    def fact_column(self, name: str) -> FactColumn:
        for column in self.fact_columns:
            if column.name == name:
                return column
        raise AttributeNotFoundError(f"cube {self.name!r} has no fact column {name!r}", attribute=name)

    def physical(self, ref: str) -> ColumnRef:
        """The physical column of a logical reference (``dim.attr``, a measure column or a detail)."""
        if ref in self.mappings:
            return self.mappings[ref]
        if "." in ref:
            dimension_name, attribute = ref.split(".", 1)
            dimension = self.dimension(dimension_name)
            if dimension.is_flat and len(dimension.levels[0].attributes) == 1:
                # Cubes 1.1 maps such a dimension under its bare name; unmapped, it is a fact column
                # named after the dimension.
                return self.mappings.get(dimension_name, ColumnRef(self.fact, dimension_name))
            return ColumnRef(dimension_name, attribute)
        return ColumnRef(self.fact, ref)
