"""Drive an unmodified CubesViewer against our Slicer-compatible API in headless Chromium, by hand.

CubesViewer (github.com/jjmontesl/cubesviewer, MIT) is not on any package registry and is not part of this
repository: check it out anywhere, then

    python scripts/cubesviewer_check.py --cubesviewer /path/to/cubesviewer --out /tmp/cubesviewer-check

For every example project (or those given with ``--project``) it starts ``cube-server serve`` with
``CUBE_SLICER_CORS_ORIGINS=*`` and a static file server for the CubesViewer checkout on another loopback
port, opens CubesViewer Studio (answering its "server URL" prompt with ours) and, for every cube of the
project: opens it from the Cubes menu, drills down by a dimension's first level, filters on the first
member of that level (the filter dialog's member list, "Apply"), shows the facts, exports the facts as
CSV (the "Export facts" menu, which opens ``/facts?format=csv``), and draws a chart. It clicks the
buttons and menu items CubesViewer renders (menus that only open on hover get their click event
dispatched). It records every request to our server, the browser console's errors and a screenshot
per step, and prints a Markdown summary; the exit status is 1 if any request failed, an error was
logged or a step found nothing to show.

Needs ``pip install playwright`` and a Chromium (``apt-get install chromium``; ``--chromium PATH``).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ("hello_world", "foodmart", "ssb", "telecom")
STEP_TIMEOUT_MS = 30_000
CURRENT_STEP = ["start"]  # named in console errors, to tell which step logged them


@dataclass
class CubeReport:
    cube: str
    steps: dict[str, str] = field(default_factory=dict)  # step -> "ok: ..." or "FAILED: ..."
    screenshots: list[str] = field(default_factory=list)


@dataclass
class ProjectReport:
    project: str
    cubes: list[CubeReport] = field(default_factory=list)
    requests: list[tuple[int, str]] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        bad_request = any(status >= 400 for status, _ in self.requests)
        bad_step = any(result.startswith("FAILED") for cube in self.cubes for result in cube.steps.values())
        return bad_request or bad_step or bool(self.console_errors) or not self.cubes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} not ready after {timeout_s} s")


def start_processes(project: Path, cubesviewer: Path, log_dir: Path) -> tuple[list[subprocess.Popen[bytes]], str, str]:
    api_port, static_port = free_port(), free_port()
    # CubesViewer sends no API key: the server answers anonymous callers, as the demo does.
    env = os.environ | {"CUBE_SLICER_CORS_ORIGINS": "*", "CUBE_ANONYMOUS": "true"}
    server_log = (log_dir / f"server-{project.name}.log").open("wb")
    server = subprocess.Popen(
        ["cube-server", "serve", str(project), "--port", str(api_port), "--log-level", "warning"],
        env=env,
        stdout=server_log,
        stderr=subprocess.STDOUT,
    )
    static = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(static_port), "--bind", "127.0.0.1", "--directory", str(cubesviewer)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    api = f"http://127.0.0.1:{api_port}"
    wait_ready(f"{api}/ready")
    wait_ready(f"http://127.0.0.1:{static_port}/html/studio.html")
    return [server, static], api, f"http://127.0.0.1:{static_port}"


def click(page: Any, locator: Any) -> None:
    """A real click when the element is visible; otherwise the click event CubesViewer's ng-click listens to."""
    try:
        locator.click(timeout=1_500)
    except Exception:  # noqa: BLE001 (hover-only submenus are not visible to a click; dispatch instead)
        locator.dispatch_event("click")
    page.wait_for_timeout(300)


def wait_for_aggregate(page: Any, action: Any, path: str) -> Any:
    with page.expect_response(lambda response: path in response.url, timeout=STEP_TIMEOUT_MS) as info:
        action()
    return info.value


def _filterable_dimension(api: str, cube: str, model: dict[str, Any]) -> dict[str, Any] | None:
    """The first dimension whose top level has 2 to 50 members: choosing one of them is a real filter."""
    for dimension in model["dimensions"]:
        if not dimension["levels"]:
            continue
        url = f"{api}/cube/{cube}/members/{dimension['name']}?depth=1"
        with urllib.request.urlopen(url, timeout=60) as answer:  # noqa: S310 (loopback)
            members = json.loads(answer.read())["data"]
        if 2 <= len(members) <= 50:
            return dimension
    return None


def check_cube(page: Any, api: str, cube: dict[str, Any], model: dict[str, Any], out: Path, project: str) -> CubeReport:
    report = CubeReport(cube["name"])
    shot = 0

    def screenshot(step: str) -> None:
        nonlocal shot
        shot += 1
        path = out / f"{project}-{cube['name']}-{shot:02d}-{step}.png"
        page.screenshot(path=str(path), full_page=True)
        report.screenshots.append(path.name)

    def step(name: str, action: Any) -> None:
        CURRENT_STEP[0] = f"{cube['name']}: {name}"
        try:
            report.steps[name] = "ok: " + str(action())
        except Exception as error:  # noqa: BLE001 (a failed step is reported, and the next one still runs)
            report.steps[name] = f"FAILED: {type(error).__name__}: {str(error).splitlines()[0][:200]}"
        screenshot(name)

    panel = page.locator(".cv-views-container .cv-view-container").last

    def open_cube() -> str:
        item = page.locator("li[ng-repeat^='cube in cubesService.cubesserver._cube_list']", has_text=cube["label"])
        response = wait_for_aggregate(page, lambda: click(page, item.first), f"/cube/{cube['name']}/aggregate")
        page.wait_for_timeout(800)
        return f"aggregate {response.status}, summary shown"

    dimension = _filterable_dimension(api, cube["name"], model)

    def drill() -> str:
        assert dimension is not None, "no dimension"
        level = dimension["levels"][0]
        panel.locator("button.drilldownbutton").first.click()
        menu = panel.locator(".cv-view-menu-drilldown")
        if len(dimension["levels"]) == 1:
            target = menu.locator("li", has_text=dimension["label"]).first
        else:
            # dimension -> (hierarchy ->) level: the level's own item, not the submenus that contain it
            submenu = menu.locator("li.dropdown-submenu", has_text=dimension["label"]).first
            submenu.hover()
            target = submenu.locator("li:not(.dropdown-submenu)", has_text=level["label"]).first
        response = wait_for_aggregate(page, lambda: click(page, target), "drilldown=")
        page.wait_for_timeout(800)
        rows = panel.locator(".ui-grid-render-container-body .ui-grid-row").count()
        assert response.status == 200 and rows > 0, f"status {response.status}, {rows} rows"
        return f"{response.status}, {rows} grid rows by {dimension['name']}:{level['name']}"

    def filter_first_member() -> str:
        assert dimension is not None, "no dimension"
        # the drilldown's own filter button (the magnifier beside "Drilldown: …") opens the member list
        target = panel.locator(".cv-view-viewinfo button", has=page.locator(".fa-search")).first
        with page.expect_response(lambda r: f"/members/{dimension['name']}" in r.url, timeout=STEP_TIMEOUT_MS) as info:
            target.click()
        members = info.value
        box = panel.locator("input[name='selectedValues[]']").first
        box.wait_for(timeout=STEP_TIMEOUT_MS)
        count = panel.locator("input[name='selectedValues[]']").count()
        box.check()
        response = wait_for_aggregate(page, lambda: panel.locator("button", has_text="Apply").first.click(), "cut=")
        page.wait_for_timeout(800)
        rows = panel.locator(".ui-grid-render-container-body .ui-grid-row").count()
        assert members.status == 200 and response.status == 200 and rows > 0, f"{response.status}, {rows} rows"
        return f"members {members.status} ({count} shown), filtered aggregate {response.status}, {rows} grid rows"

    def facts() -> str:
        response = wait_for_aggregate(
            page, lambda: panel.locator("button[title='Facts']").first.click(), f"/cube/{cube['name']}/facts"
        )
        page.wait_for_timeout(800)
        rows = panel.locator(".ui-grid-render-container-body .ui-grid-row").count()
        assert response.status == 200 and rows > 0, f"status {response.status}, {rows} rows"
        return f"facts {response.status}, {rows} grid rows"

    def export_facts() -> str:
        panel.locator("button", has=page.locator(".fa-cogs")).first.click()
        item = panel.locator("ul.cv-view-menu-view li", has_text="Export facts").first
        # the menu item opens /facts?format=csv in a new window, which the browser takes as a download
        with page.context.expect_event(
            "request", lambda request: "format=csv" in request.url, timeout=STEP_TIMEOUT_MS
        ) as request_info:
            click(page, item)
        url = request_info.value.url
        for window in page.context.pages[1:]:  # the export's window: its download is not needed here
            window.close()
        # read the head of the export only: a facts export of a whole cube can be millions of rows
        with urllib.request.urlopen(url, timeout=120) as answer:  # noqa: S310 (loopback)
            kind = answer.headers.get("content-type", "")
            lines = [answer.readline().decode("utf-8") for _ in range(1001)]
        lines = [line for line in lines if line]
        assert "format=csv" in url and kind.startswith("text/csv") and len(lines) > 1, (url, kind, len(lines))
        return f"{url.replace(api, '')}: {kind}, header {lines[0][:80]!r}, {len(lines) - 1} rows read"

    def chart() -> str:
        # the chart reuses the filtered drilldown's answer (CubesViewer caches GETs by URL), so look at the drawing
        panel.locator("button[title='Charts']").first.click()
        page.wait_for_timeout(1000)
        measure = "(the cube's default)"
        if panel.get_by_text("no measure has been selected").count():
            # View > Measure > the first aggregate, as a user would pick one
            panel.locator("button", has=page.locator(".fa-cogs")).first.click()
            choice = panel.locator("ul.cv-view-menu-view a[ng-click^='selectMeasure']").first
            measure = choice.inner_text().strip()
            click(page, choice)
        page.wait_for_timeout(2000)
        shapes = panel.locator("svg path, svg rect").count()
        assert shapes > 0, "no chart drawn"
        return f"{shapes} svg shapes drawn, measure {measure}"

    step("open", open_cube)
    step("drilldown", drill)
    step("filter", filter_first_member)
    step("facts", facts)
    step("export-facts-csv", export_facts)
    step("chart", chart)
    return report


def check_project(project: Path, cubesviewer: Path, out: Path, chromium: str) -> ProjectReport:
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 (a by-hand tool's own dependency)

    report = ProjectReport(project.name)
    processes, api, static = start_processes(project, cubesviewer, out)
    try:
        with urllib.request.urlopen(f"{api}/cubes", timeout=30) as answer:  # noqa: S310 (loopback)
            cubes = json.loads(answer.read())
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("dialog", lambda dialog: dialog.accept(api) if dialog.type == "prompt" else dialog.accept())
            page.on(
                "response",
                lambda response: (
                    report.requests.append((response.status, response.url.replace(api, "")))
                    if response.url.startswith(api)
                    else None
                ),
            )
            page.on(
                "console",
                lambda message: (
                    report.console_errors.append(f"[{CURRENT_STEP[0]}] {message.text}")
                    if message.type == "error"
                    else None
                ),
            )
            page.on("pageerror", lambda error: report.console_errors.append(f"[{CURRENT_STEP[0]}] page error: {error}"))
            page.goto(f"{static}/html/studio.html")
            page.locator("li[ng-repeat^='cube in cubesService.cubesserver._cube_list']").first.wait_for(
                state="attached", timeout=STEP_TIMEOUT_MS
            )
            page.screenshot(path=str(out / f"{project.name}-00-studio.png"))
            for cube in cubes:
                with urllib.request.urlopen(f"{api}/cube/{cube['name']}/model", timeout=30) as answer:  # noqa: S310
                    model = json.loads(answer.read())
                report.cubes.append(check_cube(page, api, cube, model, out, project.name))
                page.locator(".cv-views-container .cv-view-container .btn-danger").last.click()  # close the view
            browser.close()
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
    return report


def summary(reports: list[ProjectReport]) -> str:
    lines = ["# CubesViewer against the Slicer-compatible API", ""]
    for report in reports:
        failed = [(status, url) for status, url in report.requests if status >= 400]
        lines += [
            f"## {report.project}: {'FAILED' if report.failed else 'ok'}",
            "",
            f"{len(report.requests)} requests to the server, {len(failed)} failed; "
            f"{len(report.console_errors)} browser console error(s).",
            "",
        ]
        lines += [f"- failed request: {status} {url}" for status, url in failed]
        lines += [f"- console: {text[:200]}" for text in report.console_errors]
        for cube in report.cubes:
            lines.append(f"- **{cube.cube}**")
            lines += [f"  - {name}: {result}" for name, result in cube.steps.items()]
        paths = sorted({url.split("?")[0] for _, url in report.requests})
        lines += ["", "Endpoints called: " + ", ".join(f"`{path}`" for path in paths), ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cubesviewer", type=Path, required=True, help="a CubesViewer checkout (html/, dist/)")
    parser.add_argument("--out", type=Path, default=Path("cubesviewer-check"), help="screenshots and logs")
    parser.add_argument("--project", type=Path, action="append", help="default: every example project")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    if not (args.cubesviewer / "html" / "studio.html").is_file():
        parser.error(f"{args.cubesviewer} has no html/studio.html")
    args.out.mkdir(parents=True, exist_ok=True)
    projects = args.project or [ROOT / "examples" / name for name in EXAMPLES]
    reports = [
        check_project(project.resolve(), args.cubesviewer.resolve(), args.out, args.chromium) for project in projects
    ]
    text = summary(reports)
    (args.out / "summary.md").write_text(text, encoding="utf-8")
    print(text)
    return 1 if any(report.failed for report in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
