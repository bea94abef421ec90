"""Anytime-valid change detection for live audits of automated categories (e-detectors).

After a category is automated, QA audits a random sample of its live AI answers; each audit gives
``harmful`` (0/1) and a ``score`` in [1, 5]. Two detectors run per category:

- ``rate_above``: the harmful rate has risen above the automate limit p0;
- ``mean_below``: the mean review score has fallen below the human baseline minus the margin.

Why e-detectors (Shin, Ramdas & Rinaldo 2022) and not an e-process started at the decision: after
months of good audits a betting e-process has lost almost all its wealth and needs many bad audits to
climb back, so a late drift is caught late. An e-detector restarts at every audit: it is the
Shiryaev-Roberts (SR) sum of e-processes, one started at each audit,

    S_n = L_n * (S_{n-1} + 1),        S_0 = 1 (one e-process counted as started at the decision),

where L_n is the e-value of audit n (E[L_n | past] <= 1 under the null). Every alternative keeps its
own S; the detector is their equal-weight mean. SR rather than CUSUM (max instead of sum) because the
mean of SR statistics is exactly the SR sum of the mixed e-processes, so the mixture stays a recursion
on one number per alternative (a CUSUM of the mixture would need every start time); CUSUM <= SR, so
at the same threshold SR alarms no later.

e-values:
- harm: likelihood ratios L = (p/p0)^x ((1-p)/(1-p0))^(1-x) for a grid of p above p0 (2x, 4x, 8x
  p0); E[L] <= 1 for every true rate <= p0, so the null "rate <= p0" is composite and still covered.
- score: betting e-values L = 1 + b (mu0 - x) with fixed bets 0 < b < 1/(5 - mu0) (fixed, hence
  predictable; positive for every x in [1, 5]); E[L] <= 1 whenever the mean is >= mu0.

Threshold and why it is valid: under the null E[S_n | past] <= S_{n-1} + 1, so S_n + (N - n) is a
non-negative supermartingale for n <= N starting at S_0 + N = N + 1, and Ville's inequality gives
P(S_n >= c for some n <= N) <= (N + 1) / c. With c = (N + 1) / alpha_each the chance of a false alarm
within N audits is at most alpha_each; :func:`split_alpha` divides alpha by the number of tests (two per
automated category, one per assist category), so the chance of any false alarm, over all categories and
tests, is at most alpha (Bonferroni).
Past the horizon N the guarantee no longer holds: the plan must be renewed.

Written here rather than taken from ``confseq`` (MIT): it gives confidence sequences and e-processes
started at one time, not restarting e-detectors with a horizon threshold.

API (``monitor`` codes against this shape; state is plain data, stored in ``monitor.json``)::

    spec = harm_spec(limit, alpha_each, horizon) / score_spec(baseline, margin, alpha_each, horizon)
    state = new_state(spec)
    state = update(spec, state, observations)   # pure; update(update(s, a), b) == update(s, a ++ b)
    state.alarm_at                               # 1-based audit that crossed the threshold, or None

``update`` loops over audits (vectorised over alternatives) so a split update repeats the very same
floating-point operations as one over all audits: resumed monitors agree to the last bit.
:func:`alarm_times` runs the same recursion over many simulated runs at once (plans, benchmarks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

SCORE_LOW, SCORE_HIGH = 1.0, 5.0
"""The review score scale (reviews are mapped linearly to 1-5 on import)."""
RATE_MULTIPLIERS = (2.0, 4.0, 8.0)
"""Harmful rates the harm detector bets on, as multiples of the limit."""
BET_FRACTIONS = (0.1, 0.25, 0.5, 0.9)
"""Score bets as fractions of the largest bet that keeps every e-value positive, 1 / (5 - mu0)."""
BLOCK = 512
"""Audits simulated per block in :func:`alarm_times` (bounds memory; lets finished runs stop early)."""


@dataclass(frozen=True)
class DetectorSpec:
    """One detector of one category: what it tests and when it alarms."""

    kind: Literal["rate_above", "mean_below"]
    """``rate_above``: harmful flags (0/1) against the limit; ``mean_below``: scores in [1, 5]."""
    null: float
    """p0 (the automate limit) for ``rate_above``; mu0 = baseline - margin for ``mean_below``."""
    alternatives: tuple[float, ...]
    """Harmful rates p > p0 for ``rate_above``; bets b per score point (0 < b < 1/(5 - mu0)) for ``mean_below``."""
    threshold: float
    """Alarm when the detector S_n reaches this (not its log): (horizon + 1) / alpha_each."""


class DetectorState(BaseModel):
    """Where a detector stands after ``n`` audits; JSON-serialisable, so a monitor can resume."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    statistic: list[float]
    """log S_n per alternative (S_0 = 1, so a new detector holds zeros)."""
    n: int = 0
    """Audits seen."""
    alarm_at: int | None = None
    """1-based index of the audit at which the detector first reached its threshold."""
    peak: float = 0.0
    """Largest log of the detector (the mean of the S_n over alternatives) seen so far."""


def split_alpha(alpha: float, automated: int, assisted: int = 0) -> float:
    """Each detector's share of the family-wise alpha (Bonferroni): two tests per automated category,
    one per assist category (harm on its reviewed drafts), as the monitor runs them."""
    return alpha / max(2 * automated + assisted, 1)


def _threshold(alpha_each: float, horizon: int) -> float:
    if not 0 < alpha_each < 1 or horizon < 1:
        raise ValueError(f"need 0 < alpha_each < 1 and horizon >= 1, got {alpha_each}, {horizon}")
    return (horizon + 1) / alpha_each


def harm_spec(limit: float, alpha_each: float, horizon: int) -> DetectorSpec:
    """Harmful rate above ``limit``, betting on 2x, 4x, 8x it (capped halfway to 1), over ``horizon`` audits."""
    if not 0 < limit < 1:
        raise ValueError(f"the harmful-rate limit must be in (0, 1), got {limit}")
    rates = sorted({min(m * limit, (1 + limit) / 2) for m in RATE_MULTIPLIERS})
    return DetectorSpec("rate_above", limit, tuple(rates), _threshold(alpha_each, horizon))


def score_spec(baseline: float, margin: float, alpha_each: float, horizon: int) -> DetectorSpec:
    """Mean score below ``baseline - margin``, with fixed bets, over ``horizon`` audits."""
    mu0 = baseline - margin
    if not SCORE_LOW < mu0 < SCORE_HIGH:
        raise ValueError(f"baseline - margin must lie inside the score scale (1, 5), got {mu0}")
    bets = tuple(f / (SCORE_HIGH - mu0) for f in BET_FRACTIONS)
    return DetectorSpec("mean_below", mu0, bets, _threshold(alpha_each, horizon))


def new_state(spec: DetectorSpec) -> DetectorState:
    """A detector before any audit (S_0 = 1 for every alternative)."""
    return DetectorState(statistic=[0.0] * len(spec.alternatives))


def log_evalues(spec: DetectorSpec, observations: np.ndarray) -> np.ndarray:
    """log e-value of each observation per alternative: shape ``observations.shape + (K,)``."""
    x = np.asarray(observations, dtype=float)[..., None]
    alt = np.asarray(spec.alternatives)
    if spec.kind == "rate_above":
        if np.any((x != 0) & (x != 1)):
            raise ValueError("harmful flags must be 0 or 1")
        p0 = spec.null
        return np.where(x == 1, np.log(alt / p0), np.log1p(-alt) - np.log1p(-p0))
    if np.any((x < SCORE_LOW) | (x > SCORE_HIGH)) or np.any(np.isnan(x)):
        raise ValueError("review scores must lie in [1, 5]")
    return np.log1p(alt * (spec.null - x))


def _step(log_s: np.ndarray, log_e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One SR step for every alternative (last axis); also the log of their mean."""
    log_s = log_e + np.logaddexp(log_s, 0.0)
    top = log_s.max(axis=-1)
    return log_s, top + np.log(np.mean(np.exp(log_s - top[..., None]), axis=-1))


def update(spec: DetectorSpec, state: DetectorState, observations: np.ndarray) -> DetectorState:
    """The state after these audits, in order (harmful flags or scores, by ``spec.kind``); pure."""
    log_e = log_evalues(spec, np.asarray(observations, dtype=float).ravel())
    log_s = np.asarray(state.statistic, dtype=float)
    if log_s.shape != (len(spec.alternatives),):
        raise ValueError(f"state has {log_s.size} statistics, the spec {len(spec.alternatives)} alternatives")
    log_c = np.log(spec.threshold)
    alarm_at, peak = state.alarm_at, state.peak
    for i, row in enumerate(log_e):
        log_s, mixed = _step(log_s, row)
        peak = max(peak, float(mixed))
        if alarm_at is None and mixed >= log_c:
            alarm_at = state.n + i + 1
    return DetectorState(statistic=[float(v) for v in log_s], n=state.n + len(log_e), alarm_at=alarm_at, peak=peak)


def alarm_times(spec: DetectorSpec, draw: Callable[[int, int], np.ndarray], runs: int, limit: int) -> np.ndarray:
    """1-based audit at which each of ``runs`` simulated runs first alarms (inf: not within ``limit``).

    ``draw(start, n)`` returns audits ``start .. start + n - 1`` (0-based) of every run, shape (runs, n);
    blocks of :data:`BLOCK` audits are drawn until every run has alarmed or ``limit`` audits are done,
    so a seeded ``draw`` gives the same times every time.
    """
    log_s = np.zeros((runs, len(spec.alternatives)))
    first = np.full(runs, np.inf)
    log_c = np.log(spec.threshold)
    start = 0
    while start < limit and np.isinf(first).any():
        log_e = log_evalues(spec, draw(start, min(BLOCK, limit - start)))
        for t in range(log_e.shape[1]):
            log_s, mixed = _step(log_s, log_e[:, t])
            first[np.isinf(first) & (mixed >= log_c)] = start + t + 1
        start += log_e.shape[1]
    return first


def first_crossing(log_e: np.ndarray, alpha: float) -> int | None:
    """1-based observation at which the mixture e-process (started at the first observation, the mean over
    alternatives of the running products) first reaches 1 / alpha; None if it never does. ``log_e``: shape
    (n, K). By Ville's inequality this happens with chance at most alpha under the null, however often one
    looks: the evidence a promotion needs."""
    if len(log_e) == 0:
        return None
    log_m = np.cumsum(log_e, axis=0)
    top = log_m.max(axis=1)
    mixed = top + np.log(np.mean(np.exp(log_m - top[:, None]), axis=1))
    hit = np.flatnonzero(mixed >= np.log(1 / alpha))
    return int(hit[0]) + 1 if hit.size else None


def log_evalues_above(values: np.ndarray, null: float, low: float) -> np.ndarray:
    """log e-values against H0: mean <= ``null`` for values >= ``low``: fixed bets 1 + b (x - null) with
    b a fraction of 1 / (null - low), so every e-value stays positive; shape (n, K)."""
    if not null > low:
        raise ValueError(f"the null {null} must lie above the scale's low end {low}")
    bets = np.asarray(BET_FRACTIONS) / (null - low)
    return np.log1p(bets * (np.asarray(values, float)[:, None] - null))


def log_evalues_rate_below(flags: np.ndarray, limit: float) -> np.ndarray:
    """log likelihood ratios against H0: rate >= ``limit``, betting on 1/2, 1/4, 1/8 of it; shape (n, K).
    E[ratio] <= 1 for every rate at or above the limit, so the composite null is covered."""
    q = limit / np.asarray(RATE_MULTIPLIERS)
    x = np.asarray(flags, float)[:, None]
    return np.where(x == 1, np.log(q / limit), np.log1p(-q) - np.log1p(-limit))
