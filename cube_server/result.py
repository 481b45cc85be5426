"""Results of the engine's operations: plain data, JSON-ready, unaware of HTTP."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa


@dataclass(frozen=True, slots=True)
class Column:
    """One output column: its wire name, what it is, and its Arrow type (for Arrow and CSV output)."""

    name: str
    kind: str  # "level", "label", "attribute", "measure", "field"
    arrow_type: pa.DataType


@dataclass(slots=True)
class Meta:
    cube: str
    source: str
    version: str
    elapsed_ms: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "elapsed_ms": round(self.elapsed_ms, 3),
            "cube": self.cube,
            "version": self.version,
            **self.extra,
        }


@dataclass(slots=True)
class CellSet:
    """Answer of aggregate, drilldown, rollup and slice."""

    columns: list[Column]
    cells: list[dict[str, Any]]
    summary: dict[str, Any]
    total_cell_count: int | None
    levels: dict[str, list[str]]
    measures: list[str]
    meta: Meta


@dataclass(slots=True)
class PivotTable:
    row_levels: list[str]
    column_levels: list[str]
    measures: list[str]
    row_headers: list[list[Any]]
    row_header_labels: list[list[Any]]
    column_headers: list[list[Any]]
    column_header_labels: list[list[Any]]
    values: list[list[list[Any] | None]]
    row_totals: list[list[Any]] | None
    column_totals: list[list[Any]] | None
    grand_total: list[Any] | None
    measure_types: list[pa.DataType]
    header_types: dict[str, pa.DataType]
    meta: Meta


@dataclass(slots=True)
class Rows:
    """A page of members or facts."""

    columns: list[Column]
    rows: list[dict[str, Any]]
    total_count: int
    meta: Meta


@dataclass(slots=True)
class RowStream:
    """A page of members or facts as record batches, read from the engine while they are sent.

    ``batches`` carry the columns' names and types; the page is never held whole, so it can be read once.
    """

    columns: list[Column]
    schema: pa.Schema
    batches: Iterable[pa.RecordBatch]
    total_count: int
    meta: Meta


@dataclass(frozen=True, slots=True)
class StatementText:
    name: str
    sql: str
    parameters: tuple[Any, ...]


@dataclass(slots=True)
class Explanation:
    operation: str
    cube: str
    source: str
    grain: list[str]
    measures: list[str]
    statements: list[StatementText]
    version: str
    candidates: list[dict[str, Any]] = field(default_factory=list)
