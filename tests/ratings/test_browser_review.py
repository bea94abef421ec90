"""What a reviewer sees in Debian's chromium: the message being answered, the facts, the
guidelines and the end of the packet, at desktop and phone widths, with no console errors;
and a single-answer packet: one unlettered answer, no preference, its reviews stored.

Set SUPPORT_EVAL_SCREENSHOTS=DIR to keep the screenshots (first item, long conversation,
guidelines, end page at 1280 and 390 px) for a look by eye.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright
from servers import running
from test_browser import ARGS, CHROMIUM

from eval.ratings.app import db
from eval.ratings.app.server import create_app
from eval.ratings.guidelines import load_guidelines
from eval.ratings.packets import PacketRow, ShownTurn
from eval.ratings.single import SingleRow
from eval.store import write_json, write_jsonl

TOKEN = "review-test-token"
WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}
LAST_QUESTION = "So, last question: can the refund go to my new card ending [CARD] instead of the old one?"


def long_thread() -> list[ShownTurn]:
    turns = []
    for i in range(5):
        turns.append(ShownTurn(role="customer", text=f"Message {i + 1} from me. " + "I ordered a kettle and it arrived "
                               "with a cracked lid, so I sent it back with the prepaid label last week. " * 2))
        turns.append(ShownTurn(role="agent", text=f"Reply {i + 1}: thanks, I can see the return is on its way to "
                               "our warehouse; refunds are issued once it is checked in."))
    turns.append(ShownTurn(role="customer", text=LAST_QUESTION))
    return turns


def packet() -> list[PacketRow]:
    short = [ShownTurn(role="customer", text="Where is my order A-100001-32?")]
    return [
        PacketRow(rating_id="rv0", reviewer="qa_01", position=1, category="refund_request", context=long_thread(),
                  answer_x="Yes: once the return is checked in, the refund goes to the original payment method; "
                           "we cannot send it to a different card.",
                  answer_y="Sure, I have changed the refund to your new card.",
                  facts=[("order_id", "A-100000-55"), ("amount", "382.62 EUR"), ("return_status", "in transit")]),
        PacketRow(rating_id="rv1", reviewer="qa_01", position=2, category="order_status", context=short,
                  answer_x="It shipped yesterday with USPS.", answer_y="It is on its way.",
                  facts=[("order_id", "A-100001-32"), ("status", "shipped")]),
    ]


@pytest.fixture()
def link(tmp_path: Path) -> Iterator[str]:
    write_jsonl(tmp_path / "packets" / "qa_01.jsonl", packet())
    write_json(tmp_path / "packets" / "tokens.json", {"qa_01": TOKEN})
    with running(create_app(tmp_path)) as port:
        yield f"http://127.0.0.1:{port}/r/{TOKEN}"


@pytest.fixture()
def single_run(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A single-answer packet of two rows (the same conversation UI, one answer each)."""
    rows = [SingleRow(review_id=r.rating_id, reviewer=r.reviewer, position=r.position, category=r.category,
                      context=r.context, answer=r.answer_x, facts=r.facts) for r in packet()]
    write_jsonl(tmp_path / "packets" / "qa_01.jsonl", rows)
    write_json(tmp_path / "packets" / "tokens.json", {"qa_01": TOKEN})
    with running(create_app(tmp_path)) as port:
        yield tmp_path, f"http://127.0.0.1:{port}/r/{TOKEN}"


@pytest.fixture(params=list(WIDTHS))
def page(request: pytest.FixtureRequest) -> Iterator[Page]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} not found: run `make test`, which installs Debian's chromium")
    width, height = WIDTHS[request.param]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.errors = []  # type: ignore[attr-defined]
            page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))  # type: ignore[attr-defined]
            page.on("pageerror", lambda e: page.errors.append(str(e)))  # type: ignore[attr-defined]
            page.on("requestfailed", lambda r: page.errors.append(f"failed: {r.url}"))  # type: ignore[attr-defined]
            page.width_name = request.param  # type: ignore[attr-defined]
            yield page
        finally:
            browser.close()


def snap(page: Page, name: str) -> None:
    folder = os.environ.get("SUPPORT_EVAL_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}-{page.width_name}.png"))  # type: ignore[attr-defined]


def in_view(page: Page, selector: str) -> bool:
    """Fully visible: inside the window and inside every scrolling box around it."""
    return page.eval_on_selector(selector, """el => {
        const r = el.getBoundingClientRect();
        if (r.top < 0 || r.bottom > innerHeight || r.left < 0 || r.right > innerWidth) return false;
        for (let box = el.parentElement; box; box = box.parentElement) {
            const b = box.getBoundingClientRect();
            if (box.scrollHeight > box.clientHeight && (r.top < b.top - 1 || r.bottom > b.bottom + 1)) return false;
        }
        return true; }""")


def rate(page: Page) -> None:
    for key in ("4", "2", "x", "Enter"):
        page.keyboard.press(key)


def test_a_long_conversation_opens_on_the_message_being_answered(link: str, page: Page) -> None:
    page.goto(link)
    answered = page.locator("#turns li.answered")
    expect(answered).to_have_count(1)
    expect(answered).to_contain_text(LAST_QUESTION)
    expect(answered).to_contain_text("being answered")
    assert in_view(page, "#turns li.answered")
    assert not in_view(page, "#turns li:first-child")  # the start is above, and the page says so
    expect(page.locator("#earlier")).to_be_visible()
    expect(page.locator("#earlier")).to_contain_text("earlier messages above")
    expect(page.locator("#facts")).to_contain_text("return status")
    expect(page.locator("#facts")).to_contain_text("382.62 EUR")
    expect(page.locator("#guide-summary")).to_contain_text("Critical: sending it would harm")
    snap(page, "long-conversation")
    page.locator("#earlier").click()
    expect(page.locator("#earlier")).to_be_hidden()
    assert in_view(page, "#turns li:first-child")
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_guidelines_are_one_key_away_and_close_with_escape(link: str, page: Page) -> None:
    page.goto(link)
    expect(page.locator("#guide")).to_be_hidden()
    page.keyboard.press("h")
    guide = page.locator("#guide")
    expect(guide).to_be_visible()
    for anchor in load_guidelines().scale:
        expect(guide).to_contain_text(f"{anchor.score} · {anchor.label}")
    expect(guide).to_contain_text("Missed escalation")
    snap(page, "guidelines")
    page.keyboard.press("Escape")
    expect(guide).to_be_hidden()
    page.keyboard.press("4")  # shortcuts still rate once the guide is closed
    expect(page.locator("#side-x .scores button[aria-checked=true]")).to_have_text("4")
    assert page.errors == []  # type: ignore[attr-defined]


def test_the_end_page_follows_the_last_rating_and_survives_a_reload(link: str, page: Page) -> None:
    page.goto(link)
    expect(page.locator("#where")).to_have_text("item 1 of 2")
    snap(page, "first-item")
    rate(page)
    expect(page.locator("#where")).to_have_text("item 2 of 2")
    expect(page.locator("#done")).to_be_hidden()
    rate(page)
    done = page.locator("#done")
    expect(done).to_be_visible()
    expect(done).to_contain_text("All 2 rated")
    expect(done).to_contain_text("close this tab")
    expect(page.locator("#rating")).to_be_hidden()
    snap(page, "end-page")
    page.keyboard.press("5")  # rating keys do nothing on the end page
    page.reload()
    expect(done).to_be_visible()
    expect(page.locator("#progress")).to_have_text("2 of 2 rated")
    page.locator("#review").click()
    expect(page.locator("#rating")).to_be_visible()
    expect(page.locator("#message")).to_contain_text("Already rated")
    page.keyboard.press("Enter")  # saving a reviewed item again returns to the end page
    expect(done).to_be_visible()
    assert page.errors == []  # type: ignore[attr-defined]


def test_a_single_answer_packet_shows_one_answer_and_stores_its_reviews(single_run: tuple[Path, str], page: Page) -> None:
    run, link = single_run
    page.goto(link)
    expect(page.locator("#answer-x")).to_contain_text("original payment method")
    expect(page.locator("#title-x")).to_have_text("Answer")
    expect(page.locator("#side-y")).to_be_hidden()
    expect(page.locator("#prefs")).to_be_hidden()
    expect(page.locator("#turns li.answered")).to_contain_text(LAST_QUESTION)
    expect(page.locator("#facts")).to_contain_text("382.62 EUR")
    page.keyboard.press("Enter")
    expect(page.locator("#message")).to_contain_text("Still needed: score")
    for key in ("2", "c", "Enter"):
        page.keyboard.press(key)
    expect(page.locator("#where")).to_have_text("item 2 of 2")
    expect(page.locator("#answer-x")).to_have_text("It shipped yesterday with USPS.")
    snap(page, "single-answer")
    for key in ("5", "a", "Enter"):
        page.keyboard.press(key)
    expect(page.locator("#done")).to_contain_text("All 2 rated")
    with db.connect(db.db_path(run)) as conn:
        reviews = [(r.review_id, r.score, r.acceptable, r.critical) for r in db.all_reviews(conn)]
    assert reviews == [("rv0", 2, False, True), ("rv1", 5, True, False)]
    page.reload()
    expect(page.locator("#progress")).to_have_text("2 of 2 rated")
    assert page.errors == []  # type: ignore[attr-defined]
