"""The retrieval and precomputed responders, and the factory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.config import PrecomputedResponder, RetrievalResponder
from eval.records import Ticket, Turn
from eval.replay.request import agent_turn_indices, replay_request
from eval.responders import build_responder
from eval.responders.precomputed import MISSING, Precomputed
from eval.responders.retrieval import (
    NO_CUSTOMER_TEXT, NO_OVERLAP, Retrieval, chronological, customer_name_in, history_split,
    order_id_in, strip_signature, substitute_name, substitute_order_id,
)
from eval.store import RecordError, read_jsonl
from replaying import replay_items

DATA = Path(__file__).parent / "data"
TICKETS = list(read_jsonl(DATA / "tickets.jsonl", Ticket))


def requests_for(tickets: list[Ticket], which: str = "all") -> list:
    return [replay_request(t, i) for t in tickets for i in agent_turn_indices(t, which)]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def customer(text: str) -> Turn:
    return Turn(role="customer", text=text)


# --- history split -------------------------------------------------------------------------

def test_history_is_the_earliest_fraction_by_time_then_id() -> None:
    keys = [("T3", "2025-01-01T00:00:00Z"), ("T1", "2025-03-01T00:00:00+00:00"),
            ("T2", "2025-01-01T00:00:00"), ("T0", "2025-02-01T09:00:00+05:00")]
    assert [k for k, _ in chronological(keys)] == ["T2", "T3", "T0", "T1"]
    assert history_split(keys, 0.5) == {"T2", "T3"}
    assert history_split(keys, 0.3) == {"T2"}


def test_history_falls_back_to_ticket_id_order_when_a_date_is_missing() -> None:
    keys = [("T3", "2020-01-01T00:00:00Z"), ("T1", None), ("T2", "2025-01-01T00:00:00Z")]
    assert history_split(keys, 0.7) == {"T1", "T2"}


# --- entities ------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "name"), [
    ("Refund please. I'm Piotr.", "Piotr"),
    ("hello, my name is Jana and my order is late", "Jana"),
    ("The box is broken.\nThanks, Anna", "Anna"),
    ("Kind regards,\nJosé", "José"),
    ("I'm Waiting for two weeks now", None),
    ("This is Urgent!", None),
    ("Where is my parcel?", None),
])
def test_customer_first_name(text: str, name: str | None) -> None:
    assert customer_name_in([customer(text)]) == name


def test_name_and_order_id_come_only_from_the_context_given() -> None:
    context = [customer("order A-100 is late, I'm Eva."), Turn(role="agent", text="Looking, B-200?"),
               customer("No, it is ORD-2024-77. Thanks, Eva")]
    assert order_id_in(context) == "ORD-2024-77"
    assert customer_name_in(context) == "Eva"
    assert order_id_in([customer("my order #1234567")]) == "#1234567"
    assert order_id_in([customer("it takes 3-5 days")]) is None


def test_order_id_substitution() -> None:
    reply = "The refund for order A-10233 was issued; order A-10233 ships back."
    assert substitute_order_id(reply, "B-777") == (
        "The refund for order B-777 was issued; order B-777 ships back."
    )
    assert substitute_order_id(reply, None) == (
        "The refund for your order was issued; your order ships back."
    )


def test_name_substitution_and_neutral_greeting() -> None:
    reply = "Hi Jana, the refund is on its way. Thanks for waiting, Jana."
    assert substitute_name(reply, "Jana", "Piotr") == (
        "Hi Piotr, the refund is on its way. Thanks for waiting, Piotr."
    )
    assert substitute_name(reply, "Jana", None) == "Hi there, the refund is on its way. Thanks for waiting."
    assert substitute_name("Dear Mr, hello", None, None).startswith("Dear customer")


@pytest.mark.parametrize(("reply", "author", "expected"), [
    ("Refund sent. Best, Tom", "agent_tom", "Refund sent."),
    ("I'm Tom from support. Refund sent.", "agent_tom", "Refund sent."),
    ("Refund sent.\n\nKind regards,\nMaria Lopez", "agent_17", "Refund sent."),
    ("Refund sent. Ticket closed by agent_17", "agent_17", "Refund sent. Ticket closed by"),
    ("Refund sent. Thank you, Jana.", "agent_17", "Refund sent. Thank you, Jana."),
])
def test_the_historical_agents_signature_is_removed(reply: str, author: str, expected: str) -> None:
    assert strip_signature(reply, author, "Jana").strip() == expected


# --- retrieval -----------------------------------------------------------------------------

def fixture_retrieval() -> Retrieval:
    return Retrieval.from_file(DATA / "tickets.jsonl", 0.5)


def test_retrieval_answers_only_from_history_and_never_from_the_same_ticket() -> None:
    responder = fixture_retrieval()
    assert responder.held_out == {f"T{n:04d}" for n in range(1, 7)}
    replayed = [t for t in TICKETS if t.ticket_id not in responder.held_out]
    requests = requests_for(replayed)
    matches = responder.match(requests)
    assert sum(m is not None for m in matches) >= 4
    for request, m in zip(requests, matches, strict=True):
        if m is not None:
            source = responder.replies[m].ticket_id
            assert source in responder.held_out and source != request.ticket_id
    assert {r.ticket_id for r in responder.replies} <= responder.held_out


def test_retrieval_adapts_the_nearest_reply_to_the_current_customer() -> None:
    responder = fixture_retrieval()
    [request] = requests_for([t for t in TICKETS if t.ticket_id == "T0009"])
    [answer] = responder.answer([request])
    # nearest history reply: T0001 "Hi Jana, ... order A-10233 ... Best, Tom"
    assert responder.replies[responder.match([request])[0]].ticket_id == "T0001"
    assert answer.text is not None and answer.error is None
    assert answer.text.startswith("Hi Piotr,")
    assert "A-12044" in answer.text and "A-10233" not in answer.text
    assert "Jana" not in answer.text and "Tom" not in answer.text
    assert (answer.responder, answer.model, answer.latency_ms) == ("retrieval", "tfidf-nn", None)


def test_retrieval_without_a_match_is_an_error_not_an_answer() -> None:
    responder = Retrieval.fit(TICKETS[:3])
    empty = replay_request(Ticket(ticket_id="X", category="c", turns=[
        Turn(role="agent", text="Welcome!")]), 0)
    unrelated = replay_request(Ticket(ticket_id="Y", category="c", turns=[
        customer("zebra quantum"), Turn(role="agent", text="?")]), 1)
    answers = responder.answer([empty, unrelated])
    assert [(a.text, a.error) for a in answers] == [(None, NO_CUSTOMER_TEXT), (None, NO_OVERLAP)]
    assert Retrieval.fit([]).answer([unrelated])[0].error == NO_OVERLAP


def test_ties_go_to_the_latest_history_reply_whatever_the_file_order() -> None:
    def past(tid: str, day: int, reply: str) -> Ticket:
        return Ticket(ticket_id=tid, category="c", created_at=f"2025-01-0{day}T00:00:00Z",
                      turns=[customer("where is my parcel"), Turn(role="agent", text=reply)])

    history = [past("H2", 3, "newest"), past("H1", 1, "oldest"), past("H3", 2, "middle")]
    request = requests_for([past("Q", 9, "human")])
    assert Retrieval.fit(history).answer(request)[0].text == "newest"
    assert Retrieval.fit(history[::-1]).answer(request)[0].text == "newest"


def sentinel_tickets() -> list[Ticket]:
    """Every turn carries its own token, so any leak of a replayed ticket's text is visible."""
    tickets = []
    for n in range(10):
        turns = [customer(f"my parcel is late zqc{n}a"), Turn(role="agent", text=f"sorry zqa{n}b"),
                 customer(f"still late zqc{n}c"), Turn(role="agent", text=f"refund zqa{n}d")]
        tickets.append(Ticket(ticket_id=f"S{n}", category="c",
                              created_at=f"2025-01-{n + 10}T00:00:00Z", turns=turns))
    return tickets


def test_replayed_ticket_text_is_nowhere_in_the_index_or_the_answers(tmp_path: Path) -> None:
    tickets = sentinel_tickets()
    path = write_jsonl(tmp_path / "t.jsonl", [t.model_dump() for t in tickets[::-1]])
    responder = Retrieval.from_file(path, 0.4)
    assert responder.held_out == {"S0", "S1", "S2", "S3"}
    vocabulary = " ".join(responder.vectorizer.vocabulary_)
    stored = " ".join(r.text for r in responder.replies)
    for n in range(4, 10):
        for token in (f"zqc{n}a", f"zqa{n}b", f"zqc{n}c", f"zqa{n}d"):
            assert token not in vocabulary and token not in stored
    for item in replay_items(tickets, responder, "all", batch_size=3):
        n = item.ticket_id[1:]
        assert f"zqa{n}" not in item.ai.text and f"zqc{n}" not in item.ai.text


def test_build_responder_reads_the_config() -> None:
    responder = build_responder(RetrievalResponder(history_fraction=0.25), DATA / "tickets.jsonl",
                                lambda p: DATA / p)
    assert isinstance(responder, Retrieval) and len(responder.held_out) == 3
    pre = build_responder(PrecomputedResponder(kind="precomputed", path="ai_answers.jsonl"),
                          DATA / "tickets.jsonl", lambda p: DATA / p)
    assert isinstance(pre, Precomputed) and pre.held_out == frozenset() and pre.unused(pre.count()) == 0


# --- precomputed ---------------------------------------------------------------------------

def test_precomputed_joins_on_ticket_and_turn() -> None:
    responder = Precomputed.from_file(DATA / "ai_answers.jsonl")
    logged = {(r["ticket_id"], r["turn_index"]): r
              for r in map(json.loads, (DATA / "ai_answers.jsonl").read_text().splitlines())}
    requests = requests_for(TICKETS)
    for request, answer in zip(requests, responder.answer(requests), strict=True):
        row = logged.get((request.ticket_id, request.turn_index))
        if row is None:
            assert (answer.text, answer.error) == (None, MISSING)
        else:
            assert (answer.text, answer.model, answer.latency_ms, answer.error) == (
                row["text"], row["model"], row["latency_ms"], None)
        assert answer.responder == "precomputed"


def test_precomputed_counts_orphans_and_never_uses_them(tmp_path: Path) -> None:
    rows = [{"ticket_id": "T0001", "turn_index": 1, "text": "ok"},
            {"ticket_id": "T0001", "turn_index": 0, "text": "answers a customer turn"},
            {"ticket_id": "T0003", "turn_index": 1, "text": "answers a note"},
            {"ticket_id": "T9999", "turn_index": 1, "text": "unknown ticket"},
            {"ticket_id": "T0002", "turn_index": 3, "text": "   "}]
    responder = Precomputed.from_file(write_jsonl(tmp_path / "a.jsonl", rows))
    group = responder.for_tickets(sorted({t.ticket_id for t in TICKETS} | {"T9999"}))
    assert responder.unused(group.joined(TICKETS)) == 3
    # Replay asks only for agent turns, so an orphan is never asked for.
    answers = responder.answer(requests_for(TICKETS))
    assert not {a.text for a in answers} & {"answers a customer turn", "answers a note", "unknown ticket"}
    assert [a.text for a in answers[:3]] == ["ok", None, None]
    assert [a.error for a in answers[1:3]] == [MISSING, "blank: the precomputed answer has no text"]


@pytest.mark.parametrize(("line", "field"), [
    ('{"ticket_id": "T0001", "turn_index": 1}', "text"),
    ('{"ticket_id": "T0001", "turn_index": -1, "text": "x"}', "turn_index"),
    ('{"ticket_id": "T0001", "turn_index": 1, "text": "x", "latency_ms": "slow"}', "latency_ms"),
    ('{"ticket_id": "T0001", "turn_index": 1, "text": "x"', "(line)"),
    ('{"ticket_id": "T0001", "turn_index": 1, "text": "again"}', "turn_index"),
])
def test_a_bad_precomputed_line_names_file_line_and_field(tmp_path: Path, line: str, field: str) -> None:
    path = tmp_path / "answers.jsonl"
    path.write_text('{"ticket_id": "T0001", "turn_index": 1, "text": "x"}\n\n' + line + "\n")
    with pytest.raises(RecordError) as err:
        Precomputed.from_file(path)
    assert str(err.value).startswith(f"{path}:3: field '{field}'")


def test_a_ticket_twice_in_the_history_is_an_error() -> None:
    with pytest.raises(ValueError, match="'T0001' appears twice"):
        Retrieval.fit([TICKETS[0], TICKETS[1], TICKETS[0]])


def test_retrieval_never_passes_on_another_customers_personal_data() -> None:
    from eval.responders.retrieval import scrub_other_customer, strip_signature

    reply = ("Hi Lucía, I've blocked the saved card ending 3434. I can reach you at lucia@web.de "
             "or +44 7700 900123.\n— Victor, Customer Care")
    text = scrub_other_customer(strip_signature(reply, "agent_10", "Lucía"), [
        Turn(role="customer", text="My card ending in 1111 was charged twice")])
    assert "3434" not in text and "lucia@web.de" not in text and "900123" not in text
    assert "Victor" not in text and "card ending 1111" in text
    bare = scrub_other_customer(reply, [Turn(role="customer", text="I was charged twice")])
    assert "the saved card." in bare
