"""The one ``Settings`` object: limits and switches, built once at the edge and passed down."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

POSITIVE_SETTINGS = (
    "query_timeout_ms",
    "export_timeout_ms",
    "max_cells",
    "default_page_size",
    "max_page_size",
    "max_body_bytes",
    "max_url_length",
    "rate_limit_burst",
    "engine_pool_size",
)


def _setting(default: Any, description: str, *, secret: bool = False) -> Any:
    """``secret``: left out of the settings' repr, so a logged Settings never shows it."""
    return field(default=default, repr=not secret, metadata={"description": description})


@dataclass(frozen=True, slots=True)
class Settings:
    query_timeout_ms: int = _setting(30_000, "Interrupt a query that runs longer than this (answered with 504).")
    max_cells: int = _setting(
        100_000, "Most cells an unpaged aggregate or pivot may return (else 400 result_too_large)."
    )
    default_page_size: int = _setting(100, "Page size of members and facts when no limit is given.")
    max_page_size: int = _setting(10_000, "Largest limit a caller may ask for.")
    max_body_bytes: int = _setting(1_000_000, "Largest request body accepted (else 413 body_too_large).")
    max_url_length: int = _setting(16_000, "Longest request URL accepted, in characters (else 414 url_too_long).")
    rate_limit_per_minute: int = _setting(
        600,
        "Requests per minute each principal may make to the data routes (a key, a JWT subject, or, for anonymous "
        "callers, a client address), else 429 rate_limited; 0 turns the limit off.",
    )
    rate_limit_burst: int = _setting(
        60, "Requests a principal may make at once after a quiet while (the per-minute rate then refills them)."
    )
    export_timeout_ms: int = _setting(
        600_000, "Interrupt a whole-listing export (Slicer CSV / JSON lines of facts or members) after this long."
    )
    cuboid_memory_rows: int = _setting(
        5_000_000, "Cuboids of the serving version are held in memory, smallest first, up to this many rows in all."
    )
    duckdb_threads: int = _setting(0, "DuckDB worker threads (0 = DuckDB's default, one per core).")
    duckdb_memory_limit: str = _setting("", "DuckDB memory limit such as '4GB' (empty = DuckDB's default).")
    engine_url: str = _setting(
        "",
        "Serve the facts from this database instead of the project's files, e.g. "
        "postgresql+psycopg://user@host:5432/db (overrides [engine] url of cube-server.toml; empty: none).",
        secret=True,
    )
    engine_password: str = _setting(
        "", "The database password, when the engine URL holds none (PGPASSWORD works too).", secret=True
    )
    engine_pool_size: int = _setting(5, "Connections kept open to the database (as many more at peaks).")
    query_log: bool = _setting(
        True, "Record the levels each aggregate query needs (STORE/query-log.jsonl); cube-server plan weights by it."
    )
    query_log_max_bytes: int = _setting(64_000_000, "Stop recording queries once the query log is this large.")
    version_grace_s: int = _setting(
        600, "A store version switched away from stays readable this many seconds (for requests pinning it)."
    )
    admin: bool = _setting(False, "Enable POST /v1/admin/refresh (append or replace facts, rebuild over HTTP).")
    admin_files: str = _setting(
        "incoming",
        "The directory whose files POST /v1/admin/refresh may read (relative paths start at the project "
        "directory); a file named outside it is refused (403).",
    )
    metrics: bool = _setting(True, "Serve Prometheus metrics at GET /metrics, without a key (false: 404).")
    audit: bool = _setting(
        True, "Append admin operations and cube reads to the audit log (JSON lines; false: no audit log)."
    )
    audit_log: str = _setting(
        "", "The audit log; relative paths start at the project directory (empty: cube-server-audit.jsonl there)."
    )
    anonymous: bool = _setting(
        False, "Serve callers without an API key, with anonymous_roles (cube-server demo turns it on; serve: off)."
    )
    anonymous_roles: str = _setting(
        "reader", "Comma-separated roles of a caller without a key, when anonymous access is on."
    )
    keys_file: str = _setting(
        "", "The API key file; relative paths start at the project directory (empty: cube-server-keys.json there)."
    )
    roles_file: str = _setting(
        "", "The roles file; relative paths start at the project directory (empty: cube-server-roles.json there)."
    )
    jwt_key: str = _setting(
        "",
        "Accept bearer JWTs signed with this key: an HS* secret (32 bytes or more) or a PEM public key.",
        secret=True,
    )
    jwt_key_file: str = _setting("", "A file holding the JWT key instead (relative to the project directory).")
    jwt_algorithm: str = _setting("HS256", "The one algorithm JWTs must be signed with (HS256, RS256, ES256, ...).")
    jwt_audience: str = _setting("", "When set, a JWT's aud claim must name it.")
    jwt_issuer: str = _setting("", "When set, a JWT's iss claim must equal it.")
    jwt_roles_claim: str = _setting("roles", "The JWT claim holding the principal's roles (a list or a string).")
    timezone: str = _setting("UTC", "Time zone of the calendar that relative time cuts (time:lastmonth) count in.")
    first_weekday: int = _setting(0, "First day of the week for relative time cuts (0 = Monday ... 6 = Sunday).")
    slicer_cors_origins: str = _setting(
        "", "Origins a browser may call the Slicer-compatible API from: '*', or a comma-separated list (empty: none)."
    )
    slicer_json_record_limit: int = _setting(
        1000,
        "Slicer-compatible API: most rows of a JSON array (cells, facts, members), up to max_page_size; CSV and "
        "JSON lines have none.",
    )
    slicer_bare_flat_refs: bool = _setting(
        True,
        "Slicer-compatible API: a flat dimension with one attribute is referred to by its bare name (year), as in "
        "Cubes 1.1; false gives year.year, as in Cubes' later versions.",
    )
    sql_port: int = _setting(
        0,
        "Port of the PostgreSQL wire-protocol SQL listener (cubes as tables for psql and BI tools); 0 = off "
        "(cube-server demo listens on 15432 unless set).",
    )
    sql_host: str = _setting("127.0.0.1", "Address the SQL listener binds (it asks for passwords in clear text).")

    def __post_init__(self) -> None:
        for name in POSITIVE_SETTINGS:
            if getattr(self, name) < 1:
                raise ValueError(f"setting {name} must be positive")
        if self.rate_limit_per_minute < 0:
            raise ValueError("setting rate_limit_per_minute must be 0 (off) or positive")
        if self.default_page_size > self.max_page_size:
            raise ValueError("default_page_size cannot exceed max_page_size")
        if self.slicer_json_record_limit < 1:
            raise ValueError("setting slicer_json_record_limit must be positive")
        if not 0 <= self.sql_port <= 65_535:
            raise ValueError("setting sql_port must be between 0 (off) and 65535")
        if not 0 <= self.first_weekday <= 6:
            raise ValueError("first_weekday must be between 0 (Monday) and 6 (Sunday)")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r}") from exc

    @classmethod
    def descriptions(cls) -> dict[str, str]:
        return {f.name: f.metadata["description"] for f in fields(cls)}
