"""Take the README's screenshot of the explorer against a running demo (``cube-server demo``).

    python tests/browser/screenshot_demo.py http://127.0.0.1:8000 docs/explorer.png

Uses the same Chromium as the browser tests (``$CHROMIUM_PATH`` or /usr/bin/chromium).
"""

from __future__ import annotations

import os
import sys

from playwright.sync_api import sync_playwright

# East China's provinces by year, data services only, largest first, with each province's share.
VIEW = (
    "/?cube=fixed_line_revenue&rows=geography:region&columns=time:year&measures=revenue,record_count"
    "&cut=product:data_services&drill=geography:domestic,asia,cn,east_china&calc=share(revenue,+total)"
    "&sort=desc:revenue"
)


def main(base: str, target: str) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
        page = browser.new_page(viewport={"width": 1600, "height": 860}, locale="en-US", device_scale_factor=1)
        page.goto(base.rstrip("/") + VIEW)
        page.wait_for_function("document.body.dataset.state === 'ready'", timeout=60_000)
        page.locator('#chart-box[data-drawn="true"]').wait_for()  # the chart's short animation is over
        page.screenshot(path=target)
        browser.close()
    print(f"wrote {target}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
