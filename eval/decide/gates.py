"""The gates a category must pass for each tier, and the tier they give.

Eligibility gates are judged first so that only categories with enough trustworthy evidence
enter the Holm family of non-inferiority tests (the others are reported as not tested).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import TypeVar

import numpy as np

from eval import stats
from eval.decide.estimates import CategoryEstimates
from eval.policy import Policy
from eval.records import Reason, Tier

K = TypeVar("K", bound=Hashable)


def eligibility(cat: str, est: CategoryEstimates | None, alpha: float, policy: Policy) -> list[Reason]:
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
    passed = (p_adj <= policy.noninferiority_alpha) if p_adj is not None else lb > -policy.margin
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


def tier_gates(est: CategoryEstimates, policy: Policy, level: float, p_adj: float | None) -> list[Reason]:
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


def holm_family(
    estimates: Mapping[K, CategoryEstimates], eligible: list[K], policy: Policy
) -> tuple[dict[K, float], dict[K, float]]:
    """Holm level and adjusted p per eligible group (the others are not tested)."""
    if not eligible:
        return {}, {}
    p = np.array([
        stats.noninferiority_p(estimates[c].diff, estimates[c].diff_se, policy.margin, estimates[c].tickets - 1)
        for c in eligible
    ])
    result = stats.holm(p, policy.noninferiority_alpha)
    return dict(zip(eligible, result.levels.tolist())), dict(zip(eligible, result.adjusted.tolist()))


def lacks_evidence(reasons: list[Reason]) -> bool:
    """Human for want of evidence (too few rated items, or none rated twice to measure agreement),
    as opposed to evidence against the AI: what "not enough evidence" means wherever it is shown."""
    failed = {r.gate: r for r in reasons if not r.passed}
    return "min_rated" in failed or ("reviewer_alpha" in failed and failed["reviewer_alpha"].value is None)
