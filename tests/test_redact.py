"""Personal-data patterns: checksums against published test numbers and planted truth."""

from __future__ import annotations

import numpy as np
import pytest

from eval.redact import PiiSpan, find_pii, iban_valid, luhn_valid, redact

# Published test card numbers (Visa, Mastercard, Amex, Discover) and example IBANs.
CARDS = ["4111111111111111", "5500 0000 0000 0004", "3782-822463-10005", "6011 1111 1111 1117"]
IBANS = ["GB82 WEST 1234 5698 7654 32", "DE89370400440532013000", "FR1420041010050500013M02606",
         "NL91 ABNA 0417 1643 00"]


def kinds(text: str) -> list[tuple[str, str]]:
    return [(s.kind, s.text) for s in find_pii(text)]


def _digits(rng: np.random.Generator, n: int) -> str:
    return "".join(str(d) for d in rng.integers(0, 10, size=n))


def test_exactly_one_check_digit_completes_a_luhn_number() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        prefix = _digits(rng, 15)
        assert sum(luhn_valid(prefix + str(d)) for d in range(10)) == 1


@pytest.mark.parametrize("card", CARDS)
def test_luhn_valid_card_numbers_are_found(card: str) -> None:
    assert kinds(f"my card is {card}, thanks") == [("card", card)]


def test_random_sixteen_digits_failing_luhn_are_not_pii() -> None:
    rng = np.random.default_rng(11)
    checked = 0
    while checked < 100:
        number = _digits(rng, 16)
        if luhn_valid(number):
            continue
        grouped = " ".join(number[i:i + 4] for i in range(0, 16, 4))
        assert find_pii(f"number {number} here") == []
        assert find_pii(f"number {grouped} here") == []
        checked += 1


def test_card_inside_longer_digit_run_is_not_a_card() -> None:
    assert find_pii("ref 94111111111111111") == []


@pytest.mark.parametrize("iban", IBANS)
def test_valid_ibans_are_found(iban: str) -> None:
    assert iban_valid(iban)
    assert kinds(f"pay to {iban} please") == [("iban", iban)]


@pytest.mark.parametrize("iban", IBANS)
def test_wrong_check_digits_are_not_an_iban(iban: str) -> None:
    compact = iban.replace(" ", "")
    wrong = compact[:2] + f"{(int(compact[2:4]) + 1) % 100:02d}" + compact[4:]
    assert not iban_valid(wrong)
    assert all(s.kind != "iban" for s in find_pii(f"pay to {wrong}"))


def test_iban_followed_by_uppercase_word_is_trimmed() -> None:
    assert kinds("GB82WEST12345698765432 CALL ME") == [("iban", "GB82WEST12345698765432")]


def test_emails_are_found() -> None:
    assert kinds("write to Jana.K+shop@example.co.uk.") == [("email", "Jana.K+shop@example.co.uk")]


@pytest.mark.parametrize("phone", ["+44 7700 900123", "+1 (555) 123-4567", "555-123-4567",
                                   "(020) 7946 0958", "0044 20 7946 0958", "555.123.4567"])
def test_phone_numbers_are_found(phone: str) -> None:
    assert kinds(f"call me on {phone} today") == [("phone", phone)]


@pytest.mark.parametrize("text", ["order A-10233", "ordered on 2025-01-03", "order 123456789",
                                  "takes 3-5 business days", "it cost 1234.56", "card ending 4242"])
def test_ordinary_numbers_are_not_pii(text: str) -> None:
    assert find_pii(text) == []


def test_spans_are_in_text_order_and_do_not_overlap() -> None:
    text = "a@b.io, +44 7700 900123, 4111 1111 1111 1111, GB82 WEST 1234 5698 7654 32"
    spans = find_pii(text)
    assert [s.kind for s in spans] == ["email", "phone", "card", "iban"]
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:]))
    assert all(text[s.start:s.end] == s.text for s in spans)


def test_keys_ignore_formatting() -> None:
    assert PiiSpan("phone", 0, 0, "+44 20 7946 0958").key == PiiSpan("phone", 0, 0, "020-7946-0958").key
    assert PiiSpan("email", 0, 0, "Jana@Example.com").key == "jana@example.com"
    assert PiiSpan("card", 0, 0, "4111-1111 1111-1111").key == "4111111111111111"
    assert PiiSpan("iban", 0, 0, "gb82 west 1234 5698 7654 32").key == "GB82WEST12345698765432"


def test_redact_replaces_every_span() -> None:
    text = "Mail jana@example.com or call +44 7700 900123; card 4111111111111111."
    assert redact(text) == "Mail [EMAIL] or call [PHONE]; card [CARD]."
    assert redact(text, lambda s: "*" * len(s.text)).count("*") == 16 + 15 + 16


def test_names_the_conversation_reveals_are_found_and_masked_with_surnames() -> None:
    from eval.redact import customer_names, mask_names

    customer = ["Hi, my name is Jana and my order is late.", "My late mother Olga Brandt had an account.",
                "Please cancel the plan of Pierre Patel, who passed away.", "Thanks, Sorry"]
    agents = ["Hi Jana, sorry for the wait.", "I've closed Chen Khan's account.", "Hello there, how can I help?"]
    names = customer_names(customer, agents)
    assert names == ["Jana", "Olga", "Pierre", "Chen"]
    text = "Jana, Olga Brandt's card and Chen Khan's account; Pierre Patel. Janet stays."
    assert mask_names(text, names) == "[NAME], [NAME]'s card and [NAME]'s account; [NAME]. Janet stays."
    assert mask_names("Nothing to hide.", []) == "Nothing to hide."
