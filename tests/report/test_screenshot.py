"""The demo report in Debian's chromium: the first screen shows the summary and the forest plot,
and the page asks for nothing but its own file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Route, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
DEMO = Path(__file__).parents[2] / "datasets" / "demo" / "config.yaml"
VIEWPORT = {"width": 1366, "height": 768}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "run"
    res = subprocess.run([sys.executable, "-m", "eval", "run", str(DEMO), "--out", str(out)],
                         check=False, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    return out / "report.html"


def _on_screen(box: dict | None) -> bool:
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= VIEWPORT["height"] \
        and box["x"] >= 0 and box["x"] + box["width"] <= VIEWPORT["width"]


def test_first_screen_shows_summary_and_forest_plot(report: Path, tmp_path: Path) -> None:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} not found: run `make test`, which installs Debian's chromium")
    url = report.resolve().as_uri()
    requests: list[str] = []

    def record(route: Route) -> None:
        requests.append(route.request.url)
        if route.request.url == url:
            route.continue_()
        else:
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.route("**/*", record)
            page.goto(url, wait_until="load")
            first, full = tmp_path / "first_screen.png", tmp_path / "full_page.png"
            page.screenshot(path=str(first))
            page.screenshot(path=str(full), full_page=True)
            for tier in ("automate", "assist", "human"):
                assert _on_screen(page.locator(f"#tier-{tier}").bounding_box()), tier
            assert _on_screen(page.locator(".sentences li").first.bounding_box())
            forest = page.locator("#fig-forest img")
            assert _on_screen(forest.bounding_box())
            assert forest.evaluate("img => img.complete && img.naturalWidth > 0")
            assert page.locator("#summary h2").inner_text() == "Summary"
        finally:
            browser.close()
    assert requests == [url], requests
    assert first.stat().st_size > 20_000 and full.stat().st_size > first.stat().st_size
