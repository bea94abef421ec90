"""Packets: sampling targets, assignment, the key, redaction and a round trip through the importer."""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from eval.policy import Policy
from eval.ratings.importer import import_ratings
from eval.ratings.packets import (
    CSV_COLUMNS, PacketSpec, category_targets, gold_candidates, sample_items, settled, write_packets, zero_failure_n,
)
from eval.records import AIAnswer, BlindKey, HumanAnswer, Item, Score, Turn
from eval.store import read_jsonl, write_jsonl

AGENTS = ["Samir", "Julia", "Marcus"]
CUSTOMER = ("Hi, my email is jana.k@example.org and my phone +44 7700 900123. I paid with 4111 1111 1111 1111, "
            "IBAN GB82 WEST 1234 5698 7654 32, please send it to 221B Baker Street.")
REVIEWERS = ("qa_01", "qa_02", "qa_03", "qa_04", "qa_05")


def make_run(tmp: Path, per_category: int = 60,
             cats: tuple[str, ...] = ("order_status", "refund_request", "fraud_report")) -> Path:
    """A run folder with planted personal data, agent signatures, AI self-references and rubric criticals."""
    rng = np.random.default_rng(3)
    items, scores = [], []
    for c, cat in enumerate(cats):
        for i in range(per_category):
            agent = AGENTS[(i + c) % len(AGENTS)]
            tid = f"T{c}{i:04d}"
            context = [Turn(role="customer", text=CUSTOMER),
                       Turn(role="agent", text=f"Looking into it.\n- {agent}", author="a1"),
                       Turn(role="customer", text="Any news on order A-1234?")]
            human = f"Hi Jana,\nOrder A-1234 ships today with DHL.\nKind regards,\n{agent}\nCustomer Support"
            ai = ("Hello Jana! I'm an AI assistant. Your order A-1234 will ship today with DHL. "
                  "I hope this helps!\n— Virtual Assistant")
            items.append(Item(item_id=f"{tid}#3", ticket_id=tid, turn_index=3, category=cat, context=context,
                              human=HumanAnswer(text=human, author="a1"),
                              ai=AIAnswer(text=ai, responder="precomputed")))
            ai_crit = cat == "fraud_report" and i % 3 == 0
            for side, crit in (("human", False), ("ai", ai_crit)):
                scores.append(Score(item_id=f"{tid}#3", side=side, rubric=f"{cat}@1", criteria={},
                                    score=float(rng.uniform(0.7, 1.0)), critical_fail=crit))
    run = tmp / "run"
    write_jsonl(run / "items.jsonl", items)
    write_jsonl(run / "scores.jsonl", scores)
    return run


def rows_of(run: Path, reviewer: str) -> list[dict]:
    return [json.loads(line) for line in (run / "packets" / f"{reviewer}.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = make_run(tmp_path_factory.mktemp("packets"))
    write_packets(run, PacketSpec(REVIEWERS, 200), Policy(min_rated=20), seed=11)
    return run


def test_zero_failure_n_matches_the_exact_clopper_pearson_bound() -> None:
    n = zero_failure_n(0.02, 0.95)
    assert n == 149
    assert sps.beta.ppf(0.95, 1, n) <= 0.02 < sps.beta.ppf(0.95, 1, n - 1)


def test_first_round_targets_follow_the_policy_gates() -> None:
    policy = Policy(min_rated=40)
    targets = category_targets({"a": 500, "b": 500, "c": 500}, {"a": 0.0, "b": 0.3}, policy, None)
    assert targets["a"][0] == 149 and targets["c"][0] == 149
    assert targets["b"][0] == 40


def test_follow_up_targets_use_ratings_needed_and_only_audit_settled_categories() -> None:
    decisions = {"categories": [
        {"category": "a", "tier": "automate", "ratings_needed": 0},
        {"category": "b", "tier": "assist", "ratings_needed": 120},
        {"category": "c", "tier": "human", "ratings_needed": None},
        {"category": "e", "tier": "human", "ratings_needed": 60},
    ]}
    available = {"a": 500, "b": 500, "c": 500, "d": 500, "e": 500, "f": 500}
    policy = Policy(min_rated=40, settled_audit_items=15, always_human=["f"])
    targets = category_targets(available, {}, policy, decisions)
    assert {k: v[0] for k, v in targets.items()} == {"a": 15, "b": 120, "c": 15, "d": 149, "e": 60, "f": 0}
    assert "audit" in targets["a"][1] and "audit" in targets["c"][1]
    assert settled(decisions) == {"a", "c"}
    off = category_targets(available, {}, policy.model_copy(update={"settled_audit_items": 0}), decisions)
    assert off["a"][0] == off["c"][0] == 0


def test_capacity_shortfall_shrinks_every_category_and_says_so() -> None:
    index = pd.DataFrame({"item_id": [f"i{i}" for i in range(300)], "category": ["a"] * 200 + ["b"] * 100})
    spec = PacketSpec(("r1", "r2", "r3"), per_reviewer=50, calibration_share=0.0, gold_share=0.0)
    sample = sample_items(index, {"a": (200, ""), "b": (100, "")}, set(), spec, np.random.default_rng(0))
    assert sample.items["k"].sum() <= 150
    counts = sample.items["category"].value_counts()
    assert counts["a"] == 50 and counts["b"] == 25
    assert sample.notes and "raise --per-reviewer" in sample.notes[0]


def test_every_item_gets_distinct_reviewers_calibration_more(run: Path) -> None:
    key = list(read_jsonl(run / "key.jsonl", BlindKey))
    per_item: dict[str, list[str]] = {}
    for k in key:
        per_item.setdefault(k.item_id, []).append(k.reviewer)
    assert all(len(set(r)) == len(r) >= 2 for r in per_item.values())
    assert any(len(r) == 3 for r in per_item.values())
    assert all(len(r) == 4 for i, r in per_item.items() if any(k.gold and k.item_id == i for k in key))
    loads = pd.Series([k.reviewer for k in key]).value_counts()
    assert loads.max() - loads.min() <= 1 and loads.max() <= 200


def test_gold_items_are_known_bad_controls_and_not_marked_in_packets(run: Path) -> None:
    key = list(read_jsonl(run / "key.jsonl", BlindKey))
    gold = {k.item_id for k in key if k.gold}
    assert gold
    assert all(i.startswith("T2") and int(i[2:6]) % 3 == 0 for i in gold)  # fraud_report, AI critical
    packet_text = (run / "packets" / "qa_01.jsonl").read_text() + (run / "packets" / "qa_01.csv").read_text()
    assert "gold" not in packet_text.lower()


def test_gold_candidates_need_one_critical_side_and_one_clean_side() -> None:
    scores = pd.DataFrame({
        "item_id": ["a", "a", "b", "b", "c", "c", "d", "d"], "side": ["ai", "human"] * 4,
        "score": [0.2, 0.9, 0.9, 0.9, 0.1, 0.2, 0.2, 0.4], "critical_fail": [True, False, False, False, True, True, True, False],
    })
    assert gold_candidates(scores) == {"a"}


def test_xy_order_is_random_per_reviewer_and_item_and_rating_ids_are_opaque(run: Path) -> None:
    key = list(read_jsonl(run / "key.jsonl", BlindKey))
    assert len({k.rating_id for k in key}) == len(key)
    assert all(re.fullmatch(r"r[0-9a-f]{10}", k.rating_id) for k in key)
    share_ai = np.mean([k.x == "ai" for k in key])
    assert sps.binomtest(int(share_ai * len(key)), len(key)).pvalue > 0.001
    mixed = [i for i in {k.item_id for k in key} if len({k.x for k in key if k.item_id == i}) == 2]
    assert mixed, "x/y must be drawn per (reviewer, item), not per item"


def test_packets_are_byte_identical_for_the_same_seed(tmp_path: Path) -> None:
    out = []
    for name in ("a", "b"):
        run = make_run(tmp_path / name, per_category=30)
        write_packets(run, PacketSpec(REVIEWERS[:3], 100), Policy(min_rated=20), seed=5)
        out.append([(run / f).read_bytes() for f in ("key.jsonl", "packets/qa_01.csv", "packets/qa_02.jsonl")])
    assert out[0] == out[1]


def test_no_personal_data_agent_name_or_self_reference_reaches_reviewers(run: Path) -> None:
    text = "".join((run / "packets" / f).read_text() for f in ("qa_01.jsonl", "qa_01.csv", "qa_01.labelstudio.json"))
    for planted in ("jana.k@example.org", "7700 900123", "4111 1111 1111 1111", "GB82 WEST", "Baker Street",
                    *AGENTS, "AI assistant", "Virtual Assistant", "Kind regards", "I hope this helps"):
        assert planted not in text
    assert "[EMAIL]" in text and "[CARD]" in text and "[ADDRESS]" in text


def test_packet_rows_carry_what_reviewers_need_and_empty_rating_cells(run: Path) -> None:
    row = rows_of(run, "qa_02")[0]
    assert row["answer_x"] and row["answer_y"] and row["category"] and row["context"]
    assert all(row[c] is None for c in ("score_x", "score_y", "preference", "acceptable_x", "seconds"))
    with open(run / "packets" / "qa_02.csv", newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == CSV_COLUMNS
        first = next(reader)
    assert first["score_x"] == "" and first["reviewer"] == "qa_02"


def test_tokens_are_secret_per_reviewer_and_never_in_packets(run: Path) -> None:
    tokens = json.loads((run / "packets" / "tokens.json").read_text())
    assert set(tokens) == set(REVIEWERS) and len(set(tokens.values())) == len(REVIEWERS)
    assert (run / "packets" / "tokens.json").stat().st_mode & 0o077 == 0
    packets = "".join(p.read_text() for p in (run / "packets").glob("qa_*"))
    assert not any(t in packets for t in tokens.values())


def test_filled_csv_and_jsonl_import_and_unblind_to_the_planted_verdicts(run: Path, tmp_path: Path) -> None:
    """Reviewers always score the AI answer 2 and the human 5: unblinding must recover exactly that."""
    key = {k.rating_id: k for k in read_jsonl(run / "key.jsonl", BlindKey)}
    with open(run / "packets" / "qa_01.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        ai_is_x = key[r["rating_id"]].x == "ai"
        r.update(score_x=2 if ai_is_x else 5, score_y=5 if ai_is_x else 2, preference="y" if ai_is_x else "x",
                 acceptable_x=str(not ai_is_x).lower(), acceptable_y=str(ai_is_x).lower(), seconds=30)
    filled_csv = tmp_path / "qa_01.csv"
    with open(filled_csv, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    jsonl_rows = rows_of(run, "qa_02")
    for r in jsonl_rows:
        ai_is_x = key[r["rating_id"]].x == "ai"
        r.update(score_x=2 if ai_is_x else 5, score_y=5 if ai_is_x else 2, preference="y" if ai_is_x else "x")
    filled_jsonl = tmp_path / "qa_02.jsonl"
    filled_jsonl.write_text("".join(json.dumps(r) + "\n" for r in jsonl_rows))
    summary = import_ratings([filled_csv, filled_jsonl], run / "key.jsonl", run / "items.jsonl", tmp_path / "ratings.jsonl")
    assert summary.rejected == 0 and summary.kept == len(rows) + len(jsonl_rows)
    out = [json.loads(line) for line in (tmp_path / "ratings.jsonl").read_text().splitlines()]
    assert {(r["score_ai"], r["score_human"], r["preference"]) for r in out} == {(2, 5, "human")}


def test_follow_up_round_without_audits_draws_only_for_undecided_categories_and_keeps_the_old_key(
        tmp_path: Path) -> None:
    run = make_run(tmp_path, per_category=60)
    policy = Policy(min_rated=20, critical_ub_automate=0.1, settled_audit_items=0)  # 29 items per category in round 0
    write_packets(run, PacketSpec(REVIEWERS, 300), policy, seed=1)
    first = list(read_jsonl(run / "key.jsonl", BlindKey))
    rated = [{"rating_id": k.rating_id, "item_id": k.item_id, "ticket_id": k.item_id.split("#")[0],
              "category": "x", "reviewer": k.reviewer, "score_ai": 3, "score_human": 3} for k in first]
    (run / "ratings.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rated))
    (run / "decisions.json").write_text(json.dumps({"categories": [
        {"category": "order_status", "tier": "automate", "ratings_needed": 0},
        {"category": "refund_request", "tier": "assist", "ratings_needed": 7},
        {"category": "fraud_report", "tier": "human", "ratings_needed": None},
    ]}))
    for _ in range(2):  # re-running the follow-up redraws the same round, never a third one
        summary = write_packets(run, PacketSpec(REVIEWERS, 300), policy, seed=1)
    key = list(read_jsonl(run / "key.jsonl", BlindKey))
    new = [k for k in key if k.round == 1]
    assert summary.round == 1 and key[:len(first)] == first
    assert {k.item_id.startswith("T1") for k in new} == {True}
    assert len({k.item_id for k in new}) == 7
    assert not {k.item_id for k in new} & {k.item_id for k in first}
    assert math.isclose(len(new) / 7, 2, abs_tol=1.5)


DEMO = Path(__file__).parents[2] / "datasets" / "demo"


def test_demo_packets_through_the_cli_leak_no_personal_data_agent_name_or_ai_self_reference(tmp_path: Path) -> None:
    """The synthetic demo plants emails, phones, cards, agent signatures and AI self-references."""
    import subprocess
    import sys

    import yaml

    from eval.redact import find_pii

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "eval", *args], capture_output=True, text=True, timeout=300)

    run = tmp_path / "demo"
    config = yaml.safe_load((DEMO / "config.yaml").read_text())
    del config["ratings"]  # a first round: nothing rated or decided yet, so every category is drawn
    config["data"]["paths"] = [str(DEMO / p) for p in config["data"]["paths"]]
    config["replay"]["responder"]["path"] = str(DEMO / config["replay"]["responder"]["path"])
    config["rubrics"]["path"] = str(DEMO / config["rubrics"]["path"])
    config["judge"]["path"] = str(DEMO / config["judge"]["path"])
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    assert cli("run", str(tmp_path / "config.yaml"), "--out", str(run)).returncode == 0
    res = cli("packets", str(run), "--reviewers", "qa_01,qa_02,qa_03", "--per-reviewer", "120")
    assert res.returncode == 0, res.stderr
    assert "AUC before stripping" in res.stdout
    audit = json.loads((run / "blinding_audit.json").read_text())
    assert audit["auc_before"] is not None and audit["auc_after"] is not None
    planted_pii = {s.text for line in (DEMO / "tickets.jsonl").read_text().splitlines()
                   for turn in json.loads(line)["turns"] for s in find_pii(turn["text"])}
    assert any("@" in p for p in planted_pii) and len(planted_pii) > 100
    phrases = yaml.safe_load((Path(__file__).parents[2] / "eval" / "synth" / "phrases.yaml").read_text())
    agents = re.compile(r"\b(" + "|".join(phrases["names"]["agents"] + phrases["names"]["first"]) + r")\b")
    self_ref = re.compile(r"\b(AI|virtual assistant|automated|language model|chatbot|bot)\b", re.IGNORECASE)
    shown = 0
    for reviewer in ("qa_01", "qa_02", "qa_03"):
        for row in rows_of(run, reviewer):
            for text in (row["answer_x"], row["answer_y"], *(t["text"] for t in row["context"])):
                shown += 1
                assert not any(p in text for p in planted_pii), text
                assert "@" not in text and not agents.search(text) and not self_ref.search(text), text
    assert shown > 1000
