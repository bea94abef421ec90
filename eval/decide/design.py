"""Where the next ratings go within a category: strata by how sure the automatic evidence is.

Active inference (Zrnic & Candes 2024) rates the items whose automatic evidence is least certain
more often and weighs every rated item by the inverse of its inclusion probability. Here "least
certain" is a stratum fixed by the automatic evidence alone (``certainty_strata``): an item is
``unclear`` where an automatic critical flag is raised, the judge gave no verdict or a tie, the judge
and the rubric prefer different answers, or (without a judge) the rubric scores are a close call.

The strata never depend on ratings, so each round's draw within a stratum is uniform over what is
left of it, and the items rated in a stratum over all rounds are a uniform sample of it: their
inclusion probability is n_h / N_h however the rounds were allocated, and allocating from the
ratings so far (Neyman) cannot bias the estimates. A category drawn this way is estimated
stratified (``eval.stats.ppi``: sum_h (N_h / N) * estimate_h, and the exact stratified bound of
the critical rate); a category only ever drawn uniformly keeps the plain estimates.

Allocation: a follow-up round gives each stratum its Neyman share (N_h * S_h) of the category's
cumulative sample, S_h the spread there of what the automatic evidence leaves unexplained of the
rated AI - human differences (``unexplained``: where it is largest a rating is worth most, the
variance-optimal rule of active inference), but never less than half
its proportional share (``PROPORTIONAL_FLOOR``): the critical-rate bound is only as strong as the
least-sampled stratum, and a stratum rated at half the uniform rate keeps it within reach.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from eval.decide.automatic import MIN_TICKETS, cross_fitted, feature_values, features
from eval.errors import UserError
from eval.records import BlindKey
from eval.store import read_jsonl

STRATA = ("clear", "unclear")
PROPORTIONAL_FLOOR = 0.5
"""A stratum's cumulative sample is at least this share of what proportional allocation gives it."""
CLOSE_CALL = 0.1
"""Without a judge, rubric scores (0-1) of the two answers closer than this are a close call."""


def certainty_strata(auto: pd.DataFrame) -> np.ndarray:
    """``clear`` or ``unclear`` per row of an automatic-evidence table (``eval.decide.automatic``); label-free."""
    crit = feature_values(auto, ("rubric_crit_ai", "rubric_crit_human", "judge_critical_ai"))
    flagged = np.nan_to_num(crit, nan=0.0).max(axis=1) > 0.5
    win = feature_values(auto, ("judge_win",))[:, 0]
    rubric = np.diff(feature_values(auto, ("rubric_human", "rubric_ai")), axis=1)[:, 0]
    if np.isnan(win).all():
        unsure = np.isnan(rubric) | (np.abs(rubric) < CLOSE_CALL)
    else:
        disagree = np.sign(win - 0.5) * np.sign(rubric) < 0
        unsure = np.isnan(win) | (win == 0.5) | disagree
    return np.where(flagged | unsure, STRATA[1], STRATA[0])


def unexplained(auto: pd.DataFrame, values: np.ndarray) -> np.ndarray:
    """``values`` (a category's rated AI - human differences, NaN where unrated) less their cross-fitted
    prediction from the automatic evidence; the values themselves when no predictor can be fitted."""
    rated = ~np.isnan(values)
    tickets = auto["ticket_id"].to_numpy()
    x = features(feature_values(auto))
    if x is None or len(np.unique(tickets[rated])) < MIN_TICKETS:
        return values
    return values - cross_fitted(x, values, tickets)


def round_fractions(strata: np.ndarray, rated: np.ndarray, values: np.ndarray, size: int) -> dict[str, float]:
    """This round's share of ``size`` new items per stratum: ``strata`` of the category's every item,
    ``rated`` whether it is rated (or drawn) already, ``values`` what its rating left unexplained
    (:func:`unexplained`; NaN: not rated)."""
    names, counts = np.unique(strata, return_counts=True)
    spread = {}
    for h in names:
        v = values[(strata == h) & ~np.isnan(values)]
        spread[h] = float(np.std(v, ddof=1)) if v.size > 1 else np.nan
    known = [s for s in spread.values() if np.isfinite(s)]
    fallback = max(known) if known else 1.0  # a stratum with too few ratings to measure is assumed the widest
    s = np.array([spread[h] if np.isfinite(spread[h]) else fallback for h in names])
    proportional = counts / counts.sum()
    neyman = counts * s / (counts * s).sum() if (counts * s).sum() > 0 else proportional
    weights = _floored(neyman, PROPORTIONAL_FLOOR * proportional)
    total = int(rated.sum()) + size
    drawn = np.array([int(rated[strata == h].sum()) for h in names])
    new = np.clip(total * weights / weights.sum() - drawn, 0, counts - drawn)
    if new.sum() <= 0:
        new = (counts - drawn).astype(float)
    return {str(h): float(x / new.sum()) for h, x in zip(names, new)}


def _floored(shares: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """``shares`` (summing to 1) with every share at least its ``floor``, the others scaled down to make room."""
    out = shares.copy()
    for _ in range(len(out)):
        low = out < floor
        if not low.any():
            break
        out = np.where(low, floor, out * (1 - floor[low].sum()) / out[~low].sum())
    return out


def interleaved(frame: pd.DataFrame, fractions: dict[str, float]) -> pd.DataFrame:
    """``frame`` (a category's shuffled items with a ``stratum`` column) reordered so that its first n
    rows hold about n * fractions[h] items of each stratum for every n, each stratum in shuffled order:
    the sample can still be cut to capacity by taking fewer rows."""
    rank = frame.groupby("stratum", sort=False).cumcount().to_numpy(float)
    share = frame["stratum"].map(fractions).fillna(0.0).to_numpy(float)
    key = np.where(share > 0, (rank + 0.5) / np.where(share > 0, share, 1.0), np.inf)
    return frame.iloc[np.argsort(key, kind="stable")]


def stratified_items(key_strata: pd.Series, auto: pd.DataFrame | None) -> pd.Series:
    """The certainty stratum of every item (index ``item_id``) of the categories drawn by stratum
    (``key_strata``: the key's stratum per item of a stratified round), checked against what the key
    recorded, since a changed judge or rubric would redraw the strata under the ratings."""
    if key_strata.empty:
        return pd.Series(dtype=object)
    if auto is None:
        raise UserError("key.jsonl: items were drawn by how certain the automatic evidence was, but the run has no "
                        "rubric scores or judge verdicts any more; restore them", field="stratum")
    mine = auto[auto["category"].isin(auto.loc[auto["item_id"].isin(key_strata.index), "category"].unique())]
    strata = pd.Series(certainty_strata(mine), index=mine["item_id"].to_numpy())
    drawn = key_strata[key_strata.index.isin(strata.index)]
    changed = drawn.index[strata.loc[drawn.index].to_numpy() != drawn.to_numpy()]
    if len(changed):
        raise UserError(f"key.jsonl: item {changed[0]} was drawn in stratum {drawn[changed[0]]!r} but its automatic "
                        f"evidence now makes it {strata[changed[0]]!r}: the judge verdicts or rubric scores changed "
                        f"after the packets were drawn ({len(changed)} items); restore them", field="stratum")
    return strata


def key_strata(path: Path) -> pd.Series:
    """The recorded stratum per item (index ``item_id``) of the key's rounds drawn by stratum; empty without any."""
    if not Path(path).exists():
        return pd.Series(dtype=object)
    drawn = {k.item_id: k.stratum for k in read_jsonl(path, BlindKey) if k.stratum is not None}
    return pd.Series(drawn, dtype=object)
