"""``/v1/reports`` and ``cube-server report``: the telecom reports, read back from each file format.

The numbers are checked against hand-written SQL over the raw Parquet; the workbook is opened again
with openpyxl to check sheets, typed cells and header formatting.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from api.app import create_app
from api.cli import main
from cube_server.project import Project, load_project, open_engine
from cube_server.settings import Settings
from tests.conftest import ROOT, assert_error, write_project

REPORTS = ROOT / "examples" / "telecom" / "reports"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(scope="module")
def report_project(telecom_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    directory = write_project(tmp_path_factory.mktemp("reports-project"), telecom_data)
    config = directory / "cube-server.toml"
    config.write_text(f'reports = "{REPORTS}"\n' + config.read_text(encoding="utf-8"), encoding="utf-8")
    return load_project(directory)


@pytest.fixture(scope="module")
def report_client(report_project: Project) -> Iterator[TestClient]:
    with TestClient(create_app(open_engine(report_project, Settings()), project=report_project)) as client:
        yield client


GEOGRAPHY = ("scope", "continent", "country", "region", "province")


def _province_revenue(data: Path, year: int, month: int) -> dict[tuple[str | None, ...], Decimal]:
    """Revenue by province path for one month (international rows have no region and province; orphan
    geography keys are the 'unknown' member at every level)."""
    path = ", ".join(f"CASE WHEN g.geography_code IS NULL THEN 'unknown' ELSE g.{level} END" for level in GEOGRAPHY)
    rows = duckdb.sql(
        f"""
        SELECT {path}, coalesce(sum(f.revenue), 0) AS revenue
        FROM read_parquet('{data}/facts/*.parquet') AS f
        LEFT JOIN read_parquet('{data}/geography.parquet') AS g USING (geography_code)
        WHERE year(f.charged_at) = {year} AND month(f.charged_at) = {month}
        GROUP BY ALL
        """
    ).fetchall()
    return {tuple(row[:-1]): row[-1] for row in rows}


def _growth(value: Decimal | None, reference: Decimal | None) -> Decimal | None:
    if value is None or not reference:
        return None
    return ((value - reference) / reference).quantize(Decimal("0.000001"))


def test_lists_the_project_reports(report_client: TestClient) -> None:
    body = report_client.get("/v1/reports").json()
    names = {report["name"]: report for report in body["reports"]}
    assert {"monthly_revenue", "monthly_segments", "yearly_revenue"} <= set(names)
    assert names["monthly_revenue"]["period"] == "month"
    assert [q["name"] for q in names["monthly_revenue"]["queries"]] == ["by_province", "by_product_line"]


def test_workbook_sheets_hold_typed_numbers_equal_to_sql(report_client: TestClient, telecom_data: Path) -> None:
    response = report_client.get("/v1/reports/monthly_revenue", params={"period": "2025-06"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    assert response.headers["content-disposition"] == 'attachment; filename="monthly_revenue-2025-06.xlsx"'
    workbook = load_workbook(io.BytesIO(response.content))
    assert workbook.sheetnames == ["about", "by_province", "by_product_line"]
    about = {row[0]: row[1] for row in workbook["about"].iter_rows(min_row=3, max_row=8, values_only=True)}
    assert about["period"] == "2025-06" and about["store version"] == response.headers["x-cube-version"]

    sheet = workbook["by_province"]
    assert sheet["A1"].value == "Revenue by province"
    header = [cell.value for cell in sheet[3]]
    assert header[:1] == ["time.year"] and "geography.province" in header
    assert {"revenue", "revenue__growth_previous", "revenue__growth_last_year", "revenue__share_total"} <= set(header)
    assert all(cell.font.bold for cell in sheet[3])
    assert sheet.freeze_panes == "A4"
    rows = [dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=4, values_only=True)]

    june = _province_revenue(telecom_data, 2025, 6)
    may = _province_revenue(telecom_data, 2025, 5)
    last_june = _province_revenue(telecom_data, 2024, 6)

    def path(row: dict[str, Any]) -> tuple[str | None, ...]:
        return tuple(row[f"geography.{level}"] for level in GEOGRAPHY)

    assert {path(row) for row in rows} == set(june)
    total = sum(june.values())
    revenues = [row["revenue"] for row in rows]
    assert revenues == sorted(revenues, reverse=True)  # the report orders by revenue, descending
    for row in rows:
        province = path(row)
        assert isinstance(row["revenue"], float | int)  # a number cell, not text
        assert Decimal(str(row["revenue"])) == june[province]
        for column, reference in (("revenue__growth_previous", may), ("revenue__growth_last_year", last_june)):
            expected = _growth(june[province], reference.get(province))
            assert (row[column] is None) == (expected is None), (province, column)
            if expected is not None:
                assert Decimal(str(row[column])) == expected
        assert Decimal(str(row["revenue__share_total"])) == (june[province] / total).quantize(Decimal("0.000001"))
    growth_cell = sheet.cell(row=4, column=header.index("revenue__growth_previous") + 1)
    revenue_cell = sheet.cell(row=4, column=header.index("revenue") + 1)
    assert growth_cell.number_format == "0.00%" and revenue_cell.number_format == "#,##0.00"


def _table_rows(table: pa.Table) -> list[dict[str, Any]]:
    return table.to_pylist()


def test_every_format_holds_the_same_cells(report_client: TestClient) -> None:
    params = {"period": "2025", "query": "by_month"}
    arrow = report_client.get("/v1/reports/yearly_revenue", params=params | {"format": "arrow"})
    parquet = report_client.get("/v1/reports/yearly_revenue", params=params | {"format": "parquet"})
    text = report_client.get("/v1/reports/yearly_revenue", params=params | {"format": "csv"})
    for response in (arrow, parquet, text):
        assert response.status_code == 200, response.text
    from_arrow = _table_rows(pa.ipc.open_stream(arrow.content).read_all())
    from_parquet = _table_rows(pq.read_table(io.BytesIO(parquet.content)))
    assert from_arrow == from_parquet
    assert [row["time.month"] for row in from_arrow] == list(range(1, 13))
    assert isinstance(from_arrow[0]["revenue"], Decimal)
    # Year to date: each month's running total is the sum of the months so far, exactly.
    running = Decimal(0)
    for row in from_arrow:
        running += row["revenue"]
        assert row["revenue__ytd"] == running
    parsed = list(csv.DictReader(io.StringIO(text.content.decode("utf-8"))))
    assert [Decimal(row["revenue"]) for row in parsed] == [row["revenue"] for row in from_arrow]
    assert text.headers["content-disposition"] == 'attachment; filename="yearly_revenue-2025-by_month.csv"'


def test_many_queries_in_one_table_format_is_a_zip(report_client: TestClient) -> None:
    response = report_client.get("/v1/reports/yearly_revenue", params={"period": "2025", "format": "csv"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert archive.namelist() == [
            "yearly_revenue-2025-line_by_branch.csv",
            "yearly_revenue-2025-by_line.csv",
            "yearly_revenue-2025-by_month.csv",
        ]


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("/v1/reports/nope", {"period": "2025-06"}, 404, "not_found"),
        ("/v1/reports/monthly_revenue", {"period": "2025"}, 400, "invalid_parameter"),
        ("/v1/reports/yearly_revenue", {"period": "2025-06"}, 400, "invalid_parameter"),
        ("/v1/reports/monthly_revenue", {"period": "2025-13"}, 400, "invalid_parameter"),
        ("/v1/reports/monthly_revenue", {"period": "2025-06", "query": "nope"}, 400, "invalid_parameter"),
        ("/v1/reports/monthly_revenue", {"period": "2025-06", "format": "pdf"}, 400, "invalid_parameter"),
        ("/v1/reports/monthly_revenue", {}, 400, "invalid_parameter"),
    ],
)
def test_bad_requests_are_4xx_in_the_envelope(
    report_client: TestClient, path: str, params: dict[str, str], status: int, code: str
) -> None:
    assert_error(report_client.get(path, params=params), status, code)


def test_cli_writes_the_workbook(report_project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(report_project.root)]) == 0
    assert "monthly_segments" in capsys.readouterr().out
    assert main(["report", str(report_project.root), "monthly_segments", "2025-03", "--out", str(tmp_path)]) == 0
    workbook = load_workbook(tmp_path / "monthly_segments-2025-03.xlsx")
    assert workbook.sheetnames == ["about", "segment_channel", "top_cities"]
    top = workbook["top_cities"]
    header = [cell.value for cell in top[3]]
    rows = [dict(zip(header, row, strict=True)) for row in top.iter_rows(min_row=4, values_only=True)]
    by_province: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:  # top(3, revenue): within each province, ranks 1 to 3 from the largest revenue
        by_province.setdefault(tuple(row[f"geography.{level}"] for level in GEOGRAPHY), []).append(row)
    assert len(by_province) > 10
    for cities in by_province.values():
        ranks = [city["revenue__top_3"] for city in cities]
        assert ranks == sorted(ranks) and set(ranks) <= {1, 2, 3} and ranks[0] == 1
        # each share is rounded half-even to 6 places, so three of them sum to 1 within 1.5e-6
        assert sum(Decimal(str(city["revenue__share_parent"])) for city in cities) <= Decimal("1.0000015")
    assert main(["report", str(report_project.root), "monthly_segments"]) == 2  # a period is needed
