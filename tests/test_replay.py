"""Replay: items per agent turn, the information cut-off, batching and the items file."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from eval.config import PrecomputedResponder, ReplayConfig, RetrievalResponder
from eval.records import AIAnswer, Item, Ticket
from eval.replay.request import ReplayRequest, agent_turn_indices
from eval.replay.stage import replay_to_file
from eval.responders import BaseResponder
from replaying import replay_items as replay

DATA = Path(__file__).parent / "data"


def ticket(ticket_id: str, roles: str, category: str = "billing", **extra) -> Ticket:
    """Roles as letters (c=customer, a=agent, n=note, s=system); each text is unique and marked."""
    names = {"c": "customer", "a": "agent", "n": "note", "s": "system"}
    turns = [
        {"role": names[r], "text": f"{names[r]} says zq{ticket_id.lower()}x{i} here",
         "author": "agent_bo" if r in "an" else None}
        for i, r in enumerate(roles)
    ]
    return Ticket(ticket_id=ticket_id, category=category, turns=turns, **extra)


def marker(ticket_id: str, i: int) -> str:
    return f"zq{ticket_id.lower()}x{i}"


@dataclass
class Recording(BaseResponder):
    """A real implementation of the protocol that keeps what it was given."""

    name: str = "recording"
    held_out: frozenset[str] = frozenset()
    batches: list[list[ReplayRequest]] = field(default_factory=list)

    def answer(self, requests: Sequence[ReplayRequest]) -> list[AIAnswer]:
        self.batches.append(list(requests))
        return [AIAnswer(text=f"answer to {r.item_id}", responder=self.name) for r in requests]


MIXED = [
    ticket("T1", "cancnac", metadata={"csat": 2, "note": "zqmetadata"}),
    ticket("T2", "scna", category="shipping"),
    ticket("T3", "acac"),
]


def test_agent_turn_indices_all_and_first() -> None:
    t = ticket("T1", "scnacaac")
    assert agent_turn_indices(t, "all") == [3, 5, 6]
    assert agent_turn_indices(t, "first") == [3]


def test_context_is_exactly_the_turns_before_each_agent_turn() -> None:
    items = replay(MIXED, Recording(), "all", batch_size=2)
    by_id = {t.ticket_id: t for t in MIXED}
    assert [i.item_id for i in items] == ["T1#1", "T1#5", "T2#3", "T3#0", "T3#2"]
    for item in items:
        source = by_id[item.ticket_id]
        assert item.context == source.turns[: item.turn_index]
        assert item.human.text == source.turns[item.turn_index].text
        assert item.human.author == "agent_bo"
        assert item.category == source.category
        assert item.metadata == source.metadata
        assert item.ai.text == f"answer to {item.item_id}"
    assert items[3].context == []


def test_first_replays_one_turn_per_ticket() -> None:
    items = replay(MIXED, Recording(), "first")
    assert [i.item_id for i in items] == ["T1#1", "T2#3", "T3#0"]


def test_no_later_text_or_metadata_reaches_the_responder() -> None:
    recorder = Recording()
    items = replay(MIXED, recorder, "all", batch_size=4)
    requests = [r for batch in recorder.batches for r in batch]
    assert [r.item_id for r in requests] == [i.item_id for i in items]
    by_id = {t.ticket_id: t for t in MIXED}
    for request in requests:
        seen = repr(request)
        assert "zqmetadata" not in seen and "csat" not in seen
        source = by_id[request.ticket_id]
        for i in range(len(source.turns)):
            assert (marker(request.ticket_id, i) in seen) == (i < request.turn_index)
        for other in MIXED:
            if other.ticket_id != request.ticket_id:
                assert marker(other.ticket_id, 0) not in seen


def test_requests_hold_copies_so_a_responder_cannot_alter_items() -> None:
    class Vandal(Recording):
        def answer(self, requests: Sequence[ReplayRequest]) -> list[AIAnswer]:
            for r in requests:
                for turn in r.context:
                    turn.text = "overwritten"
            return super().answer(requests)

    items = replay([ticket("T1", "cacac")], Vandal())
    assert all(t.text != "overwritten" for i in items for t in i.context)


def test_batches_are_whole_tickets_in_order_with_at_least_batch_size_requests() -> None:
    recorder = Recording()
    tickets = [ticket(f"T{n}", "cacaca") for n in range(3)]
    items = replay(tickets, recorder, "all", batch_size=4)
    assert [len(b) for b in recorder.batches] == [6, 3]
    assert [i.item_id for i in items] == [f"T{n}#{k}" for n in range(3) for k in (1, 3, 5)]


def test_held_out_tickets_are_not_replayed() -> None:
    items = replay(MIXED, Recording(held_out=frozenset({"T1", "T3"})))
    assert {i.ticket_id for i in items} == {"T2"}


@pytest.mark.parametrize("bad", [[], [AIAnswer(text=" ", responder="x")], [AIAnswer(responder="x")]])
def test_a_responder_breaking_its_contract_stops_the_replay(bad: list[AIAnswer]) -> None:
    class Broken(Recording):
        def answer(self, requests: Sequence[ReplayRequest]) -> list[AIAnswer]:
            return bad

    with pytest.raises(ValueError, match="responder 'recording' returned"):
        replay([ticket("T1", "ca")], Broken())


def test_error_answers_are_kept_as_errors() -> None:
    class Failing(Recording):
        def answer(self, requests: Sequence[ReplayRequest]) -> list[AIAnswer]:
            return [AIAnswer(responder="x", error="timeout") for _ in requests]

    [item] = replay([ticket("T1", "ca")], Failing())
    assert item.ai.text is None and item.ai.error == "timeout"


def test_batch_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        replay(MIXED, Recording(), batch_size=0)


def read_items(path: Path) -> list[Item]:
    return [Item.model_validate_json(line) for line in path.read_text().splitlines()]


def test_replay_to_file_with_precomputed_answers(tmp_path: Path) -> None:
    cfg = ReplayConfig(responder=PrecomputedResponder(kind="precomputed", path="ai_answers.jsonl"))
    steps: list[int] = []
    summary = replay_to_file(
        DATA / "tickets.jsonl", tmp_path / "items.jsonl", cfg, lambda p: DATA / p, steps.append
    )
    items = read_items(tmp_path / "items.jsonl")
    assert len(items) == summary.items == 14
    assert sum(steps) == summary.tickets == 12
    assert summary.held_out == 0 and summary.orphans == 0
    assert summary.missing_by_category == {"password_reset": 1}
    assert summary.errors_by_category == {"password_reset": 1} and summary.errors == 1
    assert summary.items_by_category == {
        "fraud_report": 3, "order_status": 3, "password_reset": 4, "refund_request": 4,
    }
    assert summary.responder == "precomputed" and summary.model == "bot-v1"
    missing = [i for i in items if i.ai.error]
    assert [i.item_id for i in missing] == ["T0010#1"] and missing[0].ai.text is None
    assert not (tmp_path / "items.jsonl.partial").exists()


def test_replay_to_file_with_retrieval_is_byte_identical_and_leak_free(tmp_path: Path) -> None:
    cfg = ReplayConfig(turns="all", responder=RetrievalResponder(history_fraction=0.5, batch_size=2))
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    summary = replay_to_file(DATA / "tickets.jsonl", first, cfg, lambda p: DATA / p)
    replay_to_file(DATA / "tickets.jsonl", second, cfg, lambda p: DATA / p)
    assert first.read_bytes() == second.read_bytes()
    assert summary.tickets == 12 and summary.held_out == 6
    assert summary.tickets_by_category == {
        "fraud_report": 2, "order_status": 2, "password_reset": 1, "refund_request": 1,
    }
    assert summary.model == "tfidf-nn" and summary.answer_seconds >= 0
    items = read_items(first)
    assert {i.ticket_id for i in items} == {f"T{n:04d}" for n in range(7, 13)}
    assert all(i.ai.latency_ms is None for i in items)
    for item in items:
        if item.ai.text is not None:
            assert item.ai.text != item.human.text


def test_replay_to_file_turns_first(tmp_path: Path) -> None:
    cfg = ReplayConfig(
        turns="first", responder=PrecomputedResponder(kind="precomputed", path="ai_answers.jsonl")
    )
    summary = replay_to_file(DATA / "tickets.jsonl", tmp_path / "i.jsonl", cfg, lambda p: DATA / p)
    lines = (tmp_path / "i.jsonl").read_text().splitlines()
    assert summary.items == len(lines) == 12 and summary.which == "first"
    assert [json.loads(line)["turn_index"] for line in lines][:3] == [1, 1, 2]


def test_time_in_the_responder_is_measured_with_the_clock_given(tmp_path: Path) -> None:
    ticks = iter(range(0, 1000, 2))
    cfg = ReplayConfig(responder=RetrievalResponder(batch_size=4))
    summary = replay_to_file(DATA / "tickets.jsonl", tmp_path / "i.jsonl", cfg, lambda p: DATA / p,
                             clock=lambda: next(ticks))
    assert summary.items == 6
    assert summary.answer_seconds == 4.0  # two batches (4 + 2 items), 2 s each
    assert summary.ms_per_item == round(4000 / 6, 3)
