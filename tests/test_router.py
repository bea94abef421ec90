"""The router: certified thresholds (eval.decide.router.thresholds), the risk model on a planted harmful minority
(eval.synth.routing), and routes in three (eval.decide.router)."""

from __future__ import annotations

import numpy as np
import pytest

from eval.decide.router import learn_router
from eval.decide.router.model import FOLDS, fold_of
from eval.decide.router.thresholds import STEPS, certify
from eval.policy import Policy
from eval.stats import clopper_pearson_upper, zero_failure_n
from eval.synth.routing import Scenario, planted_turns


def test_with_no_harm_the_whole_category_is_certified_and_bounded_exactly() -> None:
    n = 400
    risk, harm, ok = np.linspace(0, 1, n), np.zeros(n), np.ones(n)
    c = certify(risk, harm, ok, np.arange(n), limit=0.02, floor=-0.05, delta=0.05)
    assert c.threshold == 1.0 and c.rated == n and c.share == 1.0
    assert c.harm_upper == pytest.approx(clopper_pearson_upper(0, n, 1 - 0.05 / STEPS))
    too_few = zero_failure_n(0.02, 1 - 0.05 / STEPS) - 1
    assert certify(risk[:too_few], harm[:too_few], ok[:too_few], np.arange(too_few), limit=0.02, floor=-0.05,
                   delta=0.05).threshold is None


def test_harm_above_the_limit_is_certified_at_most_delta_of_the_time_wherever_it_hides() -> None:
    """400 runs at a harmful rate of 2.2% against a 2% limit: spread evenly, or piled on the riskiest turns
    (so the lenient thresholds are the false ones) — the certified set must be wrong at most 5% of the time."""
    rng = np.random.default_rng(0)
    for piled in (False, True):
        wrong = 0
        for _ in range(400):
            n = 1500
            risk = rng.random(n)
            p = np.where(risk > 0.9, 0.022 * 4, 0.022 * 2 / 3) if piled else np.full(n, 0.022)
            harm = (rng.random(n) < p).astype(float)
            c = certify(risk, harm, np.ones(n), np.arange(n), limit=0.02, floor=-0.05, delta=0.05)
            if c.threshold is not None:
                true_rate = float(np.mean(np.where(risk <= c.threshold, p, np.nan)[risk <= c.threshold]))
                wrong += true_rate > 0.02
        assert wrong / 400 <= 0.05


def test_the_acceptable_gate_binds_too() -> None:
    n = 600
    ok = np.where(np.arange(n) < 500, 0.0, -1.0)  # the riskiest sixth: AI unacceptable where people were fine
    c = certify(np.arange(n) / n, np.zeros(n), ok, np.arange(n), limit=0.02, floor=-0.05, delta=0.05)
    assert c.threshold is not None and c.rated <= 520


def test_folds_are_a_stable_hash_of_the_ticket() -> None:
    folds = fold_of(np.array(["T1", "T2", "T1", "T000123"]))
    assert folds[0] == folds[2] and set(folds) <= set(range(FOLDS))
    assert list(fold_of(np.array(["T000123"]))) == [folds[3]]


def test_the_planted_chargeback_minority_goes_to_people_and_the_clear_majority_to_the_ai() -> None:
    """Small version of benchmarks/router_planted.py: 1,000 rated turns per run, fresh turns routed."""
    scenario, policy, runs = Scenario(), Policy(), 6
    oracle = 1 - scenario.cue_share
    shares, rates = [], []
    for run in range(runs):
        rng = np.random.default_rng(100 + run)
        router = learn_router(planted_turns(rng, 1000, scenario), policy)
        assert router is not None
        fresh = planted_turns(rng, 3000, scenario)
        routes, risk = router.route(fresh, "answer")
        ai = routes == "ai"
        shares.append(ai.mean())
        rates.append(float(fresh["p_harm"][ai].mean()) if ai.any() else 0.0)
        assert not (routes == "assist").any() or fresh["cue"][routes == "assist"].mean() < 0.5
    assert max(rates) <= policy.critical_ub_automate
    assert np.mean(shares) >= 0.8 * oracle
    ctx = learn_router(planted_turns(np.random.default_rng(7), 1000, scenario), policy)
    assert ctx is not None and ctx.routes["context"]["refund_request"].ai.threshold is not None
