"""Audit packets of live AI answers: the planned number drawn per automated category, deterministic, served by
the app, and the app's export read by the monitor as live reviews of the right ticket, turn and category."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from eval.cli import app
from eval.config import ReviewFile
from eval.monitor import monitor_to_file
from eval.policy import Policy
from eval.ratings.app.server import create_app
from eval.ratings.audit import write_audit_packets
from eval.ratings.export import export_reviews
from eval.ratings.facts import ticket_facts
from eval.ratings.packets import PacketSpec
from eval.ratings.reviews import import_reviews
from eval.ratings.single import AuditKey, SingleRow
from eval.records import AIAnswer, CategoryDecision, Decisions, HumanAnswer, Item, LiveReview, Turn
from eval.run.folder import RunFolder
from eval.store import read_jsonl, write_jsonl

REVIEWERS = ("qa_01", "qa_02", "qa_03")
PLAN = {"orders": ("automate", 5), "passwords": ("automate", 30), "payments": ("assist", 40), "fraud": ("human", 40)}
LIVE = {"orders": 20, "passwords": 12, "payments": 15, "fraud": 6}
SPEC = PacketSpec(REVIEWERS, 20, raters=1)
FILES = ("audit_key.jsonl", "packets/audit/qa_01.jsonl", "packets/audit/qa_02.csv", "packets/audit/qa_03.labelstudio.json")


def _decision(category: str, tier: str, audits: int) -> CategoryDecision:
    estimates = {"mean_human": {"estimate": 4.0}, "acceptable_human": {"estimate": 0.9}}
    return CategoryDecision(category=category, tier=tier, tickets=500, volume_share=0.25, rated_items=300,  # type: ignore[arg-type]
                            estimates=estimates, reasons=[], ratings_needed=0, audit_sample_per_week=audits)


def _ticket(category: str, i: int) -> dict:
    """Two bot answers (turns 1 and 3) and one human agent's (turn 5), with personal data to redact."""
    return {"ticket_id": f"L-{category}-{i:03d}", "category": category, "created_at": "2026-02-02T10:00:00Z",
            "turns": [{"role": "customer", "text": f"Hi, I am Jana, jana.k@example.org, order A-{i}?"},
                      {"role": "agent", "text": f"Bot answer one {category} {i}.", "author_type": "bot"},
                      {"role": "customer", "text": "Still nothing."},
                      {"role": "agent", "text": f"Bot answer two {category} {i}.", "author_type": "bot"},
                      {"role": "customer", "text": "A person please."},
                      {"role": "agent", "text": "Samir here, let me check.", "author": "agent_17"}],
            "metadata": {"order_id": f"A-{i}"}}


def _run(root: Path) -> tuple[Path, Path]:
    run = root / "run"
    run.mkdir(parents=True)
    decisions = Decisions(policy={}, method="", reviewers_excluded=[], reviewers_note="",
                          categories=[_decision(c, tier, n) for c, (tier, n) in PLAN.items()])
    (run / "decisions.json").write_text(decisions.model_dump_json())
    live = root / "live.jsonl"
    live.write_text("".join(json.dumps(_ticket(c, i)) + "\n" for c, n in LIVE.items() for i in range(n // 2)))
    return run, live


@pytest.fixture
def drawn(tmp_path: Path) -> tuple[Path, Path]:
    run, live = _run(tmp_path)
    write_audit_packets(run, SPEC, live, Policy(), seed=7)
    return run, live


def _keys(run: Path) -> list[AuditKey]:
    return list(read_jsonl(RunFolder(run).audit_key, AuditKey))


def test_the_plan_is_drawn_per_automated_category_and_none_of_other_tiers(drawn: tuple[Path, Path]) -> None:
    run, live = drawn
    keys = _keys(run)
    counts = {c: sum(k.category == c for k in keys) for c in PLAN}
    assert counts == {"orders": 5, "passwords": 12, "payments": 0, "fraud": 0}, "all 12 where fewer than planned"
    assert all((k.answer, k.source, k.round) == ("live", "ai", 0) and k.turn_index in (1, 3) for k in keys)
    assert len({(k.ticket_id, k.turn_index) for k in keys}) == len(keys)
    rows = {r.review_id: r for reviewer in REVIEWERS
            for r in read_jsonl(run / "packets" / "audit" / f"{reviewer}.jsonl", SingleRow)}
    assert set(rows) == {k.review_id for k in keys}
    tickets = {t["ticket_id"]: t for t in map(json.loads, live.read_text().splitlines())}
    for k in keys:
        row, turns = rows[k.review_id], tickets[k.ticket_id]["turns"]
        assert row.answer == turns[k.turn_index]["text"] and row.category == k.category and row.reviewer == k.reviewer
        assert [t.role for t in row.context] == [t["role"] for t in turns[:k.turn_index]]
        assert row.facts == ticket_facts(tickets[k.ticket_id]["metadata"]) and row.facts
        assert "jana.k@example.org" not in row.model_dump_json()
    assert max(sum(k.reviewer == r for k in keys) for r in REVIEWERS) <= 6, "spread over the reviewers"


def test_audit_packets_are_byte_identical_for_a_seed_and_a_new_round_draws_new_answers(tmp_path: Path) -> None:
    out = []
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        run, live = _run(tmp_path / name)
        write_audit_packets(run, SPEC, live, Policy(), seed=seed)
        out.append([(run / f).read_bytes() for f in FILES])
    assert out[0] == out[1] and out[0][0] != out[2][0]
    first = _keys(run)
    summary = write_audit_packets(run, SPEC, live, Policy(), seed=8)
    again = _keys(run)[len(first):]
    assert summary.round == 1 and {k.round for k in again} == {1} and _keys(run)[:len(first)] == first
    assert sum(k.category == "orders" for k in again) == 5 and not any(k.category == "passwords" for k in again)
    assert not {(k.ticket_id, k.turn_index) for k in first} & {(k.ticket_id, k.turn_index) for k in again}


def test_a_review_stored_in_the_app_and_exported_is_read_by_monitor_as_a_live_review(drawn: tuple[Path, Path]) -> None:
    run, _ = drawn
    tokens = json.loads((run / "packets" / "tokens.json").read_text())
    client = TestClient(create_app(run))
    items = client.get(f"/api/{tokens['qa_02']}/queue").json()["items"]
    assert items and all(i["kind"] == "single" and i["answer"].startswith("Bot answer") for i in items)
    review_id = items[0]["rating_id"]
    body = {"score": 2, "acceptable": False, "critical": True, "comment": "wrong refund policy", "seconds": 30.0}
    assert client.put(f"/api/{tokens['qa_02']}/reviews/{review_id}", json=body).status_code == 200
    assert client.put(f"/api/{tokens['qa_01']}/reviews/{review_id}", json=body).status_code == 404
    exported = export_reviews(run)
    assert exported is not None and exported[1] == 1
    result, live, _ = monitor_to_file(run, [ReviewFile(path=str(exported[0]), scale=(1.0, 5.0))], [], Policy())
    assert (live.new, live.rejected) == (1, [])
    key = next(k for k in _keys(run) if k.review_id == review_id)
    review = next(iter(read_jsonl(RunFolder(run).path("live_reviews"), LiveReview)))
    assert (review.review_id, review.ticket_id, review.turn_index, review.category) == (
        review_id, key.ticket_id, key.turn_index, key.category)
    assert (review.source, review.reviewer, review.score, review.critical) == ("ai", "qa_02", 2.0, True)
    assert review.reviewed_at.startswith("20") and result.reviews == 1
    TestClient(create_app(run))  # the app reloaded keeps the audit queue (its ids are in the audit key)
    assert len(TestClient(create_app(run)).get(f"/api/{tokens['qa_02']}/queue").json()["items"]) == len(items)


def test_the_cli_draws_audit_packets_and_refuses_live_without_audit(tmp_path: Path) -> None:
    run, live = _run(tmp_path)
    runner = CliRunner()
    args = ["packets", str(run), "--reviewers", "qa_01", "--per-reviewer", "40", "--seed", "3"]
    done = runner.invoke(app, [*args, "--kind", "audit", "--live", str(live)])
    assert done.exit_code == 0, done.output
    assert "Audit packets, round 0" in done.output and len(_keys(run)) == 17
    assert runner.invoke(app, [*args, "--live", str(live)]).exit_code == 2
    fresh, live = _run(tmp_path / "b")
    short = runner.invoke(app, ["packets", str(fresh), "--reviewers", "qa_01", "--per-reviewer", "10", "--kind", "audit",
                                "--live", str(live)])
    assert short.exit_code == 2 and "add reviewers or raise --per-reviewer" in short.output
    assert not RunFolder(fresh).audit_key.exists()


def test_ratings_import_rejects_audit_reviews_as_live_answers(drawn: tuple[Path, Path], tmp_path: Path) -> None:
    run, _ = drawn
    key = _keys(run)[0]
    write_jsonl(RunFolder(run).items, [Item(item_id="T1#1", ticket_id="T1", turn_index=1, category="orders",
                                            context=[Turn(role="customer", text="Where is it?")],
                                            human=HumanAnswer(text="Shipped."), ai=AIAnswer(text="Soon.", responder="x"))])
    filled = tmp_path / "app_reviews.jsonl"
    filled.write_text(json.dumps({"review_id": key.review_id, "reviewer": "qa_01", "score": 4, "acceptable": True,
                                  "critical": False, "reviewed_at": "2026-02-03T10:00:00Z"}) + "\n")
    folder = RunFolder(run)
    summary = import_reviews([ReviewFile(path=str(filled), scale=(1, 5))], folder.items, folder.reviews,
                             folder.reviews_rejected, folder.review_key, folder.audit_key)
    assert (summary.kept, [(q.field, q.reason) for q in summary.rejections]) == (0, [("answer", "live_answer")])
