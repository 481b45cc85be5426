"""Analyst calculations on the Slicer surface (``calc=``, our extension): the same numbers as ``/v1``."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from fastapi.testclient import TestClient

from tests.slicer_support import assert_flat_error

CUBE = "fixed_line_revenue"
CALC = "growth(revenue, previous)|share(revenue, parent)|ytd(revenue)"
PARAMS = {"cut": "time:2025,1", "drilldown": "time:month|product:line", "calc": CALC}


def test_slicer_cells_carry_the_calculations_of_v1(client: TestClient) -> None:
    slicer = client.get(f"/cube/{CUBE}/aggregate", params=PARAMS)
    v1 = client.get(f"/v1/cubes/{CUBE}/aggregate", params=PARAMS | {"measures": "revenue,record_count"})
    assert slicer.status_code == 200 and v1.status_code == 200, (slicer.text, v1.text)
    body = slicer.json()
    names = ["revenue__growth_previous", "revenue__share_parent", "revenue__ytd"]
    assert body["calculations"] == names and not set(names) & set(body["aggregates"])

    def keyed(cells: list[dict[str, object]]) -> dict[tuple[object, ...], list[object]]:
        return {(c["time.month"], c["product.line"]): [c[name] for name in names] for c in cells}

    expected = keyed(v1.json()["cells"])
    assert keyed(body["cells"]) == expected
    assert {month for month, _ in expected} == {1, 2, 3}
    assert all(value is not None for row in expected.values() for value in row)


def test_slicer_csv_has_the_calculation_columns_last(client: TestClient) -> None:
    response = client.get(f"/cube/{CUBE}/aggregate", params=PARAMS | {"format": "csv", "header": "names"})
    assert response.status_code == 200, response.text
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0])[-3:] == ["revenue__growth_previous", "revenue__share_parent", "revenue__ytd"]
    by_line: dict[str, Decimal] = {}
    for row in rows:  # year to date within Q1: each month adds its revenue to the line's running total
        by_line[row["product.line"]] = by_line.get(row["product.line"], Decimal(0)) + Decimal(row["revenue"])
        assert Decimal(row["revenue__ytd"]) == by_line[row["product.line"]]


def test_slicer_calculation_errors_are_flat(client: TestClient) -> None:
    bad = client.get(f"/cube/{CUBE}/aggregate", params={"drilldown": "time:month", "calc": "growth(revenue"})
    assert_flat_error(bad, 400, "unknown_user_error")
    split = client.get(f"/cube/{CUBE}/aggregate", params=PARAMS | {"split": "product:data_services"})
    assert_flat_error(split, 400, "request")
