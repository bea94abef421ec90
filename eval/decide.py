"""The policy (YAML) applied to ratings: a tier per category, with every gate and number behind it.

Method, in the order the numbers are made:

* Ratings of reviewers flagged unreliable (``eval.ratings.agreement``) are dropped by default.
* Per item, the reliable reviewers' answers are averaged: one paired (AI, human) observation.
  Preferences count AI = 1, human = 0, ties = 1/2. The AI answer of an item counts as a
  critical failure when *any* reliable reviewer flagged it: a missed harm costs more than a
  false alarm, so the safety gates use the conservative rule.
* Intervals: percentile bootstrap resampling whole tickets (ratio of sums, so items of a
  ticket stay together). Critical rates: exact Clopper-Pearson one-sided upper bounds.
* Non-inferiority (AI - human mean rating > -margin): one-sided t test with the bootstrap
  standard error and df = tickets - 1, Holm-adjusted across the categories that pass the
  evidence gates; the gate reports the lower bound at the level Holm gives that category.
"""

from __future__ import annotations

import json
import math

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps
from sklearn.metrics import cohen_kappa_score

from eval import stats
from eval.policy import Policy
from eval.ratings.agreement import item_alpha, long_scores, reviewer_reliability
from eval.ratings.importer import read_item_index, read_ratings
from eval.records import CategoryDecision, Decisions, Reason, Score, Tier
from eval.store import read_jsonl, write_json

QUANTITIES = {
    "mean_ai": "score_ai", "mean_human": "score_human", "diff_mean": "diff",
    "win_rate_ai": "win", "tie_bad_rate": "tie_bad",
    "acceptable_ai": "acc_ai", "acceptable_human": "acc_human", "diff_acceptable": "acc_diff",
    "rubric_ai": "rubric_ai", "rubric_human": "rubric_human", "rubric_diff": "rubric_diff",
}


def _flag(col: pd.Series) -> np.ndarray:
    """Optional booleans as 1.0 / 0.0 / NaN (not answered)."""
    values = col.to_numpy(dtype=object)
    return np.where(pd.isna(values), np.nan, values == True).astype(float)


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
    rubric = _rubric_columns(scores, table.index)
    table = table.join(rubric)
    table["rubric_diff"] = table["rubric_ai"] - table["rubric_human"]
    return table.reset_index()


def _rubric_columns(scores: pd.DataFrame | None, index: pd.Index) -> pd.DataFrame:
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
    cm = stats.clustered_means(part[list(QUANTITIES.values())].to_numpy(float), part["ticket_id"].to_numpy(),
                               confidence, n_boot, rng)
    est: dict[str, Any] = {
        name: {"estimate": float(cm.estimate[j]), "low": float(cm.low[j]), "high": float(cm.high[j]),
               "se": float(cm.se[j]), "n": int(cm.n[j])}
        for j, name in enumerate(QUANTITIES)
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


def _eligibility(cat: str, est: CategoryEstimates | None, alpha: float, policy: Policy) -> list[Reason]:
    rated = est.rated_items if est else 0
    on_list = cat in policy.always_human
    alpha_ok = bool(np.isfinite(alpha) and alpha >= policy.min_alpha)
    alpha_text = (
        f"reviewer agreement alpha {alpha:.3f}" if np.isfinite(alpha)
        else "reviewer agreement cannot be computed (no item rated by two reliable reviewers)"
    )
    return [
        Reason(gate="always_human", passed=not on_list, value=None, threshold=None,
               text="policy keeps this category human" if on_list else "not on the always-human list"),
        Reason(gate="min_rated", passed=rated >= policy.min_rated, value=rated, threshold=policy.min_rated,
               text=f"{rated} rated items, {'at least' if rated >= policy.min_rated else 'fewer than'} "
                    f"the {policy.min_rated} required"),
        Reason(gate="reviewer_alpha", passed=alpha_ok, value=alpha if np.isfinite(alpha) else None,
               threshold=policy.min_alpha,
               text=f"{alpha_text}, {'at least' if alpha_ok else 'below'} the {policy.min_alpha} required"),
    ]


def _noninferiority(est: CategoryEstimates, policy: Policy, level: float, p_adj: float | None) -> Reason:
    lb = stats.t_lower_bound(est.diff, est.diff_se, est.tickets - 1, level)
    p = stats.noninferiority_p(est.diff, est.diff_se, policy.margin, est.tickets - 1)
    tested = p_adj is not None
    passed = (p_adj <= policy.noninferiority_alpha) if tested else lb > -policy.margin
    text = (f"AI - human mean rating {est.diff:+.2f}, lower bound {lb:+.2f} at one-sided level {level:.4g}"
            f" {'above' if lb > -policy.margin else 'not above'} -{policy.margin}")
    if tested and passed != (lb > -policy.margin):
        text += "; held back by the Holm step-down"
    if not tested:
        text += " (not tested: the category fails an evidence gate)"
    return Reason(gate="non_inferiority", passed=bool(passed), value=lb, threshold=-policy.margin,
                  text=text, level=level, p_value=p, p_adjusted=p_adj)


def _rate_gate(gate: str, est: CategoryEstimates, threshold: float, conf: float) -> Reason:
    ub = est.critical_ub
    return Reason(
        gate=gate, passed=ub <= threshold, value=ub, threshold=threshold,
        text=f"AI critical failures {est.critical_k} of {est.critical_n} items; exact {conf:.0%} upper "
             f"bound {ub:.1%} {'within' if ub <= threshold else 'above'} the {threshold:.0%} allowed",
    )


def _lower_gate(gate: str, what: str, est: CategoryEstimates, key: str, threshold: float, strict: bool) -> Reason:
    low = est.estimates.get(key, {}).get("low")
    known = low is not None and bool(np.isfinite(low))
    ok = known and (low > threshold if strict else low >= threshold)
    shown = f"{low:+.3f}" if known else "undefined (no answers)"
    return Reason(gate=gate, passed=bool(ok), value=low if known else None, threshold=threshold,
                  text=f"{what}: lower end of the {est.estimates['confidence']:.0%} interval {shown}, "
                       f"needs {'more than' if strict else 'at least'} {threshold:+.3f}")


def _gates(est: CategoryEstimates, policy: Policy, level: float, p_adj: float | None) -> list[Reason]:
    conf = policy.confidence
    return [
        _noninferiority(est, policy, level, p_adj),
        _rate_gate("critical_automate", est, policy.critical_ub_automate, conf),
        _lower_gate("acceptable_diff", "AI - human acceptable rate", est, "diff_acceptable",
                    policy.acceptable_diff_lb, strict=True),
        _lower_gate("acceptable_assist", "AI acceptable rate", est, "acceptable_ai", policy.acceptable_lb_assist,
                    strict=False),
        _rate_gate("critical_assist", est, policy.critical_ub_assist, conf),
    ]


AUTOMATE_GATES = ("non_inferiority", "critical_automate", "acceptable_diff")
ASSIST_GATES = ("acceptable_assist", "critical_assist")
ELIGIBILITY_GATES = ("always_human", "min_rated", "reviewer_alpha")


def tier_of(reasons: list[Reason]) -> Tier:
    passed = {r.gate: r.passed for r in reasons}
    if not all(passed.get(g, False) for g in ELIGIBILITY_GATES):
        return "human"
    if all(passed.get(g, False) for g in AUTOMATE_GATES):
        return "automate"
    if all(passed.get(g, False) for g in ASSIST_GATES):
        return "assist"
    return "human"


def _needed_for(gate: str, est: CategoryEstimates, policy: Policy, level: float) -> int | None:
    two_sided_tail = (1.0 - policy.confidence) / 2.0
    if gate == "non_inferiority":
        return stats.more_items_for_mean(est.rated_items, est.diff, est.diff_se, -policy.margin, level, policy.power)
    if gate in ("critical_automate", "critical_assist"):
        thr = policy.critical_ub_automate if gate == "critical_automate" else policy.critical_ub_assist
        return stats.more_items_for_rate_bound(est.critical_n, est.critical_k, thr, policy.confidence, policy.power)
    key, bound = (("diff_acceptable", policy.acceptable_diff_lb) if gate == "acceptable_diff"
                  else ("acceptable_ai", policy.acceptable_lb_assist))
    entry = est.estimates[key]
    return stats.more_items_for_mean(entry["n"], entry["estimate"], entry["se"], bound, two_sided_tail, policy.power)


def _ratings_needed(
    tier: Tier, reasons: list[Reason], est: CategoryEstimates | None, policy: Policy, level: float
) -> tuple[int | None, dict[str, int | None], str]:
    failed = [r.gate for r in reasons if not r.passed]
    if tier == "automate":
        return 0, {}, "every automate gate passes"
    blocking = [g for g in ELIGIBILITY_GATES if g in failed]
    if "always_human" in blocking:
        return None, {"always_human": None}, "the policy keeps this category human"
    if "min_rated" in blocking:
        short = policy.min_rated - (est.rated_items if est else 0)
        also = " (reviewer agreement on the items so far is also below the bar)" if len(blocking) > 1 else ""
        return short, {"min_rated": short}, f"{short} more rated items reach min_rated{also}"
    if blocking:
        return None, {"reviewer_alpha": None}, ("reviewers agree too little: more ratings alone will not "
                                                "settle it; clarify the guidelines or retrain reviewers")
    target = AUTOMATE_GATES if tier == "assist" else ASSIST_GATES
    by_gate = {g: _needed_for(g, est, policy, level) for g in target if g in failed}
    if any(v is None for v in by_gate.values()):
        stuck = ", ".join(g for g, v in by_gate.items() if v is None)
        return None, by_gate, f"not reachable at the observed effect ({stuck} points the wrong way)"
    need = max(by_gate.values())
    return need, by_gate, (f"about {need} more rated items would settle {', '.join(by_gate)} "
                           f"with {policy.power:.0%} power at the observed effect and variance")


def _audit(est: CategoryEstimates, policy: Policy) -> tuple[int | None, str]:
    base = est.critical_k / est.critical_n if est.critical_k else est.critical_ub
    raised = base * policy.audit_rate_multiplier
    n = stats.audit_sample_size(base, policy.audit_rate_multiplier, policy.audit_alpha, policy.audit_power)
    basis = "observed rate" if est.critical_k else "upper bound (none observed)"
    return n, (f"an exact one-sided binomial test at {policy.audit_alpha} on {n} audited AI answers flags a "
               f"critical rate of {raised:.2%} ({policy.audit_rate_multiplier:g}x the {basis} {base:.2%}) "
               f"with {policy.audit_power:.0%} probability")


def _holm_family(
    estimates: dict[str, CategoryEstimates], eligible: list[str], policy: Policy
) -> tuple[dict[str, float], dict[str, float]]:
    """Holm level and adjusted p per eligible category (the others are not tested)."""
    if not eligible:
        return {}, {}
    p = np.array([
        stats.noninferiority_p(estimates[c].diff, estimates[c].diff_se, policy.margin, estimates[c].tickets - 1)
        for c in eligible
    ])
    result = stats.holm(p, policy.noninferiority_alpha)
    return dict(zip(eligible, result.levels.tolist())), dict(zip(eligible, result.adjusted.tolist()))


def decide(
    ratings: pd.DataFrame, items: pd.DataFrame, scores: pd.DataFrame | None,
    policy: Policy, rng: np.random.Generator,
) -> Decisions:
    """Pure: unblinded ratings + item index (+ rubric scores) -> a tier per category."""
    reliability = reviewer_reliability(ratings, policy.reviewers) if len(ratings) else pd.DataFrame()
    flagged = sorted(reliability.loc[reliability["flagged"], "reviewer"]) if len(reliability) else []
    excluded = flagged if policy.reviewers.exclude_unreliable else []
    used = ratings[~ratings["reviewer"].isin(excluded)]
    table = item_table(used, scores)
    tickets = items.groupby("category")["ticket_id"].nunique()
    all_tickets = items["ticket_id"].nunique()
    cats = sorted(set(items["category"]) | set(used["category"]))
    rngs = dict(zip(cats, rng.spawn(len(cats))))
    ests = {c: category_estimates(part, policy.confidence, policy.bootstrap_resamples, rngs[c])
            for c, part in table.groupby("category", sort=True)}
    alphas = {c: item_alpha(long_scores(part), 0, policy.confidence, None).alpha
              for c, part in used.groupby("category", sort=True)}
    eligible = [c for c in cats
                if all(r.passed for r in _eligibility(c, ests.get(c), alphas.get(c, float("nan")), policy))]
    levels, adjusted = _holm_family(ests, eligible, policy)
    out = [
        decide_category(c, ests.get(c), alphas.get(c, float("nan")), policy,
                        levels.get(c, policy.noninferiority_alpha), adjusted.get(c),
                        int(tickets.get(c, 0)) / all_tickets if all_tickets else 0.0, int(tickets.get(c, 0)))
        for c in cats
    ]
    note = (f"{len(excluded)} reviewer(s) flagged unreliable and left out of these decisions: "
            f"{', '.join(excluded)}" if excluded else "no reviewer left out")
    if flagged and not excluded:
        note = f"flagged but kept (policy): {', '.join(flagged)}"
    return Decisions(policy=policy.model_dump(mode="json"), method=__doc__.strip(),
                     reviewers_excluded=excluded, reviewers_note=note, categories=out)


def decide_category(
    cat: str, est: CategoryEstimates | None, alpha: float, policy: Policy,
    level: float, p_adj: float | None, volume_share: float = 0.0, tickets: int = 0,
) -> CategoryDecision:
    """One category's tier; ``level``/``p_adj`` come from Holm across categories (None: not tested)."""
    reasons = _eligibility(cat, est, alpha, policy)
    if est is not None:
        reasons += _gates(est, policy, level, p_adj)
    tier = tier_of(reasons)
    need, by_gate, need_text = _ratings_needed(tier, reasons, est, policy, level)
    audit, audit_text = _audit(est, policy) if tier == "automate" else (None, "")
    return CategoryDecision(
        category=cat, tier=tier, tickets=tickets, volume_share=volume_share,
        rated_items=est.rated_items if est else 0, estimates=est.estimates if est else {},
        reasons=reasons, ratings_needed=need, ratings_needed_by_gate=by_gate, ratings_needed_text=need_text,
        audit_sample_per_week=audit, audit_text=audit_text,
    )


def decide_to_file(run_dir: Path, policy: Policy, seed: int) -> Decisions:
    """Read RUN/ratings.jsonl, items.jsonl (and scores.jsonl if present); write RUN/decisions.json."""
    run_dir = Path(run_dir)
    ratings = read_ratings(run_dir / "ratings.jsonl")
    items = read_item_index(run_dir / "items.jsonl")
    scores_path = run_dir / "scores.jsonl"
    scores = read_scores(scores_path) if scores_path.exists() else None
    decisions = decide(ratings, items, scores, policy, np.random.default_rng(seed))
    categories = _within_volume(_with_judge(run_dir, decisions, policy), _weekly_items(run_dir, items))
    decisions = decisions.model_copy(update={"seed": seed, "categories": categories})
    write_json(run_dir / "decisions.json", stats.rounded(decisions.model_dump(mode="json")))
    return decisions


def _weekly_items(run_dir: Path, items: pd.DataFrame) -> dict[str, float]:
    """Agent turns per week and category, over the first-to-last ``created_at`` of the tickets."""
    path = run_dir / "tickets.jsonl"
    if not path.exists():
        return {}
    with open(path, encoding="utf-8") as fh:
        times = pd.to_datetime([json.loads(line).get("created_at") for line in fh if line.strip()],
                               utc=True, errors="coerce", format="ISO8601")
    if len(times) == 0 or times.isna().any():
        return {}
    weeks = max((times.max() - times.min()).total_seconds() / (7 * 86400), 1.0)
    return {c: n / weeks for c, n in items.groupby("category").size().items()}


def _within_volume(categories: list[CategoryDecision], weekly: dict[str, float]) -> list[CategoryDecision]:
    """An audit sample larger than a week's AI answers becomes: audit them all, for this many weeks."""
    out = []
    for c in categories:
        per_week = weekly.get(c.category)
        update: dict[str, Any] = {"ai_answers_per_week": None if per_week is None else round(per_week, 1)}
        n = c.audit_sample_per_week
        if n is not None and per_week and n > per_week:
            weeks = math.ceil(n / per_week)
            update |= {"audit_weeks": weeks, "audit_sample_per_week": math.ceil(per_week), "audit_text": (
                f"audit every AI answer (about {per_week:.0f} a week) for {weeks} weeks to reach the {n} "
                f"needed, and keep auditing them all: {c.audit_text}")}
        elif n is not None:
            update["audit_text"] = f"audit {n} AI answers a week: {c.audit_text}"
        out.append(c.model_copy(update=update))
    return out


def _with_judge(run_dir: Path, decisions: Decisions, policy: Policy) -> list[CategoryDecision]:
    from eval.judges.evidence import judge_evidence_of_run

    evidence = judge_evidence_of_run(run_dir, policy.confidence)
    return [c.model_copy(update={"judge": evidence[c.category].model_dump() if c.category in evidence else None})
            for c in decisions.categories]


def read_scores(path: Path) -> pd.DataFrame:
    rows = [(s.item_id, s.side, s.score, s.critical_fail) for s in read_jsonl(path, Score)]
    return pd.DataFrame(rows, columns=["item_id", "side", "score", "critical_fail"])
