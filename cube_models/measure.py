"""Measures: what a cube can aggregate, and how partial results of each merge.

In the Cubes file format a cube's ``measures`` are fact columns and its ``aggregates`` are what
queries ask for. Here the queryable things are :class:`Measure` objects (built from ``aggregates``)
and the fact columns are :class:`FactColumn` objects (built from ``measures``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from cube_models.expression import Expr


class AggFunc(StrEnum):
    SUM = "sum"
    COUNT = "count"
    COUNT_NONEMPTY = "count_nonempty"
    COUNT_DISTINCT = "count_distinct"
    MIN = "min"
    MAX = "max"
    AVG = "avg"

    @property
    def needs_input(self) -> bool:
        return self is not AggFunc.COUNT

    @property
    def is_additive(self) -> bool:
        """Children's values sum to their parent's value."""
        return self in (AggFunc.SUM, AggFunc.COUNT, AggFunc.COUNT_NONEMPTY)

    @property
    def empty_value(self) -> int | None:
        """The value of an empty cell: 0 for sums and counts (as Cubes does), NULL otherwise."""
        return 0 if self in (AggFunc.SUM, AggFunc.COUNT, AggFunc.COUNT_NONEMPTY, AggFunc.COUNT_DISTINCT) else None


@dataclass(frozen=True, slots=True)
class FactColumn:
    """A numeric fact attribute (Cubes' ``measures`` entry), optionally an expression over columns."""

    name: str
    label: str
    expression: Expr | None = None


@dataclass(frozen=True, slots=True)
class Measure:
    """A queryable measure: an aggregation over a column or expression, or a formula over other measures."""

    name: str
    label: str
    function: AggFunc | None = None
    column: str | None = None
    expression: Expr | None = None
    formula: Expr | None = None
    formula_text: str | None = None
    scale: int | None = None
    determined_dimensions: tuple[str, ...] = ()
    format: str | None = None
    description: str | None = None
    info: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def is_calculated(self) -> bool:
        return self.formula is not None

    @property
    def is_additive(self) -> bool:
        return self.function is not None and self.function.is_additive

    @property
    def ref(self) -> str:
        return self.name
