"""Demotion: anytime-valid tests after every live review (``eval.stats.sequential``), one tier down on alarm.

An automated category is watched on its audited live answers for a harmful rate above the automate
limit and for a mean review score below the decision's human baseline minus the margin; an assist
category on its reviewed drafts for a harmful rate above the assist limit. The detectors restart
after evidence of good behaviour (e-detectors), so a drift after months of good weeks is caught as
fast as an early one. Their thresholds are set before any review is read, from the policy's alpha
split over every watched category and test and from the horizon (weeks x planned audits a week),
so the chance of any false demotion over all of them stays within alpha however often one looks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from eval.policy import Policy
from eval.records import CategoryDecision, LiveReview, Tier
from eval.stats.sequential import DetectorSpec, harm_spec, new_state, score_spec, update

DOWN: dict[Tier, Tier] = {"automate": "assist", "assist": "human", "human": "human"}


def horizon_reviews(decision: CategoryDecision, policy: Policy) -> int:
    """The reviews the thresholds are set for: the monitoring horizon at the planned audits a week."""
    per_week = decision.audit_sample_per_week or policy.monitor_reviews_per_week
    return int(policy.monitor_horizon_weeks * per_week)


def specs(decision: CategoryDecision, policy: Policy, alpha_each: float) -> dict[str, DetectorSpec]:
    """The tests of one category: harm (and score, for an automated one), each at ``alpha_each``."""
    horizon = horizon_reviews(decision, policy)
    if decision.tier == "automate":
        baseline = (decision.estimates.get("mean_human") or {}).get("estimate")
        out = {"harm": harm_spec(policy.critical_ub_automate, alpha_each, horizon)}
        if baseline is not None and np.isfinite(baseline):
            out["score"] = score_spec(baseline, policy.margin, alpha_each, horizon)
        return out
    return {"harm": harm_spec(policy.critical_ub_assist, alpha_each, horizon)}


def watched(decision: CategoryDecision) -> bool:
    return decision.tier in ("automate", "assist")


def _observations(reviews: list[LiveReview], test: str) -> tuple[np.ndarray, list[LiveReview]]:
    used = [r for r in reviews if (r.critical if test == "harm" else r.score) is not None]
    values = [float(bool(r.critical)) if test == "harm" else float(r.score or 0.0) for r in used]
    return np.asarray(values, float), used


def detect(decision: CategoryDecision, reviews: list[LiveReview], policy: Policy,
           alpha_each: float) -> tuple[str | None, str, dict[str, Any]]:
    """(time of the demoting review or None, why, evidence) from the category's live reviews in time order."""
    source = "ai" if decision.tier == "automate" else "ai_draft"
    mine = [r for r in reviews if r.source == source]
    evidence: dict[str, Any] = {"reviews": len(mine), "source": source}
    alarms: list[tuple[str, str]] = []
    for test, spec in specs(decision, policy, alpha_each).items():
        values, used = _observations(mine, test)
        state = update(spec, new_state(spec), values)
        evidence[test] = {"n": len(values), "mean": float(values.mean()) if len(values) else None,
                          "null": spec.null, "threshold": spec.threshold, **state.model_dump(mode="json")}
        if state.alarm_at is not None:
            alarms.append((used[state.alarm_at - 1].reviewed_at, _why(test, spec, values[: state.alarm_at])))
    if not alarms:
        return None, _quiet(evidence), evidence
    at, why = min(alarms)
    return at, why, evidence


RECENT = 80
"""Reviews the reason quotes as "recent" (about two weeks of audits at the default plan)."""


def _why(test: str, spec: DetectorSpec, seen: np.ndarray) -> str:
    recent = seen[-RECENT:]
    if test == "harm":
        return (f"harmful in {int(recent.sum())} of the last {len(recent)} reviews ({recent.mean():.1%}; "
                f"{int(seen.sum())} of {len(seen)} since the decision), above the {spec.null:.1%} limit: the "
                "sequential test crossed its threshold")
    return (f"mean review score {recent.mean():.2f} over the last {len(recent)} reviews ({seen.mean():.2f} since the "
            f"decision), below the {spec.null:.2f} allowed (human baseline minus the margin): the sequential test "
            "crossed its threshold")


def _quiet(evidence: dict[str, Any]) -> str:
    if not evidence["reviews"]:
        return "no live reviews yet: the monitor can only watch what QA reviews"
    parts = [f"{evidence['reviews']} live reviews"]
    harm = evidence.get("harm", {})
    if harm.get("n"):
        parts.append(f"harmful {harm['mean']:.1%} of {harm['n']}")
    score = evidence.get("score", {})
    if score.get("n"):
        parts.append(f"mean score {score['mean']:.2f}")
    return ", ".join(parts) + ": no test has crossed its threshold"
