"""Demotion by the monitor's e-detectors (eval.stats.sequential): detection delays and false demotions.

    .venv/bin/python benchmarks/monitor_detection.py               # 1000 runs per setting
    .venv/bin/python benchmarks/monitor_detection.py --runs 200

Thresholds as the audit plan sets them: a family of CATEGORIES automated categories, two tests each,
alpha 0.05 over a 52-week horizon at the audit rate of the setting. Audits are a random sample of live
answers: harmful flags are Bernoulli, review scores a Beta on [1, 5] with the stated mean and sd.
A drift is a step change at a random week 10-20 after a stable period (0.3% harmful, scores 4.3);
delays are counted in weeks of audits from the drift start, and an alarm before it is a false one.

(a) drift to 10% harmful with scores falling to 3.4, 40 audits a week: share caught within 8 weeks;
(b) 52 stable weeks of CATEGORIES categories: share of runs with any false demotion (either test),
    and the same with every category exactly at the limits (the hardest case the bound covers);
(c) harm-only drift to 4x and 8x the automate limit at 20, 40 and 80 audits a week: median and
    95th-percentile delay in weeks.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from eval.stats.sequential import SCORE_HIGH, SCORE_LOW, alarm_times, harm_spec, score_spec, split_alpha

CATEGORIES, ALPHA, WEEKS = 4, 0.05, 52
LIMIT, BASELINE, MARGIN = 0.02, 4.15, 0.25  # the live score must stay above 3.9
STABLE_HARM, STABLE_SCORE, SCORE_SD = 0.003, 4.3, 0.8


@dataclass(frozen=True)
class Drift:
    """A step change in one category's live answers."""

    harm: float
    """Harmful rate after the change."""
    score: float
    """Mean review score after the change (sd SCORE_SD)."""


def beta_params(mean: float, sd: float) -> tuple[float, float]:
    """Beta(a, b) whose image on [1, 5] has this mean and sd: bounded scores with the stated moments."""
    m, v = (mean - SCORE_LOW) / (SCORE_HIGH - SCORE_LOW), (sd / (SCORE_HIGH - SCORE_LOW)) ** 2
    total = m * (1 - m) / v - 1
    if total <= 0:
        raise ValueError(f"no Beta on [1, 5] has mean {mean} and sd {sd}")
    return m * total, (1 - m) * total


def _draws(rng: np.random.Generator, runs: int, starts: np.ndarray, drift: Drift
           ) -> tuple[Callable[[int, int], np.ndarray], Callable[[int, int], np.ndarray]]:
    """Harmful flags and scores of each run's audits; audit i of run r has drifted once i >= starts[r]."""
    stable_ab, drift_ab = beta_params(STABLE_SCORE, SCORE_SD), beta_params(drift.score, SCORE_SD)

    def after(start: int, n: int) -> np.ndarray:
        return np.arange(start, start + n)[None, :] >= starts[:, None]

    def harm(start: int, n: int) -> np.ndarray:
        return rng.random((runs, n)) < np.where(after(start, n), drift.harm, STABLE_HARM)

    def score(start: int, n: int) -> np.ndarray:
        late = after(start, n)
        a, b = (np.where(late, d, s) for s, d in zip(stable_ab, drift_ab))
        return SCORE_LOW + (SCORE_HIGH - SCORE_LOW) * rng.beta(a, b)

    return harm, score


def first_alarms(rng: np.random.Generator, runs: int, per_week: int, starts: np.ndarray, drift: Drift,
                 tests: tuple[str, ...] = ("harm", "score")) -> np.ndarray:
    """1-based audit of each run's first alarm over the given tests (inf: none within the horizon)."""
    horizon = per_week * WEEKS
    alpha_each = split_alpha(ALPHA, CATEGORIES)
    specs = {"harm": harm_spec(LIMIT, alpha_each, horizon), "score": score_spec(BASELINE, MARGIN, alpha_each, horizon)}
    draws = dict(zip(("harm", "score"), _draws(rng, runs, starts, drift)))
    return np.min([alarm_times(specs[t], draws[t], runs, horizon) for t in tests], axis=0)


def drift_delays(rng: np.random.Generator, runs: int, per_week: int, drift: Drift,
                 tests: tuple[str, ...] = ("harm", "score")) -> np.ndarray:
    """Weeks from a drift at a random week 10-20 to the alarm (negative: a false alarm before it; inf: never)."""
    starts = rng.integers(10, 21, size=runs) * per_week
    return (first_alarms(rng, runs, per_week, starts, drift, tests) - starts) / per_week


def false_demotions(rng: np.random.Generator, runs: int, per_week: int,
                    live: Drift = Drift(STABLE_HARM, STABLE_SCORE)) -> float:
    """Share of runs in which any of CATEGORIES categories steady at ``live`` is demoted within the horizon."""
    alarms = first_alarms(rng, runs * CATEGORIES, per_week, np.zeros(runs * CATEGORIES, int), live)
    return float(np.isfinite(alarms.reshape(runs, CATEGORIES)).any(axis=1).mean())


def quantiles(delays: np.ndarray) -> tuple[float, float]:
    """Median and 95th percentile (an order statistic, so runs never caught count as inf)."""
    q = np.quantile(delays, [0.5, 0.95], method="inverted_cdf")
    return float(q[0]), float(q[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    print(f"{CATEGORIES} categories x 2 tests, alpha {ALPHA} over {WEEKS} weeks, limit {LIMIT:.0%}, "
          f"scores must stay above {BASELINE - MARGIN:.2f}; {args.runs} runs per setting")
    delays = drift_delays(rng, args.runs, 40, Drift(0.10, 3.4))
    median, p95 = quantiles(delays)
    caught = float(((delays > 0) & (delays <= 8)).mean())
    print(f"(a) 0.3% -> 10% harmful, scores 4.3 -> 3.4, 40 audits a week: caught within 8 weeks in {caught:.1%} "
          f"of runs (median {median:.1f} weeks, 95th percentile {p95:.1f}; before the drift {(delays <= 0).mean():.1%})")
    stable, at_limits = (false_demotions(rng, args.runs, 40, live)
                         for live in (Drift(STABLE_HARM, STABLE_SCORE), Drift(LIMIT, BASELINE - MARGIN)))
    print(f"(b) {WEEKS} stable weeks, {CATEGORIES} categories, 40 audits a week: any false demotion in {stable:.1%} "
          f"of runs; at the limits themselves (harmful {LIMIT:.0%}, mean score {BASELINE - MARGIN:.2f}) in {at_limits:.1%}")
    print("(c) harm-only drift, weeks from the drift to the alarm (median / 95th percentile):")
    for per_week in (20, 40, 80):
        cells = []
        for mult in (4, 8):
            m, p = quantiles(drift_delays(rng, args.runs, per_week, Drift(mult * LIMIT, STABLE_SCORE), ("harm",)))
            cells.append(f"{mult}x ({mult * LIMIT:.0%}): {m:4.1f} / {p:4.1f}")
        print(f"    {per_week:3d} audits a week   " + "   ".join(cells))
    print(f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
