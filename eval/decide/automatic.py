"""Automatic evidence on every item (rubric scores, judge verdicts) sharpening the reviewers' estimates.

Reviewers rate a sample; the rubric and a judge see every item. Each gated quantity (AI - human mean
rating, win rate, acceptable rates and their difference) becomes a prediction-powered estimate
(``eval.stats.ppi``): a ridge regression of the reviewers' value on the automatic evidence is fitted on
the rated items with cross-fitting by ticket (cross-prediction-powered inference, Zrnic & Candes 2024:
a rated item's prediction comes from the models fitted on the other tickets' folds, an unrated item's
is the mean of the fold models), so nothing is fitted and evaluated on the same ticket. The rated items
then measure the predictor's bias and remove it; power tuning weighs the predictions by how much they
help, down to nothing. Validity comes from that correction, never from the judge's agreement with
reviewers, which is reported and drives nothing.

Every estimate made so keeps its ratings-only twin (``<name>_ratings_only``).

The AI critical rate is a rare event, and its gate keeps the exact ratings-only Clopper-Pearson bound. A
CLT interval on the rectifier collapses when judge and reviewers never disagree; the exact alternative,
a bound stratified by the automatic critical flag (``eval.stats.ppi.stratified_rate_upper``), holds for
any judge but pays the whole flagged share whenever the flags are false alarms: on the demo a judge
flagging 1% of items turned a 1.0% bound from 300 clean ratings into 2.2% and would have demoted four
automated categories. It is shown beside the gate (``critical_ai_stratified``), never in it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy import stats as sps
from sklearn import config_context
from sklearn.impute import SimpleImputer
from sklearn.linear_model import Ridge
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from eval.decide.estimates import CategoryEstimates, rubric_columns
from eval.stats.ppi import PPIMean, ppi_mean, stratified_rate_upper

FEATURES = ("rubric_ai", "rubric_human", "rubric_crit_ai", "rubric_crit_human",
            "judge_win", "judge_score_ai", "judge_score_human", "judge_critical_ai")
GATED = {"diff_mean": "diff", "win_rate_ai": "win", "acceptable_ai": "acc_ai", "acceptable_human": "acc_human",
         "diff_acceptable": "acc_diff"}
"""Estimates key -> item-table column, for the quantities the gates read."""
FOLDS = 5
MIN_TICKETS = 10
"""Fewer rated tickets than this: too few to fit and check a predictor; the ratings alone decide."""


def automatic_method() -> str:
    """What decisions.json's ``method`` adds when automatic evidence made estimates prediction-powered."""
    return (__doc__ or "").strip()


def automatic_table(items: pd.DataFrame, scores: pd.DataFrame | None, judge: pd.DataFrame | None) -> pd.DataFrame | None:
    """Every item (item_id, ticket_id as :func:`ticket_codes`, category, any cut columns) with its automatic
    evidence; None when there is none. A judge table in the items' own order (``eval.judges.placed_verdicts``)
    is taken as it is, any other joined by item id. A feature the run lacks is no column (``feature_values``
    reads it as NaN): ten million NaNs per feature were 80 MB each."""
    if (scores is None or scores.empty) and judge is None:
        return None
    table = items.assign(ticket_id=ticket_codes(items["ticket_id"]))
    if scores is not None and not scores.empty:
        table = table.set_index("item_id").join(rubric_columns(scores, pd.Index(table["item_id"]))).reset_index()
    if judge is not None:
        aligned = len(judge) == len(table) and judge["item_id"].equals(table["item_id"])
        table = (pd.concat([table, judge.drop(columns="item_id").set_axis(table.index)], axis=1) if aligned
                 else table.merge(judge, on="item_id", how="left"))  # concat shares the columns; assign copied them
    return table


def feature_values(frame: pd.DataFrame, names: tuple[str, ...] = FEATURES) -> np.ndarray:
    """The ``names`` columns of an automatic-evidence table as floats, NaN for one the run lacks."""
    return frame.reindex(columns=list(names)).to_numpy(float)


def ticket_codes(tickets: pd.Series) -> np.ndarray:
    """Ticket ids (or codes) as integers in the ids' sorted order: folds and clusters come out as from the ids,
    without hashing and sorting strings in every fit. Codes already made are kept as they are."""
    if tickets.dtype == np.int32:
        return tickets.to_numpy()
    return pd.factorize(tickets, sort=True)[0].astype(np.int32)


def _varies(col: np.ndarray) -> bool:
    """Whether a feature tells items apart: its values differ, or it is missing on some items only."""
    seen = col[~np.isnan(col)]
    return bool(seen.size and (seen.min() < seen.max() or seen.size < col.size))


def features(raw: np.ndarray) -> np.ndarray | None:
    """The automatic evidence as model inputs: the features that vary, missing values imputed with a
    missing-indicator, standardised. Label-free, so done once on every item without leaking ratings into
    the cross-fitting; None when no feature varies (nothing to predict with)."""
    usable = np.array([_varies(col) for col in raw.T], dtype=bool)
    if not usable.any():
        return None
    return np.asarray(make_pipeline(SimpleImputer(add_indicator=True), StandardScaler()).fit_transform(raw[:, usable]))


def fold_splits(groups: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) row positions of the cross-fitting folds of rows with these ``groups`` (tickets)."""
    folds = GroupKFold(n_splits=min(FOLDS, len(np.unique(groups))))
    return list(folds.split(groups, groups=groups))


class Splits:
    """The folds of a group's quantities, made once per set of rated rows (most quantities share one)."""

    def __init__(self, groups: np.ndarray) -> None:
        self._groups = groups
        self._made: dict[bytes, list[tuple[np.ndarray, np.ndarray]]] = {}

    def __call__(self, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        known = ~np.isnan(y)
        key = np.packbits(known).tobytes()
        if key not in self._made:
            self._made[key] = fold_splits(self._groups[known])
        return self._made[key]


def cross_fitted(x: np.ndarray, y: np.ndarray, groups: np.ndarray,
                 splits: list[tuple[np.ndarray, np.ndarray]] | None = None) -> np.ndarray:
    """A prediction of ``y`` for every row (``x``: from :func:`features`): out-of-fold where ``y`` is known,
    the fold models' mean elsewhere; ``splits``: :func:`fold_splits` of the known rows' groups, if made already."""
    known = np.flatnonzero(~np.isnan(y))
    x_known, y_known = x[known], y[known]
    coef, intercept = np.zeros(x.shape[1]), 0.0
    fitted: list[tuple[np.ndarray, np.ndarray]] = []
    splits = fold_splits(groups[known]) if splits is None else splits
    with config_context(assume_finite=True):  # checked once in features(); validation dominated the run time
        for train, test in splits:
            model = Ridge(alpha=1.0).fit(x_known[train], y_known[train])
            fitted.append((test, model.predict(x_known[test])))
            coef, intercept = coef + model.coef_, intercept + model.intercept_
    out = x @ (coef / len(splits)) + intercept / len(splits)  # the fold models' mean, in one product
    for test, predicted in fitted:
        out[known[test]] = predicted
    return out


def with_rated(auto: pd.DataFrame, rated: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``auto`` with ``rated``'s ``columns`` (one row per rated item) on its rows, NaN where unrated. Arrow's
    hash lookup of the item ids: a pandas merge of a category's 200k string ids took a third of decide's time."""
    ids = pa.chunked_array(pa.array(auto["item_id"].array, from_pandas=True))
    rated_ids = pa.array(rated["item_id"].array, from_pandas=True).cast(ids.type)
    at = np.concatenate([c.to_numpy() for c in pc.fill_null(pc.index_in(ids, value_set=rated_ids), -1).chunks]
                        or [np.zeros(0, np.int32)])
    found = at >= 0
    placed = {}
    for name in columns:
        values = np.full(len(auto), np.nan)
        values[found] = rated[name].to_numpy(float)[at[found]]
        placed[name] = values
    return auto.assign(**placed)


def _entry(r: PPIMean, confidence: float, method: str = "prediction-powered") -> dict[str, Any]:
    half = float(sps.t.ppf(0.5 + confidence / 2, r.clusters - 1)) * r.se if r.clusters > 1 else np.nan
    return {"estimate": r.estimate, "low": r.estimate - half, "high": r.estimate + half, "se": r.se, "n": r.n,
            "tickets": r.clusters, "method": method, "lambda": r.lam, "unrated": r.unrated,
            "effective_n": r.effective_n}


def _stratified_critical(est: dict[str, Any], merged: pd.DataFrame, confidence: float) -> dict[str, Any] | None:
    """The exact bound of the AI critical rate stratified by the automatic critical flags (judge or rubric)."""
    judged = feature_values(merged, ("judge_critical_ai", "rubric_crit_ai"))
    if np.isnan(judged).all() or not est["critical_ai"]["n"]:
        return None
    flag = np.nanmax(np.where(np.isnan(judged), -1.0, judged), axis=1) > 0.5
    b = stratified_rate_upper(merged["crit_ai"].to_numpy(float), flag, confidence)
    return {"estimate": b.estimate, "upper_one_sided": b.upper, "flagged_share": float(flag.mean()), "strata": b.strata}


def prediction_powered(est: CategoryEstimates, rated: pd.DataFrame, auto: pd.DataFrame, confidence: float,
                       ) -> CategoryEstimates:
    """``est`` (ratings only, from ``rated``: the category's item table) with each gated estimate made
    prediction-powered from ``auto`` (the category's every item); unchanged where too few tickets are rated.
    A group drawn by certainty stratum (``auto["stratum"]``, ``eval.decide.design``) is estimated stratified."""
    if "stratum" in auto and auto["stratum"].notna().all():
        return by_stratum(est, rated, auto, confidence)
    if rated["ticket_id"].nunique() < MIN_TICKETS:
        return est
    merged = with_rated(auto, rated, [*GATED.values(), "crit_ai"])
    x, tickets = features(feature_values(merged)), ticket_codes(merged["ticket_id"])
    if x is None:
        return est
    out, effective, splits = dict(est.estimates), None, Splits(tickets)
    for name, col in GATED.items():
        y = merged[col].to_numpy(float)
        if len(np.unique(tickets[~np.isnan(y)])) < MIN_TICKETS or not np.isnan(y).any():
            continue  # too few rated tickets to fit and check a predictor, or nothing left unrated to add
        r = ppi_mean(y, cross_fitted(x, y, tickets, splits(y)), tickets)
        out[f"{name}_ratings_only"], out[name] = est.estimates[name], _entry(r, confidence)
        if name == "diff_mean" or (name == "win_rate_ai" and effective is None):
            effective = r.effective_n
    if out.keys() == est.estimates.keys():
        return est
    crit = _stratified_critical(est.estimates, merged, confidence)
    if crit is not None:
        out["critical_ai_stratified"] = crit
    return replace(est, diff=out["diff_mean"]["estimate"], diff_se=out["diff_mean"]["se"], estimates=out,
                   ratings_only=est, effective_ratings=effective)


def by_stratum(est: CategoryEstimates, rated: pd.DataFrame, auto: pd.DataFrame, confidence: float) -> CategoryEstimates:
    """``est`` for a group whose items were rated at different rates per certainty stratum: each gated
    estimate stratified (prediction-powered where a predictor can be fitted, else from the ratings alone)
    and the critical bound the exact stratified one. ``est``'s unweighted figures would over-weigh the
    over-sampled stratum; its other, ungated figures stay unweighted."""
    cols = [*GATED.values(), "crit_ai"]
    merged = with_rated(auto, rated, cols)
    strata, tickets = merged["stratum"].to_numpy(), ticket_codes(merged["ticket_id"])
    x = features(feature_values(merged)) if rated["ticket_id"].nunique() >= MIN_TICKETS else None
    out, alone, effective, splits = dict(est.estimates), dict(est.estimates), None, Splits(tickets)
    for name, col in GATED.items():
        y = merged[col].to_numpy(float)
        if np.isnan(y).all():
            continue
        fit = x is not None and len(np.unique(tickets[~np.isnan(y)])) >= MIN_TICKETS and bool(np.isnan(y).any())
        f = cross_fitted(x, y, tickets, splits(y)) if x is not None and fit else np.zeros(len(y))
        r = ppi_mean(y, f, tickets, None if fit else 0.0, strata)
        alone[name] = _entry(ppi_mean(y, f, tickets, 0.0, strata), confidence, "stratified")
        out[name] = _entry(r, confidence, "stratified, prediction-powered" if fit else "stratified")
        if fit:
            out[f"{name}_ratings_only"] = alone[name]
        if name == "diff_mean" or (name == "win_rate_ai" and effective is None):
            effective = r.effective_n
    b = stratified_rate_upper(merged["crit_ai"].to_numpy(float), strata, confidence)
    crit = {"estimate": b.estimate, "k": est.critical_k, "n": est.critical_n, "upper_one_sided": b.upper,
            "method": "stratified exact", "strata": b.strata}
    out["critical_ai"] = alone["critical_ai"] = crit
    was_rated = merged[cols].notna().any(axis=1).to_numpy()
    out["design"] = {"strata": [{"stratum": h, "items": int((strata == h).sum()),
                                 "rated": int((was_rated & (strata == h)).sum())} for h in sorted(set(strata))]}
    diff = out.get("diff_mean", {})
    ro = replace(est, diff=alone.get("diff_mean", {}).get("estimate", est.diff), critical_ub=b.upper, estimates=alone,
                 diff_se=alone.get("diff_mean", {}).get("se", est.diff_se))
    return replace(est, diff=diff.get("estimate", est.diff), diff_se=diff.get("se", est.diff_se), critical_ub=b.upper,
                   estimates=out, ratings_only=ro, effective_ratings=effective)
