"""An answer as a pyarrow Table with its meta, read from an Arrow IPC stream and its ``X-Cube-*`` headers."""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    import pandas
    import polars


@dataclass(frozen=True, slots=True)
class ResultMeta:
    """Where an answer came from: the store ``version`` it read (pass it back as ``version=`` to pin it),
    the ``source`` that answered (``facts`` or ``cuboid:<name>``) and the server's time in milliseconds."""

    cube: str
    source: str
    version: str
    elapsed_ms: float
    request_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. rolled_up_from, level, sources


@dataclass(frozen=True, slots=True)
class CubeResult:
    """One answer: ``table`` holds the cells, members or fact rows with their types (decimals exact).

    ``summary`` is the aggregate over the whole cell (aggregate, drilldown, rollup, slice);
    ``total_count`` the number of cells or rows before paging; ``totals`` a pivot's ``column_totals``
    and ``grand_total`` (its row totals are the ``total:<measure>`` columns).
    """

    table: pa.Table
    meta: ResultMeta
    summary: dict[str, Any] | None = None
    total_count: int | None = None
    totals: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.table.num_rows

    def __repr__(self) -> str:
        return (
            f"CubeResult({self.table.num_rows} rows, columns={self.columns}, source={self.meta.source!r}, "
            f"version={self.meta.version!r})"
        )

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.table.to_pylist())

    @property
    def columns(self) -> list[str]:
        return list(self.table.column_names)

    def to_pylist(self) -> list[dict[str, Any]]:
        return self.table.to_pylist()  # type: ignore[no-any-return]

    def to_pandas(self, **options: Any) -> pandas.DataFrame:
        """A pandas DataFrame (needs pandas); ``options`` go to ``pyarrow.Table.to_pandas``.

        Decimal columns become ``object`` columns of exact ``decimal.Decimal`` values.
        """
        _require("pandas", "to_pandas")
        return self.table.to_pandas(**options)

    def to_polars(self) -> polars.DataFrame:
        """A polars DataFrame (needs polars); decimals stay polars ``Decimal`` columns."""
        polars = _require("polars", "to_polars")
        return polars.from_arrow(self.table)


def _require(module: str, method: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"CubeResult.{method}() needs {module}, which is not installed: pip install {module}"
        ) from exc


def _header_json(headers: Mapping[str, str], name: str) -> Any:
    value = headers.get(name)
    return None if value is None else json.loads(value, parse_float=Decimal)


def result_from_arrow(table: pa.Table, headers: Mapping[str, str]) -> CubeResult:
    """The table of an Arrow answer with the meta, summary and totals its headers carry."""
    meta = dict(_header_json(headers, "x-cube-meta") or {})
    result_meta = ResultMeta(
        cube=str(meta.pop("cube", "")),
        source=str(meta.pop("source", headers.get("x-cube-source", ""))),
        version=str(meta.pop("version", headers.get("x-cube-version", ""))),
        elapsed_ms=float(meta.pop("elapsed_ms", 0.0)),
        request_id=headers.get("x-request-id"),
        extra=meta,
    )
    total = _header_json(headers, "x-cube-total-cell-count")
    if total is None:
        total = _header_json(headers, "x-cube-total-count")
    totals = {
        key: _header_json(headers, name)
        for key, name in (("column_totals", "x-cube-column-totals"), ("grand_total", "x-cube-grand-total"))
        if name in headers
    }
    return CubeResult(table, result_meta, _header_json(headers, "x-cube-summary"), total, totals)
