"""Stripping source tells, learning agent names, the blinding audit, and street-address redaction."""

from __future__ import annotations

import numpy as np
import pytest

from eval.blinding import EMPTY, audit_blinding, learn_agent_names, present, source_auc, strip_tells
from eval.records import AIAnswer, HumanAnswer, Item, Turn
from eval.redact import find_pii, redact

NAMES = frozenset({"Samir", "Julia"})


@pytest.mark.parametrize(("text", "expected"), [
    ("It's processing, wait. - Samir", "It's processing, wait."),
    ("Dear Tomás, Complaint recorded (CS-1).\nKind regards,\nJulia\nCustomer Support", "Complaint recorded (CS-1)."),
    ("Hello Noah! Thank you for your message. I'm the automated support assistant. Your refund is on its way. "
     "I hope this information is helpful.\n— Support Assistant (automated)", "Your refund is on its way."),
    ("Thank you for contacting us. As an AI assistant, I understand how important this is. Done.", "Done."),
    ("Of course. Refund approved. If you have any other questions, just reply to this message.\n— Samir, Customer Care",
     "Refund approved."),
    ("Hi Priya, thanks for your patience. Reset link sent.\nBest, Julia (Support Team)", "Reset link sent."),
    ("Reset link sent.\nThanks, Samir", "Reset link sent."),
    ("Great question! Use the app. Have a wonderful day!\n— Virtual Assistant", "Use the app."),
])
def test_tells_are_stripped_from_either_source(text: str, expected: str) -> None:
    assert strip_tells(text, NAMES) == expected


def test_content_survives_and_names_in_the_body_are_masked() -> None:
    text = "I asked Julia in billing: the 20 EUR fee is refunded within 5-10 business days."
    assert strip_tells(text, NAMES) == "I asked [NAME] in billing: the 20 EUR fee is refunded within 5-10 business days."


def test_an_answer_that_is_only_formulas_is_shown_as_such_not_blank() -> None:
    assert strip_tells("Thanks for your message!\n— Samir", NAMES) == EMPTY


def test_agent_names_are_learned_from_signatures_only() -> None:
    texts = ["Done.\n- Samir", "Sent.\nKind regards,\nJulia\nCustomer Support", "Ok.\n— Samir, Customer Care",
             "Refund sent.\nBest, Julia (Support Team)", "Ask Oliver in billing.", "Ask Oliver again."]
    assert learn_agent_names(texts) == {"Samir", "Julia"}


def test_present_redacts_everywhere_and_strips_agent_turns_and_both_answers() -> None:
    item = Item(
        item_id="T1#3", ticket_id="T1", turn_index=3, category="c",
        context=[Turn(role="customer", text="Mail me at a.b@example.com or at 12 Main St."),
                 Turn(role="agent", text="On it.\n- Samir"), Turn(role="customer", text="Thanks Samir")],
        human=HumanAnswer(text="Hi,\nDone, card 4111111111111111 refunded.\nThanks, Julia"),
        ai=AIAnswer(text="I'm a virtual assistant. Done, refunded to a.b@example.com.", responder="p"),
    )
    shown = present(item, NAMES)
    assert shown.context == (("customer", "Mail me at [EMAIL] or at [ADDRESS]"), ("agent", "On it."),
                             ("customer", "Thanks [NAME]"))
    assert shown.human == "Done, card [CARD] refunded."
    assert shown.ai == "Done, refunded to [EMAIL]."
    raw = present(item, NAMES, strip=False)
    assert raw.human.endswith("Thanks, Julia") and "[CARD]" in raw.human


def _bank(rng: np.random.Generator, n: int) -> list[str]:
    words = "order refund ship track delay invoice card account reset link email days parcel return".split()
    return [" ".join(rng.choice(words, size=12)) for _ in range(n)]


def test_audit_sees_a_planted_tell_before_stripping_and_chance_after() -> None:
    """Both sources draw from the same word bank; only the AI carries a self-reference until stripped."""
    rng = np.random.default_rng(0)
    human, ai = _bank(rng, 150), _bank(rng, 150)
    before = [(h, f"As an AI assistant, I can help. {a}.") for h, a in zip(human, ai)]
    after = [(strip_tells(h), strip_tells(a)) for h, a in before]
    audit = audit_blinding(before, after, np.random.default_rng(1))
    assert audit.auc_before > 0.95
    assert 0.35 < audit.auc_after < 0.65
    assert audit.warning is None


def test_audit_warns_when_the_sources_stay_separable() -> None:
    rng = np.random.default_rng(2)
    pairs = [(h, a + " kindly") for h, a in zip(_bank(rng, 100), _bank(rng, 100))]
    audit = audit_blinding(pairs, pairs, np.random.default_rng(3))
    assert audit.auc_after > 0.9 and "kindly" in audit.ai_features_after[:3]
    assert audit.warning and "0.75" in audit.warning


def test_audit_refuses_to_guess_with_too_few_items() -> None:
    assert source_auc([("a b", "c d")] * 3, folds=5, seed=0) is None
    audit = audit_blinding([("a b", "c d")] * 3, [("a b", "c d")] * 3, np.random.default_rng(0))
    assert audit.auc_after is None and "too few" in audit.warning


@pytest.mark.parametrize("address", ["221B Baker Street", "1600 Pennsylvania Ave NW", "12 Main St. Apt 4B",
                                     "42 Oak Lane", "Hauptstraße 12", "7 Rue Street"])
def test_street_addresses_are_found(address: str) -> None:
    assert [(s.kind, s.text) for s in find_pii(f"send it to {address}, please")] == [("address", address)]


@pytest.mark.parametrize("text", ["refunds take 5-10 Business Days", "order 123 Main", "Street food at 5",
                                  "we are at Baker Street", "call +44 7700 900123"])
def test_numbers_and_street_names_alone_are_not_addresses(text: str) -> None:
    assert all(s.kind != "address" for s in find_pii(text))


def test_address_redaction_keeps_the_rest_and_other_kinds() -> None:
    assert redact("Ship to 10 Downing Street or mail x@y.org") == "Ship to [ADDRESS] or mail [EMAIL]"
