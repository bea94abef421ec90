"""eval.stats against closed forms and reference implementations (scipy, statsmodels)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import tt_solve_power
from statsmodels.stats.proportion import proportion_confint

from eval import stats


@pytest.mark.parametrize("k,n", [(0, 10), (0, 149), (3, 40), (17, 200), (40, 40), (1, 1)])
def test_clopper_pearson_matches_statsmodels_and_scipy(k, n):
    low, high = stats.clopper_pearson(k, n, 0.95)
    ref_low, ref_high = proportion_confint(k, n, alpha=0.05, method="beta")
    assert low == pytest.approx(ref_low, abs=1e-12)
    assert high == pytest.approx(ref_high, abs=1e-12)
    ci = sps.binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    assert (low, high) == pytest.approx((ci.low, ci.high), abs=1e-12)
    # one-sided 95% upper bound = upper end of the two-sided 90% interval
    assert stats.clopper_pearson_upper(k, n, 0.95) == pytest.approx(
        proportion_confint(k, n, alpha=0.10, method="beta")[1], abs=1e-12)


def test_zero_failures_upper_bound_closed_form():
    # with no failures the bound is 1 - (1 - conf)^(1/n): 149 items are the first to reach 2%
    for n in (10, 148, 149, 500):
        assert stats.clopper_pearson_upper(0, n, 0.95) == pytest.approx(1 - 0.05 ** (1 / n), rel=1e-10)
    assert stats.clopper_pearson_upper(0, 148, 0.95) > 0.02 >= stats.clopper_pearson_upper(0, 149, 0.95)


def test_holm_matches_statsmodels():
    rng = np.random.default_rng(3)
    for m in (1, 2, 5, 12, 50):
        p = rng.uniform(0, 0.05, m) ** rng.uniform(0.5, 2, m)
        ours = stats.holm(p, 0.025)
        reject, adjusted, _, _ = multipletests(p, alpha=0.025, method="holm")
        np.testing.assert_allclose(ours.adjusted, adjusted, rtol=1e-12)
        np.testing.assert_array_equal(ours.reject, reject)
        # the smallest p is tested at alpha/m, the largest at alpha
        assert ours.levels[np.argmin(p)] == pytest.approx(0.025 / m)
        assert ours.levels[np.argmax(p)] == pytest.approx(0.025)


def test_resample_chunks_do_not_change_results(monkeypatch):
    rng_data = np.random.default_rng(0)
    num = rng_data.normal(size=(37, 3))
    den = rng_data.integers(1, 4, size=(37, 3)).astype(float)
    whole = stats.cluster_bootstrap(num, den, 2000, np.random.default_rng(5))
    monkeypatch.setattr(stats, "BOOT_CELLS", 37 * 7)
    chunked = stats.cluster_bootstrap(num, den, 2000, np.random.default_rng(5))
    np.testing.assert_allclose(whole, chunked, rtol=1e-12)


def test_each_resample_draws_every_cluster_count_once():
    weights = np.vstack(list(stats._resample_weights(25, 300, np.random.default_rng(1))))
    assert weights.shape == (300, 25)
    np.testing.assert_array_equal(weights.sum(axis=1), 25)
    # each cluster is drawn Binomial(25, 1/25) times: mean 1
    assert weights.mean() == pytest.approx(1.0)
    assert weights.var() == pytest.approx(24 / 25, rel=0.05)


def test_cluster_bootstrap_se_matches_linearised_cluster_robust_se():
    rng = np.random.default_rng(11)
    g = 120
    sizes = rng.integers(1, 6, g)
    cluster_effect = rng.normal(0, 0.8, g)
    clusters = np.repeat(np.arange(g), sizes)
    values = 3 + cluster_effect[clusters] + rng.normal(0, 1, clusters.size)
    res = stats.clustered_means(values[:, None], clusters, 0.95, 8000, np.random.default_rng(2))
    # linearised (CR1) standard error of a ratio of sums
    totals = np.bincount(clusters, weights=values)
    r = totals.sum() / sizes.sum()
    z = totals - r * sizes
    se_ref = np.sqrt(g / (g - 1) * (z ** 2).sum()) / sizes.sum()
    assert res.estimate[0] == pytest.approx(values.mean())
    assert res.se[0] == pytest.approx(se_ref, rel=0.05)
    assert res.low[0] < r < res.high[0]
    assert res.n[0] == values.size and res.clusters == g


def test_clustered_means_skips_missing_values_per_column():
    values = np.array([[1.0, np.nan], [3.0, 1.0], [5.0, 0.0], [np.nan, np.nan]])
    res = stats.clustered_means(values, np.array([0, 0, 1, 2]), 0.95, 2000, np.random.default_rng(0))
    np.testing.assert_allclose(res.estimate, [3.0, 0.5])
    np.testing.assert_array_equal(res.n, [3, 2])
    all_missing = stats.clustered_means(np.full((4, 1), np.nan), np.arange(4), 0.95, 2000, np.random.default_rng(0))
    assert np.isnan(all_missing.estimate[0]) and np.isnan(all_missing.low[0])


def test_noninferiority_p_and_lower_bound_are_dual():
    for est, se, df in [(-0.1, 0.08, 30), (0.05, 0.1, 200), (-0.3, 0.05, 60)]:
        p = stats.noninferiority_p(est, se, 0.25, df)
        assert p == pytest.approx(sps.t.sf((est + 0.25) / se, df))
        for level in (0.001, 0.0125, 0.025, 0.05):
            assert (stats.t_lower_bound(est, se, df, level) > -0.25) == (p < level)


def test_more_items_for_mean_matches_statsmodels_power():
    n, se, est = 100, 0.06, -0.15
    more = stats.more_items_for_mean(n, est, se, -0.25, 0.025, 0.8)
    sd = se * np.sqrt(n)
    ref = tt_solve_power(effect_size=0.1 / sd, alpha=0.025, power=0.8, alternative="larger")
    assert n + more == pytest.approx(ref, rel=0.02)
    # at the new size the z test reaches 80% power
    se_new = sd / np.sqrt(n + more)
    assert sps.norm.sf(sps.norm.isf(0.025) - 0.1 / se_new) >= 0.8
    assert stats.more_items_for_mean(n, -0.3, se, -0.25, 0.025, 0.8) is None
    assert stats.more_items_for_mean(n, 0.5, se, -0.25, 0.025, 0.8) == 0


def _bound_power(n, rate, threshold, conf):
    ks = np.arange(n + 1)
    ok = np.array([stats.clopper_pearson_upper(k, n, conf) <= threshold for k in ks])
    return sps.binom.pmf(ks, n, rate)[ok].sum()


def test_more_items_for_rate_bound_reaches_power():
    assert stats.more_items_for_rate_bound(100, 0, 0.02, 0.95, 0.8) == 49  # 149 in all, see above
    more = stats.more_items_for_rate_bound(200, 1, 0.02, 0.95, 0.8)
    assert _bound_power(200 + more, 1 / 200, 0.02, 0.95) >= 0.8
    assert all(_bound_power(m, 1 / 200, 0.02, 0.95) < 0.8 for m in range(200 + more - 30, 200 + more))
    assert stats.more_items_for_rate_bound(100, 3, 0.02, 0.95, 0.8) is None


def test_rounded_is_json_safe():
    assert stats.rounded({"a": [1.23456789, float("nan")], "b": {"c": float("inf"), "d": 2}}) == {
        "a": [1.234568, None], "b": {"c": None, "d": 2}}
