"""Per-category estimates from the rated items: the numbers every gate reads.

Reviewers' answers are averaged per item first, so an item rated three times weighs as much as
one rated once; intervals resample whole tickets because items of a ticket are not independent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps
from sklearn.metrics import cohen_kappa_score

from eval import stats


QUANTITIES = {
    "mean_ai": "score_ai", "mean_human": "score_human", "diff_mean": "diff",
    "win_rate_ai": "win", "tie_bad_rate": "tie_bad",
    "acceptable_ai": "acc_ai", "acceptable_human": "acc_human", "diff_acceptable": "acc_diff",
    "rubric_ai": "rubric_ai", "rubric_human": "rubric_human", "rubric_diff": "rubric_diff",
}


def _flag(col: pd.Series) -> np.ndarray:
    """Optional booleans as 1.0 / 0.0 / NaN (not answered)."""
    values = col.to_numpy(dtype=object)
    return np.where(pd.isna(values), np.nan, values == True).astype(float)  # noqa: E712 (elementwise on an object array)


def item_table(ratings: pd.DataFrame, scores: pd.DataFrame | None) -> pd.DataFrame:
    """One row per rated item: the reviewers' answers averaged (critical: any reviewer), plus rubric."""
    pref = ratings["preference"].to_numpy(dtype=object)
    missing = pd.isna(pref)
    per_rating = pd.DataFrame({
        "item_id": ratings["item_id"].to_numpy(), "ticket_id": ratings["ticket_id"].to_numpy(),
        "category": ratings["category"].to_numpy(),
        "score_ai": ratings["score_ai"].astype(float).to_numpy(),
        "score_human": ratings["score_human"].astype(float).to_numpy(),
        "win": np.select([missing, pref == "ai", pref == "human"], [np.nan, 1.0, 0.0], 0.5),
        "tie_bad": np.where(missing, np.nan, (pref == "tie_bad").astype(float)),
        "acc_ai": _flag(ratings["acceptable_ai"]), "acc_human": _flag(ratings["acceptable_human"]),
        "crit_ai": _flag(ratings["critical_ai"]), "crit_human": _flag(ratings["critical_human"]),
    })
    grouped = per_rating.groupby("item_id", sort=True)
    table = grouped[["score_ai", "score_human", "win", "tie_bad", "acc_ai", "acc_human"]].mean()
    table[["crit_ai", "crit_human"]] = grouped[["crit_ai", "crit_human"]].max()
    table[["ticket_id", "category"]] = grouped[["ticket_id", "category"]].first()
    table["reviewers"] = grouped.size()
    table["diff"] = table["score_ai"] - table["score_human"]
    table["acc_diff"] = table["acc_ai"] - table["acc_human"]
    rubric = rubric_columns(scores, table.index)
    table = table.join(rubric)
    table["rubric_diff"] = table["rubric_ai"] - table["rubric_human"]
    return table.reset_index()


def rubric_columns(scores: pd.DataFrame | None, index: pd.Index) -> pd.DataFrame:
    cols = ["rubric_ai", "rubric_human", "rubric_crit_ai", "rubric_crit_human"]
    if scores is None or scores.empty:
        return pd.DataFrame(np.nan, index=index, columns=cols)
    wide = scores.pivot_table(index="item_id", columns="side", values=["score", "critical_fail"], aggfunc="first")
    out = pd.DataFrame(index=index)
    for side in ("ai", "human"):
        out[f"rubric_{side}"] = wide.get(("score", side), pd.Series(dtype=float)).reindex(index).astype(float)
        crit = wide.get(("critical_fail", side), pd.Series(dtype=float)).reindex(index)
        out[f"rubric_crit_{side}"] = crit.astype(float)
    return out


@dataclass(frozen=True)
class CategoryEstimates:
    rated_items: int
    tickets: int
    diff: float
    diff_se: float
    critical_k: int
    critical_n: int
    critical_ub: float
    estimates: dict[str, Any]
    ratings_only: CategoryEstimates | None = None
    """The same from the ratings alone, where automatic evidence made these prediction-powered."""
    effective_ratings: float | None = None
    """Ratings the gated difference (or win rate) is worth with the automatic evidence."""


def _rubric_tracking(part: pd.DataFrame) -> dict[str, Any]:
    """Spearman of rubric vs mean reviewer score per (item, side); Cohen's kappa of rubric pass
    (score >= 0.5, not critical) vs majority-acceptable (binary labels, so no weighting applies)."""
    rub = np.concatenate([part["rubric_ai"], part["rubric_human"]])
    rev = np.concatenate([part["score_ai"], part["score_human"]])
    ok = ~np.isnan(rub)
    rho = float(sps.spearmanr(rub[ok], rev[ok]).statistic) if ok.sum() > 2 else float("nan")
    crit = np.concatenate([part["rubric_crit_ai"], part["rubric_crit_human"]])
    acc = np.concatenate([part["acc_ai"], part["acc_human"]])
    both = ok & ~np.isnan(acc)
    rubric_pass = (rub[both] >= 0.5) & (crit[both] != 1.0)
    labels = (rubric_pass.astype(int), (acc[both] > 0.5).astype(int))
    kappa = float("nan")
    if both.sum() > 1 and len(np.unique(np.concatenate(labels))) > 1:
        kappa = float(cohen_kappa_score(*labels))
    return {"spearman_score": rho, "n_scored": int(ok.sum()), "kappa_acceptable": kappa,
            "n_kappa": int(both.sum()),
            "critical_rate_ai": float(np.nanmean(part["rubric_crit_ai"])) if ok.any() else float("nan")}


def category_estimates(
    part: pd.DataFrame, confidence: float, n_boot: int, rng: np.random.Generator
) -> CategoryEstimates:
    """Every estimate of one category, from its item table (rows = rated items)."""
    cols = list(QUANTITIES.values())
    cm = stats.clustered_means(part[cols].to_numpy(float), part["ticket_id"].to_numpy(), confidence, n_boot, rng)
    carried = part.groupby("ticket_id", sort=False)[cols].count().gt(0).sum()  # tickets with a value: the t-test df
    est: dict[str, Any] = {
        name: {"estimate": float(cm.estimate[j]), "low": float(cm.low[j]), "high": float(cm.high[j]),
               "se": float(cm.se[j]), "n": int(cm.n[j]), "tickets": int(carried[col])}
        for j, (name, col) in enumerate(QUANTITIES.items())
    }
    for side in ("ai", "human"):
        flags = part[f"crit_{side}"].to_numpy()
        k, n = int(np.nansum(flags)), int((~np.isnan(flags)).sum())
        low, high = stats.clopper_pearson(k, n, confidence)
        est[f"critical_{side}"] = {"estimate": k / n if n else float("nan"), "k": k, "n": n, "low": low,
                                   "high": high, "upper_one_sided": stats.clopper_pearson_upper(k, n, confidence)}
    est["rubric_tracking"] = _rubric_tracking(part)
    est["tickets"], est["confidence"] = cm.clusters, confidence
    crit = est["critical_ai"]
    return CategoryEstimates(
        rated_items=len(part), tickets=cm.clusters, diff=est["diff_mean"]["estimate"], diff_se=est["diff_mean"]["se"],
        critical_k=crit["k"], critical_n=crit["n"], critical_ub=crit["upper_one_sided"], estimates=est,
    )
