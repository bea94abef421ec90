"""What a decision asks for next: more ratings where a gate is unsettled, audits where it automates.

Kept apart from the gates: a tier never depends on these numbers, they only plan the evidence.
"""

from __future__ import annotations

import math
from typing import Any

from eval import stats
from eval.decide.estimates import CategoryEstimates
from eval.decide.gates import ASSIST_GATES, AUTOMATE_GATES, ELIGIBILITY_GATES, KIND_GATES, measured
from eval.policy import Policy
from eval.records import CategoryDecision, Reason, Tier


def _needed_for(gate: str, est: CategoryEstimates, policy: Policy, level: float) -> int | None:
    two_sided_tail = (1.0 - policy.confidence) / 2.0
    if gate == "non_inferiority":
        t = measured(est, policy)
        return stats.more_items_for_mean(t.n, t.estimate, t.se, t.threshold, level, policy.power)
    if gate in ("critical_automate", "critical_assist"):
        thr = policy.critical_ub_automate if gate == "critical_automate" else policy.critical_ub_assist
        return stats.more_items_for_rate_bound(est.critical_n, est.critical_k, thr, policy.confidence, policy.power)
    key, bound = (("diff_acceptable", policy.acceptable_diff_lb) if gate == "acceptable_diff"
                  else ("acceptable_ai", policy.acceptable_lb_assist))
    entry = est.estimates[key]
    return stats.more_items_for_mean(entry["n"], entry["estimate"], entry["se"], bound, two_sided_tail, policy.power)


def ratings_needed(
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
    assert est is not None, "past the eligibility gates a category has estimates"
    held = [g for g in KIND_GATES if g in failed]
    if tier == "assist" and held:
        return None, dict.fromkeys(held), ("more reviews of different tickets cannot reach automate: review both "
                                           "answers of the same turns, or rate blind pairs")
    target = AUTOMATE_GATES if tier == "assist" else ASSIST_GATES
    unsupported = [r.gate for r in reasons if r.gate in target and not r.passed and r.value is None]
    if unsupported:
        return None, dict.fromkeys(unsupported), (f"more ratings like these cannot settle {', '.join(unsupported)} "
                                                  "(no rating carries the flags needed): ask reviewers to mark "
                                                  "acceptable and critical answers")
    by_gate = {g: _needed_for(g, est, policy, level) for g in target if g in failed}
    stuck = ", ".join(g for g, v in by_gate.items() if v is None)
    if stuck:
        return None, by_gate, f"not reachable at the observed effect ({stuck} points the wrong way)"
    need = max(v for v in by_gate.values() if v is not None)
    return need, by_gate, (f"about {need} more rated items would settle {', '.join(by_gate)} "
                           f"with {policy.power:.0%} power at the observed effect and variance")


def audit_plan(est: CategoryEstimates, policy: Policy) -> tuple[int | None, str]:
    base = est.critical_k / est.critical_n if est.critical_k else est.critical_ub
    raised = base * policy.audit_rate_multiplier
    n = stats.audit_sample_size(base, policy.audit_rate_multiplier, policy.audit_alpha, policy.audit_power)
    basis = "observed rate" if est.critical_k else "upper bound (none observed)"
    return n, (f"an exact one-sided binomial test at {policy.audit_alpha} on {n} audited AI answers flags a "
               f"critical rate of {raised:.2%} ({policy.audit_rate_multiplier:g}x the {basis} {base:.2%}) "
               f"with {policy.audit_power:.0%} probability")


def within_volume(categories: list[CategoryDecision], weekly: dict[str, float]) -> list[CategoryDecision]:
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
