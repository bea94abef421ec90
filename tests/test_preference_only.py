"""Preference-only ratings (no scores): decided on the AI win rate, ties as half, against a margin.

Closed-form win rates and intervals on small tables, gates that the evidence cannot support, the
real PandaLM pairs through the CLI, and the false-automate rate at the margin by simulation.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from eval.decide import decide
from eval.decide.estimates import category_estimates, item_table
from eval.decide.family import decide_category
from eval.decide.gates import measured
from eval.policy import Policy
from eval.records import UnblindedRating
from eval.synth.preferences import preference_ratings

COLUMNS = list(UnblindedRating.model_fields)


def _ratings(rows: list[tuple[str, str, str]], **flags: object) -> pd.DataFrame:
    """Unblinded preference-only ratings from (item_id, ticket_id, preference); anonymous raters."""
    frame = pd.DataFrame([{c: None for c in COLUMNS} | {"rating_id": f"r{i}", "item_id": item, "ticket_id": ticket,
                                                          "category": "c", "preference": pref, "gold": False} | flags
                          for i, (item, ticket, pref) in enumerate(rows)])
    return frame[COLUMNS]


SMALL = [  # item, ticket, preference: per item AI = 1, human = 0, either tie = 1/2, reviewers averaged
    ("a#1", "a", "ai"), ("a#1", "a", "human"),                          # 1/2
    ("a#2", "a", "tie_bad"),                                            # 1/2
    ("b#1", "b", "ai"), ("b#1", "b", "ai"), ("b#1", "b", "tie_good"),   # 5/6
    ("c#1", "c", "human"),                                              # 0
    ("d#1", "d", "ai"),                                                 # 1
]
PER_ITEM = {"a#1": 0.5, "a#2": 0.5, "b#1": 5 / 6, "c#1": 0.0, "d#1": 1.0}
PER_TICKET = {"a": (1.0, 2), "b": (5 / 6, 1), "c": (0.0, 1), "d": (1.0, 1)}  # (sum of item win rates, items)


def test_win_rate_is_the_item_mean_with_ties_as_half_and_no_scores_mean_no_difference():
    table = item_table(_ratings(SMALL), None)
    assert dict(zip(table["item_id"], table["win"])) == pytest.approx(PER_ITEM)
    est = category_estimates(table, 0.95, 2000, np.random.default_rng(0)).estimates
    assert est["win_rate_ai"]["estimate"] == pytest.approx(sum(PER_ITEM.values()) / 5)
    assert est["win_rate_ai"]["n"] == 5 and est["tie_bad_rate"]["estimate"] == pytest.approx(0.2)
    assert est["diff_mean"]["n"] == 0 and np.isnan(est["diff_mean"]["estimate"])


def test_win_rate_interval_is_the_exact_ticket_bootstrap_on_a_small_table():
    """Four tickets: all 4^4 equally likely resamples enumerated give the bootstrap distribution exactly."""
    sums, sizes = map(np.array, zip(*PER_TICKET.values()))
    draws = np.array(list(itertools.product(range(4), repeat=4)))
    exact = sums[draws].sum(axis=1) / sizes[draws].sum(axis=1)
    est = category_estimates(item_table(_ratings(SMALL), None), 0.95, 40_000, np.random.default_rng(1))
    win = est.estimates["win_rate_ai"]
    assert win["se"] == pytest.approx(exact.std() * np.sqrt(4 / 3), rel=0.02)  # SD, small-sample corrected
    low, high = np.quantile(exact, [0.025, 0.975])
    assert win["low"] == pytest.approx(low, abs=0.02) and win["high"] == pytest.approx(high, abs=0.02)


def test_win_rate_se_matches_the_cluster_robust_formula_and_the_gate_uses_it():
    rng = np.random.default_rng(2)
    rows = [(f"t{t}#{i}", f"t{t}", str(rng.choice(["ai", "human", "tie_good", "tie_bad"], p=[.4, .4, .1, .1])))
            for t in range(80) for i in range(int(rng.integers(1, 4))) for _ in range(int(rng.integers(1, 3)))]
    table = item_table(_ratings(rows), None)
    est = category_estimates(table, 0.95, 4000, np.random.default_rng(3))
    w = table["win"].mean()
    resid = (table["win"] - w).groupby(table["ticket_id"]).sum()
    cr1 = np.sqrt(80 / 79 * (resid ** 2).sum()) / len(table)
    assert est.estimates["win_rate_ai"]["estimate"] == pytest.approx(w)
    assert est.estimates["win_rate_ai"]["se"] == pytest.approx(cr1, rel=0.08)
    policy = Policy()
    t = measured(est, policy)
    assert (t.measure, t.center, t.margin, t.threshold) == ("win_rate_ai", 0.5, 0.1, pytest.approx(0.4))
    reason = decide_category("c", est, 0.9, policy, 0.025, p_adj=t.p()).reasons[3]
    se = est.estimates["win_rate_ai"]["se"]
    assert reason.gate == "non_inferiority" and reason.measure == "win_rate_ai"
    assert reason.value == pytest.approx(w - sps.t.isf(0.025, 79) * se)
    assert reason.p_value == pytest.approx(sps.t.sf((w - 0.4) / se, 79))
    assert reason.text.startswith(f"AI win rate {w:.2f} (ties as half), lower bound {reason.value:.2f} at one-sided")


PREFERENCE = {0: "tie_good", 1: "human", 2: "ai"}
"""PandaLM annotator labels (0 tie, 1 response1 better, 2 response2 better) with response1 the historical
agent answer and response2 the AI answer; a tie in PandaLM says nothing about quality, so tie_good."""


def _text(value: object) -> str:
    """A few PandaLM responses are JSON booleans, not strings: kept as the text a reader saw."""
    return value if isinstance(value, str) else json.dumps(value)


def write_pandalm_run(folder: Path, pandalm: Path, seed: int = 0) -> dict[str, int]:
    """A run config over the PandaLM pairs: tickets (instruction + input as the customer turn, response1
    as the agent turn), response2 as precomputed AI answers, a blind key, and every annotator's label as
    an anonymous preference-only rating mapped through the key. Returns the count of each label."""
    pairs = json.loads((pandalm / "testset-v1.json").read_text())
    rng = np.random.default_rng(seed)
    tickets, answers, key, ratings = [], [], [], []
    for p in pairs:
        tid = f"P{p['idx']:04d}"
        customer = "\n\n".join(t for t in (_text(p["instruction"]), _text(p["input"])) if t.strip())
        tickets.append({"ticket_id": tid, "category": "instructions", "channel": "chat",
                        "turns": [{"role": "customer", "text": customer},
                                  {"role": "agent", "text": _text(p["response1"]), "author": p["cmp_key"].split("_")[0]}],
                        "metadata": {"app": p["motivation_app"]}})
        answers.append({"ticket_id": tid, "turn_index": 1, "text": _text(p["response2"]),
                        "model": p["cmp_key"].split("_")[1]})
        x = "ai" if rng.random() < 0.5 else "human"
        key.append({"rating_id": f"r{p['idx']:04d}", "item_id": f"{tid}#1", "x": x,
                    "y": "human" if x == "ai" else "ai", "gold": False})
        for n in (1, 2, 3):
            side = PREFERENCE[p[f"annotator{n}"]]
            ratings.append({"rating_id": f"r{p['idx']:04d}", "reviewer": None,
                            "preference": side if side == "tie_good" else "x" if side == x else "y"})
    for name, rows in (("tickets.jsonl", tickets), ("answers.jsonl", answers), ("key.jsonl", key),
                       ("annotators.jsonl", ratings)):
        (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "config.yaml").write_text(
        "name: pandalm\nseed: 3\ndata: {paths: [tickets.jsonl]}\n"
        "replay: {turns: all, responder: {kind: precomputed, path: answers.jsonl}}\n"
        "ratings: {key: key.jsonl, files: [annotators.jsonl]}\n")
    labels = [p[f"annotator{n}"] for p in pairs for n in (1, 2, 3)]
    return {label: labels.count(label) for label in (0, 1, 2)}


def _items(ratings: pd.DataFrame) -> pd.DataFrame:
    return ratings[["item_id", "ticket_id", "category"]].drop_duplicates()


def test_gates_without_flags_fail_saying_the_evidence_cannot_support_them():
    ratings = preference_ratings(np.random.default_rng(4), 0.6)
    bare = ratings.assign(**dict.fromkeys(("acceptable_ai", "acceptable_human", "critical_ai", "critical_human")))
    decision = decide(bare, _items(bare), None, Policy(), np.random.default_rng(5))
    c = decision.categories[0]
    gates = {r.gate: r for r in c.reasons}
    assert gates["non_inferiority"].passed and gates["non_inferiority"].measure == "win_rate_ai"
    assert "on preferences" in gates["reviewer_alpha"].text
    for gate in ("critical_automate", "critical_assist"):
        assert not gates[gate].passed and gates[gate].value is None
        assert gates[gate].text == "the ratings carry no critical flags: this evidence cannot support the critical-rate gate"
    assert "cannot support the acceptable-difference gate" in gates["acceptable_diff"].text
    assert "cannot support the acceptable-rate gate" in gates["acceptable_assist"].text
    assert c.tier == "human" and c.ratings_needed is None and "cannot settle" in c.ratings_needed_text
    assert decision.policy["win_rate_margin"] == 0.1 and "AI win rate" in decision.method
    # the flags given (tie_bad raters marked both answers unacceptable) support every gate: automate
    flagged = decide(ratings, _items(ratings), None, Policy(), np.random.default_rng(5)).categories[0]
    assert flagged.tier == "automate" and all(r.passed for r in flagged.reasons)
    assert flagged.estimates["acceptable_ai"]["estimate"] == pytest.approx(1 - (ratings["preference"] == "tie_bad").mean())


def test_scored_items_keep_the_mean_difference_and_the_policy_record_keeps_its_keys():
    ratings = preference_ratings(np.random.default_rng(6), 0.5)
    scored = ratings.assign(score_ai=4, score_human=4)
    decision = decide(scored, _items(scored), None, Policy(), np.random.default_rng(7))
    reason = next(r for r in decision.categories[0].reasons if r.gate == "non_inferiority")
    assert reason.measure is None and reason.text.startswith("AI - human mean rating +0.00")
    assert "win_rate_margin" not in decision.policy and "AI win rate" not in decision.method
    # a category with some scored items decides on those, and says how many they are
    first = scored["item_id"] < "T0080"
    mixed = scored.assign(score_ai=scored["score_ai"].where(first), score_human=scored["score_human"].where(first))
    reason = next(r for r in decide(mixed, _items(mixed), None, Policy(), np.random.default_rng(7)).categories[0].reasons
                  if r.gate == "non_inferiority")
    n_scored, n_items = mixed.loc[first, "item_id"].nunique(), mixed["item_id"].nunique()
    assert reason.measure is None and f"(on the {n_scored} of {n_items} rated items with scores)" in reason.text


def test_the_t_test_df_counts_only_the_tickets_that_carry_the_measure():
    """Scores on 6 tickets, preferences alone on 30 more: the mean difference has 6 tickets behind it, so df 5."""
    rng = np.random.default_rng(8)
    rows = [(f"t{t}#1", f"t{t}", str(rng.choice(["ai", "human"]))) for t in range(36)]
    ratings = _ratings(rows)
    scored = ratings["ticket_id"].isin([f"t{t}" for t in range(6)])
    ratings.loc[scored, "score_ai"] = rng.integers(1, 6, scored.sum()).astype(float)
    ratings.loc[scored, "score_human"] = rng.integers(1, 6, scored.sum()).astype(float)
    est = category_estimates(item_table(ratings, None), 0.95, 2000, np.random.default_rng(9))
    assert est.tickets == 36 and est.estimates["diff_mean"]["tickets"] == 6
    assert est.estimates["win_rate_ai"]["tickets"] == 36
    t = measured(est, Policy())
    assert (t.measure, t.df, t.n) == ("diff_mean", 5, 6)
    assert t.p() == pytest.approx(sps.t.sf((t.estimate + t.margin) / t.se, 5))


def _automate_rate(win_rate: float, runs: int, seed: int) -> float:
    rng, policy = np.random.default_rng(seed), Policy()
    tiers = []
    for _ in range(runs):
        ratings = preference_ratings(rng, win_rate)
        tiers.append(decide(ratings, _items(ratings), None, policy, rng).categories[0].tier)
    return tiers.count("automate") / runs


def test_a_true_win_rate_exactly_at_the_margin_is_rarely_automated():
    """Planted AI win rate 0.5 - win_rate_margin = 0.4; every other gate passes, so the win-rate test alone
    stands between these runs and automate (benchmarks/preference_margin.py runs more)."""
    assert _automate_rate(0.4, runs=400, seed=11) <= 0.05


def test_an_ai_as_good_as_people_is_mostly_automated():
    """Power check, so the test above cannot pass by never automating."""
    assert _automate_rate(0.5, runs=100, seed=12) >= 0.7


def test_pandalm_pairs_through_the_cli_are_decided_on_the_win_rate(tmp_path, realdata):
    import krippendorff

    write_pandalm_run(tmp_path, realdata / "pandalm")
    res = subprocess.run([sys.executable, "-m", "eval", "run", str(tmp_path / "config.yaml"), "--out", str(tmp_path / "run")],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    run = tmp_path / "run"
    quarantined = {json.loads(line)["raw"]["ticket_id"] for line in (run / "quarantine.jsonl").read_text().splitlines()}
    rejected = [json.loads(line) for line in (run / "ratings.rejected.jsonl").read_text().splitlines()]
    assert len(quarantined) == 29  # blank response1: no agent turn to compare
    assert {r["reason"] for r in rejected} == {"unknown_item"} and len(rejected) == 3 * len(quarantined)
    kept = [json.loads(line) for line in (run / "ratings.jsonl").read_text().splitlines()]
    assert len(kept) == 3 * 970 and all(r["reviewer"] is None and r["score_ai"] is None for r in kept)
    assert "reviewer reliability not assessable: all 2910 ratings are anonymous" in res.stdout

    every = json.loads((realdata / "pandalm" / "testset-v1.json").read_text())
    pairs = [p for p in every if f"P{p['idx']:04d}" not in quarantined]
    labels = np.array([[p[f"annotator{n}"] for p in pairs] for n in (1, 2, 3)])
    win = np.select([labels == 2, labels == 1], [1.0, 0.0], 0.5).mean(axis=0).mean()
    ordinal = np.select([labels == 1, labels == 0], [1, 2], 3).astype(float)  # human < tie < AI
    alpha = krippendorff.alpha(reliability_data=ordinal, level_of_measurement="ordinal")
    agreement = json.loads((run / "agreement.json").read_text())
    assert agreement["all_reviewers"]["overall"]["alpha"] == pytest.approx(alpha, abs=1e-6)
    assert agreement["all_reviewers"]["overall"]["rated"] == "preferences"
    assert agreement["reviewers"] == [] and agreement["reviewer_reliability"].startswith("not assessable")

    (c,) = json.loads((run / "decisions.json").read_text())["categories"]
    gates = {r["gate"]: r for r in c["reasons"]}
    assert c["estimates"]["win_rate_ai"]["estimate"] == pytest.approx(win, abs=1e-6)
    assert c["estimates"]["win_rate_ai"]["n"] == 970 and c["estimates"]["diff_mean"]["n"] == 0
    ni = gates["non_inferiority"]
    assert ni["passed"] and ni["measure"] == "win_rate_ai" and ni["value"] > 0.4 and ni["threshold"] == 0.4
    assert ni["text"].startswith(f"AI win rate {win:.2f} (ties as half), lower bound {ni['value']:.2f}")
    assert gates["reviewer_alpha"]["passed"] and "on preferences" in gates["reviewer_alpha"]["text"]
    assert "this evidence cannot support the critical-rate gate" in gates["critical_automate"]["text"]
    # PandaLM carries preferences only: no acceptable or harmful flags, so nothing past human can be shown
    assert c["tier"] == "human" and not any(gates[g]["passed"] for g in ("critical_automate", "acceptable_assist"))
    assert "the ratings do not mark harmful answers" in (run / "report.md").read_text()
