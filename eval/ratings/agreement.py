"""Inter-reviewer agreement (ordinal Krippendorff's alpha, eval.ratings.alpha) and per-reviewer reliability.

Each (item, side) is one unit rated 1-5; ratings without scores (preference-only) make the item
the unit, its preference the ordinal value (human < tie < AI). Alpha needs no rater identity, so
anonymous ratings count fully; reviewer reliability does, so it is not assessable for them and they
are never excluded. Named reviewers are judged on what alpha is measured on (scores, or preferences
coded 1-3); reviewers of single-answer reviews (eval.ratings.reviews) by the same rules on their
(item, side) review scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps

from eval.policy import Policy, ReviewerPolicy
from eval.ratings.alpha import item_alpha
from eval.ratings.alpha import ordinal_alpha as ordinal_alpha  # re-exported
from eval.ratings.alpha import unit_counts as unit_counts  # re-exported
from eval.ratings.importer import read_ratings
from eval.run.folder import RunFolder
from eval.stats import rounded
from eval.store import write_json


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
NO_GOLD = pd.DataFrame({"reviewer": pd.Series(dtype=object), "hit": pd.Series(dtype=bool)})


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
        return NO_GOLD
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
    Judged on what alpha is (``rated_on``): scores, or where no rating has any, preferences (human 1,
    tie 2, AI 3), so an erratic rater of preference-only pairs is caught too; in scored ratings a reviewer
    without scored ratings is not assessable. Anonymous ratings (no reviewer) have nobody to judge and
    are left out of the table.
    """
    return unit_reliability(agreement_units(ratings), ratings["reviewer"].value_counts(), _gold_hits(ratings),
                            policy, rated_on(ratings), "ratings")


def unit_reliability(long: pd.DataFrame, counts: pd.Series, gold: pd.DataFrame, policy: ReviewerPolicy,
                     on: str, counted: str) -> pd.DataFrame:
    """``reviewer_reliability`` on rated units (item, side, reviewer, score), for the named reviewers of
    ``counts`` (their ``counted``: ratings or reviews); ``on`` names the values in the reasons."""
    long = long.assign(others=_others_mean(long))
    rows = []
    own_units = dict(list(long.groupby("reviewer", sort=True)))
    for reviewer, n_ratings in counts.sort_index().items():
        own = own_units.get(reviewer, long.iloc[:0])
        paired = own.dropna(subset=["others"])
        diff = paired["score"] - paired["others"]
        overlap = len(paired)
        rho = float(sps.spearmanr(paired["score"], paired["others"]).statistic) if overlap > 2 else float("nan")
        hits = gold.loc[gold["reviewer"] == reviewer, "hit"]
        row = {
            "reviewer": str(reviewer), counted: int(n_ratings), "overlap_units": overlap,
            "consensus_spearman": rho, "mean_abs_dev": float(diff.abs().mean()) if overlap else float("nan"),
            "within_one": float((diff.abs() <= 1).mean()) if overlap else float("nan"),
            "bias": float(diff.mean()) if overlap else float("nan"),
            "gold_flags": len(hits), "gold_accuracy": float(hits.mean()) if len(hits) else float("nan"),
        }
        row["reasons"] = _flags(row, policy, on)
        row["assessable"] = overlap >= policy.min_overlap
        row["flagged"] = bool(row["reasons"])
        rows.append(row)
    return pd.DataFrame(rows)


def _flags(row: dict, policy: ReviewerPolicy, on: str) -> list[str]:
    if row["overlap_units"] < policy.min_overlap:
        return []
    reasons = []
    rho = row["consensus_spearman"]
    if not np.isfinite(rho) or rho < policy.min_consensus_spearman:
        reasons.append(
            f"{on} track the other reviewers weakly (Spearman {rho:.2f} < {policy.min_consensus_spearman})"
        )
    if abs(row["bias"]) > policy.max_abs_bias:
        reasons.append(f"{on} {row['bias']:+.2f} points off the others on average (limit {policy.max_abs_bias})")
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
    """``reviewer_reliability`` of all ratings, or ``review_reliability`` (empty without any)."""
    flagged: list[str]
    excluded: list[str]
    """The flagged reviewers, unless the policy keeps them (``exclude_unreliable: false``)."""
    anonymous: int = 0
    """Ratings without a reviewer: always kept, since nothing says who gave them or which are one person's."""
    of: str = "ratings"
    """What was screened, in the notes: ``ratings`` or ``reviews``."""

    def reliability_note(self) -> str:
        """Whether reviewer reliability could be judged (``reviewer_reliability`` in agreement.json)."""
        if not self.anonymous:
            return "assessed per reviewer"
        if self.reliability.empty:
            return (f"not assessable: all {self.anonymous} {self.of} are anonymous (reviewer: null), "
                    "so nobody is left out")
        return (f"not assessable for the {self.anonymous} anonymous {self.of} (reviewer: null), which are all kept; "
                f"assessed for the {len(self.reliability)} named reviewer(s)")

    def summary(self) -> dict:
        """What agreement.json says of the screening (``anonymous_ratings`` or ``anonymous_reviews``)."""
        return {"reviewers": self.reliability.to_dict(orient="records"), "reviewer_reliability": self.reliability_note(),
                f"anonymous_{self.of}": self.anonymous, "flagged_reviewers": self.flagged,
                "excluded_from_decisions": self.excluded}

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
    return _exclusion(reviewer_reliability(ratings, policy), policy, int(ratings["reviewer"].isna().sum()), "ratings")


def review_reliability(reviews: pd.DataFrame, policy: ReviewerPolicy) -> pd.DataFrame:
    """``reviewer_reliability`` of single-answer reviews (``eval.ratings.reviews.read_reviews``): each
    reviewed answer (item, side) is a unit, its 1-5 review scores the values; reviews carry no gold items."""
    scored = reviews[reviews["score"].notna()]
    long = pd.DataFrame({"item": scored["item_id"].to_numpy(), "side": (scored["side"] == "human").to_numpy(int),
                         "reviewer": scored["reviewer"].to_numpy(), "score": scored["score"].to_numpy(float)})
    return unit_reliability(long, reviews["reviewer"].value_counts(), NO_GOLD, policy, "review scores", "reviews")


def review_exclusion(reviews: pd.DataFrame, policy: ReviewerPolicy) -> ReviewerExclusion:
    """Reviewers of reviews flagged and left out under the same policy as raters (decide drops their reviews)."""
    return _exclusion(review_reliability(reviews, policy), policy, int(reviews["reviewer"].isna().sum()), "reviews")


def _exclusion(reliability: pd.DataFrame, policy: ReviewerPolicy, anonymous: int, of: str) -> ReviewerExclusion:
    flagged = sorted(reliability.loc[reliability["flagged"], "reviewer"]) if len(reliability) else []
    return ReviewerExclusion(reliability, flagged, flagged if policy.exclude_unreliable else [], anonymous, of)


def agreement_report(
    ratings: pd.DataFrame, policy: ReviewerPolicy, n_boot: int, confidence: float,
    rng: np.random.Generator, exclusion: ReviewerExclusion | None = None, reviews: ReviewerExclusion | None = None,
) -> dict:
    """The content of ``agreement.json``: alpha overall and per category, for all reviewers and
    for the reliable ones, plus the per-reviewer table. ``exclusion``: already made from these
    ``ratings`` under this ``policy`` (the decide stage passes the one its decisions use);
    ``reviews``: the ``review_exclusion`` of the run's reviews, if it has any (then a ``reviews`` section)."""
    if exclusion is None:
        exclusion = reviewer_exclusion(ratings, policy)
    reliable = ratings[~ratings["reviewer"].isin(exclusion.flagged)]
    out = {
        "confidence": confidence,
        "bootstrap_resamples": n_boot,
        "unit": ("(item, side) rated 1-5, or where no rating has scores the item's preference "
                 "(human < tie < AI); bootstrap resamples items"),
        **exclusion.summary(),
    }
    for label, subset in (("all_reviewers", ratings), ("reliable_reviewers", reliable)):
        out[label] = _alpha_by_category(subset, n_boot, confidence, rng)
    if reviews is not None:
        out["reviews"] = reviews.summary()
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
    with the decisions, from one exclusion (and adds the screening of the run's reviews)."""
    folder = RunFolder(Path(run_dir))
    ratings = read_ratings(folder.ratings)
    return write_agreement(folder, ratings, reviewer_exclusion(ratings, policy.reviewers), policy,
                           policy.seed if seed is None else seed)


def write_agreement(folder: RunFolder, ratings: pd.DataFrame, exclusion: ReviewerExclusion, policy: Policy,
                    seed: int, reviews: ReviewerExclusion | None = None) -> dict:
    """RUN/agreement.json from ratings already read and the exclusions made from them (``reviews``: of the
    run's reviews, if any)."""
    rng = np.random.default_rng(seed)
    report = rounded(agreement_report(ratings, policy.reviewers, policy.bootstrap_resamples, policy.confidence, rng,
                                      exclusion, reviews))
    write_json(folder.agreement, report)
    return report
