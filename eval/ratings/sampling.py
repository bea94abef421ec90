"""Which items get rated: targets per category, and a sample that uses the reviewers' capacity exactly.

A first round draws, per category, what ``decide`` needs: ``min_rated`` items, and for
categories that could still automate (the AI's rubric critical-failure share is within the
assist limit) enough items that zero observed critical failures would put the exact one-sided
upper bound under ``critical_ub_automate`` (n = ln(1 - confidence) / ln(1 - bound), 149 for the
default policy). Once ``decisions.json`` exists, a follow-up round draws ``ratings_needed`` more
items for each category whose tier could still move, and for a settled one (decided, or no number
of ratings would move it) only ``settled_audit_items`` audit items: a uniform draw like the others,
so it keeps checking the decision (its ratings enter the estimates, and can move the tier back)
and gives the reviewers gold items in every category.

Every item gets ``raters`` reviewers; a calibration subset and the gold items get more. Gold
items are sampled items on which the rubric scoring flags exactly one answer as a critical
failure while the other passes cleanly: a known-bad control that careful reviewers must catch.
They are drawn from the random sample itself (never added on top), so they do not bias the
estimates.

When the targets need more ratings than reviewers x ``per_reviewer``, the sample is cut so the
capacity is used exactly, and every reviewer then gets exactly ``per_reviewer`` items:

* the number of items N is the largest whose ratings (at the gold and calibration shares) fit;
* N is split over the categories in proportion to their targets by largest remainder, each
  category with a target getting at least one item, none more than it has; what a category
  cannot take goes to the others, and the table names its shortfall;
* the few ratings left over (fewer than one item needs) go to extra calibration reviewers: the
  calibration count is the share, plus what fills the capacity. This keeps the items unbiased
  (no item is added or dropped for its reviewer count) and only adds agreement evidence.

``per_reviewer`` is a ceiling: targets that need fewer ratings are drawn whole, and a note says so.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from eval.decide.design import interleaved
from eval.stats import zero_failure_n
from eval.policy import Policy
from eval.errors import UsageError

GOLD_MIN_SCORE = 0.6
"""A gold item's clean answer must score at least this on its rubric (and not fail critically)."""
_REVIEWER = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class PacketSpec:
    reviewers: tuple[str, ...]
    per_reviewer: int
    raters: int = 2
    calibration_share: float = 0.10
    calibration_raters: int = 3
    gold_share: float = 0.05
    gold_raters: int = 4

    def __post_init__(self) -> None:
        if len(set(self.reviewers)) != len(self.reviewers):
            raise UsageError(f"--reviewers: a reviewer is listed twice: {', '.join(self.reviewers)}")
        bad = [r for r in self.reviewers if not _REVIEWER.match(r)]
        if bad:
            raise UsageError(f"--reviewers: {bad[0]!r} is not a usable name (letters, digits, _ . - only)")
        if len(self.reviewers) < self.raters:
            raise UsageError(f"--reviewers: every item needs {self.raters} reviewers, got {len(self.reviewers)}")
        if self.per_reviewer < 1:
            raise UsageError("--per-reviewer: must be at least 1")
        if not 1 <= self.raters < self.calibration_raters or self.gold_raters < self.raters:
            raise UsageError("reviewers per item: need 1 <= raters < calibration_raters and gold_raters >= raters")

    def k(self, gold: bool, calibration: bool) -> int:
        """Reviewers for one item, capped by the panel size."""
        want = self.gold_raters if gold else self.calibration_raters if calibration else self.raters
        return min(want, len(self.reviewers))

    @property
    def capacity(self) -> int:
        return self.per_reviewer * len(self.reviewers)


class CategoryPlan(BaseModel):
    category: str
    available: int
    wanted: int
    sampled: int
    gold: int = 0
    calibration: int = 0
    why: str
    share: int = 0
    """Items this category would get from its target alone (the target, or its part of a cut sample)."""
    short: int = 0
    """How many of ``share`` it could not fill for lack of items (the other categories took them)."""


@dataclass(frozen=True)
class Sample:
    """Sampled items (column ``item_id``, ``category``, ``gold``, ``calibration``, ``k``) and the plan."""

    items: pd.DataFrame
    plans: list[CategoryPlan]
    notes: list[str] = field(default_factory=list)


def category_targets(
    available: dict[str, int], ai_critical: dict[str, float], policy: Policy, decisions: dict[str, Any] | None,
) -> dict[str, tuple[int, str]]:
    """Items wanted per category this round, and why."""
    automate_n = max(policy.min_rated, zero_failure_n(policy.critical_ub_automate, policy.confidence))
    decided = {c["category"]: c for c in (decisions or {}).get("categories", [])}
    done = settled(decisions)
    out: dict[str, tuple[int, str]] = {}
    for cat in sorted(available):
        if cat in policy.always_human:
            out[cat] = (0, "always human by policy")
        elif cat in decided:
            d = decided[cat]
            need = d.get("ratings_needed")
            if cat in done:
                out[cat] = (policy.settled_audit_items,
                            f"settled ({d.get('tier')}; {d.get('ratings_needed_text') or 'no more ratings help'}): "
                            f"{policy.settled_audit_items} audit items")
            else:
                out[cat] = (int(need), f"undecided ({d.get('tier')}): ratings_needed {need}")
        elif ai_critical.get(cat, 0.0) > policy.critical_ub_assist:
            out[cat] = (policy.min_rated, f"min_rated {policy.min_rated} (AI rubric critical-failure share "
                                          f"{ai_critical[cat]:.1%} rules out automate)")
        else:
            out[cat] = (automate_n, f"{automate_n} items: 0 critical failures in them would certify "
                                    f"<= {policy.critical_ub_automate:.0%} at {policy.confidence:.0%}")
    return out


def settled(decisions: dict[str, Any] | None) -> set[str]:
    """The categories of ``decisions.json`` whose tier no more ratings would move (automate is the top tier)."""
    return {c["category"] for c in (decisions or {}).get("categories", [])
            if c.get("tier") == "automate" or not c.get("ratings_needed") or c["ratings_needed"] <= 0}


def gold_candidates(scores: pd.DataFrame) -> set[str]:
    """Items where exactly one answer fails critically and the other passes cleanly (known-bad control)."""
    if scores.empty:
        return set()
    wide = scores.pivot_table(index="item_id", columns="side", values=["score", "critical_fail"], aggfunc="first")
    if ("critical_fail", "ai") not in wide or ("critical_fail", "human") not in wide:
        return set()
    crit_ai = wide[("critical_fail", "ai")].astype(bool)
    crit_h = wide[("critical_fail", "human")].astype(bool)
    good_ai = ~crit_ai & (wide[("score", "ai")].astype(float) >= GOLD_MIN_SCORE)
    good_h = ~crit_h & (wide[("score", "human")].astype(float) >= GOLD_MIN_SCORE)
    return set(wide.index[(crit_ai & good_h) | (crit_h & good_ai)])


def allocate(total: int, weights: dict[str, int], caps: dict[str, int]) -> dict[str, int]:
    """``total`` split in proportion to ``weights`` by largest remainder, at least 1 and at most the cap each.

    Why the floor: cutting every category by the same ratio and rounding down left categories of
    9-11 items with none at all. A category that hits its cap hands the rest to the others: the
    real quotas are clamp(lambda * weight, 1, cap) with lambda found so that they sum to ``total``.
    """
    live = sorted((c for c in weights if weights[c] > 0 and caps.get(c, 0) > 0), key=lambda c: (-weights[c], c))
    out = dict.fromkeys(weights, 0)
    total = min(total, sum(caps[c] for c in live))
    if total <= len(live):
        out.update(dict.fromkeys(live[:total], 1))
        return out

    def quotas(lam: float) -> dict[str, float]:
        return {c: min(float(caps[c]), max(1.0, lam * weights[c])) for c in live}

    lo, hi = 0.0, float(max(caps[c] for c in live))  # lambda = max cap puts every quota at its cap
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if sum(quotas(mid).values()) < total else (lo, mid)
    quota = quotas(hi)
    out.update({c: math.floor(q) for c, q in quota.items()})  # quota(hi) sums to total + a rounding error < 1
    open_ = sorted((c for c in live if out[c] < caps[c]), key=lambda c: (-(quota[c] - out[c]), -weights[c], c))
    for c in open_[:max(0, total - sum(out.values()))]:
        out[c] += 1
    return out


def _flag_first(frame: pd.DataFrame, eligible: pd.Series, n: int, key: str) -> np.ndarray:
    """Mark the ``n`` eligible rows with the smallest random ``key`` (stable as the sample shrinks)."""
    chosen = frame[eligible].nsmallest(max(n, 0), key).index
    return frame.index.isin(chosen)


@dataclass(frozen=True)
class _Pool:
    """The shuffled pool by category, and how to flag and count a sample of it."""

    by_category: dict[str, pd.DataFrame]
    empty: pd.DataFrame
    gold_ok: set[str]
    spec: PacketSpec

    def take(self, sizes: dict[str, int], extra: int = 0) -> pd.DataFrame:
        """The first ``sizes[c]`` items of each category, flagged; ``extra`` ratings go to more calibration."""
        spec = self.spec
        parts = [self.by_category[c].head(n) for c, n in sizes.items() if n > 0]
        taken = pd.concat(parts) if parts else self.empty
        gold = _flag_first(taken, taken["item_id"].isin(self.gold_ok), round(spec.gold_share * len(taken)), "u_gold")
        step = spec.k(False, True) - spec.k(False, False)
        n_cal = round(spec.calibration_share * len(taken)) + (-(-extra // step) if step > 0 else 0)
        cal = _flag_first(taken, pd.Series(~gold, index=taken.index), n_cal, "u_cal")
        k = np.array([spec.k(g, c) for g, c in zip(gold, cal)], dtype=int)
        short = (step - extra % step) % step if step > 0 and extra > 0 else 0
        if short and cal.any():  # the last calibration reviewer slots that would overfill stay empty
            last = int(np.flatnonzero(cal)[np.argmax(taken["u_cal"].to_numpy()[cal])])
            k[last] -= short
        return taken.assign(gold=gold, calibration=cal, k=k)


def _largest_fit(ratings: Callable[[int], int], upper: int, capacity: int) -> int:
    """Largest n in [0, upper] with ratings(n) <= capacity (bisection, then forward past rounding steps)."""
    lo, hi = 0, upper
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if ratings(mid) <= capacity else (lo, mid - 1)
    while lo < upper and ratings(lo + 1) <= capacity:
        lo += 1
    return lo


def _fit_capacity(pool: _Pool, targets: dict[str, int], wanted: dict[str, int]) -> tuple[pd.DataFrame, dict[str, int]]:
    """The sample of the largest size whose ratings fit, with the leftover ratings as extra calibration."""
    capacity = pool.spec.capacity

    def sizes(n: int) -> dict[str, int]:
        return allocate(n, targets, wanted)

    def ratings(n: int) -> int:
        return int(pool.take(sizes(n))["k"].sum())

    n = _largest_fit(ratings, min(sum(wanted.values()), capacity // pool.spec.k(False, False)), capacity)
    taken = pool.take(sizes(n), extra=capacity - ratings(n))
    return taken, {c: round(n * t / max(sum(targets.values()), 1)) for c, t in targets.items()}


def sample_items(
    index: pd.DataFrame, targets: dict[str, tuple[int, str]], gold_ok: set[str], spec: PacketSpec,
    rng: np.random.Generator, fractions: dict[str, dict[str, float]] | None = None,
) -> Sample:
    """Random items per category up to the targets; cut to use the reviewers' capacity exactly.
    ``fractions``: per category drawn by certainty stratum (``index["stratum"]``), each stratum's share
    of its items (``eval.decide.design.round_fractions``); within a stratum the draw stays uniform."""
    shuffled = index.iloc[rng.permutation(len(index))].reset_index(drop=True)
    shuffled = shuffled.assign(u_gold=rng.random(len(shuffled)), u_cal=rng.random(len(shuffled)))
    available = shuffled["category"].value_counts().to_dict()
    by_category = {c: shuffled[shuffled["category"] == c] for c in sorted(available)}
    by_category.update({c: interleaved(by_category[c], f) for c, f in (fractions or {}).items() if c in by_category})
    pool = _Pool(by_category, shuffled.head(0), gold_ok, spec)
    goal = {c: t for c, (t, _) in targets.items()}
    wanted = {c: min(t, available.get(c, 0)) for c, t in goal.items()}
    taken, share = pool.take(wanted), dict(goal)
    need, notes = int(taken["k"].sum()), []
    if need > spec.capacity:
        taken, share = _fit_capacity(pool, goal, wanted)
        notes.append(f"the targets need {need} ratings but {len(spec.reviewers)} reviewers x {spec.per_reviewer} "
                     f"= {spec.capacity}: every category gets the same share of its target (at least one item); "
                     f"raise --per-reviewer or add reviewers")
    elif need < spec.capacity:
        notes.append(f"the targets need only {need} of the {spec.capacity} ratings reviewers could give: "
                     f"fewer than {spec.per_reviewer} items per reviewer")
    plans = _plans(taken, targets, available, share)
    notes += [f"{p.category}: {p.short} items short of its share of {p.share} (only {p.available} available)"
              for p in plans if p.short]
    if need > spec.capacity and int(taken["k"].sum()) != spec.capacity:
        notes.append(f"only {int(taken['k'].sum())} of {spec.capacity} ratings could be placed "
                     f"(too few items take extra reviewers)")
    return Sample(taken.drop(columns=["u_gold", "u_cal", "stratum"], errors="ignore").reset_index(drop=True), plans,
                  notes)


def _plans(taken: pd.DataFrame, targets: dict[str, tuple[int, str]], available: dict[str, int],
           share: dict[str, int]) -> list[CategoryPlan]:
    plans = []
    for c in sorted(targets):
        mine = taken[taken["category"] == c]
        plans.append(CategoryPlan(
            category=c, available=available.get(c, 0), wanted=targets[c][0], sampled=len(mine),
            gold=int(mine["gold"].sum()), calibration=int(mine["calibration"].sum()), why=targets[c][1],
            share=share.get(c, 0), short=max(0, share.get(c, 0) - len(mine)) if len(mine) >= available.get(c, 0) else 0,
        ))
    return plans
