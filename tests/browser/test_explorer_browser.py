"""The web explorer in a real browser: headless Chromium (Debian's) driven by Playwright, against a real
``cube-server serve`` process over the generated telecom data with its cuboid store built.

The numbers the table shows are compared with the same query asked of ``/v1`` directly; the URL is
reloaded and stepped back and forward to check that it holds the whole view. A second server needs API
keys (anonymous access off, the demo's roles): the page asks for a key and shows what that key may read.
Screenshots of each step are written to ``$EXPLORER_ARTEFACTS`` (else a temporary directory), whose path
the run prints.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import CUBE, ROOT, write_project
from playwright.sync_api import sync_playwright
from server_process import running_server

from aggregates.store import CuboidStore
from cube_server.access import KeyStore, RoleBook, keys_path, roles_path
from cube_server.build import build_store
from cube_server.cut_syntax import format_path, parse_cut
from cube_server.project import load_project, open_engine
from cube_server.settings import Settings

WAIT_MS = 20_000
GD = "geography:domestic,asia,cn,south_china,gd"
DEMO_ROLES = ROOT / "examples" / "telecom" / "cube-server-roles.json"


def find_chromium() -> str | None:
    """``$CHROMIUM_PATH``, else Debian's ``/usr/bin/chromium``, else a ``chromium`` on the PATH."""
    for candidate in (os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium", "chromium", "chromium-browser"):
        if not candidate:
            continue
        found = candidate if os.path.isabs(candidate) else shutil.which(candidate)
        if found and os.path.isfile(found) and os.access(found, os.X_OK):
            return found
    return None


CHROMIUM = find_chromium()
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium found: set CHROMIUM_PATH or apt-get install chromium"),
]


# ---- fixtures -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def base_url(telecom_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("explorer")
    project = load_project(write_project(directory / "project", telecom_data))
    build_store(open_engine(project, Settings(), use_store=False), CuboidStore(project.store_dir))
    with running_server(directory / "project", directory / "server.log") as base:
        yield base


@pytest.fixture(scope="module")
def keyed_server(telecom_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """A server that answers only with a key (the demo's roles; no cuboid store: the facts answer), and a
    key for each of two roles: the head office reads every row, the Guangdong branch its own."""
    directory = tmp_path_factory.mktemp("explorer-keys")
    project = write_project(directory / "project", telecom_data)
    shutil.copy(DEMO_ROLES, project / "cube-server-roles.json")
    store = KeyStore(keys_path(Settings(), project))
    roles = RoleBook(roles_path(Settings(), project)).roles()
    keys = {role: store.create(f"{role} analyst", [role], roles)[1] for role in ("head_office", "guangdong_branch")}
    with running_server(project, directory / "server.log", anonymous="false") as base:
        yield base, keys


@pytest.fixture(scope="module")
def artefacts(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("EXPLORER_ARTEFACTS")
    directory = Path(configured) if configured else tmp_path_factory.mktemp("explorer-screenshots")
    directory.mkdir(parents=True, exist_ok=True)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"explorer screenshots: {directory}")
    return directory


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US")
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


# ---- helpers ------------------------------------------------------------------------------------------
def renders(page: Any) -> int:
    return int(page.evaluate("Number(document.body.dataset.renderCount || 0)"))


def settle(page: Any, after: int) -> None:
    page.wait_for_function(
        "n => Number(document.body.dataset.renderCount) > n && document.body.dataset.state !== 'loading'",
        arg=after,
        timeout=WAIT_MS,
    )


def act(page: Any, action: Any) -> None:
    """Do ``action`` and wait until the explorer has shown its outcome."""
    before = renders(page)
    action()
    settle(page, before)


def open_view(page: Any, url: str) -> None:
    page.goto(url)
    settle(page, 0)


def shot(page: Any, artefacts: Path, name: str) -> None:
    page.screenshot(path=str(artefacts / f"{name}.png"))


def read_table(page: Any) -> dict[str, Any]:
    return page.evaluate(
        """() => {
          const table = document.querySelector("table.pivot");
          const text = (cell) => cell.innerText.trim();
          return {
            head: [...table.tHead.rows].map((row) => [...row.cells].map(text)),
            body: [...table.tBodies[0].rows].map((row) => [...row.cells].map(text)),
            foot: table.tFoot ? [...table.tFoot.rows[0].cells].map(text) : null,
          };
        }"""
    )


def number(text: str) -> Decimal | None:
    """A shown number as a Decimal: '¥1,234.50' -> 1234.50; '' -> None."""
    digits = re.sub(r"[^0-9.\-]", "", text)
    return Decimal(digits) if digits else None


def api(base: str, operation: str, key: str | None = None, **params: Any) -> dict[str, Any]:
    headers = {"X-API-Key": key} if key else {}
    response = httpx.get(f"{base}/v1/cubes/{CUBE}/{operation}", params=params, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return json.loads(response.text, parse_float=Decimal)  # type: ignore[no-any-return]


def quarter_text(keys: list[Any]) -> str:
    return f"{keys[0]} Q{keys[1]}"


def member_text(labels: list[Any], level: str) -> str:
    """A member's label; the NULL member by its nearest ancestor's ("Japan (no province)")."""
    if labels[-1] is not None:
        return str(labels[-1])
    return f"{next(label for label in reversed(labels) if label is not None)} (no {level})"


def assert_table_is_pivot(table: dict[str, Any], pivot: dict[str, Any], level: str = "province") -> None:
    """The table shows the pivot: member labels, every value, row totals, column and grand totals."""
    width = len(pivot["measures"])
    expected_rows = [member_text(labels, level) for labels in pivot["row_header_labels"]]
    assert [row[0] for row in table["body"]] == expected_rows
    for row, values, totals in zip(table["body"], pivot["values"], pivot["row_totals"], strict=True):
        expected = [value for cell in values for value in (cell or [None] * width)] + list(totals)
        assert [number(text) for text in row[1:]] == [None if v is None else Decimal(v) for v in expected], row[0]
    expected_foot = [value for cell in pivot["column_totals"] for value in cell] + list(pivot["grand_total"])
    assert table["foot"][0] == "Total"
    assert [number(text) for text in table["foot"][1:]] == [Decimal(v) for v in expected_foot]


# ---- tests --------------------------------------------------------------------------------------------
def test_build_drill_filter_and_roll_up_match_the_api(page: Any, base_url: str, artefacts: Path) -> None:
    open_view(page, f"{base_url}/")
    assert "cube=fixed_line_revenue" in page.url  # the default view is written into the URL at once
    # Clear the default layout from the keyboard, then build province × quarter: drag and drop for rows,
    # a keyboard-reachable button for columns.
    for name in ("Remove Scope from rows", "Remove Year from columns"):
        act(
            page,
            lambda name=name: (page.get_by_role("button", name=name, exact=True).focus(), page.keyboard.press("Enter")),
        )
    act(page, lambda: page.drag_and_drop('li.level[data-ref="geography:province"]', "#rows-axis"))
    act(
        page,
        lambda: (
            page.get_by_role("button", name="Put Quarter on columns", exact=True).focus(),
            page.keyboard.press("Enter"),
        ),
    )
    act(page, lambda: page.get_by_role("checkbox", name="Subscribers").check())
    assert "rows=geography:province" in page.url and "columns=time:quarter" in page.url
    table = read_table(page)
    pivot = api(base_url, "pivot", rows="geography:province", columns="time:quarter", measures="revenue,subscribers")
    assert table["head"][0] == ["Quarter", *[quarter_text(keys) for keys in pivot["column_headers"]], "Total"]
    assert_table_is_pivot(table, pivot)
    status = page.locator("#status")
    assert status.get_attribute("data-source") == pivot["meta"]["source"]
    assert float(status.get_attribute("data-elapsed-ms")) >= 0
    assert pivot["meta"]["source"] in status.inner_text() and " ms" in status.inner_text()
    assert page.locator("#chart-box").get_attribute("data-kind") == "bar-stacked"
    shot(page, artefacts, "1-province-by-quarter")

    # Drill into Guangdong: its cities, the breadcrumb names it.
    act(page, lambda: page.get_by_role("button", name="Drill into Guangdong", exact=True).click())
    assert "drill=geography:domestic,asia,cn,south_china,gd" in page.url
    assert "Guangdong" in page.locator("#breadcrumbs").inner_text()
    drilled = read_table(page)
    assert_table_is_pivot(
        drilled,
        api(base_url, "pivot", rows="geography:city", columns="time:quarter", measures="revenue,subscribers", cut=GD),
        "city",
    )
    shot(page, artefacts, "2-drilled-into-guangdong")

    # Filter a product line: members searched in the dialog.
    page.get_by_role("button", name="Filter by Line", exact=True).click()
    page.fill("#filter-search", "data")
    page.locator("#filter-options label", has_text="Data Services").wait_for(timeout=WAIT_MS)
    page.locator("#filter-options label", has_text="Data Services").locator("input").check()
    act(page, lambda: page.click("#filter-apply"))
    assert "cut=product:data_services" in page.url
    assert page.locator("#filter-list").inner_text().startswith("Product: Data Services")
    filtered = read_table(page)
    assert_table_is_pivot(
        filtered,
        api(base_url, "pivot", rows="geography:city", columns="time:quarter", measures="revenue,subscribers",
            cut=["product:data_services", GD]),
        "city",
    )  # fmt: skip
    shot(page, artefacts, "3-filtered-data-services")

    # The URL holds the view: a fresh page at it shows the same table, filter and breadcrumb.
    shared = page.context.new_page()
    open_view(shared, page.url)
    assert read_table(shared) == filtered
    assert shared.locator("#filter-list").inner_text() == page.locator("#filter-list").inner_text()
    assert shared.locator("#breadcrumbs").inner_text() == page.locator("#breadcrumbs").inner_text()
    shared.close()
    # Back and forward step through the views.
    act(page, page.go_back)
    assert read_table(page) == drilled and "cut=" not in page.url
    act(page, page.go_forward)
    assert read_table(page) == filtered

    # Roll up with the breadcrumb: provinces again, the product filter kept.
    act(page, lambda: page.get_by_role("button", name="Roll up Geography to all", exact=True).click())
    assert "drill=" not in page.url
    rolled = api(base_url, "pivot", rows="geography:province", columns="time:quarter", measures="revenue,subscribers",
                 cut="product:data_services")  # fmt: skip
    assert_table_is_pivot(read_table(page), rolled)

    # Sort by the total revenue column, largest first.
    act(page, lambda: page.locator("thead th.value-head.total button.sort").first.click())
    assert "sort=desc:revenue" in page.url
    totals = [number(row[-2]) for row in read_table(page)["body"]]
    assert totals == sorted(totals, reverse=True) and len(totals) == len(rolled["row_headers"])
    shot(page, artefacts, "4-rolled-up-and-sorted")

    # Exports: the CSV link is the pivot's CSV, the Excel link a workbook of the same view.
    csv_link = page.locator("#export-csv").get_attribute("href")
    rows = list(csv.reader(io.StringIO(httpx.get(csv_link, timeout=30).text)))
    assert rows[0][:2] == ["geography.scope", "geography.continent"] and rows[0][-1] == "total:subscribers"
    assert len(rows) - 1 == len(rolled["row_headers"])
    workbook = httpx.get(page.locator("#export-xlsx").get_attribute("href"), timeout=30)
    assert workbook.status_code == 200 and workbook.content[:2] == b"PK"

    # Swap the axes: quarters along the x axis make a line chart.
    act(page, lambda: page.get_by_role("button", name="Swap rows and columns", exact=True).click())
    assert page.locator("#chart-box").get_attribute("data-kind") == "line"
    swapped = read_table(page)
    assert [row[0] for row in swapped["body"]] == [quarter_text(keys) for keys in rolled["column_headers"]]
    assert number(swapped["foot"][-1]) == Decimal(rolled["grand_total"][1])
    shot(page, artefacts, "5-quarters-as-lines")


def test_calculations_sit_beside_their_measure(page: Any, base_url: str, artefacts: Path) -> None:
    open_view(page, f"{base_url}/?cube={CUBE}&rows=product:line&columns=time:quarter&measures=revenue&cut=time:2025"
                    "&calc=share(revenue,+total)")  # fmt: skip
    table = read_table(page)
    assert table["head"][-1][1:3] == ["Revenue (CNY)", "Revenue (CNY): share of total"]
    cells = api(base_url, "aggregate", drilldown="product:line|time:quarter", measures="revenue", cut="time:2025",
                calc="share(revenue, total)")["cells"]  # fmt: skip
    shares = {(cell["product.line.label"], cell["time.quarter"]): cell["revenue__share_total"] for cell in cells}
    checked = 0
    for row in table["body"]:
        for quarter in range(1, 5):
            shown = number(row[2 * quarter])
            expected = shares.get((row[0], quarter))
            if expected is None:
                assert shown is None
                continue
            assert abs(shown - expected * 100) <= Decimal("0.005"), (row[0], quarter)
            checked += 1
    assert checked >= 8
    # Add one from the menu: the URL carries it.
    page.select_option("#calc-kind", label="Year to date")
    page.select_option("#calc-measure", "revenue")
    act(page, lambda: page.click("#calc-form button[type=submit]"))
    assert "calc=ytd(revenue)" in page.url
    assert "Revenue (CNY): year to date" in read_table(page)["head"][-1]
    shot(page, artefacts, "6-calculations")


def test_errors_read_as_messages_and_never_blank_the_page(page: Any, base_url: str, artefacts: Path) -> None:
    open_view(page, f"{base_url}/?cube={CUBE}&rows=geography:nolevel,product:line&measures=revenue")
    assert "has no geography:nolevel" in page.locator("#message").inner_text()
    assert read_table(page)["body"]  # the rest of the view is shown
    # A query the server refuses: a running total of a distinct count.
    open_view(page, f"{base_url}/?cube={CUBE}&rows=time:month&measures=subscribers&calc=ytd(subscribers)")
    assert page.evaluate("document.body.dataset.state") == "error"
    message = page.locator("#message").inner_text()
    assert "could not be computed" in message and "invalid_calculation" in message
    assert page.locator(".table-error p").inner_text().startswith("No table:")
    shot(page, artefacts, "7-error-message")
    act(page, lambda: page.get_by_role("button", name="Remove the calculations", exact=True).click())  # a way out
    assert "calc=" not in page.url and page.evaluate("document.body.dataset.state") == "ready"
    assert read_table(page)["body"]
    open_view(page, f"{base_url}/?cube=no_such_cube")
    assert 'no cube named "no_such_cube"' in page.locator("#message").inner_text()
    assert read_table(page)["body"]


def test_a_page_whose_scripts_fail_to_load_says_so(page: Any, base_url: str) -> None:
    page.route("**/explorer/js/table.js", lambda route: route.abort())  # one module missing: main.js never runs
    page.goto(f"{base_url}/")
    page.wait_for_function("document.body.dataset.state === 'error'", timeout=WAIT_MS)
    assert "could not start" in page.locator("#message").inner_text()


def test_state_and_cut_modules_agree_with_the_server_grammar(page: Any, base_url: str) -> None:
    open_view(page, f"{base_url}/")
    tricky = ["a-b", "x,y;z", "c:d|e", "back\\slash", "__null__", "under_score", "广东", "!bang"]
    formatted = page.evaluate(
        """async (elements) => {
          const cuts = await import(new URL("explorer/js/cuts.js", document.baseURI).href);
          return elements.map((element) => cuts.formatPath([element, null, "2025"]));
        }""",
        tricky,
    )
    for element, text in zip(tricky, formatted, strict=True):
        assert text == format_path((element, None, "2025"))
        assert parse_cut(f"d:{text}").path == (element, None, "2025")  # type: ignore[union-attr]
    round_trip = page.evaluate(
        """async () => {
          const state = await import(new URL("explorer/js/state.js", document.baseURI).href);
          const view = {
            ...state.emptyState("fixed_line_revenue"),
            rows: [{ dimension: "time", hierarchy: "weekly", level: "isoweek" }],
            columns: [{ dimension: "product", hierarchy: null, level: "line" }],
            measures: ["revenue", "arpu"],
            cuts: ["geography:gd;bj", "!channel:web_portal", "time:2024,4-2025,1"],
            drills: [{ dimension: "product", hierarchy: null, path: ["a,b", null] }],
            calcs: ["share(revenue, total)", "moving_avg(revenue, 3)"],
            sort: { descending: true, measure: "revenue", header: null, column: ["2025", "x:y"] },
            page: 3, cpage: 2, size: 250, chart: "revenue__share_total",
          };
          const text = state.formatState(view);
          return { text, same: JSON.stringify(state.parseState(text)) === JSON.stringify(view) };
        }"""
    )
    assert round_trip["same"], round_trip["text"]


def test_pages_of_rows_follow_the_pivot_and_the_url(page: Any, base_url: str) -> None:
    open_view(page, f"{base_url}/?cube={CUBE}&rows=geography:city&columns=time:year&measures=revenue&size=50")
    pivot = api(base_url, "pivot", rows="geography:city", columns="time:year", measures="revenue")
    count = len(pivot["row_headers"])
    assert count > 100
    assert page.locator("#pager").inner_text().startswith(f"Rows 1–50 of {count}")
    act(page, lambda: page.get_by_role("button", name="Next page of rows", exact=True).click())
    assert "page=2" in page.url and page.locator("#pager").inner_text().startswith(f"Rows 51–100 of {count}")
    shown = read_table(page)["body"]
    assert [row[0] for row in shown] == [member_text(labels, "city") for labels in pivot["row_header_labels"][50:100]]
    second = [value for cell in pivot["values"][50] for value in (cell or [None])]
    assert [number(text) for text in shown[0][1:3]] == [None if v is None else Decimal(v) for v in second]


def test_clicking_a_bar_drills_into_its_member(page: Any, base_url: str) -> None:
    open_view(page, f"{base_url}/?cube={CUBE}&rows=product:line&measures=revenue")
    first_line = read_table(page)["body"][0][0]
    page.locator('#chart-box[data-drawn="true"]').wait_for(timeout=WAIT_MS)
    point = page.evaluate(
        """() => {
          const bar = window.Chart.getChart(document.getElementById("chart")).getDatasetMeta(0).data[0];
          return { x: bar.x, y: (bar.y + bar.base) / 2 };
        }"""
    )
    box = page.locator("#chart").bounding_box()
    act(page, lambda: page.mouse.click(box["x"] + point["x"], box["y"] + point["y"]))
    assert "drill=product:" in page.url
    assert page.locator("#breadcrumbs .crumb.current").inner_text() == first_line
    products = api(base_url, "pivot", rows="product:product", measures="revenue", cut=parse_drill(page.url))
    assert [row[0] for row in read_table(page)["body"]] == [labels[-1] for labels in products["row_header_labels"]]


def parse_drill(url: str) -> str:
    return httpx.URL(url).params["drill"]


def session_keys(page: Any) -> dict[str, list[str]]:
    return page.evaluate("({session: Object.values(sessionStorage), local: Object.values(localStorage)})")  # type: ignore[no-any-return]


def sign_in_form(page: Any) -> Any:
    dialog = page.locator("#key-dialog")
    dialog.wait_for(state="visible", timeout=WAIT_MS)
    return dialog


def test_a_server_that_needs_keys_asks_for_one_and_shows_what_it_may_read(
    page: Any, keyed_server: tuple[str, dict[str, str]], artefacts: Path
) -> None:
    base, keys = keyed_server
    key = keys["guangdong_branch"]
    page.goto(f"{base}/?cube={CUBE}&rows=organisation:head_office&columns=time:year&measures=revenue")
    dialog = sign_in_form(page)
    assert "needs an API key" in page.locator("#key-reason").inner_text()
    assert page.evaluate("document.body.dataset.state") == "sign-in" and page.locator("table.pivot").count() == 0
    shot(page, artefacts, "8-sign-in")

    # A wrong key (a known id, another secret): the server's message, and the form asks again.
    page.get_by_label("API key").fill(key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB"))
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.locator("#key-error").wait_for(state="visible", timeout=WAIT_MS)
    assert "the API key is unknown or revoked" in page.locator("#key-error").inner_text()
    assert dialog.is_visible() and session_keys(page) == {"session": [], "local": []}
    shot(page, artefacts, "9-wrong-key")

    # The branch's key: kept for this tab only, never in the URL; the view is what the key may read.
    page.get_by_label("API key").fill(key)
    act(page, lambda: page.get_by_role("button", name="Sign in", exact=True).click())
    assert not dialog.is_visible() and page.evaluate("document.body.dataset.state") == "ready"
    assert session_keys(page) == {"session": [key], "local": []} and key not in page.url
    assert [row[0] for row in read_table(page)["body"]] == ["Head Office"]

    # Drilling the organisation shows Guangdong's branches only, as the API answers that key (the head
    # office's key sees every province).
    act(page, lambda: page.get_by_role("button", name="Drill into Head Office", exact=True).click())
    view = {"columns": "time:year", "measures": "revenue"}
    params = {**view, "rows": "organisation:province_branch", "cut": "organisation:hq"}
    provinces = api(base, "pivot", key, **params)
    assert [labels[-1] for labels in provinces["row_header_labels"]] == ["Guangdong Branch"]
    assert len(api(base, "pivot", keys["head_office"], **params)["row_headers"]) > 20
    assert_table_is_pivot(read_table(page), provinces, "province_branch")
    act(page, lambda: page.get_by_role("button", name="Drill into Guangdong Branch", exact=True).click())
    cities = api(base, "pivot", key, **view, rows="organisation:city_branch", cut="organisation:hq,gd")
    assert len(cities["row_headers"]) > 1 and {row[1] for row in cities["row_headers"]} == {"gd"}
    assert_table_is_pivot(read_table(page), cities, "city_branch")
    shot(page, artefacts, "10-guangdong-branch")

    # A download carries the key (the plain link alone is refused) and keeps the server's file name.
    href = page.locator("#export-csv").get_attribute("href")
    assert httpx.get(href, timeout=30).status_code == 401
    served = httpx.get(href, headers={"X-API-Key": key}, timeout=30)
    with page.expect_download(timeout=WAIT_MS) as download:
        page.click("#export-csv")
    saved = download.value
    assert saved.failure() is None
    assert saved.suggested_filename == re.search(r'filename="([^"]+)"', served.headers["content-disposition"])[1]
    assert Path(saved.path()).read_bytes() == served.content
    lines = served.text.splitlines()[1:]
    assert len(lines) == len(cities["row_headers"]) and all(line.startswith("hq,gd,") for line in lines)
    with page.expect_download(timeout=WAIT_MS) as download:
        page.click("#export-xlsx")
    assert download.value.suggested_filename.endswith(".xlsx") and Path(download.value.path()).read_bytes()[:2] == b"PK"

    # The status line's link to the plan (explain) opens it in a new tab, fetched with the key.
    explain = page.locator("#status a.source")
    with page.context.expect_page(timeout=WAIT_MS) as opened:
        explain.click()
    plan = opened.value
    plan.wait_for_url(lambda url: url.startswith("blob:"), timeout=WAIT_MS)
    served = httpx.get(explain.get_attribute("href"), headers={"X-API-Key": key}, timeout=30)
    assert json.loads(plan.locator("body").inner_text()) == served.json()
    plan.close()

    # A reload keeps the key (the same tab); "Forget key" clears it and the server asks again.
    before = read_table(page)
    open_view(page, page.url)
    assert not dialog.is_visible() and read_table(page) == before
    page.get_by_role("button", name="Key", exact=True).click()
    sign_in_form(page)
    assert "kept in this tab only" in page.locator("#key-reason").inner_text()
    page.get_by_role("button", name="Forget key", exact=True).click()
    sign_in_form(page)
    page.wait_for_function("document.body.dataset.state === 'sign-in'", timeout=WAIT_MS)
    assert "needs an API key" in page.locator("#key-reason").inner_text()
    assert session_keys(page) == {"session": [], "local": []} and page.locator("table.pivot").count() == 0
