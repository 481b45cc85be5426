"""The query vocabulary as frozen value objects: cuts, drilldown items, order items and the query.

Names are not resolved here (``resolve`` binds them to the model); these objects are what the cut
and drilldown grammar parses into and what every edge (HTTP, CLI, JSON body) builds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cube_server.calculations.syntax import Calculation

PathElement = str | None  # None is the NULL member, written ``__null__``
Path = tuple[PathElement, ...]


@dataclass(frozen=True, slots=True)
class PointCut:
    dimension: str
    path: Path
    hierarchy: str | None = None
    invert: bool = False


@dataclass(frozen=True, slots=True)
class SetCut:
    dimension: str
    paths: tuple[Path, ...]
    hierarchy: str | None = None
    invert: bool = False


@dataclass(frozen=True, slots=True)
class RangeCut:
    dimension: str
    from_path: Path | None
    to_path: Path | None
    hierarchy: str | None = None
    invert: bool = False


Cut = PointCut | SetCut | RangeCut


@dataclass(frozen=True, slots=True)
class DrilldownItem:
    dimension: str
    hierarchy: str | None = None
    level: str | None = None


@dataclass(frozen=True, slots=True)
class OrderItem:
    """Order by a measure name, a level (``dim.level``) or a level's label (``dim.level.label``)."""

    ref: str
    descending: bool = False


OPERATIONS = ("aggregate", "drilldown", "rollup", "slice", "pivot", "members", "facts")


@dataclass(frozen=True, slots=True)
class Query:
    cube: str
    cuts: tuple[Cut, ...] = ()
    drilldown: tuple[DrilldownItem, ...] = ()
    measures: tuple[str, ...] = ()
    order: tuple[OrderItem, ...] = ()
    limit: int | None = None
    offset: int = 0
    version: str | None = None  # the store version to read (pinned by a drill sequence); None = current
    # analyst calculations over the cells (shares, growth, running totals, ranks): cube_server.calculations
    calculations: tuple[Calculation, ...] = ()


@dataclass(frozen=True, slots=True)
class PivotQuery:
    cube: str
    rows: tuple[DrilldownItem, ...]
    columns: tuple[DrilldownItem, ...]
    cuts: tuple[Cut, ...] = ()
    measures: tuple[str, ...] = ()
    totals: bool = True
    version: str | None = None


@dataclass(frozen=True, slots=True)
class MembersQuery:
    cube: str
    dimension: str
    level: str | None = None
    hierarchy: str | None = None
    cuts: tuple[Cut, ...] = ()
    search: str | None = None
    limit: int | None = None
    offset: int = 0
    version: str | None = None


@dataclass(frozen=True, slots=True)
class FactsQuery:
    cube: str
    cuts: tuple[Cut, ...] = ()
    fields: tuple[str, ...] = field(default=())
    order: tuple[OrderItem, ...] = ()
    limit: int | None = None
    offset: int = 0
    version: str | None = None
