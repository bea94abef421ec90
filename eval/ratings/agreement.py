"""Inter-reviewer agreement (ordinal Krippendorff's alpha) and per-reviewer reliability.

Alpha is computed here because the ``krippendorff`` package is GPL-licensed; the tests
check this implementation against it to 1e-9. Each (item, side) is one unit rated 1-5; ratings
without scores (preference-only) make the item the unit, its preference the ordinal value
(human < tie < AI). Alpha needs no rater identity, so anonymous ratings count fully; reviewer
reliability does, so it is not assessable for them and they are never excluded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps
from threadpoolctl import threadpool_limits

from eval.policy import Policy, ReviewerPolicy
from eval.ratings.importer import read_ratings
from eval.run.folder import RunFolder
from eval.stats import rounded
from eval.store import write_json

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


def long_scores(ratings: pd.DataFrame) -> pd.DataFrame:
    """One row per (scored rating, side): item, side (0 = ai, 1 = human), reviewer, score."""
    scored = ratings[ratings["score_ai"].notna()]
    n = len(scored)
    return pd.DataFrame({
        "item": np.concatenate([scored["item_id"].to_numpy()] * 2),
        "side": np.repeat([0, 1], n),
        "reviewer": np.concatenate([scored["reviewer"].to_numpy()] * 2),
        "score": np.concatenate([scored["score_ai"].to_numpy(), scored["score_human"].to_numpy()]).astype(np.int64),
    })


PREFERENCE_VALUES = {"human": 1, "tie_good": 2, "tie_bad": 2, "ai": 3}
"""Preferences as ordinal values, in the win rate's order (ties, good or bad, count half either way)."""


def long_preferences(ratings: pd.DataFrame) -> pd.DataFrame:
    """One row per rating with a preference, in ``long_scores``' shape: the item is the unit (side 0)."""
    given = ratings[ratings["preference"].notna()]
    return pd.DataFrame({"item": given["item_id"].to_numpy(), "side": np.zeros(len(given), dtype=np.int64),
                         "reviewer": given["reviewer"].to_numpy(),
                         "score": given["preference"].map(PREFERENCE_VALUES).to_numpy(dtype=np.int64)})


def rated_on(ratings: pd.DataFrame) -> str:
    """What agreement is measured on: the 1-5 scores, or for ratings without any score the preferences
    (the measure such a category is decided on, eval.decide.gates.measured)."""
    return "scores" if ratings["score_ai"].notna().any() else "preferences"


def agreement_units(ratings: pd.DataFrame) -> pd.DataFrame:
    """The rated units alpha is computed on (``rated_on``); alpha needs no rater identity, so
    anonymous ratings count as any other."""
    return long_scores(ratings) if rated_on(ratings) == "scores" else long_preferences(ratings)


def _others_mean(long: pd.DataFrame) -> pd.Series:
    """Mean score of the other reviewers on the same unit (NaN when nobody else rated it)."""
    grouped = long.groupby(["item", "side"], sort=False)["score"]
    total, count = grouped.transform("sum"), grouped.transform("count")
    with np.errstate(invalid="ignore", divide="ignore"):
        return (total - long["score"]) / (count - 1).where(count > 1)


GOLD_FIELDS = ("acceptable_ai", "acceptable_human", "critical_ai", "critical_human")


def _gold_hits(ratings: pd.DataFrame) -> pd.DataFrame:
    """Per gold item, answer field and reviewer: does the reviewer's flag match the known answer?

    The key only marks gold items (answers everyone should agree on), not their answers, so
    the known answer is the majority of the *other* reviewers on that flag (acceptable /
    critical, per side); a split vote leaves that flag out.
    """
    gold = ratings[ratings["gold"].astype(bool)]
    parts = [
        pd.DataFrame({"item": gold["item_id"].to_numpy(), "field": name,
                      "reviewer": gold["reviewer"].to_numpy(), "value": gold[name].to_numpy()})
        for name in GOLD_FIELDS
    ]
    flags = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    flags = flags[flags["value"].notna()] if len(flags) else flags
    if flags.empty:
        return pd.DataFrame({"reviewer": pd.Series(dtype=object), "hit": pd.Series(dtype=bool)})
    value = flags["value"].astype(float)
    grouped = value.groupby([flags["item"], flags["field"]])
    total, count = grouped.transform("sum"), grouped.transform("count")
    others = (total - value) / (count - 1).where(count > 1)
    known = others.notna() & (others != 0.5)
    hit = (value == 1.0) == (others > 0.5)
    return pd.DataFrame({"reviewer": flags["reviewer"][known].to_numpy(), "hit": hit[known].to_numpy()})


def reviewer_reliability(ratings: pd.DataFrame, policy: ReviewerPolicy) -> pd.DataFrame:
    """Per reviewer: agreement with the others' consensus, gold accuracy, bias, and a flag.

    Flagged when, with enough overlap, the Spearman correlation with the others' mean is
    below ``min_consensus_spearman``, the mean bias exceeds ``max_abs_bias`` points, or gold
    accuracy falls below ``min_gold_accuracy`` on at least ``min_gold_flags`` gold flags.
    Judged on scores only, so a reviewer without scored ratings is not assessable; anonymous ratings
    (no reviewer) have nobody to judge and are left out of the table.
    """
    long = long_scores(ratings)
    long["others"] = _others_mean(long)
    rows = []
    gold = _gold_hits(ratings)
    own_units = dict(list(long.groupby("reviewer", sort=True)))
    for reviewer, n_ratings in ratings["reviewer"].value_counts().sort_index().items():
        own = own_units.get(reviewer, long.iloc[:0])
        paired = own.dropna(subset=["others"])
        diff = paired["score"] - paired["others"]
        overlap = len(paired)
        rho = float(sps.spearmanr(paired["score"], paired["others"]).statistic) if overlap > 2 else float("nan")
        hits = gold.loc[gold["reviewer"] == reviewer, "hit"]
        row = {
            "reviewer": str(reviewer), "ratings": int(n_ratings), "overlap_units": overlap,
            "consensus_spearman": rho, "mean_abs_dev": float(diff.abs().mean()) if overlap else float("nan"),
            "within_one": float((diff.abs() <= 1).mean()) if overlap else float("nan"),
            "bias": float(diff.mean()) if overlap else float("nan"),
            "gold_flags": len(hits), "gold_accuracy": float(hits.mean()) if len(hits) else float("nan"),
        }
        row["reasons"] = _flags(row, policy)
        row["assessable"] = overlap >= policy.min_overlap
        row["flagged"] = bool(row["reasons"])
        rows.append(row)
    return pd.DataFrame(rows)


def _flags(row: dict, policy: ReviewerPolicy) -> list[str]:
    if row["overlap_units"] < policy.min_overlap:
        return []
    reasons = []
    rho = row["consensus_spearman"]
    if not np.isfinite(rho) or rho < policy.min_consensus_spearman:
        reasons.append(
            f"scores track the other reviewers weakly (Spearman {rho:.2f} < {policy.min_consensus_spearman})"
        )
    if abs(row["bias"]) > policy.max_abs_bias:
        reasons.append(f"scores {row['bias']:+.2f} points off the others on average (limit {policy.max_abs_bias})")
    if row["gold_flags"] >= policy.min_gold_flags and row["gold_accuracy"] < policy.min_gold_accuracy:
        reasons.append(
            f"gold accuracy {row['gold_accuracy']:.2f} < {policy.min_gold_accuracy} on {row['gold_flags']} gold flags"
        )
    return reasons


@dataclass(frozen=True)
class ReviewerExclusion:
    """Who is flagged unreliable and who is left out of decisions: made in one place so that
    ``agreement.json`` and ``decisions.json`` always name the same reviewers."""

    reliability: pd.DataFrame
    """``reviewer_reliability`` of all ratings (empty without ratings)."""
    flagged: list[str]
    excluded: list[str]
    """The flagged reviewers, unless the policy keeps them (``exclude_unreliable: false``)."""
    anonymous: int = 0
    """Ratings without a reviewer: always kept, since nothing says who gave them or which are one person's."""

    def reliability_note(self) -> str:
        """Whether reviewer reliability could be judged (``reviewer_reliability`` in agreement.json)."""
        if not self.anonymous:
            return "assessed per reviewer"
        if self.reliability.empty:
            return (f"not assessable: all {self.anonymous} ratings are anonymous (reviewer: null), "
                    "so nobody is left out")
        return (f"not assessable for the {self.anonymous} anonymous ratings (reviewer: null), which are all kept; "
                f"assessed for the {len(self.reliability)} named reviewer(s)")

    def note(self) -> str:
        if self.anonymous:
            named = "" if self.reliability.empty else f"; {self._named_note()}"
            return f"reviewer reliability {self.reliability_note()}{named}"
        return self._named_note()

    def _named_note(self) -> str:
        if self.excluded:
            return (f"{len(self.excluded)} reviewer(s) flagged unreliable and left out of these decisions: "
                    f"{', '.join(self.excluded)}")
        if self.flagged:
            return f"flagged but kept (policy): {', '.join(self.flagged)}"
        return "no reviewer left out"


def reviewer_exclusion(ratings: pd.DataFrame, policy: ReviewerPolicy) -> ReviewerExclusion:
    reliability = reviewer_reliability(ratings, policy)
    flagged = sorted(reliability.loc[reliability["flagged"], "reviewer"]) if len(reliability) else []
    return ReviewerExclusion(reliability, flagged, flagged if policy.exclude_unreliable else [],
                             int(ratings["reviewer"].isna().sum()))


def agreement_report(
    ratings: pd.DataFrame, policy: ReviewerPolicy, n_boot: int, confidence: float,
    rng: np.random.Generator, exclusion: ReviewerExclusion | None = None,
) -> dict:
    """The content of ``agreement.json``: alpha overall and per category, for all reviewers and
    for the reliable ones, plus the per-reviewer table. ``exclusion``: already made from these
    ``ratings`` under this ``policy`` (the decide stage passes the one its decisions use)."""
    if exclusion is None:
        exclusion = reviewer_exclusion(ratings, policy)
    reliable = ratings[~ratings["reviewer"].isin(exclusion.flagged)]
    out = {
        "confidence": confidence,
        "bootstrap_resamples": n_boot,
        "unit": ("(item, side) rated 1-5, or where no rating has scores the item's preference "
                 "(human < tie < AI); bootstrap resamples items"),
        "reviewers": exclusion.reliability.to_dict(orient="records"),
        "reviewer_reliability": exclusion.reliability_note(),
        "anonymous_ratings": exclusion.anonymous,
        "flagged_reviewers": exclusion.flagged,
        "excluded_from_decisions": exclusion.excluded,
    }
    for label, subset in (("all_reviewers", ratings), ("reliable_reviewers", reliable)):
        out[label] = _alpha_by_category(subset, n_boot, confidence, rng)
    return out


def _alpha_by_category(
    ratings: pd.DataFrame, n_boot: int, confidence: float, rng: np.random.Generator
) -> dict:
    overall = _alpha_entry(ratings, n_boot, confidence, rng) if len(ratings) else None
    cats = {str(cat): _alpha_entry(part, n_boot, confidence, rng)
            for cat, part in ratings.groupby("category", sort=True)}
    return {"overall": overall, "categories": cats}


def _alpha_entry(ratings: pd.DataFrame, n_boot: int, confidence: float, rng: np.random.Generator) -> dict:
    return {**item_alpha(agreement_units(ratings), n_boot, confidence, rng).as_dict(), "rated": rated_on(ratings)}


def agreement_to_file(run_dir: Path, policy: Policy, seed: int | None = None) -> dict:
    """Read RUN/ratings.jsonl, write RUN/agreement.json alone; ``seed`` defaults to ``policy.seed``.

    The decide stage does not call this: ``eval.decide.decide_to_file`` writes agreement.json
    with the decisions, from one exclusion."""
    folder = RunFolder(Path(run_dir))
    ratings = read_ratings(folder.ratings)
    return write_agreement(folder, ratings, reviewer_exclusion(ratings, policy.reviewers), policy,
                           policy.seed if seed is None else seed)


def write_agreement(folder: RunFolder, ratings: pd.DataFrame, exclusion: ReviewerExclusion, policy: Policy,
                    seed: int) -> dict:
    """RUN/agreement.json from ratings already read and the exclusion made from them."""
    rng = np.random.default_rng(seed)
    report = rounded(agreement_report(ratings, policy.reviewers, policy.bootstrap_resamples, policy.confidence, rng,
                                      exclusion))
    write_json(folder.agreement, report)
    return report
