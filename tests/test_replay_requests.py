"""A responder that mutates what it was given changes nothing the replay reads or writes."""

from __future__ import annotations

from collections.abc import Sequence

from eval.records import AIAnswer, Item, Ticket
from eval.replay.group import Replayer
from eval.replay.request import ReplayRequest, replay_request
from eval.replay.shards import TicketShard
from eval.responders import BaseResponder


def tagged_ticket(ticket_id: str) -> Ticket:
    """Turns carry a mutable extra field, so only a deep copy protects them."""
    return Ticket.model_validate({
        "ticket_id": ticket_id, "category": "billing", "metadata": {"csat": 3},
        "turns": [{"role": "customer", "text": f"hello {ticket_id}", "tags": ["a"]},
                  {"role": "agent", "text": "hi", "author": "bo", "tags": ["b"]},
                  {"role": "customer", "text": "more", "tags": []},
                  {"role": "agent", "text": "done", "author": "bo"}],
    })


def replay_group(tickets: list[Ticket], responder: BaseResponder):
    lines = tuple((n, t.model_dump_json().encode()) for n, t in enumerate(tickets, 1))
    return Replayer(responder, "all").replay(TicketShard("t.jsonl", lines, 4, {"offset": 0, "line": 0}))[0]


class Honest(BaseResponder):
    name = "honest"
    held_out: frozenset[str] = frozenset()

    def answer(self, requests: Sequence[ReplayRequest]) -> list[AIAnswer]:
        return [AIAnswer(text=f"answer {r.item_id} after {len(r.context)} turns", responder=self.name)
                for r in requests]


class Vandal(Honest):
    """Reads the context (so the copies are made), then overwrites everything it can reach."""

    def answer(self, requests: Sequence[ReplayRequest]) -> list[AIAnswer]:
        answers = super().answer(requests)
        for request in requests:
            for turn in request.context:
                turn.text = "overwritten"
                turn.role = "note"
                turn.author = "vandal"
                if isinstance(getattr(turn, "tags", None), list):
                    turn.tags.append("vandal")
        return answers


def test_a_mutating_responder_changes_neither_the_ticket_nor_the_items_written() -> None:
    tickets = [tagged_ticket("T1"), tagged_ticket("T2")]
    before = [t.model_dump_json() for t in tickets]
    honest = replay_group([tagged_ticket("T1"), tagged_ticket("T2")], Honest())
    vandalised = replay_group(tickets, Vandal())
    assert [t.model_dump_json() for t in tickets] == before
    assert vandalised.text == honest.text and vandalised.items == 4
    assert b"vandal" not in vandalised.text and b"overwritten" not in vandalised.text


def test_context_holds_copies_of_exactly_the_earlier_turns() -> None:
    ticket = tagged_ticket("T1")
    request = replay_request(ticket, 3)
    assert request.context == tuple(ticket.turns[:3])
    assert all(copy is not turn for copy, turn in zip(request.context, ticket.turns, strict=False))
    assert request.context is request.context  # copied once, on first read
    request.context[0].tags.append("x")
    assert ticket.turns[0].tags == ["a"]
    assert "more" in repr(request) and "done" not in repr(request)


def test_a_request_built_from_an_item_cannot_alter_the_item() -> None:
    item = Item.model_validate({
        "item_id": "T1#3", "ticket_id": "T1", "turn_index": 3, "category": "billing",
        "context": [t.model_dump() for t in tagged_ticket("T1").turns[:3]],
        "human": {"text": "done", "author": "bo"}, "ai": {"responder": "x", "error": "timeout"},
    })
    before = item.to_json()
    request = ReplayRequest(item.item_id, item.ticket_id, item.turn_index, item.context)
    Vandal().answer([request])
    assert item.to_json() == before
    assert request.context[0].text == "overwritten"
