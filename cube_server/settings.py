"""The one ``Settings`` object: limits and switches, built once at the edge and passed down."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


def _setting(default: Any, description: str) -> Any:
    return field(default=default, metadata={"description": description})


@dataclass(frozen=True, slots=True)
class Settings:
    query_timeout_ms: int = _setting(30_000, "Interrupt a query that runs longer than this (answered with 504).")
    max_cells: int = _setting(
        100_000, "Most cells an unpaged aggregate or pivot may return (else 400 result_too_large)."
    )
    default_page_size: int = _setting(100, "Page size of members and facts when no limit is given.")
    max_page_size: int = _setting(10_000, "Largest limit a caller may ask for.")
    cuboid_memory_rows: int = _setting(
        5_000_000, "Cuboids of the serving version are held in memory, smallest first, up to this many rows in all."
    )
    duckdb_threads: int = _setting(0, "DuckDB worker threads (0 = DuckDB's default, one per core).")
    duckdb_memory_limit: str = _setting("", "DuckDB memory limit such as '4GB' (empty = DuckDB's default).")
    query_log: bool = _setting(
        True, "Record the levels each aggregate query needs (STORE/query-log.jsonl); cube-server plan weights by it."
    )
    query_log_max_bytes: int = _setting(64_000_000, "Stop recording queries once the query log is this large.")
    version_grace_s: int = _setting(
        600, "A store version switched away from stays readable this many seconds (for requests pinning it)."
    )
    admin: bool = _setting(False, "Enable POST /v1/admin/refresh (append or replace facts, rebuild over HTTP).")

    def __post_init__(self) -> None:
        for name in ("query_timeout_ms", "max_cells", "default_page_size", "max_page_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"setting {name} must be positive")
        if self.default_page_size > self.max_page_size:
            raise ValueError("default_page_size cannot exceed max_page_size")

    @classmethod
    def descriptions(cls) -> dict[str, str]:
        return {f.name: f.metadata["description"] for f in fields(cls)}
