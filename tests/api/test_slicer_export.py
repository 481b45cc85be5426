"""Slicer CSV and JSON-lines exports of facts and members: every row, from one streamed statement.

The page cap (``max_page_size``) is set far below the export's size, so an export that paged would need
many statements; the answer must still hold every row once, in order, equal to SQL over the raw facts.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
from fastapi.testclient import TestClient

CUBE = "fixed_line_revenue"


def _charge_ids(data: Path, where: str) -> list[int]:
    rows = duckdb.sql(
        f"SELECT charge_id FROM read_parquet('{data}/facts/*.parquet') WHERE {where} ORDER BY charge_id"
    ).fetchall()
    return [row[0] for row in rows]


def test_csv_export_of_facts_streams_every_row(make_client: Callable[..., TestClient], telecom_data: Path) -> None:
    client = make_client(max_page_size=500, default_page_size=100, slicer_json_record_limit=100)
    response = client.get(
        f"/cube/{CUBE}/facts", params={"cut": "time:2025,1", "format": "csv", "fields": "revenue", "header": "names"}
    )
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.text)))
    expected = _charge_ids(telecom_data, "year(charged_at) = 2025 AND quarter(charged_at) = 1")
    assert len(expected) > 5 * 500  # many times the page cap
    assert [int(row["__fact_key__"]) for row in rows] == expected


def test_json_lines_export_of_a_page_stops_at_the_page(
    make_client: Callable[..., TestClient], telecom_data: Path
) -> None:
    client = make_client(max_page_size=500, default_page_size=100, slicer_json_record_limit=100)
    # page 2 of 1,200 rows: rows 2,400 to 3,599 of the cell, more than the page cap
    response = client.get(
        f"/cube/{CUBE}/facts",
        params={"cut": "time:2025", "format": "json_lines", "fields": "revenue", "page": 2, "pagesize": 1200},
    )
    assert response.status_code == 200, response.text
    lines: list[dict[str, Any]] = [json.loads(line) for line in response.text.splitlines() if line]
    expected = _charge_ids(telecom_data, "year(charged_at) = 2025")[2400:3600]
    assert [line["__fact_key__"] for line in lines] == expected


def test_csv_export_of_members_streams_every_member(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_page_size=5, default_page_size=5, slicer_json_record_limit=5)
    full = make_client().get(f"/cube/{CUBE}/members/geography", params={"depth": 6, "format": "json_lines"})
    capped = client.get(f"/cube/{CUBE}/members/geography", params={"depth": 6, "format": "json_lines"})
    assert capped.status_code == 200, capped.text
    assert len(capped.text.splitlines()) > 5 * 5
    assert capped.text == full.text
