"""Thresholds on the router's risk, certified per category by Learn-then-Test (Bates et al. 2021).

A candidate threshold routes the rated turns whose risk is at most it; the hypothesis "the harmful
rate among them is above the limit, or their acceptable rate is below the gate" is rejected when the
exact one-sided Clopper-Pearson bound is within the limit and the one-sided lower bound of the
acceptable measure (t, ticket-clustered, as the category gates use) is above the gate
(intersection-union). ``STEPS`` candidates are each tested at delta / STEPS (Bonferroni) and the most
lenient rejected one is kept, so it holds with probability at least 1 - delta whether or not the risk
grows with the threshold. A fixed sequence from the strictest candidate would spend all of delta on
each test, but its first candidates route so few rated turns that one harmful answer among them
ends the sequence: with a 0.4% harmful rate among the clear turns that happened in half the runs.

Why not MAPIE's risk control (BSD): it controls a mean risk with Hoeffding-Bentkus p-values; a
harmful rate of 2% needs the exact binomial bound to be certifiable with a few hundred ratings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from eval.stats import clopper_pearson_upper, zero_failure_n

STEPS = 10
"""Candidate thresholds per route: routed sizes evenly spaced from the smallest certifiable one to all."""


@dataclass(frozen=True)
class Certified:
    """One route's threshold in one category, and the evidence it was certified on."""

    threshold: float | None
    """Turns with a risk at most this take the route; None: no threshold could be certified."""
    share: float
    """Share of the category's rated turns the route takes (the calibration sample)."""
    rated: int
    harmful: int
    harm_upper: float
    """Exact one-sided upper bound of the harmful rate among the routed turns, at 1 - delta."""
    acceptable_low: float
    """Lower bound of the acceptable measure among them (AI - human rate for the AI route, the AI rate for
    drafts), at 1 - delta."""


NONE = Certified(None, 0.0, 0, 0, 1.0, float("nan"))


def _lower(values: np.ndarray, tickets: np.ndarray, delta: float) -> float:
    """One-sided lower bound of a mean at 1 - delta: t with the ticket-clustered SE, df = tickets - 1."""
    codes = np.unique(tickets, return_inverse=True)[1]
    g = int(codes.max()) + 1
    if g < 2:
        return float("-inf")
    mean = float(values.mean())
    sums = np.bincount(codes, weights=(values - mean) / len(values), minlength=g)
    se = math.sqrt(g / (g - 1) * float(sums @ sums))
    return mean - float(sps.t.ppf(1 - delta, g - 1)) * se


def certify(risk: np.ndarray, harm: np.ndarray, acceptable: np.ndarray, tickets: np.ndarray, *,
            limit: float, floor: float, delta: float, base: np.ndarray | None = None) -> Certified:
    """The most lenient candidate threshold certified for one route of one category.

    ``risk`` (out-of-fold), ``harm`` (1/0), ``acceptable`` (the per-turn acceptable measure) and
    ``tickets`` per rated turn; ``base``: turns another route already takes (excluded here: the drafts'
    route is certified on the turns between the AI's threshold and its own).
    """
    level = 1 - delta / STEPS
    free = np.ones(len(risk), bool) if base is None else ~base
    order = np.sort(risk[free])
    n = len(order)
    first = zero_failure_n(limit, level)
    best = NONE
    if n < first:
        return best
    for size in np.unique(np.linspace(first, n, STEPS).round().astype(int)):
        threshold = float(order[size - 1])
        routed = free & (risk <= threshold)
        k, m = int(harm[routed].sum()), int(routed.sum())
        upper = clopper_pearson_upper(k, m, level)
        low = _lower(acceptable[routed], tickets[routed], 1 - level)
        if upper <= limit and low >= floor:
            best = Certified(threshold, m / len(risk), m, k, upper, low)
    return best
