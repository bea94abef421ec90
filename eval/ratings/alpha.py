"""Ordinal Krippendorff's alpha over rated units, with an exact, cheap bootstrap over items.

Computed here because the ``krippendorff`` package is GPL-licensed; the tests check this
implementation against it to 1e-9.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

VALUES = 5


def unit_counts(units: np.ndarray, scores: np.ndarray, n_units: int | None = None) -> np.ndarray:
    """Counts of each value 1..5 per unit (n_units x 5) from long-format (unit code, score); ``n_units``
    defaults to the highest code + 1 (pass it when the last units may have no score)."""
    if n_units is None:
        n_units = int(units.max()) + 1 if units.size else 0
    flat = units.astype(np.int64) * VALUES + (scores.astype(np.int64) - 1)
    return np.bincount(flat, minlength=n_units * VALUES).reshape(n_units, VALUES)


def coincidences(counts: np.ndarray) -> np.ndarray:
    """Krippendorff's coincidence matrix; units with one value contribute nothing."""
    counts = np.asarray(counts, dtype=float)
    m = counts.sum(axis=1)
    weights = np.where(m >= 2, 1.0 / np.maximum(m - 1.0, 1.0), 0.0)
    weighted = counts * weights[:, None]
    return weighted.T @ counts - np.diag(weighted.sum(axis=0))


def _ordinal_delta(marginals: np.ndarray) -> np.ndarray:
    """Squared ordinal distances for each value pair, per row of marginals (... x 5 x 5)."""
    cum = np.cumsum(marginals, axis=-1)
    lo = np.minimum.outer(np.arange(VALUES), np.arange(VALUES))
    hi = np.maximum.outer(np.arange(VALUES), np.arange(VALUES))
    before_lo = np.where(lo > 0, cum[..., np.maximum(lo - 1, 0)], 0.0)
    between = cum[..., hi] - before_lo
    return (between - (marginals[..., lo] + marginals[..., hi]) / 2.0) ** 2


def alpha_from_coincidences(o: np.ndarray) -> np.ndarray:
    """Ordinal alpha of one coincidence matrix (5 x 5) or a stack of them (... x 5 x 5)."""
    marg = o.sum(axis=-1)
    n = marg.sum(axis=-1)
    delta = _ordinal_delta(marg)
    observed = (o * delta).sum(axis=(-2, -1))
    expected = (marg[..., :, None] * marg[..., None, :] * delta).sum(axis=(-2, -1)) / (n - 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(expected > 0, 1.0 - observed / np.where(expected > 0, expected, 1.0), np.nan)


def ordinal_alpha(counts: np.ndarray) -> float:
    """Krippendorff's alpha (ordinal) from unit value counts; NaN when nothing is pairable."""
    return float(alpha_from_coincidences(coincidences(counts)))


@dataclass(frozen=True)
class AgreementStats:
    alpha: float
    low: float
    high: float
    units: int
    pairable_values: float
    exact: float
    within_one: float

    def as_dict(self) -> dict[str, float | int]:
        return {
            "alpha": self.alpha, "low": self.low, "high": self.high, "units": self.units,
            "pairable_values": self.pairable_values, "exact": self.exact, "within_one": self.within_one,
        }


def item_alpha(
    long: pd.DataFrame, n_boot: int, confidence: float, rng: np.random.Generator | None
) -> AgreementStats:
    """Alpha over (item, side) units with a bootstrap interval that resamples items.

    ``long`` has columns item, side (0/1), score. Items with the same value counts on both
    sides contribute the same coincidences, so resampling n items is a multinomial draw over
    those patterns: exact, and as cheap for a million items as for a hundred.
    """
    items, item_codes = pd.factorize(long["item"])
    counts = unit_counts(items * 2 + long["side"].to_numpy(), long["score"].to_numpy(), 2 * len(item_codes))
    counts = counts.reshape(len(item_codes), 2 * VALUES)
    if counts.shape[0] == 0:
        nan = float("nan")
        return AgreementStats(nan, nan, nan, 0, 0.0, nan, nan)
    patterns, freq = _patterns(counts)
    per_pattern = np.stack(
        [coincidences(p.reshape(2, VALUES)) for p in patterns]
    )  # one 5x5 per pattern: a few hundred at most, whatever the data size
    o = np.tensordot(freq, per_pattern, axes=1)
    est = float(alpha_from_coincidences(o))
    pairable = counts.reshape(-1, 2, VALUES).sum(axis=2) >= 2
    n = o.sum()
    exact = float(np.trace(o) / n) if n else float("nan")
    near = np.abs(np.subtract.outer(np.arange(VALUES), np.arange(VALUES))) <= 1
    within = float(o[near].sum() / n) if n else float("nan")
    low = high = float("nan")
    if rng is not None and n > 0 and np.isfinite(est):
        draws = rng.multinomial(len(item_codes), freq / freq.sum(), size=n_boot)
        with threadpool_limits(1, user_api="blas"):  # small products: threads only contend (see stats)
            boot = alpha_from_coincidences(np.tensordot(draws.astype(float), per_pattern, axes=1))
        tail = (1.0 - confidence) / 2.0
        low, high = (float(v) for v in np.nanquantile(boot, [tail, 1.0 - tail]))
    return AgreementStats(est, low, high, int(pairable.sum()), float(n), exact, within)


def _patterns(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows and their frequencies; rows packed into one integer when they fit, since
    sorting a million 1-D codes is far faster than ``np.unique(axis=0)``."""
    base = int(counts.max()) + 1
    if base ** counts.shape[1] >= 2 ** 62:
        patterns, freq = np.unique(counts, axis=0, return_counts=True)
        return patterns, freq
    codes = counts.astype(np.int64) @ (base ** np.arange(counts.shape[1], dtype=np.int64))
    _, first, freq = np.unique(codes, return_index=True, return_counts=True)
    return counts[first], freq
