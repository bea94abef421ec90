"""What reviewers are shown: greetings and greeted names stripped wherever they stand, long texts cut."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.blinding import CUT_MARK, SHOWN_CHARS, cut, greeted_names, present, strip_tells
from eval.decide import Policy
from eval.ratings.packets import PacketSpec, write_packets
from eval.records import AIAnswer, HumanAnswer, Item, Turn
from eval.store import write_jsonl

NAMES = frozenset({"Samir"})


@pytest.mark.parametrize(("text", "expected"), [
    ("Re: your order\nHi Oliver, your refund is on its way.", "Re: your order\nyour refund is on its way."),
    ("Thanks for waiting. Hi Oliver, your refund is on its way.", "your refund is on its way."),
    ("Update on ticket 42: Hello Oliver! The parcel left today.", "Update on ticket 42: The parcel left today."),
    ("\n\nDear Oliver Smith,\nThe parcel left today.", "The parcel left today."),
    ("Your ticket\n\nGood morning Oliver, the parcel left today.", "Your ticket\nthe parcel left today."),
    ("Order A-1\nStatus update\nHey Oliver: it left today.", "Order A-1\nStatus update\nit left today."),
    ("Hi Oliver, the parcel left today.\n- Samir", "the parcel left today."),
])
def test_greetings_are_stripped_in_the_first_lines_whatever_comes_before(text: str, expected: str) -> None:
    assert strip_tells(text, NAMES) == expected


@pytest.mark.parametrize("text", [
    "Our Hi-fi range is covered.", "Say hi to the team for us.", "Line one.\nLine two.\nLine three.\nHi Oliver, late.",
    "The order shipped. Hello kitty stickers are out of stock.",
])
def test_greeting_words_that_are_not_a_greeting_in_the_first_lines_stay(text: str) -> None:
    assert strip_tells(text) == text


@pytest.mark.parametrize(("text", "names"), [
    ("Re: your order\nHi Oliver, done.", ["Oliver"]), ("Thanks for waiting. Hello Oliver! Done.", ["Oliver"]),
    ("Hello Your order has shipped.", []), ("Hi there, done.", []), ("Done. Hi Team, all good.", []),
])
def test_only_a_greeting_closed_by_punctuation_names_the_customer(text: str, names: list[str]) -> None:
    assert greeted_names(text) == names


def _item(human: str, ai: str, context: list[Turn] | None = None, item_id: str = "T1#3") -> Item:
    return Item(item_id=item_id, ticket_id=item_id.split("#")[0], turn_index=3, category="order_status",
                context=context or [Turn(role="customer", text="Where is my parcel? Oliver Smith ordered it.")],
                human=HumanAnswer(text=human, author="a1"), ai=AIAnswer(text=ai, responder="precomputed"))


def test_a_name_greeted_after_a_prefix_is_masked_in_every_text() -> None:
    item = _item("Re: your order\nHi Oliver, your parcel left today. Oliver, keep the receipt.",
                 "Thanks for waiting. Hi Oliver, the parcel is on its way.")
    shown = present(item, NAMES)
    texts = [shown.human, shown.ai, *(t for _, t in shown.context)]
    assert not any("Oliver" in t or "Hi " in t for t in texts), texts
    assert shown.context[0][1] == "Where is my parcel? [NAME] ordered it."
    assert "[NAME], keep the receipt." in shown.human


def test_long_texts_are_cut_the_same_way_on_both_sides_and_in_the_context() -> None:
    huge_ai = "The parcel left today. " * 45_000  # about 1 MB, as a shadow-mode log once held
    long_human = "Your parcel is with the courier. " * 200
    item = _item(long_human, huge_ai, [Turn(role="customer", text="Please help. " * 1_000),
                                       Turn(role="agent", text="Checking. " * 1_000)])
    shown = present(item, NAMES)
    for text in (shown.ai, shown.human, *(t for _, t in shown.context)):
        assert text.endswith(CUT_MARK) and len(text) <= SHOWN_CHARS + len(CUT_MARK)
        assert len(text) > SHOWN_CHARS - 200
    short = present(_item("Your parcel left today.", "It left today."), NAMES)
    assert short.human == "Your parcel left today." and short.ai == "It left today."


def test_cutting_comes_after_redaction_so_no_half_of_an_email_is_shown() -> None:
    text = "x" * (SHOWN_CHARS - 10) + "oliver.smith@example.org is the address on file."  # one long token
    shown = present(_item("Done.", text), NAMES)
    assert "oliver" not in shown.ai and shown.ai == "[EMAIL] is the address on file."
    assert cut("a b c", 3) == "a b" + CUT_MARK


def test_a_megabyte_ai_answer_reaches_the_packet_cut(tmp_path: Path) -> None:
    run = tmp_path / "run"
    items = [_item("Your parcel left today.", ("The parcel left today. " * 45_000) if i == 0 else "It left today.",
                   item_id=f"T{i}#3") for i in range(6)]
    write_jsonl(run / "items.jsonl", items)
    write_packets(run, PacketSpec(("qa_01", "qa_02"), 6), Policy(min_rated=6), seed=0)
    rows = [json.loads(line) for line in (run / "packets" / "qa_01.jsonl").read_text().splitlines()]
    longest = max(max(len(r["answer_x"]), len(r["answer_y"])) for r in rows)
    assert longest <= SHOWN_CHARS + len(CUT_MARK)
    assert any(CUT_MARK in r["answer_x"] + r["answer_y"] for r in rows)
    assert (run / "packets" / "qa_01.jsonl").stat().st_size < 100_000


def test_a_greeting_to_a_role_is_not_taken_for_a_name() -> None:
    from eval.blinding import greeted_names

    for text in ("Dear Customer,\nYour refund is on its way.", "Re: order\nDear Sir,\nIt shipped.",
                 "Hello Valued Customer,\nThanks."):
        assert greeted_names(text) == [], text
