"""Prediction-powered estimates: against ppi-python and statsmodels, and coverage with a planted truth."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from ppi_py import ppi_mean_ci, ppi_mean_pointestimate
from scipy import stats as sps

from eval.stats import clopper_pearson_upper
from eval.stats.ppi import ppi_mean, stratified_rate_upper


def _unclustered(rng: np.random.Generator, n: int = 200, m: int = 2000, noise: float = 0.5):
    truth = rng.normal(0, 1, n + m)
    y = truth + rng.normal(0, noise, n + m)
    f = 0.8 * truth + 0.3 + rng.normal(0, 0.3, n + m)  # biased, informative
    y[n:] = np.nan
    return y, f, np.arange(n + m)


def test_matches_ppi_python_on_independent_items():
    y, f, ids = _unclustered(np.random.default_rng(1))
    rated = ~np.isnan(y)
    n = int(rated.sum())
    ours = ppi_mean(y, f, ids)
    point = ppi_mean_pointestimate(y[rated], f[rated], f[~rated], lam=ours.lam)
    assert ours.estimate == pytest.approx(float(np.squeeze(point)), rel=1e-12)
    low, high = ppi_mean_ci(y[rated], f[rated], f[~rated], alpha=0.05, lam=ours.lam)
    se_ref = (float(np.squeeze(high)) - float(np.squeeze(low))) / (2 * sps.norm.ppf(0.975))
    assert ours.se == pytest.approx(se_ref * np.sqrt(n / (n - 1)), rel=1e-9)
    # power tuning: ours minimises the very variance it reports; ppi-python plugs in the predictions'
    # variance pooled over rated and unrated items, a different estimate of the same optimum
    grid = np.linspace(0, 1, 101)
    assert ours.se <= min(ppi_mean(y, f, ids, lam=lam).se for lam in grid) + 1e-12
    assert ours.lam == pytest.approx(_ppi_python_lambda(y[rated], f[rated], f[~rated]), abs=0.1)
    assert 0.3 < ours.lam < 1.0 and ours.se < ours.se_ratings_only * 0.8


def _ppi_python_lambda(y, f, f_unrated) -> float:
    """ppi-python's tuned lambda, recovered from its point estimate (estimate is linear in lambda)."""
    at0 = float(np.squeeze(ppi_mean_pointestimate(y, f, f_unrated, lam=0.0)))
    at1 = float(np.squeeze(ppi_mean_pointestimate(y, f, f_unrated, lam=1.0)))
    tuned = float(np.squeeze(ppi_mean_pointestimate(y, f, f_unrated)))
    return (tuned - at0) / (at1 - at0)


def test_ratings_only_se_is_the_cluster_robust_one():
    rng = np.random.default_rng(2)
    tickets = np.repeat(np.arange(60), rng.integers(1, 5, 60))
    y = rng.normal(0, 1, 60)[tickets] + rng.normal(0, 1, len(tickets))
    ours = ppi_mean(y, np.zeros(len(y)), tickets, lam=0.0)
    ref = sm.OLS(y, np.ones(len(y))).fit(cov_type="cluster", cov_kwds={"groups": tickets})
    assert ours.estimate == pytest.approx(float(ref.params[0]))
    assert ours.se == pytest.approx(float(ref.bse[0]), rel=1e-9)
    assert ours.se == ours.se_ratings_only and ours.clusters == 60


def test_useless_predictions_cost_almost_nothing():
    rng = np.random.default_rng(3)
    y, _, ids = _unclustered(rng)
    noise = rng.normal(0, 1, len(y))
    r = ppi_mean(y, noise, ids)
    assert r.lam < 0.2 and r.se <= r.se_ratings_only * 1.01


def _clustered_world(rng: np.random.Generator, judge: str, tickets: int = 400, rated_tickets: int = 80):
    """Tickets of 1-4 items sharing a ticket effect; a sample of whole tickets is rated."""
    sizes = rng.integers(1, 5, tickets)
    ticket = np.repeat(np.arange(tickets), sizes)
    quality = rng.normal(0, 0.7, tickets)[ticket] + rng.normal(0, 0.7, len(ticket))
    y = quality + rng.normal(0, 0.5, len(ticket))
    f = {"good": quality + rng.normal(0, 0.3, len(ticket)),
         "lenient": 0.6 * quality + 0.8 + rng.normal(0, 0.4, len(ticket)),
         "noise": rng.normal(0, 1, len(ticket))}[judge]
    rated = np.isin(ticket, rng.choice(tickets, rated_tickets, replace=False))
    return np.where(rated, y, np.nan), f, ticket


@pytest.mark.parametrize("judge", ["good", "lenient", "noise"])
def test_clustered_intervals_cover_the_planted_mean(judge):
    """The population mean is 0 by construction; 95% t intervals on rated tickets - 1 df."""
    rng = np.random.default_rng(10)
    runs, covered, widths = 300, 0, []
    for _ in range(runs):
        y, f, ticket = _clustered_world(rng, judge)
        r = ppi_mean(y, f, ticket)
        half = sps.t.ppf(0.975, r.clusters - 1) * r.se
        covered += abs(r.estimate) <= half
        widths.append(r.se / r.se_ratings_only)
    assert 0.92 <= covered / runs <= 0.985
    if judge == "good":
        assert np.median(widths) < 0.75
    if judge == "noise":
        assert np.median(widths) <= 1.02


def test_stratified_bound_without_flags_is_the_exact_ratings_only_bound():
    y = np.r_[np.ones(2), np.zeros(298), np.full(1000, np.nan)]
    b = stratified_rate_upper(y, np.zeros(len(y)), 0.95)
    assert b.upper == pytest.approx(clopper_pearson_upper(2, 300, 0.95))


@pytest.mark.parametrize("rate", [0.005, 0.01, 0.03])
def test_stratified_bound_covers_rare_rates_with_few_disagreements(rate):
    """A judge that catches 90% of failures and rarely raises a false one: reviewers and judge almost
    never disagree, the case where a CLT interval on the rectifier collapses."""
    rng = np.random.default_rng(int(rate * 1e4))
    runs, covered, n_all, n_rated = 400, 0, 3000, 300
    for _ in range(runs):
        fail = rng.random(n_all) < rate
        flag = np.where(fail, rng.random(n_all) < 0.9, rng.random(n_all) < 0.002)
        y = np.where(np.arange(n_all) < n_rated, fail.astype(float), np.nan)
        covered += stratified_rate_upper(y, flag, 0.95).upper >= rate
    assert covered / runs >= 0.95
