"""The plain-json fast paths write and read exactly what the pydantic records do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.config import PrecomputedResponder, ReplayConfig
from eval.records import AIAnswer, Item, Ticket, Usage
from eval.replay import _answer_batch, _answered, _item_lines, replay_to_file
from eval.rubrics import load_rubrics, score_item
from eval.rubrics.items import ItemLine, read_item
from eval.store import RecordError

DEMO = Path(__file__).resolve().parents[1] / "datasets" / "demo"

TICKET = Ticket.model_validate({
    "ticket_id": "T\u00e91", "category": "refund_request", "channel": "chat", "extra_field": [1, 2],
    "turns": [
        {"role": "customer", "text": "Hi \u2014 order A-1 \"broken\"\n\ttab \u0001 ctrl \U0001f600", "lang": "de"},
        {"role": "agent", "text": "Sorry!", "author": "a1", "meta": {"x": 1e-7, "y": [None, True]}},
        {"role": "customer", "text": "Refund to jana@example.com please"},
        {"role": "agent", "text": "Done, refund of 12.50 sent.", "author": None},
    ],
    "metadata": {"order_id": "A-1", "amount": 12.5, "tiny": 1e-7, "big": 1e21, "n": 3, "nested": {"\u00fc": [1.0, None]}},
})


class _Fixed:
    name = "fixed"
    held_out: frozenset[str] = frozenset()

    def answer(self, requests):
        return [AIAnswer(text=f"ans {r.turn_index} \u00e9", responder="fixed", model="m", latency_ms=12.0,
                         usage=Usage(prompt_tokens=3, completion_tokens=4, cost=1e-6) if r.turn_index == 3 else None)
                for r in requests]


def test_item_lines_are_the_bytes_of_item_to_json() -> None:
    batch = [(TICKET, 1), (TICKET, 3)]
    want = [item.to_json() for item in _answer_batch(batch, _Fixed())]
    assert list(_item_lines(_answered(batch, _Fixed()))) == want


def test_replay_on_worker_processes_writes_the_same_bytes_as_one(tmp_path: Path) -> None:
    tickets = tmp_path / "tickets.jsonl"
    tickets.write_text("".join((DEMO / "tickets.jsonl").read_text().splitlines(keepends=True)[:300]))
    cfg = ReplayConfig(responder=PrecomputedResponder(kind="precomputed", path="ai_answers.jsonl"))
    one = replay_to_file(tickets, tmp_path / "one.jsonl", cfg, lambda p: DEMO / p, workers=1)
    two = replay_to_file(tickets, tmp_path / "two.jsonl", cfg, lambda p: DEMO / p, workers=2)
    assert one.items > 256  # more than one group, so the pool really ran
    assert (tmp_path / "one.jsonl").read_bytes() == (tmp_path / "two.jsonl").read_bytes()
    assert one.model_dump(exclude={"answer_seconds", "ms_per_item"}) == two.model_dump(
        exclude={"answer_seconds", "ms_per_item"})


def test_a_light_item_scores_like_the_validated_one() -> None:
    book = load_rubrics(DEMO / "rubrics")
    line = next(_answer_batch([(TICKET, 3)], _Fixed())).to_json()
    assert isinstance(read_item("items.jsonl", 1, line.encode()), Item)  # usage figures: validated path
    data = json.loads(line)
    data["ai"].pop("usage")
    plain = json.dumps(data)
    light, full = read_item("items.jsonl", 1, plain.encode()), Item.model_validate_json(plain)
    assert isinstance(light, ItemLine)
    assert [s.model_dump_json() for s in score_item(book, light)] == [s.model_dump_json() for s in score_item(book, full)]


@pytest.mark.parametrize(("change", "field"), [
    (lambda d: d.pop("category"), "category"),
    (lambda d: d["context"][0].update(role="bot"), "context.0.role"),
    (lambda d: d["context"][0].update(text="  "), "context.0.text"),
    (lambda d: d["ai"].update(latency_ms="soon"), "ai.latency_ms"),
    (lambda d: d["context"][0].update(role=["agent"]), "context.0.role"),
])
def test_a_bad_item_line_still_names_file_line_and_field(change, field: str) -> None:
    data = json.loads(next(_answer_batch([(TICKET, 1)], _Fixed())).to_json())
    change(data)
    with pytest.raises(RecordError, match=rf"items\.jsonl:7: field '{field}'"):
        read_item("items.jsonl", 7, json.dumps(data).encode())


def test_a_coercible_item_line_is_read_as_pydantic_reads_it() -> None:
    data = json.loads(next(_answer_batch([(TICKET, 1)], _Fixed())).to_json())
    data["turn_index"] = "1"
    assert isinstance(read_item("items.jsonl", 1, json.dumps(data).encode()), Item)
