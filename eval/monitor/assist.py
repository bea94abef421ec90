"""Assist categories after the decision: what agents do with the drafts, and whether the drafts earn automate.

Edits are measured with rapidfuzz (MIT): the normalised Indel similarity of the text sent to the draft
(1: unchanged), whitespace ignored at the ends. "Lightly edited" is a similarity of at least
``LIGHT_EDIT``. Promotion is one tier and only on live evidence: the reviewed drafts must pass the
gates ``decide`` uses for automate against the decision's human baseline (non-inferiority of the mean
review score at the margin, the exact critical-rate bound, the acceptable-rate difference), and agents
must send most drafts unchanged (``promote_unchanged_share``). Assist logs alone never promote: what
agents let through unedited is not a review of its quality.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rapidfuzz.distance import Indel
from scipy import stats as sps

from eval import stats
from eval.policy import Policy
from eval.records import AssistLog, LiveReview

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


def _lower(values: np.ndarray, level: float) -> float:
    """One-sided t lower bound of a mean (live drafts are of different tickets: independent)."""
    if len(values) < 2:
        return float("-inf")
    return float(values.mean() - sps.t.isf(level, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values)))


def draft_gates(drafts: list[LiveReview], baseline: dict[str, Any], policy: Policy, level: float) -> dict[str, Any]:
    """The automate gates on reviewed drafts against the decision's human baseline (``estimates``)."""
    scores = np.array([d.score for d in drafts if d.score is not None], float)
    flags = [d.critical for d in drafts if d.critical is not None]
    accepted = np.array([float(d.acceptable) for d in drafts if d.acceptable is not None])
    human = (baseline.get("mean_human") or {}).get("estimate")
    human_acc = (baseline.get("acceptable_human") or {}).get("estimate")
    k, n = int(sum(flags)), len(flags)
    ub = stats.clopper_pearson_upper(k, n, policy.confidence) if n else 1.0
    score_lb = _lower(scores, level) - human if human is not None else float("-inf")
    acc_lb = _lower(accepted, (1 - policy.confidence) / 2) - human_acc if human_acc is not None else float("-inf")
    return {
        "drafts": len(drafts), "mean_score": float(scores.mean()) if len(scores) else None,
        "human_baseline": human, "score_diff_lower": score_lb, "critical": k, "critical_n": n, "critical_upper": ub,
        "acceptable_diff_lower": acc_lb,
        "passed": bool(len(drafts) >= policy.min_rated and score_lb > -policy.margin
                       and ub <= policy.critical_ub_automate and acc_lb > policy.acceptable_diff_lb),
    }


def promotion_reason(gates: dict[str, Any], edits: dict[str, Any], policy: Policy) -> tuple[bool, str]:
    """Whether an assist category is recommended for automate, and why, with numbers."""
    share = edits.get("unchanged_share")
    sent = share is not None and share >= policy.promote_unchanged_share
    if not gates["drafts"]:
        return False, "no reviewed drafts yet (promotion needs them; assist logs alone never promote)"
    text = (f"{gates['drafts']} reviewed drafts: mean review {_num(gates['mean_score'])} against the human "
            f"{_num(gates['human_baseline'])} (lower bound of the difference {_num(gates['score_diff_lower'], '+.2f')}, "
            f"needs more than -{policy.margin}); harmful {gates['critical']} of {gates['critical_n']} (bound "
            f"{gates['critical_upper']:.1%}, limit {policy.critical_ub_automate:.0%}); agents sent "
            + (f"{share:.0%} of {edits['logs']} drafts unchanged (needs {policy.promote_unchanged_share:.0%})"
               if share is not None else "no logged drafts (assist logs are needed)"))
    if edits.get("time_saved_s") is not None:
        text += (f"; drafts save about {edits['time_saved_s']:.0f} s an answer (handle time "
                 f"{edits['mean_handle_time_s']:.0f} s against {edits['historical_handle_time_s']:.0f} s before)")
    return bool(gates["passed"] and sent), text


def _num(value: float | None, fmt: str = ".2f") -> str:
    return "n/a" if value is None or not np.isfinite(value) else format(value, fmt)
