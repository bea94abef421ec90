"""A category with a planted AI - human difference and automatic evidence of a planted quality.

For checking prediction-powered decisions (``eval.decide.automatic``) by simulation: the reviewers'
mean scores of both answers on every item, a uniform sample of items rated, and on every item the
rubric scores and judge verdicts that a good, a lenient (flatters the AI) or a noise judge would give.
Scores are not clipped to 1-5, so the planted difference is exactly the population mean difference.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from eval.decide.automatic import prediction_powered
from eval.decide.design import certainty_strata, round_fractions, unexplained
from eval.decide.estimates import category_estimates
from eval.decide.family import decide_category
from eval.decide.gates import measured
from eval.policy import Policy

JudgeQuality = Literal["good", "lenient", "noise"]


def _judge(rng: np.random.Generator, quality: JudgeQuality, ai: np.ndarray, human: np.ndarray,
           crit: np.ndarray, noisier: np.ndarray) -> dict[str, np.ndarray]:
    n = len(ai)
    if quality == "noise":
        s_ai, s_h = rng.normal(3.5, 1.0, n), rng.normal(3.5, 1.0, n)
        flag = rng.random(n) < 0.02
    else:
        lift, sd = (0.0, 0.2) if quality == "good" else (0.6, 0.5)
        s_ai, s_h = ai + lift + rng.normal(0, sd, n) * noisier, human + rng.normal(0, sd, n) * noisier
        caught = 0.9 if quality == "good" else 0.5
        flag = np.where(crit, rng.random(n) < caught, rng.random(n) < 0.003)
    gap = s_ai - s_h
    return {"judge_score_ai": s_ai, "judge_score_human": s_h,
            "judge_win": np.select([gap > 0.3, gap < -0.3], [1.0, 0.0], 0.5), "judge_critical_ai": flag.astype(float)}


def _drawn(rng: np.random.Generator, auto: pd.DataFrame, diff: np.ndarray, rated: int) -> np.ndarray:
    """Two rounds: ``rated // 2`` items uniformly, the rest by certainty stratum (Neyman on the first round's
    rated differences, ``eval.decide.design.round_fractions``), uniformly within each stratum."""
    n, first = len(auto), rated // 2
    strata = certainty_strata(auto)
    drawn = np.zeros(n, bool)
    drawn[rng.choice(n, first, replace=False)] = True
    shares = round_fractions(strata, drawn, unexplained(auto, np.where(drawn, diff, np.nan)), rated - first)
    for h, share in shares.items():
        left = np.flatnonzero((strata == h) & ~drawn)
        drawn[rng.choice(left, min(round(share * (rated - first)), left.size), replace=False)] = True
    return np.flatnonzero(drawn)


def planted_category(
    rng: np.random.Generator, judge: JudgeQuality, delta: float, tickets: int = 1500, rated: int = 300,
    category: str = "planted", active: bool = False, hard_share: float = 0.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(item table of the rated items, as ``eval.decide.estimates.item_table`` makes it; every item with its
    automatic evidence, as ``eval.decide.automatic.automatic_table`` makes it). ``delta``: the planted
    AI - human mean rating difference. ``active``: half the ratings drawn uniformly, the other half by
    certainty stratum (``eval.decide.design``, recorded in ``auto["stratum"]``) as a follow-up round would.
    ``hard_share``: tickets on which the AI's answers vary three times as much and the judge is three times
    as noisy (0: none), the case drawing by stratum is for."""
    sizes = rng.integers(1, 4, tickets)
    ticket = np.repeat(np.arange(tickets), sizes)
    n = len(ticket)
    hard = rng.normal(0, 0.5, tickets)[ticket]
    human = 3.6 - 0.4 * hard + rng.normal(0, 0.6, n)
    unruly = np.zeros(n, bool) if hard_share == 0 else (rng.random(tickets) < hard_share)[ticket]
    ai = human + delta + rng.normal(0, 0.3, tickets)[ticket] + rng.normal(0, 0.6, n) * np.where(unruly, 3.0, 1.0)
    score_ai, score_human = ai + rng.normal(0, 0.3, n), human + rng.normal(0, 0.3, n)  # two reviewers' mean
    crit = rng.random(n) < 0.01 * np.exp(-(ai - 3.0))
    ids = np.array([f"T{t:05d}#{i}" for i, t in enumerate(ticket)])
    diff = score_ai - score_human
    acc_ai, acc_human = (score_ai >= 3.0).astype(float), (score_human >= 3.0).astype(float)
    items = pd.DataFrame({"item_id": ids, "ticket_id": [f"T{t:05d}" for t in ticket], "category": category})
    if judge == "noise":
        rubric_ai, rubric_human = rng.random(n), rng.random(n)
    else:
        rubric_ai, rubric_human = (1 / (1 + np.exp(-(x - 3.5 + rng.normal(0, 0.8, n)))) for x in (ai, human))
    auto = items.assign(rubric_ai=rubric_ai, rubric_human=rubric_human, rubric_crit_ai=0.0,
                        rubric_crit_human=0.0, **_judge(rng, judge, ai, human, crit, np.where(unruly, 3.0, 1.0)))
    pick = _drawn(rng, auto, diff, rated) if active else np.sort(rng.choice(n, rated, replace=False))
    if active:
        auto["stratum"] = certainty_strata(auto)
    table = items.iloc[pick].assign(
        score_ai=score_ai[pick], score_human=score_human[pick], diff=diff[pick],
        win=np.select([diff[pick] > 0.25, diff[pick] < -0.25], [1.0, 0.0], 0.5), tie_bad=0.0,
        acc_ai=acc_ai[pick], acc_human=acc_human[pick], acc_diff=acc_ai[pick] - acc_human[pick],
        crit_ai=crit[pick].astype(float), crit_human=0.0, reviewers=2,
        rubric_ai=rubric_ai[pick], rubric_human=rubric_human[pick], rubric_crit_ai=0.0, rubric_crit_human=0.0,
    )
    table["rubric_diff"] = table["rubric_ai"] - table["rubric_human"]
    return table.reset_index(drop=True), auto


def planted_run(rng: np.random.Generator, judge: JudgeQuality, delta: float, policy: Policy, active: bool = False,
                hard_share: float = 0.0) -> dict[str, float]:
    """One simulated category, decided with and without the automatic evidence: per way the interval of the
    mean difference, whether it covers ``delta``, whether non-inferiority passes at the policy's level, and
    whether the category is automated (every gate; reviewer agreement taken as sufficient). ``active`` and
    ``hard_share``: as :func:`planted_category`; drawn by stratum, "ratings only" is the stratified estimate
    without the predictions, and "unweighted" the plain estimates that ignore the design."""
    table, auto = planted_category(rng, judge, delta, active=active, hard_share=hard_share)
    est = category_estimates(table, policy.confidence, policy.bootstrap_resamples, rng)
    ppi = prediction_powered(est, table, auto, policy.confidence)
    ways = [("ppi", ppi), ("ratings_only", ppi.ratings_only if active and ppi.ratings_only else est)]
    out: dict[str, float] = {}
    for name, e in ways + ([("unweighted", est)] if active else []):
        d = e.estimates["diff_mean"]
        t = measured(e, policy)
        tier = decide_category("planted", e, 1.0, policy, policy.noninferiority_alpha, t.p()).tier
        out |= {f"{name}_covers": float(d["low"] <= delta <= d["high"]), f"{name}_width": d["high"] - d["low"],
                f"{name}_passes": float(t.lower_bound(policy.noninferiority_alpha) > t.threshold),
                f"{name}_automate": float(tier == "automate")}
    out["effective_ratings"] = ppi.effective_ratings or float(ppi.rated_items)
    return out
