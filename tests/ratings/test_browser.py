"""A reviewer rates a packet by keyboard in Debian's chromium; the export equals what was entered."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from servers import running

from eval.ratings.app.server import create_app
from eval.ratings.export import export_ratings
from eval.ratings.packets import PacketRow, ShownTurn
from eval.store import write_json, write_jsonl

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
TOKEN = "browser-test-token"



@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    write_jsonl(tmp_path / "packets" / "qa_01.jsonl", [
        PacketRow(rating_id=f"rb{i}", reviewer="qa_01", position=i + 1, category="refund_request",
                  context=[ShownTurn(role="customer", text=f"Where is my refund {i}?"),
                           ShownTurn(role="agent", text="Checking."), ShownTurn(role="customer", text="Any news?")],
                  answer_x=f"Refund {i} is on its way, 5-10 business days.", answer_y=f"Wait for refund {i}.")
        for i in range(3)
    ])
    write_json(tmp_path / "packets" / "tokens.json", {"qa_01": TOKEN})
    with running(create_app(tmp_path)) as port:
        yield f"http://127.0.0.1:{port}/r/{TOKEN}", tmp_path


@pytest.fixture()
def page() -> Iterator[Page]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} not found: run `make test`, which installs Debian's chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser.new_page(viewport={"width": 1366, "height": 768})
        finally:
            browser.close()


def keys(page: Page, *presses: str) -> None:
    for k in presses:
        page.keyboard.press(k)


def test_rating_a_packet_by_keyboard_exports_exactly_what_was_entered(served, page: Page) -> None:
    link, run = served
    page.goto(link)
    expect(page.locator("#progress")).to_have_text("0 of 3 rated")
    expect(page.locator("#turns li")).to_have_count(3)
    x_box, y_box = page.locator("#side-x").bounding_box(), page.locator("#side-y").bounding_box()
    assert x_box["y"] == y_box["y"] and x_box["x"] < y_box["x"] and y_box["x"] + y_box["width"] <= 1366

    keys(page, "Enter")  # nothing entered yet: refused with a message, nothing saved
    expect(page.locator("#message")).to_contain_text("Still needed: score x, score y, preference")

    keys(page, "4", "2", "ArrowLeft", "a", "ArrowRight", "c", "x", "/")
    page.keyboard.type("Y is too vague")
    keys(page, "Escape", "Enter")
    expect(page.locator("#progress")).to_have_text("1 of 3 rated")
    expect(page.locator("#where")).to_have_text("item 2 of 3")

    keys(page, "3", "3", "g", "Enter", "Enter")  # a double Enter must not make two ratings
    expect(page.locator("#progress")).to_have_text("2 of 3 rated")

    page.reload()  # resumes at the first unrated item
    expect(page.locator("#where")).to_have_text("item 3 of 3")
    keys(page, "1", "5", "y", "a", "b", "?")
    expect(page.locator("#help")).to_be_visible()
    keys(page, "y", "Enter")
    expect(page.locator("#progress")).to_have_text("3 of 3 rated")
    expect(page.locator("#done")).to_be_visible()
    expect(page.locator("#done")).to_contain_text("All 3 rated")

    path, n = export_ratings(run)
    got = {r["rating_id"]: r for r in map(json.loads, path.read_text().splitlines())}
    seconds = {k: got[k].pop("seconds") for k in got}
    assert n == 3 and all(s is not None and s >= 0 for s in seconds.values())
    assert got == {
        "rb0": {"rating_id": "rb0", "reviewer": "qa_01", "score_x": 4, "score_y": 2, "preference": "x",
                "acceptable_x": True, "acceptable_y": False, "critical_x": False, "critical_y": True,
                "comment": "Y is too vague"},
        "rb1": {"rating_id": "rb1", "reviewer": "qa_01", "score_x": 3, "score_y": 3, "preference": "tie_good",
                "acceptable_x": False, "acceptable_y": False, "critical_x": False, "critical_y": False, "comment": ""},
        "rb2": {"rating_id": "rb2", "reviewer": "qa_01", "score_x": 1, "score_y": 5, "preference": "y",
                "acceptable_x": False, "acceptable_y": True, "critical_x": False, "critical_y": False, "comment": ""},
    }


def test_a_wrong_link_shows_no_queue(served, page: Page) -> None:
    link, _ = served
    response = page.goto(link + "x")
    assert response.status == 403
    assert "Answer X" not in page.content()
