"""Reviews of different tickets: bot-handled conversations against human-handled ones (observational).

The bot got different tickets than people did, usually the easier ones, so the raw difference of
means mixes the quality of the answers with the difficulty of the tickets. Both are reported:

* raw: per group (bot-handled, human-handled) the mean of the per-item review means; intervals from a
  bootstrap that resamples each group's tickets on its own (the groups are different tickets);
* adjusted: inverse-propensity weights. A logistic regression of P(bot-handled | what was known before
  the first answer: channel, language, first customer message length, the policy's
  ``unpaired_covariates`` metadata keys) is fitted on the tickets; tickets with a propensity outside
  [0.05, 0.95] are trimmed (nothing comparable was handled the other way), each group's mean is weighted
  by 1 / P(its group) normalised within the group (stabilised, Hajek), and the same bootstrap with the
  weights held fixed gives the interval (conservative: estimated propensities make the weighted mean at
  least as precise as known ones would).

The adjustment removes only the confounding these facts carry. The non-inferiority gate therefore uses
the less favourable of the two differences; with too few tickets left after trimming it has no adjusted
estimate and cannot pass. Rates of the bot's own answers (acceptable, critical) are those of the tickets
it got.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from eval import stats
from eval.decide.estimates import QUANTITIES, CategoryEstimates
from eval.policy import Policy

TRIM = 0.05
"""Propensities outside [TRIM, 1 - TRIM] have no comparable tickets on the other side (poor overlap)."""
BASE_COVARIATES = ("channel", "language", "first_message_chars")
COLUMNS = ("score", "acc")
"""The per-item columns averaged in each group: review score, acceptable."""


def unpaired_method() -> str:
    """What decisions.json's ``method`` says of unpaired reviews."""
    return (__doc__ or "").strip()


def read_covariates(path: Path, tickets: set[str], keys: list[str]) -> pd.DataFrame:
    """Per ticket of ``tickets`` in ``tickets.jsonl``: channel, language, first customer message length and
    the metadata ``keys``: what was known before the first answer, never its outcome."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            t = json.loads(line)
            if t.get("ticket_id") not in tickets:
                continue
            meta = t.get("metadata") or {}
            first = next((turn.get("text", "") for turn in t.get("turns", []) if turn.get("role") == "customer"), "")
            rows.append({"ticket_id": t["ticket_id"], "channel": t.get("channel"), "language": meta.get("language"),
                         "first_message_chars": len(first), **{f"metadata.{k}": meta.get(k) for k in keys}})
    return pd.DataFrame(rows, columns=["ticket_id", *BASE_COVARIATES, *(f"metadata.{k}" for k in keys)])


def _design(cov: pd.DataFrame) -> np.ndarray:
    """Numbers standardised (missing: 0 plus an indicator, lengths on a log scale), text one-hot;
    constant columns dropped."""
    parts = []
    for name in cov.columns:
        col = cov[name]
        numeric = pd.to_numeric(col, errors="coerce")
        if not col.notna().any() or numeric.notna().sum() < col.notna().sum():
            parts.append(pd.get_dummies(col.astype(object).where(col.notna(), "(unknown)").astype(str)).astype(float))
            continue
        x = np.log1p(numeric.clip(lower=0)) if name == "first_message_chars" else numeric
        parts.append(pd.DataFrame({name: x.fillna(x.mean()), f"{name} missing": numeric.isna().astype(float)}))
    if not parts:
        return np.zeros((len(cov), 0))
    x = pd.concat(parts, axis=1).to_numpy(float)
    x = x[:, x.std(axis=0) > 0]
    return (x - x.mean(axis=0)) / x.std(axis=0) if x.shape[1] else x


def propensity(bot: np.ndarray, cov: pd.DataFrame) -> np.ndarray:
    """P(bot-handled) per ticket from its covariates (the group share when none varies)."""
    x = _design(cov)
    if x.shape[1] == 0:
        return np.full(len(bot), bot.mean())
    model = LogisticRegression(C=1e4, max_iter=2000).fit(x, bot)
    return model.predict_proba(x)[:, 1]


def _group_means(values: np.ndarray, tickets: np.ndarray, weights: np.ndarray, n_boot: int,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Weighted ratio-of-sums means per column (``weights`` per cell), one bootstrap over tickets for all
    columns, SE (from the tickets a column weighs) and answers per column."""
    codes = np.unique(tickets, return_inverse=True)[1]
    g = int(codes.max()) + 1 if codes.size else 0
    defined = ~np.isnan(values)
    wv, wd = np.where(defined, values, 0.0) * weights, defined * weights
    num = np.stack([np.bincount(codes, weights=wv[:, j], minlength=g) for j in range(values.shape[1])], axis=1)
    den = np.stack([np.bincount(codes, weights=wd[:, j], minlength=g) for j in range(values.shape[1])], axis=1)
    weighed = (den > 0).sum(axis=0)
    some = weighed >= 2
    est, se = np.full(values.shape[1], np.nan), np.full(values.shape[1], np.nan)
    est[some] = num[:, some].sum(axis=0) / den[:, some].sum(axis=0)
    boot = stats.cluster_bootstrap(num, den, n_boot, rng)
    boot[:, ~some] = np.nan
    se[some] = np.nanstd(boot[:, some], axis=0, ddof=1) * np.sqrt(weighed[some] / (weighed[some] - 1))
    return est, boot, se, (defined & (weights > 0)).sum(axis=0)


def _interval(boot: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval per column; NaN for a column without a defined resample."""
    some = ~np.isnan(boot).all(axis=0)
    low, high = np.full(boot.shape[1], np.nan), np.full(boot.shape[1], np.nan)
    if some.any():
        low[some], high[some] = stats.percentile_interval(boot[:, some], confidence)
    return low, high


def _entry(estimate: float, low: float, high: float, se: float, n: int) -> dict[str, Any]:
    return {"estimate": float(estimate), "low": float(low), "high": float(high), "se": float(se), "n": int(n)}


NAN_ENTRY = _entry(np.nan, np.nan, np.nan, np.nan, 0)


def two_groups(units: pd.DataFrame, weights: np.ndarray, confidence: float, n_boot: int,
               rng: np.random.Generator) -> dict[str, dict[str, Any]]:
    """Per column of COLUMNS, and for the score weighted by ``weights`` (``score_adjusted``; 0: trimmed): each
    group's mean and the AI - human difference, every interval from resampling each group's tickets on its
    own (the same resamples for raw and weighted). NaN where a group has fewer than two tickets."""
    values = units[[*COLUMNS, "score"]].to_numpy(float)
    cells = np.column_stack([np.ones((len(units), len(COLUMNS))), weights])
    tickets = units["ticket_id"].to_numpy()
    sides = [(units["group"] == side).to_numpy() for side in ("ai", "human")]
    (est_a, boot_a, se_a, n_a), (est_h, boot_h, se_h, n_h) = (
        _group_means(values[part], tickets[part], cells[part], n_boot, part_rng)
        for part, part_rng in zip(sides, rng.spawn(2)))
    (lo_a, hi_a), (lo_h, hi_h), (lo_d, hi_d) = (_interval(b, confidence) for b in (boot_a, boot_h, boot_a - boot_h))
    out = {}
    for j, c in enumerate((*COLUMNS, "score_adjusted")):
        out[f"ai_{c}"] = _entry(est_a[j], lo_a[j], hi_a[j], se_a[j], n_a[j])
        out[f"human_{c}"] = _entry(est_h[j], lo_h[j], hi_h[j], se_h[j], n_h[j])
        out[f"diff_{c}"] = _entry(est_a[j] - est_h[j], lo_d[j], hi_d[j], float(np.hypot(se_a[j], se_h[j])),
                                  min(n_a[j], n_h[j]))
    return out


def ipw_weights(units: pd.DataFrame, cov: pd.DataFrame | None) -> tuple[np.ndarray, dict[str, Any]]:
    """Per unit the inverse of its ticket's propensity of its own group (0: trimmed), and the overlap seen;
    ``cov`` None: nothing known about the tickets (constant weights)."""
    tickets = units.drop_duplicates("ticket_id")[["ticket_id", "group"]]
    facts = (pd.DataFrame(index=range(len(tickets))) if cov is None else
             tickets[["ticket_id"]].merge(cov, on="ticket_id", how="left").drop(columns="ticket_id"))
    bot = (tickets["group"] == "ai").to_numpy()
    e = propensity(bot, facts)
    kept = (e >= TRIM) & (e <= 1 - TRIM)
    w = np.where(kept, np.where(bot, 1 / e, 1 / (1 - e)), 0.0)
    by_ticket = dict(zip(tickets["ticket_id"], w))
    weights = units["ticket_id"].map(by_ticket).to_numpy(float)
    kish = {side: float(w[bot == (side == "ai")].sum() ** 2 / max((w[bot == (side == "ai")] ** 2).sum(), 1e-300))
            for side in ("ai", "human")}
    return weights, {
        "covariates": [c for c in facts.columns if facts[c].nunique(dropna=False) > 1],
        "propensity_ai": [float(e[bot].min()), float(e[bot].max())] if bot.any() else None,
        "propensity_human": [float(e[~bot].min()), float(e[~bot].max())] if (~bot).any() else None,
        "trimmed_tickets": int((~kept).sum()), "tickets": int(len(kept)),
        "effective_tickets_ai": kish["ai"], "effective_tickets_human": kish["human"],
    }


def unpaired_estimates(units: pd.DataFrame, cov: pd.DataFrame | None, policy: Policy,
                       rng: np.random.Generator) -> CategoryEstimates | None:
    """One category's estimates from its reviewed historical answers (``units``: item_id, ticket_id,
    group ``ai`` (bot-handled) or ``human``, score, acc, crit), shaped as the paired ones so the same gates
    read them; None without two tickets on each side."""
    if min(units.loc[units["group"] == side, "ticket_id"].nunique() for side in ("ai", "human")) < 2:
        return None
    weights, overlap = ipw_weights(units, cov)
    g = two_groups(units, weights, policy.confidence, policy.bootstrap_resamples, rng)
    est: dict[str, Any] = {name: NAN_ENTRY for name in QUANTITIES}
    est |= {"mean_ai": g["ai_score"], "mean_human": g["human_score"], "diff_mean": g["diff_score"],
            "acceptable_ai": g["ai_acc"], "acceptable_human": g["human_acc"], "diff_acceptable": g["diff_acc"],
            "diff_mean_adjusted": g["diff_score_adjusted"]}
    for side in ("ai", "human"):
        flags = units.loc[units["group"] == side, "crit"].to_numpy(float)
        est[f"critical_{side}"] = _rate(int(np.nansum(flags)), int((~np.isnan(flags)).sum()), policy.confidence)
    items = units.groupby("group")["item_id"].nunique()
    n_tickets = int(units["ticket_id"].nunique())
    gate = _less_favourable(est["diff_mean"], est["diff_mean_adjusted"], policy, n_tickets)
    est["unpaired"] = {"items_ai": int(items.get("ai", 0)), "items_human": int(items.get("human", 0)),
                       "tickets_ai": int(units.loc[units["group"] == "ai", "ticket_id"].nunique()),
                       "tickets_human": int(units.loc[units["group"] == "human", "ticket_id"].nunique()),
                       "gate_uses": gate, **overlap}
    est["tickets"], est["confidence"] = n_tickets, policy.confidence
    crit, diff = est["critical_ai"], est["diff_mean" if gate == "raw" else "diff_mean_adjusted"]
    return CategoryEstimates(
        rated_items=int(min(items.get("ai", 0), items.get("human", 0))), tickets=n_tickets, diff=diff["estimate"],
        diff_se=diff["se"], critical_k=crit["k"], critical_n=crit["n"], critical_ub=crit["upper_one_sided"],
        estimates=est,
    )


def _rate(k: int, n: int, confidence: float) -> dict[str, Any]:
    low, high = stats.clopper_pearson(k, n, confidence)
    return {"estimate": k / n if n else float("nan"), "k": k, "n": n, "low": low, "high": high,
            "upper_one_sided": stats.clopper_pearson_upper(k, n, confidence)}


def _less_favourable(raw: dict[str, Any], adjusted: dict[str, Any], policy: Policy, tickets: int) -> str:
    """``raw`` or ``adjusted``: whichever gives the larger non-inferiority p (no adjusted estimate: adjusted,
    which then fails the gate)."""
    if not np.isfinite(adjusted["estimate"]):
        return "adjusted"
    p = {name: stats.noninferiority_p(e["estimate"], e["se"], policy.margin, tickets - 1)
         for name, e in (("raw", raw), ("adjusted", adjusted))}
    return "adjusted" if p["adjusted"] >= p["raw"] else "raw"
