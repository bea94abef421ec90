"""Prediction-powered means and rate bounds, with items clustered by ticket.

PPI++ (Angelopoulos, Duchi & Zrnic 2023) on a mean: with ratings ``y`` on the rated items and a
prediction ``f`` on every item, ``estimate = mean_rated(y) + lam * (mean_unrated(f) - mean_rated(f))``.
The rated items measure and remove the predictor's bias whatever its quality; ``lam`` (power tuning,
clipped to [0, 1]) minimises the variance, and ``lam = 0`` is the ratings-only estimate.

Written here rather than called from ppi-python (MIT; the tests use it as the reference on
unclustered data) for two reasons: its standard errors treat items as independent, and items of a
ticket are not; and its rare-event intervals are CLT intervals, which collapse to a point when
judge and reviewers never disagree on a critical failure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eval.stats import clopper_pearson_upper


@dataclass(frozen=True)
class PPIMean:
    """A prediction-powered mean and its ratings-only counterpart, both with cluster-robust SEs."""

    estimate: float
    se: float
    lam: float
    """The power-tuning weight of the predictions (0: they were worth nothing here)."""
    ratings_only: float
    se_ratings_only: float
    n: int
    """Rated items with a value."""
    unrated: int
    """Items with a prediction only."""
    clusters: int
    """Tickets among the rated items."""

    @property
    def effective_n(self) -> float:
        """Ratings the estimate is worth: the ratings-only sample that would give its SE."""
        if not (self.se > 0 and np.isfinite(self.se_ratings_only)):
            return float(self.n)
        return float(self.n * (self.se_ratings_only / self.se) ** 2)


def _cluster_sums(codes: np.ndarray, weights: np.ndarray, g: int) -> np.ndarray:
    return np.bincount(codes, weights=weights, minlength=g)


def _stratum(y: np.ndarray, f: np.ndarray, codes: np.ndarray, g_all: int) -> tuple[float, float, np.ndarray, np.ndarray]:
    """One stratum's ratings-only mean, prediction gap (unrated - rated mean of f) and the per-ticket
    influence of each (``a``: the ratings' mean, ``b``: the gap)."""
    rated = ~np.isnan(y)
    n, m = int(rated.sum()), int((~rated).sum())
    y_bar = float(y[rated].mean())
    a = _cluster_sums(codes[rated], (y[rated] - y_bar) / n, g_all)
    if m == 0 or n < 2:
        return y_bar, 0.0, a, np.zeros_like(a)
    f_rated, f_unrated = f[rated].mean(), f[~rated].mean()
    b = (_cluster_sums(codes[rated], (f[rated] - f_rated) / n, g_all)
         - _cluster_sums(codes[~rated], (f[~rated] - f_unrated) / m, g_all))
    return y_bar, float(f_unrated - f_rated), a, b


def ppi_mean(y: np.ndarray, f: np.ndarray, clusters: np.ndarray, lam: float | None = None,
             strata: np.ndarray | None = None) -> PPIMean:
    """``y``: the rated value of every item (NaN: not rated), ``f``: the prediction of every item,
    ``clusters``: its ticket. ``lam`` None: power-tuned.

    The SE is the linearised cluster-robust one: per ticket the sum of its items' influence on the
    estimate (rated and unrated items of a ticket alike), scaled by g / (g - 1) for g rated tickets.
    Unclustered, it is ppi-python's ``ppi_mean_ci`` variance times n / (n - 1).

    ``strata``: the sampling stratum of every item, where items were rated at different rates per
    stratum (``eval.decide.design``). The estimate is then sum_h W_h * estimate_h with W_h the
    stratum's share of all items (the inverse-probability weight of its rated items, n_h / N_h
    being their inclusion probability), one power-tuned ``lam`` for all strata, and each ticket's
    influence summed over its strata. A stratum with no rated item has no estimate: NaN.
    """
    y, f = np.asarray(y, float), np.asarray(f, float)
    rated = ~np.isnan(y)
    n, m = int(rated.sum()), int((~rated).sum())
    codes = np.unique(clusters, return_inverse=True)[1]
    g_all = int(codes.max()) + 1 if codes.size else 0
    g = len(np.unique(codes[rated]))
    labels = np.zeros(len(y), dtype=int) if strata is None else np.unique(strata, return_inverse=True)[1]
    shares = np.bincount(labels) / max(len(y), 1)
    if n == 0 or any(not rated[labels == h].any() for h in range(len(shares))):
        return PPIMean(np.nan, np.nan, 0.0, np.nan, np.nan, n, m, g)
    parts = [_stratum(y[labels == h], f[labels == h], codes[labels == h], g_all) for h in range(len(shares))]
    y_bar = sum(w * p[0] for w, p in zip(shares, parts))
    f_gap = sum(w * p[1] for w, p in zip(shares, parts))
    a = sum(w * p[2] for w, p in zip(shares, parts))
    b = sum(w * p[3] for w, p in zip(shares, parts))
    if lam is None:
        bb = float(b @ b)
        lam = float(np.clip(a @ b / bb, 0.0, 1.0)) if bb > 0 else 0.0
    scale = g / (g - 1) if g > 1 else np.nan
    psi = a - lam * b
    return PPIMean(
        estimate=float(y_bar + lam * f_gap), se=float(np.sqrt(scale * psi @ psi)), lam=lam,
        ratings_only=float(y_bar), se_ratings_only=float(np.sqrt(scale * a @ a)), n=n, unrated=m, clusters=g,
    )


@dataclass(frozen=True)
class StratifiedBound:
    """An exact one-sided upper bound on a rate, stratified by an automatic flag seen on every item."""

    upper: float
    estimate: float
    strata: list[dict[str, float | int | str]]
    """Per flag value: its share of all items, rated items, failures among them, its own bound and level."""


def stratified_rate_upper(y: np.ndarray, flag: np.ndarray, confidence: float) -> StratifiedBound:
    """``y``: 1/0 failure of every item (NaN: not rated), ``flag``: the stratum of every item (an automatic
    1/0 flag, or the sampling strata of ``eval.decide.design``).

    The rate is sum_s share_s * rate_s over the strata, the shares counted on every item (the
    category's items, as replayed). Each stratum gets an exact Clopper-Pearson bound at error
    alpha * share_s, so by the union bound the sum of the bounds holds at 1 - alpha for any judge
    and any rate of rating per stratum, and with a single stratum it is the ratings-only bound.
    Exact bounds, never a CLT interval: with few disagreements between flags and reviewers the
    rectifier's variance is near 0.
    """
    y = np.asarray(y, float)
    flag = np.asarray(flag)
    if flag.dtype.kind in "fb":
        flag = np.asarray(flag, float) > 0.5
    rated = ~np.isnan(y)
    alpha = 1.0 - confidence
    upper = estimate = 0.0
    strata: list[dict[str, float | int | str]] = []
    for value in np.unique(flag):
        here = flag == value
        share = float(here.mean())
        k, n = int(y[here & rated].sum()), int((here & rated).sum())
        bound = clopper_pearson_upper(k, n, 1.0 - alpha * share) if n else 1.0
        upper += share * bound
        estimate += share * (k / n if n else np.nan)
        label = int(value) if flag.dtype.kind == "b" else value.item() if isinstance(value, np.generic) else value
        strata.append({"flag": label, "share": share, "rated": n, "failures": k, "upper": bound,
                       "level": 1.0 - alpha * share})
    return StratifiedBound(upper=min(upper, 1.0), estimate=estimate, strata=strata)
