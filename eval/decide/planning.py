"""What a decision asks for next: more ratings where a gate is unsettled, audits where it automates.

The audit plan shares QA's audit hours over the automated categories and says how fast the
monitor's e-detectors (eval.stats.sequential) would catch a raised harmful rate at that rate of audit.

Kept apart from the gates: a tier never depends on these numbers, they only plan the evidence.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from eval import stats
from eval.decide.estimates import CategoryEstimates
from eval.decide.gates import ASSIST_GATES, AUTOMATE_GATES, ELIGIBILITY_GATES, KIND_GATES, measured
from eval.policy import Policy
from eval.records import CategoryDecision, Reason, Tier
from eval.stats.sequential import SCORE_HIGH, SCORE_LOW, DetectorSpec, alarm_times, harm_spec, split_alpha

PLAN_RUNS, PLAN_SEED = 200, 0
"""Simulated runs per detection delay in the audit plan, and their seed."""
RISES = {2.0: "a doubling", 3.0: "a tripling", 4.0: "a quadrupling"}


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


def score_null(est: CategoryEstimates, policy: Policy) -> tuple[float, float] | None:
    """The human baseline and the score the live mean must stay above (baseline - margin); None without scores."""
    human = est.estimates.get("mean_human", {}).get("estimate")
    if human is None or not math.isfinite(human) or not SCORE_LOW < human - policy.margin < SCORE_HIGH:
        return None
    return human, human - policy.margin


def audit_plan(est: CategoryEstimates, policy: Policy) -> str:
    """What the monitor tests once a category automates; the weekly audits come with the volume (within_volume)."""
    text = f"the monitor demotes it when the harmful rate rises above the {policy.critical_ub_automate:.1%} automate limit"
    null = score_null(est, policy)
    if null is not None:
        text += (f" or the mean review score falls below {null[1]:.2f} (the human {null[0]:.2f} "
                 f"less the {policy.margin:g} margin)")
    return text


def audit_allocation(volumes: dict[str, float | None], capacity: float) -> dict[str, int]:
    """QA's audits a week shared in proportion to AI answers a week, never more than a category's answers.

    Water-filling: a category capped at its volume hands what it cannot use to the others. Without every
    volume known, the shares are equal (and uncapped where unknown).
    """
    known = all(v is not None and v > 0 for v in volumes.values())
    weight = {c: (v if known and v is not None else 1.0) for c, v in volumes.items()}
    cap = {c: (math.inf if v is None else v) for c, v in volumes.items()}
    left, todo = capacity, set(volumes)
    share: dict[str, float] = {}
    while todo:
        total = sum(weight[c] for c in todo)
        capped = {c for c in todo if cap[c] <= left * weight[c] / total}
        if not capped:
            share |= {c: left * weight[c] / total for c in todo}
            break
        share |= {c: cap[c] for c in capped}
        left -= sum(cap[c] for c in capped)
        todo -= capped
    return {c: max(1, math.floor(share[c] + 1e-9)) for c in volumes}


def detection_weeks(spec: DetectorSpec, rate: float, per_week: int, weeks: int, power: float) -> tuple[float, float]:
    """Median and ``power``-quantile weeks for the harm detector to alarm once the harmful rate is ``rate``.

    Simulated from a new detector (PLAN_RUNS runs, fixed seed: the plan is deterministic); inf where
    the detector does not alarm within the horizon.
    """
    rng = np.random.default_rng(PLAN_SEED)
    times = alarm_times(spec, lambda start, n: rng.random((PLAN_RUNS, n)) < rate, PLAN_RUNS, per_week * weeks)
    median, slow = np.quantile(times, [0.5, power], method="inverted_cdf") / per_week
    return float(median), float(slow)


def _caught(weeks: float, slow: float, policy: Policy, first: bool) -> str:
    horizon = policy.monitor_horizon_weeks
    if math.isinf(weeks):
        return f"{'would probably not be caught' if first else 'probably not'} within the {horizon}-week horizon"
    when = "within a week" if weeks <= 1 else f"in about {round(weeks)} weeks"
    if math.isfinite(slow):
        tail = f"within {math.ceil(slow)}{f' in {policy.audit_power:.0%} of cases' if first else ''}"
    else:
        tail = f"within the horizon in fewer than {policy.audit_power:.0%} of cases"
    return f"{'would be caught ' if first else ''}{when} ({tail})"


def _delays(n: int, policy: Policy, alpha_each: float) -> str:
    """How fast the harm detector at ``n`` audits a week catches the harmful rate at m and 2m times the limit."""
    limit, m, horizon = policy.critical_ub_automate, policy.audit_rate_multiplier, policy.monitor_horizon_weeks
    spec = harm_spec(limit, alpha_each, n * horizon)
    parts: list[str] = []
    for mult in (m, 2 * m):
        if mult * limit >= 1:
            continue
        first = not parts
        caught = _caught(*detection_weeks(spec, mult * limit, n, horizon, policy.audit_power), policy, first)
        rise = RISES.get(mult, f"a rise to {mult:g}x")
        parts.append(f"{rise} of the harmful rate to {mult * limit:.1%} ({mult:g}x the automate limit) {caught}"
                     if first else f"{rise} to {mult * limit:.1%} {caught}")
    return f"from the harmful flags alone, {', '.join(parts)}" if parts else ""


def within_volume(categories: list[CategoryDecision], weekly: dict[str, float], policy: Policy) -> list[CategoryDecision]:
    """Weekly audits per automated category within QA's hours, and the detection delays they buy."""
    automated = [c.category for c in categories if c.tier == "automate"]
    capacity = policy.audit_hours_per_week * 60 / policy.audit_minutes_per_review
    shares = audit_allocation({c: weekly.get(c) for c in automated}, capacity)
    alpha_each = split_alpha(policy.audit_alpha, len(automated), sum(c.tier == "assist" for c in categories))
    out = []
    for c in categories:
        per_week = weekly.get(c.category)
        update: dict[str, Any] = {"ai_answers_per_week": None if per_week is None else round(per_week, 1)}
        if c.category in shares:
            n = shares[c.category]
            delays = _delays(n, policy, alpha_each)
            update |= {"audit_sample_per_week": n, "audit_text": (
                f"audit {n} AI answers a week{'; ' + delays if delays else ''}; {c.audit_text}, with false "
                f"demotions over {policy.monitor_horizon_weeks} weeks in at most {policy.audit_alpha:.0%} of cases "
                "for all monitored categories together")}
        out.append(c.model_copy(update=update))
    return out
