"""Automatic evidence in decisions: prediction-powered estimates with a planted truth, and through decide()."""

from __future__ import annotations

import numpy as np
import pandas as pd

from eval.decide import decide
from eval.decide.automatic import prediction_powered
from eval.decide.cuts import column
from eval.decide.estimates import category_estimates
from eval.policy import Policy
from eval.synth.evidence import planted_category, planted_run
from eval.synth.preferences import preference_ratings

POLICY = Policy()


def _decided(judge: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    table, auto = planted_category(rng, judge, 0.0)  # type: ignore[arg-type]
    est = category_estimates(table, POLICY.confidence, POLICY.bootstrap_resamples, rng)
    return est, prediction_powered(est, table, auto, POLICY.confidence)


def test_a_good_judge_is_worth_extra_ratings_and_keeps_the_ratings_only_twins():
    est, ppi = _decided("good")
    e = ppi.estimates
    assert e["diff_mean"]["method"] == "prediction-powered" and e["diff_mean"]["unrated"] > 2000
    assert e["diff_mean_ratings_only"] == est.estimates["diff_mean"]
    assert ppi.diff == e["diff_mean"]["estimate"] and ppi.diff_se == e["diff_mean"]["se"]
    assert ppi.effective_ratings is not None and ppi.effective_ratings > 1.5 * ppi.rated_items
    assert ppi.ratings_only is est
    for name in ("acceptable_ai", "acceptable_human", "diff_acceptable", "win_rate_ai"):
        assert f"{name}_ratings_only" in e
    # the critical-rate gate keeps the exact ratings-only bound; the stratified one is shown beside it
    assert e["critical_ai"] == est.estimates["critical_ai"] and ppi.critical_ub == est.critical_ub
    assert e["critical_ai_stratified"]["upper_one_sided"] >= 0


def test_a_noise_judge_costs_almost_nothing():
    _, ppi = _decided("noise")
    d, ro = ppi.estimates["diff_mean"], ppi.estimates["diff_mean_ratings_only"]
    assert d["lambda"] < 0.3
    assert (d["high"] - d["low"]) <= 1.05 * (ro["high"] - ro["low"])


def test_too_few_rated_tickets_leave_the_ratings_alone():
    rng = np.random.default_rng(1)
    table, auto = planted_category(rng, "good", 0.0, tickets=200, rated=8)
    est = category_estimates(table, POLICY.confidence, POLICY.bootstrap_resamples, rng)
    assert prediction_powered(est, table, auto, POLICY.confidence) is est


def test_a_lenient_judge_at_the_margin_does_not_pass_non_inferiority_more_often():
    """A small version of benchmarks/ppi_decisions.py: the AI exactly at the margin, a judge that flatters it."""
    rng = np.random.default_rng(7)
    runs = [planted_run(rng, "lenient", -POLICY.margin, POLICY) for _ in range(40)]
    assert sum(r["ppi_passes"] for r in runs) <= 3  # 2.5% expected; 3 of 40 has p < 0.08 at 2.5%
    assert np.mean([r["ppi_covers"] for r in runs]) >= 0.85
    assert np.median([r["ppi_width"] / r["ratings_only_width"] for r in runs]) < 0.95


def _judged_preferences(rng: np.random.Generator, tickets: int, unrated: int):
    """Preference-only ratings, their items plus ``unrated`` items of one ticket each, and a judge that
    agrees with the reviewers on the rated items (noise elsewhere)."""
    ratings = preference_ratings(rng, 0.55, tickets=tickets)
    items = ratings[["item_id", "ticket_id", "category"]].drop_duplicates()
    extra = pd.DataFrame({"item_id": [f"X{i}#1" for i in range(unrated)], "ticket_id": [f"X{i}" for i in range(unrated)],
                          "category": items["category"].iloc[0]})
    items = pd.concat([items, extra], ignore_index=True)
    win = ratings["preference"].map({"ai": 1.0, "human": 0.0}).fillna(0.5).groupby(ratings["item_id"]).mean()
    judge = pd.DataFrame({"item_id": items["item_id"],
                          "judge_win": items["item_id"].map(win).fillna(pd.Series(rng.random(len(items))))})
    return ratings, items, judge


def test_decide_uses_judge_verdicts_on_preference_only_ratings():
    """Wiring: decide() reads a judge table, and the win-rate gate becomes prediction-powered."""
    rng = np.random.default_rng(3)
    ratings, items, judge = _judged_preferences(rng, 160, 600)
    decided = decide(ratings, items, None, POLICY, rng, judge=judge).categories[0]
    w = decided.estimates["win_rate_ai"]
    assert w["method"] == "prediction-powered" and w["unrated"] == 600
    assert decided.effective_ratings is not None and decided.effective_ratings > decided.rated_items
    assert "prediction-powered" in next(r.text for r in decided.reasons if r.gate == "non_inferiority")
    assert "automatic evidence" in decide(ratings, items, None, POLICY, rng, judge=judge).method


def test_cuts_are_prediction_powered_too():
    rng = np.random.default_rng(4)
    ratings, items, judge = _judged_preferences(rng, 200, 400)
    items[column("language")] = np.where(items["ticket_id"].str[-1].isin(list("01234")), "en", "de")
    policy = Policy(cut_by=["language"], min_rated=20)
    cuts = decide(ratings, items, None, policy, rng, judge=judge).categories[0].cuts or []
    assert {c.value for c in cuts} == {"en", "de"}
    assert all(c.estimates["win_rate_ai"]["method"] == "prediction-powered" for c in cuts)
    assert all(c.estimates["win_rate_ai"]["unrated"] > 100 and (c.effective_ratings or 0) > c.rated_items for c in cuts)
