"""Assist categories after the decision: what agents do with the drafts, and whether the drafts earn automate.

Edits are measured with rapidfuzz (MIT): the normalised Indel similarity of the text sent to the draft
(1: unchanged), whitespace ignored at the ends. "Lightly edited" is a similarity of at least
``LIGHT_EDIT``. Promotion is one tier and only on live evidence: the reviewed drafts must pass the
gates ``decide`` uses for automate against the decision's human baseline (non-inferiority of the mean
review score at the margin, the acceptable-rate difference, the harmful rate under the automate limit),
and agents must send most drafts unchanged (``promote_unchanged_share``). The gates are anytime-valid
tests (betting e-processes), because the monitor runs after every batch of reviews: a fixed-sample test
repeated at every look would promote by chance. Assist logs alone never promote: what agents let
through unedited is not a review of its quality.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rapidfuzz.distance import Indel
from eval import stats
from eval.policy import Policy
from eval.records import AssistLog, LiveReview
from eval.stats.sequential import first_crossing, log_evalues_above, log_evalues_rate_below

LIGHT_EDIT = 0.9
"""Similarity (0-1) from which an edited draft counts as lightly edited."""


def edit_summary(logs: list[AssistLog], historical_handle_time: float | None = None) -> dict[str, Any]:
    """Per category's logs: the share sent unchanged, lightly edited, the mean similarity, and the time
    saved per answer (the historical mean handle time less the assisted one) where both are recorded."""
    if not logs:
        return {"logs": 0}
    similarity = np.array([Indel.normalized_similarity(log.draft.strip(), log.sent.strip()) for log in logs])
    unchanged = similarity == 1.0
    times = [log.handle_time_s for log in logs if log.handle_time_s is not None]
    return {"logs": len(logs), "unchanged_share": float(unchanged.mean()),
            "light_edit_share": float(((similarity >= LIGHT_EDIT) & ~unchanged).mean()),
            "mean_similarity": float(similarity.mean()),
            "mean_handle_time_s": float(np.mean(times)) if times else None,
            "historical_handle_time_s": historical_handle_time,
            "time_saved_s": float(historical_handle_time - np.mean(times)) if times and historical_handle_time else None}


def _crossed(log_e: np.ndarray, alpha: float, times: list[str]) -> str | None:
    at = first_crossing(log_e, alpha)
    return None if at is None else times[at - 1]


def draft_gates(drafts: list[LiveReview], baseline: dict[str, Any], policy: Policy, alpha: float) -> dict[str, Any]:
    """The automate gates on reviewed drafts (time order) against the decision's human baseline, each an
    anytime-valid test (``eval.stats.sequential.first_crossing`` at ``alpha``): the mean review above the
    human mean less the margin, the acceptable rate above the human one plus ``acceptable_diff_lb``, the
    harmful rate below the automate limit. All three must pass (an intersection-union test, so each at
    ``alpha``); ``passed_at`` is the review at which the last of them did."""
    scored = [d for d in drafts if d.score is not None]
    flagged = [d for d in drafts if d.critical is not None]
    judged = [d for d in drafts if d.acceptable is not None]
    human = (baseline.get("mean_human") or {}).get("estimate")
    human_acc = (baseline.get("acceptable_human") or {}).get("estimate")
    k, n = sum(bool(d.critical) for d in flagged), len(flagged)
    out: dict[str, Any] = {
        "drafts": len(drafts), "mean_score": float(np.mean([d.score for d in scored])) if scored else None,
        "human_baseline": human, "critical": k, "critical_n": n,
        "critical_upper": stats.clopper_pearson_upper(k, n, policy.confidence) if n else 1.0,
        "acceptable": float(np.mean([d.acceptable for d in judged])) if judged else None, "alpha": alpha,
    }
    score_null = None if human is None else human - policy.margin
    acc_null = None if human_acc is None else human_acc + policy.acceptable_diff_lb
    crossed = {
        "score": None if score_null is None or not 1 < score_null < 5 else _crossed(
            log_evalues_above(np.array([d.score for d in scored], float), score_null, 1.0), alpha,
            [d.reviewed_at for d in scored]),
        "acceptable": None if acc_null is None or not 0 < acc_null < 1 else _crossed(
            log_evalues_above(np.array([float(bool(d.acceptable)) for d in judged]), acc_null, 0.0), alpha,
            [d.reviewed_at for d in judged]),
        "harm": _crossed(log_evalues_rate_below(np.array([float(bool(d.critical)) for d in flagged]),
                                                policy.critical_ub_automate), alpha, [d.reviewed_at for d in flagged]),
    }
    out |= {f"{name}_passed_at": at for name, at in crossed.items()}
    out["passed_at"] = max(crossed.values()) if all(crossed.values()) else None  # type: ignore[type-var]
    return out


def promotion_reason(gates: dict[str, Any], edits: dict[str, Any], policy: Policy) -> tuple[bool, str]:
    """Whether an assist category is recommended for automate, and why, with numbers."""
    share = edits.get("unchanged_share")
    sent = share is not None and share >= policy.promote_unchanged_share
    if not gates["drafts"]:
        return False, "no reviewed drafts yet (promotion needs them; assist logs alone never promote)"
    text = (f"{gates['drafts']} reviewed drafts: mean review {_num(gates['mean_score'])} against the human "
            f"{_num(gates['human_baseline'])} (margin {policy.margin}): {_passed(gates['score_passed_at'])}; acceptable "
            f"{_num(gates['acceptable'], '.0%')}: {_passed(gates['acceptable_passed_at'])}; harmful {gates['critical']} of "
            f"{gates['critical_n']} (limit {policy.critical_ub_automate:.0%}): {_passed(gates['harm_passed_at'])}; "
            "agents sent "
            + (f"{share:.0%} of {edits['logs']} drafts unchanged (needs {policy.promote_unchanged_share:.0%})"
               if share is not None else "no logged drafts (assist logs are needed)"))
    if edits.get("time_saved_s") is not None:
        text += (f"; drafts save about {edits['time_saved_s']:.0f} s an answer (handle time "
                 f"{edits['mean_handle_time_s']:.0f} s against {edits['historical_handle_time_s']:.0f} s before)")
    return bool(gates["passed_at"] is not None and sent), text


def _passed(at: str | None) -> str:
    return f"shown at the {at[:10]} review" if at else "not shown yet"


def _num(value: float | None, fmt: str = ".2f") -> str:
    return "n/a" if value is None or not np.isfinite(value) else format(value, fmt)
