"""Intervals, the ticket-clustered bootstrap, non-inferiority, Holm, and sample sizes.

Everything here is a pure function of arrays; randomness comes in as a seeded
``numpy.random.Generator``. Exact binomial bounds come from scipy's beta/binomial
distributions; the sample-size searches are written here because no library solves
"smallest n whose exact Clopper-Pearson bound passes with given power".
"""

from __future__ import annotations

import math

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats as sps
from threadpoolctl import threadpool_limits

BOOT_CELLS = 4_000_000
"""Resample-by-cluster cells per bootstrap chunk: bounds memory (~32 MB) for any data size."""


def zero_failure_n(bound: float, confidence: float) -> int:
    """Smallest n whose exact one-sided upper bound with 0 failures in n is at most ``bound``."""
    return math.ceil(math.log(1.0 - confidence) / math.log(1.0 - bound) - 1e-9)


def clopper_pearson_upper(k: int, n: int, confidence: float) -> float:
    """Exact one-sided upper bound of a binomial rate (1.0 when nothing was observed)."""
    if n == 0 or k >= n:
        return 1.0
    return float(sps.beta.ppf(confidence, k + 1, n - k))


def clopper_pearson(k: int, n: int, confidence: float) -> tuple[float, float]:
    """Exact two-sided interval of a binomial rate."""
    if n == 0:
        return 0.0, 1.0
    tail = (1.0 - confidence) / 2.0
    low = 0.0 if k == 0 else float(sps.beta.ppf(tail, k, n - k + 1))
    high = 1.0 if k == n else float(sps.beta.ppf(1.0 - tail, k + 1, n - k))
    return low, high


@dataclass(frozen=True)
class HolmResult:
    adjusted: np.ndarray
    """Holm-adjusted p-values (monotone step-down maxima, capped at 1)."""
    reject: np.ndarray
    levels: np.ndarray
    """The level each hypothesis is tested at in the step-down: alpha / (m - rank + 1)."""


def holm(pvalues: np.ndarray, alpha: float) -> HolmResult:
    """Holm step-down; in-house because we also need each hypothesis' own level for its bound."""
    p = np.asarray(pvalues, dtype=float)
    m = p.size
    order = np.argsort(p, kind="stable")
    factors = m - np.arange(m)
    adjusted_sorted = np.minimum(1.0, np.maximum.accumulate(p[order] * factors))
    adjusted = np.empty(m)
    adjusted[order] = adjusted_sorted
    levels = np.empty(m)
    levels[order] = alpha / factors
    return HolmResult(adjusted=adjusted, reject=adjusted <= alpha, levels=levels)


def _resample_weights(n_clusters: int, n_boot: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """How often each cluster is drawn in each resample, in chunks of rows (n_rows x n_clusters).

    Row r's draws are offset by r * n_clusters so one ``bincount`` counts every row at once;
    32-bit draws because a chunk never exceeds BOOT_CELLS cells (and 32-bit is ~40% faster).
    """
    rows = max(1, min(n_boot, BOOT_CELLS // max(n_clusters, 1)))
    done = 0
    while done < n_boot:
        size = min(rows, n_boot - done)
        draws = rng.integers(0, n_clusters, size=(size, n_clusters), dtype=np.uint32)
        draws += (np.arange(size, dtype=np.uint32) * np.uint32(n_clusters))[:, None]
        counts = np.bincount(draws.ravel(), minlength=size * n_clusters)
        yield counts.reshape(size, n_clusters).astype(np.float64)
        done += size


def cluster_bootstrap(
    num: np.ndarray, den: np.ndarray, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """Ratio-of-sums estimates over resampled clusters, shape (n_boot, k).

    ``num``/``den`` are per-cluster sums (n_clusters x k); resampling whole clusters keeps
    the items of a ticket together. Each chunk of resamples is one matrix product, no loop
    per resample. A resample whose denominator is 0 gives NaN.
    """
    k = num.shape[1]
    both = np.hstack([np.asarray(num, dtype=float), np.asarray(den, dtype=float)])
    # One BLAS thread: these products are small and threaded OpenBLAS on a busy 2-core
    # machine ran them ~15x slower than a single thread (measured).
    with threadpool_limits(1, user_api="blas"):
        sums = np.vstack([weights @ both for weights in _resample_weights(both.shape[0], n_boot, rng)])
    top, bottom = sums[:, :k], sums[:, k:]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(bottom > 0, top / np.where(bottom > 0, bottom, 1.0), np.nan)


def percentile_interval(boot: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided percentile interval per column (NaN resamples ignored)."""
    tail = (1.0 - confidence) / 2.0
    with np.errstate(invalid="ignore"):
        low, high = np.nanquantile(boot, [tail, 1.0 - tail], axis=0)
    return low, high


def noninferiority_p(estimate: float, se: float, margin: float, df: int) -> float:
    """One-sided p of H0: diff <= -margin, t with ``df`` on the bootstrap standard error.

    A smooth tail instead of counting bootstrap resamples: Holm across many categories
    needs p-values far below 1/n_boot.
    """
    if not np.isfinite(se) or se <= 0 or df < 1:
        return 0.0 if se == 0 and estimate > -margin else 1.0
    return float(sps.t.sf((estimate + margin) / se, df))


def t_lower_bound(estimate: float, se: float, df: int, level: float) -> float:
    """One-sided lower bound at ``level``, the dual of :func:`noninferiority_p`."""
    if not np.isfinite(se) or df < 1:
        return float("-inf")
    return float(estimate - sps.t.isf(level, df) * se)


def more_items_for_mean(
    n: int, estimate: float, se: float, bound: float, level: float, power: float
) -> int | None:
    """More items so a one-sided test of ``estimate > bound`` passes with ``power``.

    Closed form n = ((z_level + z_power) * sd_eff / (estimate - bound))^2, with the per-item
    spread taken from the observed clustered standard error (sd_eff = se * sqrt(n)), so the
    design effect of tickets is kept. None when the observed effect is on the wrong side.
    """
    gap = estimate - bound
    if n == 0 or gap <= 0 or not np.isfinite(se):
        return None
    sd_eff = se * np.sqrt(n)
    total = ((sps.norm.isf(level) + sps.norm.ppf(power)) * sd_eff / gap) ** 2
    return max(0, int(np.ceil(total)) - n)


SCAN = 1000
"""How far below the bisection result to look for a smaller n that also works."""


def _smallest_n(works: Callable[[np.ndarray], np.ndarray], start: int, cap: int = 1 << 24) -> int | None:
    """Smallest n >= start where ``works`` (vectorised over n) holds.

    Exact binomial power is saw-toothed in n (teeth ~1/rate wide), so after doubling and
    bisecting, the last SCAN values below the result are all checked as well.
    """
    def ok(n: int) -> bool:
        return bool(works(np.array([n]))[0])

    lo, hi = start - 1, max(start, 1)
    while not ok(hi):
        lo, hi = hi, hi * 2
        if hi > cap:
            return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    candidates = np.arange(max(start, hi - SCAN), hi + 1)
    return int(candidates[np.argmax(works(candidates))])


def _upper_bound_power(n: np.ndarray, rate: float, threshold: float, confidence: float) -> np.ndarray:
    """P(Clopper-Pearson upper bound <= threshold) when failures ~ Binomial(n, rate).

    The bound of k failures is <= threshold exactly when P(Bin(n, threshold) <= k) <= 1 - conf.
    """
    q = 1.0 - confidence
    k = sps.binom.ppf(q, n, threshold)
    k_max = k - (sps.binom.cdf(k, n, threshold) > q)
    return np.where(k_max >= 0, sps.binom.cdf(k_max, n, rate), 0.0)


def more_items_for_rate_bound(
    n: int, k: int, threshold: float, confidence: float, power: float
) -> int | None:
    """More items so the exact upper bound of the failure rate clears ``threshold`` with ``power``.

    Assumes the observed rate k/n continues; None when it is already at or above the threshold.
    """
    rate = k / n if n else 0.0
    if rate >= threshold:
        return None
    total = _smallest_n(lambda m: _upper_bound_power(m, rate, threshold, confidence) >= power, max(n, 1))
    return None if total is None else max(0, total - n)


@dataclass(frozen=True)
class ClusteredMeans:
    """Per column: ratio-of-sums mean over defined values, percentile interval, bootstrap SE."""

    estimate: np.ndarray
    low: np.ndarray
    high: np.ndarray
    se: np.ndarray
    n: np.ndarray
    clusters: int


def clustered_means(
    values: np.ndarray, clusters: np.ndarray, confidence: float, n_boot: int, rng: np.random.Generator
) -> ClusteredMeans:
    """Means of each column of ``values`` (items x k, NaN = not answered) with a bootstrap over clusters.

    The SE is the bootstrap SD scaled by sqrt(g / (g - 1)) for g clusters, the usual small-sample
    correction that makes it match the linearised cluster-robust (CR1) standard error.
    """
    values = np.asarray(values, dtype=float)
    defined = ~np.isnan(values)
    codes, g = np.unique(clusters, return_inverse=True)[1], len(np.unique(clusters))
    num = np.stack([np.bincount(codes, weights=np.where(defined[:, j], values[:, j], 0.0), minlength=g)
                    for j in range(values.shape[1])], axis=1)
    den = np.stack([np.bincount(codes, weights=defined[:, j].astype(float), minlength=g)
                    for j in range(values.shape[1])], axis=1)
    total = den.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        estimate = np.where(total > 0, num.sum(axis=0) / np.where(total > 0, total, 1.0), np.nan)
    boot = cluster_bootstrap(num, den, n_boot, rng)
    low, high, se = (np.full(values.shape[1], np.nan) for _ in range(3))
    some = total > 0
    if some.any():
        low[some], high[some] = percentile_interval(boot[:, some], confidence)
        se[some] = np.nanstd(boot[:, some], axis=0, ddof=1) * np.sqrt(g / max(g - 1, 1))
    return ClusteredMeans(estimate, low, high, se, defined.sum(axis=0), g)


def rounded(obj: Any, digits: int = 6) -> Any:
    """Floats rounded and non-finite ones to null, recursively: byte-stable, valid JSON."""
    if isinstance(obj, float):
        return round(obj, digits) if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: rounded(v, digits) for k, v in obj.items()}
    if isinstance(obj, list):
        return [rounded(v, digits) for v in obj]
    return obj
