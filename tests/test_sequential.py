"""eval.stats.sequential: e-values, resumable state, the false-alarm bound, and restarting after good weeks."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest
from conftest import load_benchmark

from eval.stats import sequential as sq


def _flags(rate: float, n: int, seed: int) -> np.ndarray:
    return (np.random.default_rng(seed).random(n) < rate).astype(float)


def test_the_e_values_have_mean_one_at_the_null_and_less_inside_it() -> None:
    harm = sq.harm_spec(0.02, 0.01, 100)
    e1, e0 = np.exp(sq.log_evalues(harm, np.array([1.0, 0.0])))
    assert 0.02 * e1 + 0.98 * e0 == pytest.approx(np.ones(3))
    assert np.all(0.01 * e1 + 0.99 * e0 < 1)  # a rate below the limit: the bets lose on average
    score = sq.score_spec(4.15, 0.25, 0.01, 100)
    scores = np.array([1.0, 5.0])  # the two-point law with mean mu0, the hardest null of all
    weights = np.array([5.0 - score.null, score.null - 1.0]) / 4.0
    e = np.exp(sq.log_evalues(score, scores))
    assert weights @ e == pytest.approx(np.ones(4))
    assert np.all(e > 0)


def test_thresholds_and_alternatives() -> None:
    harm = sq.harm_spec(0.02, sq.split_alpha(0.05, 4), 2080)
    assert harm.alternatives == pytest.approx((0.04, 0.08, 0.16))
    assert harm.threshold == pytest.approx(2081 / (0.05 / 8))
    assert sq.split_alpha(0.05, 2, 1) == pytest.approx(0.01)  # 2 tests per automated category, 1 per assist one
    assert max(sq.harm_spec(0.3, 0.01, 10).alternatives) < 1  # 8x 0.3 is capped halfway to 1
    bets = sq.score_spec(4.0, 0.5, 0.01, 10).alternatives
    assert max(bets) < 1 / (5 - 3.5)
    with pytest.raises(ValueError, match="score scale"):
        sq.score_spec(1.1, 0.25, 0.01, 10)
    with pytest.raises(ValueError, match="alpha_each"):
        sq.harm_spec(0.02, 0.0, 10)


@pytest.mark.parametrize("kind", ["harm", "score"])
def test_updating_in_pieces_equals_one_update_and_survives_json(kind: str) -> None:
    rng = np.random.default_rng(3)
    if kind == "harm":
        spec, obs = sq.harm_spec(0.02, 0.01, 500), np.r_[_flags(0.003, 300, 1), _flags(0.2, 200, 2)]
    else:
        spec, obs = sq.score_spec(4.15, 0.25, 0.01, 500), np.r_[rng.uniform(3.5, 5, 300), rng.uniform(1, 4, 200)]
    whole = sq.update(spec, sq.new_state(spec), obs)
    state = sq.new_state(spec)
    for part in np.split(obs, [1, 57, 300, 301]):
        state = sq.DetectorState.model_validate_json(sq.update(spec, state, part).model_dump_json())
    assert state == whole
    assert whole.n == 500 and whole.alarm_at is not None and 300 < whole.alarm_at <= 500
    assert whole.peak >= np.log(spec.threshold)


def test_bad_observations_and_mismatched_state_are_refused() -> None:
    harm, score = sq.harm_spec(0.02, 0.01, 10), sq.score_spec(4.0, 0.25, 0.01, 10)
    with pytest.raises(ValueError, match="0 or 1"):
        sq.update(harm, sq.new_state(harm), np.array([0.0, 0.5]))
    with pytest.raises(ValueError, match=r"\[1, 5\]"):
        sq.update(score, sq.new_state(score), np.array([4.0, 6.0]))
    with pytest.raises(ValueError, match=r"\[1, 5\]"):
        sq.update(score, sq.new_state(score), np.array([np.nan]))
    with pytest.raises(ValueError, match="alternatives"):
        sq.update(harm, sq.new_state(score), np.array([0.0]))


def test_false_alarms_within_the_horizon_stay_below_alpha_at_the_null() -> None:
    runs, horizon, alpha = 4000, 300, 0.2  # a loose alpha so false alarms are frequent enough to count
    harm = sq.harm_spec(0.05, alpha, horizon)
    rng = np.random.default_rng(0)
    times = sq.alarm_times(harm, lambda start, n: rng.random((runs, n)) < 0.05, runs, horizon)
    score = sq.score_spec(3.0, 0.0, alpha, horizon)
    times_s = sq.alarm_times(score, lambda start, n: rng.choice([1.0, 5.0], size=(runs, n)), runs, horizon)
    for t in (times, times_s):
        assert np.isfinite(t).mean() <= alpha
    # and the bound is not vacuous: at 4x the limit nearly every run alarms within the horizon
    drift = sq.alarm_times(harm, lambda start, n: rng.random((runs, n)) < 0.2, runs, horizon)
    assert np.isfinite(drift).mean() > 0.95


def test_a_late_drift_is_caught_about_as_fast_as_an_early_one() -> None:
    """The point of restarting: 3000 good audits first do not slow detection (an e-process would be)."""
    spec = sq.harm_spec(0.02, sq.split_alpha(0.05, 4), 4000)
    delays, runs = [], 300
    for good in (0, 3000):
        rng = np.random.default_rng(11)

        def draw(start: int, n: int, good: int = good, rng: np.random.Generator = rng) -> np.ndarray:
            rate = np.where(np.arange(start, start + n) < good, 0.003, 0.1)
            return rng.random((runs, n)) < rate

        times = sq.alarm_times(spec, draw, runs, 4000)
        assert np.all(times > good)  # no false alarm in the good stretch
        delays.append(np.median(times - good))
    assert delays[1] <= 1.2 * delays[0]
    assert 100 < delays[0] < 300  # about 4-5 weeks at 40 audits a week


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    """benchmarks/monitor_detection.py, whose small versions these are."""
    return load_benchmark("monitor_detection")


def test_bench_scores_have_the_stated_moments(bench: ModuleType) -> None:
    a, b = bench.beta_params(4.3, 0.8)
    x = 1 + 4 * np.random.default_rng(0).beta(a, b, 200_000)
    assert (x.mean(), x.std()) == pytest.approx((4.3, 0.8), abs=0.01)


def test_bench_a_drift_to_10_percent_harm_and_lower_scores_is_caught_within_8_weeks(bench: ModuleType) -> None:
    delays = bench.drift_delays(np.random.default_rng(1), 200, 40, bench.Drift(0.10, 3.4))
    assert ((delays > 0) & (delays <= 8)).mean() >= 0.95
    harm_only = bench.drift_delays(np.random.default_rng(2), 200, 40, bench.Drift(0.10, 4.3), ("harm",))
    assert 2 < np.median(harm_only) < 8  # the flags alone are slower: the scores carry more signal


def test_bench_b_a_year_of_stable_categories_rarely_demotes_any(bench: ModuleType) -> None:
    assert bench.false_demotions(np.random.default_rng(3), 200, 40) <= 0.05


def test_bench_c_more_audits_catch_a_harm_drift_sooner(bench: ModuleType) -> None:
    rng = np.random.default_rng(4)
    medians = [bench.quantiles(bench.drift_delays(rng, 100, n, bench.Drift(0.16, 4.3), ("harm",)))[0]
               for n in (20, 80)]
    assert 0 < medians[1] < medians[0] < 5


def test_promotion_e_processes_hold_alpha_at_the_null_and_find_a_clear_improvement():
    """Anytime-valid: at the null boundary the chance of ever crossing 1/alpha, however long one looks,
    stays within alpha (400 runs of 600 reviews); a clearly better category crosses."""
    from eval.stats.sequential import first_crossing, log_evalues_above, log_evalues_rate_below

    rng = np.random.default_rng(11)
    alpha, runs, n = 0.1, 400, 600
    scores = np.clip(rng.normal(3.75, 0.8, (runs, n)), 1, 5)
    scores += 3.75 - scores.mean(axis=1, keepdims=True)  # each run's mean exactly at the null
    at_null = {
        "mean": sum(first_crossing(log_evalues_above(np.clip(s, 1, 5), 3.75, 1.0), alpha) is not None for s in scores),
        "acceptable": sum(first_crossing(log_evalues_above((rng.random(n) < 0.85).astype(float), 0.85, 0.0), alpha)
                          is not None for _ in range(runs)),
        "harm": sum(first_crossing(log_evalues_rate_below((rng.random(n) < 0.02).astype(float), 0.02), alpha)
                    is not None for _ in range(runs)),
    }
    assert all(k / runs <= alpha for k in at_null.values()), at_null
    better = np.clip(rng.normal(4.2, 0.8, n), 1, 5)
    assert first_crossing(log_evalues_above(better, 3.75, 1.0), 0.025) is not None
    assert first_crossing(log_evalues_rate_below((rng.random(2000) < 0.002).astype(float), 0.02), 0.025) is not None
    assert first_crossing(log_evalues_above(np.full(0, 4.0), 3.75, 1.0), 0.025) is None
