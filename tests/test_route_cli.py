"""decide learns the router into RUN/router/ and decisions.json; `support-eval route` sends new tickets' turns."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from eval.cli import app
from eval.decide import decide_to_file
from eval.policy import Policy
from eval.records import AIAnswer, HumanAnswer, Item, Route, Turn
from eval.store import read_jsonl, write_jsonl
from eval.synth.routing import Scenario, planted_turns


def _run(tmp: Path, n: int = 1000) -> Path:
    """A run folder whose rated turns are the planted chargeback scenario (one rating per turn)."""
    turns = planted_turns(np.random.default_rng(3), n, Scenario())
    run = tmp / "run"
    items, ratings = [], []
    for i, t in enumerate(turns.itertuples()):
        items.append(Item(item_id=t.item_id, ticket_id=t.ticket_id, turn_index=1, category=t.category,
                          context=[Turn(role="customer", text=t.customer)], metadata={"plan": "standard"},
                          human=HumanAnswer(text="Refund on its way."), ai=AIAnswer(text=t.ai, responder="precomputed")))
        ratings.append({"rating_id": f"r{i:05d}", "item_id": t.item_id, "ticket_id": t.ticket_id, "category": t.category,
                        "reviewer": f"qa_{i % 3}", "score_ai": 2 if t.crit_ai else 4, "score_human": 4,
                        "acceptable_ai": bool(t.acc_ai), "acceptable_human": bool(t.acc_human),
                        "critical_ai": bool(t.crit_ai), "critical_human": False})
    write_jsonl(run / "items.jsonl", items)
    (run / "ratings.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ratings))
    return run


def test_decide_certifies_routes_and_route_sends_the_chargeback_turns_to_people(tmp_path: Path) -> None:
    run = _run(tmp_path)
    policy = Policy(min_alpha=0.0)
    decisions = decide_to_file(run, policy, seed=0)
    routing = decisions.categories[0].routing
    assert routing is not None and routing["answer"]["ai"]["threshold"] is not None
    assert 0.6 <= routing["answer"]["ai"]["share"] <= 0.9 and routing["answer"]["ai"]["harm_upper"] <= 0.02
    assert (run / "router" / "router.pkl").exists()
    training = json.loads((run / "router" / "training.json").read_text())
    assert training["rated_turns"] == 1000 and "scikit-learn" in training["versions"]

    new = planted_turns(np.random.default_rng(9), 400, Scenario())
    tickets = tmp_path / "new.jsonl"
    tickets.write_text("".join(json.dumps({
        "ticket_id": t.ticket_id, "category": "refund_request", "channel": t.channel,
        "turns": [{"role": "customer", "text": t.customer}, {"role": "agent", "text": "On it."}],
        "metadata": {"plan": "standard"}}) + "\n" for t in new.itertuples()))
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps({"ticket_id": t.ticket_id, "turn_index": 1, "text": t.ai}) + "\n"
                               for t in new.itertuples()))
    out = tmp_path / "routes.jsonl"
    res = CliRunner().invoke(app, ["route", str(run), str(tickets), "--out", str(out), "--answers", str(answers)])
    assert res.exit_code == 0, res.output
    assert "400 turns of 400 tickets routed by the answer router" in " ".join(res.output.split())
    routes = {r.ticket_id: r for r in read_jsonl(out, Route)}
    cue = dict(zip(new["ticket_id"], new["cue"]))
    to_ai = [t for t, r in routes.items() if r.route == "ai"]
    assert len(routes) == 400 and to_ai and not any(cue[t] for t in to_ai)
    assert all(r.route == "human" for t, r in routes.items() if cue[t])

    res = CliRunner().invoke(app, ["route", str(tmp_path / "nowhere"), str(tickets), "--out", str(out)])
    assert res.exit_code == 2 and "no router" in " ".join(res.output.split())
