"""Guidelines from the run config into packets and the page; ticket facts without outcomes or personal data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from test_packets import REVIEWERS, make_run

from eval.config import ConfigError
from eval.decide import Policy
from eval.ratings.app.server import create_app
from eval.ratings.facts import ticket_facts
from eval.ratings.guidelines import DEFAULT, Guidelines, load_guidelines, read_packet_guidelines
from eval.ratings.packets import PacketSpec, write_packets
from eval.records import Item
from eval.store import read_jsonl, write_jsonl

DEMO = Path(__file__).parents[2] / "datasets" / "demo"


def test_facts_keep_what_the_agent_saw_and_drop_outcomes_and_personal_fields() -> None:
    facts = dict(ticket_facts({
        "order_id": "A-100000-55", "amount": "382.62 EUR", "plan": "pro", "status": "shipped",
        "csat": 4, "handle_time_s": 360, "satisfaction_rating": {"score": "good"}, "resolved_at": "2025-01-02",
        "customer_name": "Oliver Smith", "email": "o@example.org", "note": "call me on +44 7700 900123",
        "tags": ["vip", "eu"], "empty": None, "_internal": 1,
    }))
    assert facts == {"order_id": "A-100000-55", "amount": "382.62 EUR", "plan": "pro", "status": "shipped",
                     "note": "call me on [PHONE]", "tags": '["vip", "eu"]'}


def test_a_long_fact_is_cut_visibly() -> None:
    [(_, value)] = ticket_facts({"description": "x" * 1000})
    assert value.endswith("(cut)") and len(value) < 220


def test_packets_carry_facts_but_never_csat_or_handle_time(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    with_meta = [i.model_copy(update={"metadata": {"order_id": "A-1234", "csat": 5, "handle_time_s": 99}})
                 for i in read_jsonl(run / "items.jsonl", Item)]
    write_jsonl(run / "items.jsonl", with_meta)
    write_packets(run, PacketSpec(REVIEWERS, per_reviewer=20), Policy(), seed=0)
    rows = [json.loads(line) for line in (run / "packets" / "qa_01.jsonl").read_text().splitlines()]
    assert rows and all(row["facts"] == [["order_id", "A-1234"]] for row in rows)
    assert "csat" not in (run / "packets" / "qa_01.csv").read_text()


def test_the_shipped_guidelines_anchor_every_score_and_name_the_harms() -> None:
    g = load_guidelines()
    assert sorted(a.score for a in g.scale) == [1, 2, 3, 4, 5]
    text = " ".join(g.critical.examples).lower()
    for harm in ("policy", "money", "safety", "privacy", "escalation"):
        assert harm in text
    assert 1 <= len(g.summary) <= 5 and all(len(line) < 200 for line in g.summary)


def test_a_bad_guidelines_file_names_the_file_and_key(tmp_path: Path) -> None:
    raw = yaml.safe_load(DEFAULT.read_text())
    raw["scale"] = raw["scale"][:4]
    bad = tmp_path / "g.yaml"
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=r"g\.yaml: key 'scale'"):
        load_guidelines(bad)


def test_guidelines_of_the_run_config_reach_the_packets_and_the_page(tmp_path: Path) -> None:
    raw = yaml.safe_load(DEFAULT.read_text())
    raw["title"] = "Acme QA rubric"
    raw["summary"] = ["Acme: 5 means the customer needs nothing more."]
    (tmp_path / "acme.yaml").write_text(yaml.safe_dump(raw))
    config = yaml.safe_load((DEMO / "config.yaml").read_text())
    del config["ratings"]
    config["ratings"] = {"guidelines": str(tmp_path / "acme.yaml")}
    config["data"]["paths"] = [str(DEMO / p) for p in config["data"]["paths"]]
    config["replay"]["responder"]["path"] = str(DEMO / config["replay"]["responder"]["path"])
    config["rubrics"]["path"] = str(DEMO / config["rubrics"]["path"])
    config["judge"]["path"] = str(DEMO / config["judge"]["path"])
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    run = tmp_path / "run"

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "eval", *args], capture_output=True, text=True, timeout=300)

    assert cli("run", str(tmp_path / "config.yaml"), "--out", str(run)).returncode == 0
    res = cli("packets", str(run), "--reviewers", "qa_01,qa_02", "--per-reviewer", "30")
    assert res.returncode == 0, res.stderr
    assert read_packet_guidelines(run / "packets") == Guidelines.model_validate(raw)
    token = json.loads((run / "packets" / "tokens.json").read_text())["qa_01"]
    page = TestClient(create_app(run)).get(f"/r/{token}").text
    assert "Acme QA rubric" in page and "Acme: 5 means the customer needs nothing more." in page
    queue = TestClient(create_app(run)).get(f"/api/{token}/queue").json()["items"]
    shown = {k for item in queue for k, _ in item["facts"]}
    assert len(queue) == 30 and "order_id" in shown and shown <= {"order_id", "amount", "plan"}


def test_label_studio_tasks_and_config_show_the_facts(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    with_meta = [i.model_copy(update={"metadata": {"order_id": "A-1234", "plan": "pro", "csat": 5}})
                 for i in read_jsonl(run / "items.jsonl", Item)]
    write_jsonl(run / "items.jsonl", with_meta)
    write_packets(run, PacketSpec(REVIEWERS, per_reviewer=10), Policy(), seed=0)
    tasks = json.loads((run / "packets" / "qa_01.labelstudio.json").read_text())
    assert tasks and all(t["data"]["facts"] == "order_id: A-1234; plan: pro" for t in tasks)
    assert "$facts" in (run / "packets" / "labelstudio_config.xml").read_text()
