"""The explorer's files as the app serves them, and its Excel export (``/v1/cubes/{cube}/workbook``).

The page's behaviour is tested in a real browser (tests/browser); here: every file the page loads is
served from the package, nothing else is, the vendored library ships with its licence, and the workbook
holds the pivot's numbers (checked against hand-written SQL over the raw Parquet) and its calculations.
"""

from __future__ import annotations

import io
import re
import tomllib
from decimal import Decimal
from fnmatch import fnmatch
from pathlib import Path

import duckdb
import pytest
from conftest import CUBE, ROOT, assert_error
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from api.explorer.site import STATIC

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _imports(text: str) -> list[str]:
    return re.findall(r"""(?:import|from)\s*(?:[\w{}\s,*]+from\s*)?["'](\.{1,2}/[^"']+)["']""", text)


def test_index_is_served_at_the_root_and_revalidated(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    assert "<title>Cube explorer</title>" in response.text


def test_every_file_the_page_loads_is_served(client: TestClient) -> None:
    page = client.get("/").text
    assets = re.findall(r'(?:href|src)="(explorer/[^"]+)"', page)
    assert {"explorer/explorer.css", "explorer/js/main.js", "explorer/vendor/chart.js/chart.umd.min.js"} <= set(assets)
    # Follow the ES module graph from main.js, so a module imported but missing fails here, not in a browser.
    pending, seen = [asset for asset in assets if asset.endswith(".js")], set()
    while pending:
        asset = pending.pop()
        if asset in seen:
            continue
        seen.add(asset)
        response = client.get(f"/{asset}")
        assert response.status_code == 200, asset
        assert response.headers["cache-control"] == "no-cache"
        if asset.endswith(".js"):
            assert response.headers["content-type"].startswith(("text/javascript", "application/javascript")), asset
            base = asset.rsplit("/", 1)[0]
            pending.extend(f"{base}/{name[2:]}" for name in _imports(response.text) if name.startswith("./"))
    modules = {f"explorer/js/{path.name}" for path in (STATIC / "js").glob("*.js")}
    assert modules <= seen, f"modules nothing imports: {sorted(modules - seen)}"
    css = client.get("/explorer/explorer.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


@pytest.mark.parametrize(
    "path", ["/explorer/../api/app.py", "/explorer/js/", "/explorer/nothing.js", "/explorer/%2e%2e/app.py"]
)
def test_nothing_outside_the_static_files_is_served(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert_error(response, 404, "not_found")


def test_the_package_data_ships_every_static_file() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["api.explorer"]
    package = STATIC.parent
    files = [path.relative_to(package).as_posix() for path in STATIC.rglob("*") if path.is_file()]
    assert files
    unmatched = [name for name in files if not any(fnmatch(name, pattern) for pattern in patterns)]
    assert not unmatched


def test_each_vendored_library_has_its_licence_and_a_readme_entry() -> None:
    libraries = [path for path in (STATIC / "vendor").iterdir() if path.is_dir()]
    assert libraries
    for library in libraries:
        assert (library / "LICENSE.md").is_file() or (library / "LICENSE").is_file(), library.name
        code = next(library.glob("*.js"))
        version = re.search(r"v(\d+\.\d+\.\d+)", code.read_text(encoding="utf-8")[:400])
        assert version, f"{code.name} names no version in its banner"
        assert f"{library.name} {version.group(1)}" in README, f"README lists no {library.name} {version.group(1)}"


def _oracle(telecom_data: Path) -> dict[tuple[str, int], tuple[Decimal, int]]:
    """Revenue and distinct subscribers of data services by province and year, straight from the Parquet."""
    sql = f"""
        SELECT coalesce(g.province, 'unknown') AS province, year(f.charged_at) AS year,
               sum(f.revenue) AS revenue, count(DISTINCT f.customer_code) AS subscribers
        FROM read_parquet('{telecom_data}/facts/*.parquet') f
        LEFT JOIN read_parquet('{telecom_data}/product.parquet') p USING (product_code)
        LEFT JOIN read_parquet('{telecom_data}/geography.parquet') g USING (geography_code)
        WHERE p.line = 'data_services'
        GROUP BY ALL
    """
    return {(row[0], row[1]): (row[2], row[3]) for row in duckdb.sql(sql).fetchall()}


def test_workbook_holds_the_pivot_with_totals_as_typed_numbers(client: TestClient, telecom_data: Path) -> None:
    params = {"rows": "geography:province", "columns": "time:year", "measures": "revenue,subscribers",
              "cut": "product:data_services"}  # fmt: skip
    response = client.get(f"/v1/cubes/{CUBE}/workbook", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    assert 'filename="fixed_line_revenue-pivot.xlsx"' in response.headers["content-disposition"]
    pivot = client.get(f"/v1/cubes/{CUBE}/pivot", params=params).json()
    assert response.headers["x-cube-version"] == pivot["meta"]["version"]
    book = load_workbook(io.BytesIO(response.content))
    assert book.sheetnames == ["pivot", "about"]
    sheet = book["pivot"]
    rows = list(sheet.iter_rows(values_only=True))
    # Row 4: the column level's members; row 5: level names then value names; then one row per province.
    assert rows[3][4:] == ("Year", "2024", None, "2025", None, "Total", None)
    assert rows[4] == ("Scope", "Continent", "Country", "Region", "Province", *["Revenue (CNY)", "Subscribers"] * 3)
    body, footer = rows[5:-1], rows[-1]
    assert len(body) == len(pivot["row_headers"])
    oracle = _oracle(telecom_data)
    for row, keys in zip(body, pivot["row_headers"], strict=True):
        province = keys[-1]
        for position, year in enumerate((2024, 2025)):
            revenue, subscribers = row[5 + 2 * position], row[6 + 2 * position]
            expected = oracle.get((province, year), (Decimal(0), 0))
            assert Decimal(str(revenue)) == expected[0], (province, year)
            assert subscribers == expected[1], (province, year)
    revenue, subscribers = pivot["grand_total"]
    assert footer[0] == "Total" and Decimal(str(footer[9])) == Decimal(str(revenue)) and footer[10] == subscribers
    assert sum(value[0] for value in oracle.values()) == Decimal(str(footer[9]))
    money, count = sheet.cell(row=6, column=6), sheet.cell(row=6, column=7)
    assert money.number_format == '#,##0.00 "CNY"' and count.number_format == "#,##0"
    assert sheet.freeze_panes == "F6"
    about = {row[0]: row[1] for row in book["about"].iter_rows(min_row=3, values_only=True) if row[0]}
    assert about["cut"] == "product:data_services" and about["store version"] == pivot["meta"]["version"]


def test_workbook_puts_each_calculation_beside_its_measure(client: TestClient) -> None:
    params = {"rows": "product:line", "columns": "time:quarter", "measures": "revenue", "cut": "time:2025",
              "calc": "share(revenue, total)|growth(revenue, previous)"}  # fmt: skip
    response = client.get(f"/v1/cubes/{CUBE}/workbook", params=params)
    assert response.status_code == 200, response.text
    cells = client.get(
        f"/v1/cubes/{CUBE}/aggregate",
        params={
            "drilldown": "product:line|time:quarter",
            "measures": "revenue",
            "cut": "time:2025",
            "calc": params["calc"],
        },
    ).json()["cells"]
    sheet = load_workbook(io.BytesIO(response.content))["pivot"]
    rows = list(sheet.iter_rows(values_only=True))
    # Rows 4 and 5: year over quarter; row 6: each quarter's value columns, then the total's (measures only).
    assert rows[4][:5] == ("Quarter", "1", None, None, "2")
    block = ("Revenue (CNY)", "Revenue (CNY): share of total", "Revenue (CNY): growth on previous")
    assert rows[5] == ("Line", *block * 4, "Revenue (CNY)")
    by_key = {(cell["product.line"], cell["time.quarter"]): cell for cell in cells}
    line_labels = {cell["product.line.label"]: cell["product.line"] for cell in cells}
    checked = 0
    for row in rows[6:-1]:
        line = line_labels[row[0]]
        for quarter in range(1, 5):
            first = 1 + (quarter - 1) * 3
            cell = by_key.get((line, quarter))
            if cell is None:
                assert row[first : first + 3] == (None, None, None)
                continue
            assert Decimal(str(row[first])) == Decimal(str(cell["revenue"]))
            assert row[first + 1] == pytest.approx(cell["revenue__share_total"])
            expected = cell["revenue__growth_previous"]
            assert row[first + 2] == (None if expected is None else pytest.approx(expected))
            checked += 1
    assert checked >= 8
    assert sheet.cell(row=7, column=3).number_format == "0.00%"


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"rows": "geography:nolevel"}, 400, "unknown_level"),
        ({}, 400, "invalid_parameter"),
        ({"rows": "product:line", "calc": "share(nothing, total)"}, 400, "unknown_measure"),
    ],
)
def test_workbook_refuses_bad_input_in_the_envelope(
    client: TestClient, params: dict[str, str], status: int, code: str
) -> None:
    assert_error(client.get(f"/v1/cubes/{CUBE}/workbook", params=params), status, code)
    assert_error(client.get("/v1/cubes/nothing/workbook", params={"rows": "product:line"}), 404, "cube_not_found")
