"""The plain-json fast paths write and read exactly what the pydantic records do."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from eval.config import PrecomputedResponder, ReplayConfig
from eval.engines.local import LocalEngine
from eval.records import AIAnswer, HumanAnswer, Item, Ticket, Usage
from eval.replay.group import answered, item_lines
from eval.replay.request import copy_turn
from eval.replay.stage import replay_to_file
from eval.responders import BaseResponder
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


class _Fixed(BaseResponder):
    name = "fixed"
    held_out: frozenset[str] = frozenset()

    def answer(self, requests):
        return [AIAnswer(text=f"ans {r.turn_index} \u00e9", responder="fixed", model="m", latency_ms=12.0,
                         usage=Usage(prompt_tokens=3, completion_tokens=4, cost=1e-6) if r.turn_index == 3 else None)
                for r in requests]


def _items(ticket: Ticket) -> list[Item]:
    """The items of a ticket built as records, to compare the item lines written without them."""
    return [Item(item_id=f"{ticket.ticket_id}#{i}", ticket_id=ticket.ticket_id, turn_index=i,
                 category=ticket.category, context=[copy_turn(t) for t in ticket.turns[:i]],
                 human=HumanAnswer(text=ticket.turns[i].text, author=ticket.turns[i].author), ai=ai,
                 metadata=ticket.metadata)
            for _, i, ai in answered([ticket], _Fixed(), "all")]


def test_item_lines_are_the_bytes_of_item_to_json() -> None:
    want = [item.to_json() for item in _items(TICKET)]
    assert len(want) == 2
    assert list(item_lines(answered([TICKET], _Fixed(), "all"))) == want


def test_replay_on_worker_processes_writes_the_same_bytes_as_one(tmp_path: Path) -> None:
    tickets = tmp_path / "tickets.jsonl"
    tickets.write_text("".join((DEMO / "tickets.jsonl").read_text().splitlines(keepends=True)[:300]))
    cfg = ReplayConfig(responder=PrecomputedResponder(kind="precomputed", path="ai_answers.jsonl"))
    one = replay_to_file(tickets, tmp_path / "one.jsonl", cfg, lambda p: DEMO / p, engine=LocalEngine(1))
    two = replay_to_file(tickets, tmp_path / "two.jsonl", cfg, lambda p: DEMO / p, engine=LocalEngine(2))
    assert one.items > 256  # more than one group, so the pool really ran
    assert (tmp_path / "one.jsonl").read_bytes() == (tmp_path / "two.jsonl").read_bytes()
    assert one.model_dump(exclude={"answer_seconds", "ms_per_item"}) == two.model_dump(
        exclude={"answer_seconds", "ms_per_item"})


def test_a_light_item_scores_like_the_validated_one() -> None:
    book = load_rubrics(DEMO / "rubrics")
    line = _items(TICKET)[1].to_json()
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
    data = json.loads(_items(TICKET)[0].to_json())
    change(data)
    with pytest.raises(RecordError, match=rf"items\.jsonl:7: field '{field}'"):
        read_item("items.jsonl", 7, json.dumps(data).encode())


def test_a_coercible_item_line_is_read_as_pydantic_reads_it() -> None:
    data = json.loads(_items(TICKET)[0].to_json())
    data["turn_index"] = "1"
    assert isinstance(read_item("items.jsonl", 1, json.dumps(data).encode()), Item)


PII_VALUES = [
    ("+44 20 7946 0018", "020-7946-0018"), ("jana.novak@example.com", "JANA.NOVAK@EXAMPLE.COM"),
    ("4111 1111 1111 1111", "4111-1111-1111-1111"), ("GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432"),
    ("221B Baker Street", "221B  Baker Street,"), ("Hauptstraße 12", "Hauptstraße  12"),
    ("(555) 010-4477", "555.010.4477"),
]


@pytest.mark.parametrize(("said", "echoed"), PII_VALUES)
def test_the_echo_pre_check_never_skips_a_real_echo(said: str, echoed: str) -> None:
    """``Answer.may_hold`` only lets no_pii_echo skip the scan of an answer that cannot hold a
    context value: every respelling the scan itself matches must get through it."""
    from eval.rubrics.criteria import Answer, ItemView, pii_keys
    from eval.rubrics.items import TurnView

    view = ItemView({}, (TurnView("customer", f"Reach me at {said}, thanks."),))
    assert view.context_pii, said
    for answer_text, echoes in ((f"Noted: {echoed}.", True), (f"Noted: {said}!", True),
                                ("We will call you on the number you gave.", False)):
        answer = Answer.of(answer_text)
        truth = bool(pii_keys(answer_text) & view.context_pii)
        assert truth == echoes, answer_text
        assert answer.may_hold(view.context_pii) or not truth, answer_text


def test_the_echo_pre_check_agrees_with_the_full_scan_on_the_demo() -> None:
    """On every demo item whose context holds personal data, skipping by the pre-check changes no
    no_pii_echo value (the pre-check may only say 'maybe')."""
    from eval.rubrics.criteria import Answer, ItemView, pii_keys

    checked = 0
    for line in (DEMO / "tickets.jsonl").read_text(encoding="utf-8").splitlines()[:1500]:
        ticket = Ticket.model_validate_json(line)
        for i, turn in enumerate(ticket.turns):
            view = ItemView(ticket.metadata, tuple(ticket.turns[:i]))
            if turn.role != "agent" or not view.context_pii:
                continue
            answer = Answer.of(turn.text)
            assert answer.may_hold(view.context_pii) or not (pii_keys(turn.text) & view.context_pii)
            checked += 1
    assert checked > 100


def test_score_lines_are_the_bytes_of_score_to_json() -> None:
    """``AnswerScore.to_json`` writes score lines without building records: same bytes, N/A,
    judge reasons and errors included."""
    from eval.rubrics.score import AnswerScore

    results = (("a", 1.0, True, False, None, None), ("b", None, None, True, None, None),
               ("c", 0.008333333333333333, False, False, "too short", None), ("d", None, None, False, None, "timeout"))
    for score in (AnswerScore("r@1", results, 0.8461538461538461, False),
                  AnswerScore("r@1", results, 0.0, True), AnswerScore("r@1", (), None, error="no answer")):
        assert score.to_json("T\u00e9#1", "ai") == score.to_record("T\u00e9#1", "ai").to_json()


def test_one_pass_run_writes_the_bytes_of_replay_then_score(tmp_path: Path) -> None:
    """`run` replays and scores in one pass on worker processes; re-running the two stages alone
    over its tickets gives the same items.jsonl and scores.jsonl, and the same summaries."""
    import subprocess
    import sys

    lines = (DEMO / "tickets.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)[:400]
    (tmp_path / "tickets.jsonl").write_text("".join(lines), encoding="utf-8")
    orphans = [{"ticket_id": "T0000001", "turn_index": 0, "text": "to a customer turn"},
               {"ticket_id": "nobody", "turn_index": 1, "text": "to no ticket"}]
    answers = (DEMO / "ai_answers.jsonl").read_text(encoding="utf-8") + "".join(json.dumps(o) + "\n" for o in orphans)
    (tmp_path / "answers.jsonl").write_text(answers, encoding="utf-8")
    (tmp_path / "config.yaml").write_text(
        f"name: t\nseed: 7\ndata: {{paths: [tickets.jsonl]}}\nrubrics: {{path: {DEMO / 'rubrics'}}}\n"
        "replay: {turns: all, responder: {kind: precomputed, path: answers.jsonl}}\n",
        encoding="utf-8")
    run = tmp_path / "run"

    def cli(*args: str) -> None:
        res = subprocess.run([sys.executable, "-m", "eval", *args], capture_output=True, text=True, timeout=300,
                             check=False, env={**os.environ, "SUPPORT_EVAL_BATCH_ROWS": "100"})
        assert res.returncode == 0, res.stderr

    cli("run", str(tmp_path / "config.yaml"), "--out", str(run))
    one = {n: (run / n).read_bytes() for n in ("items.jsonl", "scores.jsonl")}
    stages = json.loads((run / "manifest.json").read_text())["stages"]
    assert stages["replay"]["one_pass"] and stages["score"]["one_pass"]
    replayed = stages["replay"]["summary"]
    joined = replayed["items"] - sum(replayed["missing_by_category"].values())
    assert replayed["orphans"] == len(answers.splitlines()) - joined  # the two, and the later demo tickets'
    assert replayed["orphans"] > 2
    cli("replay", str(run))
    cli("score", str(run))
    assert {n: (run / n).read_bytes() for n in one} == one
    again = json.loads((run / "manifest.json").read_text())["stages"]
    assert "one_pass" not in again["score"]
    drop = {"answer_seconds", "ms_per_item"}
    assert ({k: v for k, v in again["replay"]["summary"].items() if k not in drop}
            == {k: v for k, v in stages["replay"]["summary"].items() if k not in drop})
    # Means are sums over batches, and the two paths cut batches differently: equal to rounding.
    got, want = _flat(again["score"]["summary"]), _flat(stages["score"]["summary"])
    assert got.keys() == want.keys()
    assert all(got[k] == pytest.approx(want[k], rel=1e-12) if isinstance(want[k], float) else got[k] == want[k]
               for k in want)


def _flat(tree: dict, prefix: str = "") -> dict:
    out: dict = {}
    for key, value in tree.items():
        out.update(_flat(value, f"{prefix}{key}.") if isinstance(value, dict) else {prefix + key: value})
    return out
