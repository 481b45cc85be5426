"""Helpers of the Slicer-compatible API tests: example engines, the hello-world oracle, Cubes' error shape."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from cube_server.engine import CubeEngine
from cube_server.project import load_project, open_engine
from cube_server.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
HELLO_DATA = (ROOT / ".." / "shared" / "datasets" / "cubes_hello_world" / "data.csv").resolve()
HELLO_COLUMNS = ["category", "category_label", "subcategory", "subcategory_label", "line_item", "year", "amount"]


def example_engine(name: str, **settings: Any) -> CubeEngine:
    """An engine over an example project as it ships (its store if built; no query log written)."""
    return open_engine(load_project(EXAMPLES / name), Settings(query_log=False, **settings))


def ssb_sample_engine(directory: Path, every: int = 400) -> CubeEngine:
    """The SSB example over a sample of its order lines (every ``every``-th order), written to ``directory``."""
    project = load_project(EXAMPLES / "ssb")
    files = {spec.name: (project.data_root / spec.path).resolve() for spec in project.table_specs}
    sample = directory / "lineorder.parquet"
    with duckdb.connect() as connection:
        connection.execute(
            f"COPY (SELECT * FROM read_parquet('{files['lineorder']}') WHERE lo_orderkey % {every} = 0 "
            f"ORDER BY lo_orderkey, lo_linenumber) TO '{sample}' (FORMAT parquet)"
        )
    lines = [
        f"model = '{EXAMPLES / 'ssb' / 'model.json'}'",
        "[data]",
        f"root = '{directory}'",
        "[store]",
        f"directory = '{directory / 'store'}'",
        "[tables]",
        "lineorder = 'lineorder.parquet'",
        *(f"{name} = '{path}'" for name, path in files.items() if name != "lineorder"),
    ]
    (directory / "cube-server.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return open_engine(load_project(directory), Settings(query_log=False))


@contextmanager
def hello_world_db() -> Iterator[duckdb.DuckDBPyConnection]:
    """The IBRD balance sheet in plain DuckDB, ``id`` being the 1-based data line (the example's key)."""
    connection = duckdb.connect()
    names = ", ".join(f"'{name}'" for name in HELLO_COLUMNS)
    connection.execute(
        f"CREATE TABLE balance AS SELECT row_number() OVER () AS id, * FROM read_csv('{HELLO_DATA}', header = true, "
        f"names = [{names}], types = {{'year': 'BIGINT', 'amount': 'BIGINT'}})"
    )
    try:
        yield connection
    finally:
        connection.close()


def sql(db: duckdb.DuckDBPyConnection, text: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cursor = db.execute(text, params or [])
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def assert_flat_error(response: Any, status: int, error_type: str) -> dict[str, Any]:
    """Every error of the Slicer surface is Cubes' flat ``{"error": type, "message": text, ...}``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["error"] == error_type, body
    assert isinstance(body["message"], str) and body["message"], body
    assert set(body) <= {"error", "message", "object", "object_type", "hint"}, body
    return body  # type: ignore[no-any-return]
