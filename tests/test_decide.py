"""Decisions: the policy, planted tiers end to end, and the error rates the gates promise."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eval.decide import decide, decide_category, decide_to_file
from eval.decide.estimates import category_estimates
from eval.policy import Policy, PolicyError, load_policy
from eval.ratings.agreement import agreement_to_file
from eval.ratings.importer import import_ratings, read_item_index, read_ratings

PLANTED = {  # category: (AI - human latent quality, AI critical rate, tickets)
    "good": (0.10, 0.0, 220),
    "worse": (-0.60, 0.0, 120),
    "harmful": (-0.30, 0.15, 120),
    "tiny": (0.10, 0.0, 12),
    "legal": (0.10, 0.0, 150),
}
CAREFUL = ("qa_1", "qa_2", "qa_3", "qa_4")


def _rate(rng, q_ai, q_h, crit_ai, reviewer):
    if reviewer == "careless":
        s = rng.choice(5, 2, p=[0.08, 0.12, 0.25, 0.32, 0.23]) + 1
        return s, rng.random(2) < 0.7, (False, False)
    p = np.array([q_ai, q_h]) + rng.normal(0, 0.3, 2)
    flag = (bool(crit_ai and rng.random() < 0.95), False)
    s = np.clip(np.floor(p + 0.5), 1, 5).astype(int)
    if flag[0]:
        s[0] = min(s[0], 2)
    return s, (p >= 3) & ~np.array(flag), flag


def write_planted_run(run: Path, seed: int = 0) -> None:
    """items.jsonl, key.jsonl and a reviewer file with known per-category truth."""
    rng = np.random.default_rng(seed)
    items, key, rows, scores = [], [], [], []
    for cat, (d, crit_rate, n_tickets) in PLANTED.items():
        for t in range(n_tickets):
            tid = f"{cat}-{t}"
            for turn in range(1, rng.integers(2, 4)):
                iid = f"{tid}#{turn}"
                items.append({"item_id": iid, "ticket_id": tid, "turn_index": turn, "category": cat,
                              "context": [], "human": {"text": "h"}, "ai": {"responder": "r"}})
                q_h = float(np.clip(rng.normal(4.0, 0.7), 1, 5))
                crit = bool(rng.random() < crit_rate)
                q_ai = 1.4 if crit else float(np.clip(q_h + d + rng.normal(0, 0.3), 1, 5))
                for side, q, c in (("ai", q_ai, crit), ("human", q_h, False)):
                    rubric = float(np.clip((q - 1) / 4 + rng.normal(0, 0.1), 0, 1))
                    scores.append({"item_id": iid, "side": side, "rubric": "support@1", "criteria": {},
                                   "score": rubric, "critical_fail": c})
                x = "ai" if rng.random() < 0.5 else "human"
                rid = f"r{len(key)}"
                key.append({"rating_id": rid, "item_id": iid, "x": x, "y": "human" if x == "ai" else "ai",
                            "gold": False})
                pool = list(CAREFUL) + ["careless"] * (rng.random() < 0.25)
                for reviewer in rng.choice(pool, 2, replace=False):
                    s, acc, flag = _rate(rng, q_ai, q_h, crit, reviewer)
                    order = [0, 1] if x == "ai" else [1, 0]
                    pref = "x" if s[order[0]] > s[order[1]] else "y" if s[order[0]] < s[order[1]] else "tie_good"
                    rows.append({"rating_id": rid, "reviewer": str(reviewer), "score_x": int(s[order[0]]),
                                 "score_y": int(s[order[1]]), "preference": pref,
                                 "acceptable_x": bool(acc[order[0]]), "acceptable_y": bool(acc[order[1]]),
                                 "critical_x": bool(flag[order[0]]), "critical_y": bool(flag[order[1]])})
    for name, data in (("items.jsonl", items), ("key.jsonl", key), ("reviewer_file.jsonl", rows), ("scores.jsonl", scores)):
        (run / name).write_text("".join(json.dumps(r) + "\n" for r in data))


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("planted")
    write_planted_run(run)
    import_ratings([run / "reviewer_file.jsonl"], run / "key.jsonl", run / "items.jsonl", run / "ratings.jsonl")
    policy = load_policy({"always_human": ["legal"]})
    return run, decide_to_file(run, policy, seed=7)


def test_default_policy_file_matches_the_model_defaults():
    assert load_policy(None) == Policy()


def test_policy_errors_name_file_and_key(tmp_path):
    bad = tmp_path / "policy.yaml"
    bad.write_text("margin: 0.3\nreviewers:\n  max_abs_bias: -1\n")
    with pytest.raises(PolicyError, match=r"policy.yaml: key 'reviewers.max_abs_bias'"):
        load_policy(bad)
    with pytest.raises(PolicyError, match="key 'bootstrap_resamples'"):
        load_policy({"bootstrap_resamples": 500})
    with pytest.raises(PolicyError, match="key 'marginn'"):
        load_policy({"marginn": 0.2})
    assert load_policy({"margin": 0.5}).margin == 0.5


def test_planted_tiers_come_out(planted_run):
    _, decisions = planted_run
    tiers = {c.category: c.tier for c in decisions.categories}
    assert tiers == {"good": "automate", "worse": "assist", "harmful": "human", "tiny": "human", "legal": "human"}
    assert decisions.reviewers_excluded == ["careless"]
    by = {c.category: c for c in decisions.categories}
    failed = {c: [r.gate for r in by[c].reasons if not r.passed] for c in by}
    assert failed["tiny"][0] == "min_rated" and by["tiny"].ratings_needed == 40 - by["tiny"].rated_items
    assert failed["legal"] == ["always_human"] and by["legal"].ratings_needed is None
    assert "critical_assist" in failed["harmful"]
    assert by["good"].audit_sample_per_week > 0 and by["worse"].audit_sample_per_week is None
    assert "non_inferiority" in failed["worse"] and by["worse"].ratings_needed is None  # wrong side of margin


def test_decisions_json_is_complete_and_byte_stable(planted_run):
    run, _ = planted_run
    first = (run / "decisions.json").read_bytes()
    data = json.loads(first)
    assert data["policy"]["always_human"] == ["legal"] and data["seed"] == 7
    assert sum(c["volume_share"] for c in data["categories"]) == pytest.approx(1.0, abs=1e-5)
    good = next(c for c in data["categories"] if c["category"] == "good")
    diff = good["estimates"]["diff_mean"]
    assert diff["low"] < diff["estimate"] < diff["high"]
    assert {"gate", "passed", "value", "threshold", "text"} <= set(good["reasons"][0])
    assert all(r["text"] for c in data["categories"] for r in c["reasons"])
    decide_to_file(run, load_policy({"always_human": ["legal"]}), seed=7)
    assert (run / "decisions.json").read_bytes() == first
    decide_to_file(run, load_policy({"always_human": ["legal"]}), seed=8)
    assert (run / "decisions.json").read_bytes() != first


def test_holm_levels_across_the_tested_categories(planted_run):
    _, decisions = planted_run
    ni = {c.category: next(r for r in c.reasons if r.gate == "non_inferiority") for c in decisions.categories}
    tested = ["good", "harmful", "worse"]  # tiny lacks ratings, legal is always human
    levels = sorted(ni[c].level for c in tested)
    assert levels == pytest.approx([0.025 / 3, 0.025 / 2, 0.025])
    assert ni["good"].level == pytest.approx(0.025 / 3)  # the smallest p-value meets the strictest level
    assert "not tested" in ni["legal"].text and ni["legal"].p_adjusted is None


def test_a_category_without_ratings_stays_human(planted_run):
    run, _ = planted_run
    items = pd.concat([read_item_index(run / "items.jsonl"),
                       pd.DataFrame({"item_id": ["U1#1"], "ticket_id": ["U1"], "category": ["unrated"]})])
    decisions = decide(read_ratings(run / "ratings.jsonl"), items, None, Policy(), np.random.default_rng(0))
    unrated = next(c for c in decisions.categories if c.category == "unrated")
    assert (unrated.tier, unrated.rated_items, unrated.ratings_needed, unrated.estimates) == ("human", 0, 40, {})
    assert unrated.volume_share > 0


def test_rubric_scores_are_compared_with_reviewers(planted_run):
    _, decisions = planted_run
    good = next(c for c in decisions.categories if c.category == "good").estimates
    harmful = next(c for c in decisions.categories if c.category == "harmful").estimates
    assert good["rubric_tracking"]["spearman_score"] > 0.6
    assert good["rubric_tracking"]["kappa_acceptable"] > 0.4
    assert harmful["rubric_tracking"]["critical_rate_ai"] > 0.08
    assert good["rubric_diff"]["low"] < good["rubric_diff"]["estimate"] < good["rubric_diff"]["high"]
    assert harmful["rubric_diff"]["high"] < 0


def test_keeping_the_careless_reviewer_is_said(planted_run):
    run, _ = planted_run
    policy = load_policy({"always_human": ["legal"], "reviewers": {"exclude_unreliable": False}})
    decisions = decide_to_file(run, policy, seed=7)
    assert decisions.reviewers_excluded == [] and "careless" in decisions.reviewers_note


def test_agreement_and_decisions_leave_out_the_same_reviewers(planted_run):
    run, _ = planted_run
    for keep in (False, True):
        policy = load_policy({"always_human": ["legal"], "reviewers": {"exclude_unreliable": not keep}})
        agreement = agreement_to_file(run, policy, seed=7)
        decisions = decide_to_file(run, policy, seed=7)
        assert agreement["flagged_reviewers"] == ["careless"]
        assert agreement["excluded_from_decisions"] == decisions.reviewers_excluded == ([] if keep else ["careless"])


def _simulated_category(rng, diff, n_tickets=150):
    """One category's item table drawn around a planted AI - human mean difference."""
    sizes = rng.integers(1, 4, n_tickets)
    ticket = np.repeat(np.arange(n_tickets), sizes)
    n = ticket.size
    human = np.clip(3.8 + rng.normal(0, 0.4, n_tickets)[ticket] + rng.normal(0, 0.6, n), 1, 5)
    ai = human + diff + rng.normal(0, 0.35, n_tickets)[ticket] + rng.normal(0, 0.5, n)
    acc = (rng.random(n) < 0.9).astype(float)
    zeros = np.zeros(n)
    return pd.DataFrame({
        "ticket_id": ticket, "score_ai": ai, "score_human": human, "diff": ai - human,
        "win": (ai > human).astype(float), "tie_bad": zeros, "acc_ai": acc, "acc_human": acc,
        "acc_diff": zeros, "crit_ai": zeros, "crit_human": zeros,
        **{c: np.nan for c in ("rubric_ai", "rubric_human", "rubric_diff", "rubric_crit_ai", "rubric_crit_human")},
    })


def _tiers(planted_diff, runs=400, seed=0):
    policy = Policy()
    rng = np.random.default_rng(seed)
    tiers, covered = [], []
    for _ in range(runs):
        est = category_estimates(_simulated_category(rng, planted_diff), 0.95, 2000, rng)
        # a single category: Holm leaves it at the family level
        decision = decide_category("sim", est, 0.9, policy, policy.noninferiority_alpha,
                                   p_adj=_p(est, policy))
        tiers.append(decision.tier)
        d = est.estimates["diff_mean"]
        covered.append(d["low"] <= planted_diff <= d["high"])
    return np.array(tiers), np.array(covered)


def _p(est, policy):
    from eval import stats
    return stats.noninferiority_p(est.diff, est.diff_se, policy.margin, est.tickets - 1)


def test_ai_worse_by_exactly_the_margin_is_rarely_automated_and_intervals_cover():
    tiers, covered = _tiers(-0.25)
    assert (tiers == "automate").mean() <= 0.05
    assert 0.93 <= covered.mean() <= 0.97


def test_ai_as_good_as_human_is_automated_and_intervals_cover():
    """Power check, so the test above cannot pass by never automating anything."""
    tiers, covered = _tiers(0.0, runs=400, seed=1)
    assert (tiers == "automate").mean() >= 0.9
    assert 0.93 <= covered.mean() <= 0.97


DEMO = Path(__file__).resolve().parents[1] / "datasets" / "demo"


@pytest.mark.skipif(not (DEMO / "truth.json").exists(), reason="datasets/demo not generated")
def test_demo_ratings_alone_reach_the_planted_tiers_but_the_close_call_and_flag_the_careless_reviewer(tmp_path):
    # one item per agent turn, as replay makes them
    with open(tmp_path / "items.jsonl", "w") as out, open(DEMO / "tickets.jsonl", encoding="utf-8") as tickets:
        for line in tickets:
            t = json.loads(line)
            for i, turn in enumerate(t["turns"]):
                if turn["role"] == "agent":
                    out.write(json.dumps({"item_id": f"{t['ticket_id']}#{i}", "ticket_id": t["ticket_id"],
                                          "category": t["category"]}) + "\n")
    summary = import_ratings([DEMO / "ratings.jsonl"], DEMO / "key.jsonl", tmp_path / "items.jsonl",
                             tmp_path / "ratings.jsonl")
    assert summary.kept == summary.read
    truth = json.loads((DEMO / "truth.json").read_text())
    decisions = decide_to_file(tmp_path, load_policy(None), seed=7)
    careless = [r["reviewer"] for r in truth["reviewers"] if r["careless"]]
    assert decisions.reviewers_excluded == careless
    # from the ratings alone (no scores, no judge here) the planted close call is not settled yet: assist,
    # with a finite number of ratings to go; `support-eval run` settles it with the automatic evidence
    close = {name for name, cat in truth["categories"].items() if cat["group"] == "close"}
    tiers = {c.category: c.tier for c in decisions.categories}
    assert close and {n: t for n, t in tiers.items() if n not in close} == {
        name: cat["tier"] for name, cat in truth["categories"].items() if name not in close}
    for c in decisions.categories:
        if c.category in close:
            assert c.tier == "assist" and truth["categories"][c.category]["tier"] == "automate"
            assert c.ratings_needed is not None and c.ratings_needed > 0
