"""The gates a category must pass for each tier, and the tier they give.

Eligibility gates are judged first so that only categories with enough trustworthy evidence
enter the Holm family of non-inferiority tests (the others are reported as not tested). The family
is one whatever each category's measure: the mean rating difference, or the win rate where the
ratings carry no scores. A gate whose data the evidence lacks (no critical or acceptable flags at
all) fails with value None and says the evidence cannot support it: never a silent pass.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from eval import stats
from eval.decide.estimates import CategoryEstimates
from eval.policy import Policy
from eval.records import CategoryDecision, Reason, Tier

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Measured:
    """What a non-inferiority gate tests, H0: estimate <= center - margin, with a one-sided t test on the
    ticket-clustered bootstrap SE (df = the tickets that carry the measure - 1)."""

    measure: str
    """The estimates key: ``diff_mean`` (AI - human mean rating) or ``win_rate_ai`` (ties as half)."""
    estimate: float
    se: float
    center: float
    """What "as good" is: a difference of 0, a win rate of 1/2."""
    margin: float
    df: int
    n: int
    """Items the estimate is made from."""

    @property
    def threshold(self) -> float:
        return self.center - self.margin

    def p(self) -> float:
        return stats.noninferiority_p(self.estimate - self.center, self.se, self.margin, self.df)

    def lower_bound(self, level: float) -> float:
        return stats.t_lower_bound(self.estimate, self.se, self.df, level)


def measured(est: CategoryEstimates, policy: Policy) -> Measured:
    """The mean rating difference wherever items have scores; the win rate (``win_rate_margin``) when
    none has, i.e. preference-only evidence. The df counts only the tickets whose items carry the measure
    (a category mixing scored and preference-only ratings has fewer for the difference); estimates that
    do not count them (unpaired reviews) use all their tickets."""
    mean, win = est.estimates.get("diff_mean", {}), est.estimates.get("win_rate_ai", {})
    if mean.get("n") or not win.get("n"):
        return Measured("diff_mean", est.diff, est.diff_se, 0.0, policy.margin, mean.get("tickets", est.tickets) - 1,
                        mean.get("n", est.rated_items))
    return Measured("win_rate_ai", win["estimate"], win["se"], 0.5, policy.win_rate_margin,
                    win.get("tickets", est.tickets) - 1, win["n"])


def eligibility(cat: str, est: CategoryEstimates | None, alpha: float, policy: Policy) -> list[Reason]:
    rated = est.rated_items if est else 0
    on_list = cat in policy.always_human
    alpha_ok = bool(np.isfinite(alpha) and alpha >= policy.min_alpha)
    on = " on preferences" if est is not None and measured(est, policy).measure == "win_rate_ai" else ""
    alpha_text = (
        f"reviewer agreement{on} alpha {alpha:.3f}" if np.isfinite(alpha)
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
    t = measured(est, policy)
    lb = t.lower_bound(level)
    above = lb > t.threshold
    passed = (p_adj <= policy.noninferiority_alpha) if p_adj is not None else above
    win = t.measure == "win_rate_ai"
    if win:
        text = (f"AI win rate {t.estimate:.2f} (ties as half), lower bound {lb:.2f} at one-sided level {level:.4g}"
                f" {'above' if above else 'not above'} {t.threshold:.2f} (1/2 - win_rate_margin {t.margin})")
    else:
        text = (f"AI - human mean rating {t.estimate:+.2f}, lower bound {lb:+.2f} at one-sided level {level:.4g}"
                f" {'above' if above else 'not above'} -{t.margin}")
    if not win and t.n < est.rated_items:
        text += f" (on the {t.n} of {est.rated_items} rated items with scores)"
    powered = est.estimates[t.measure]
    if powered.get("method") == "prediction-powered":
        text += (f"; prediction-powered: {powered['n']} ratings corrected by the automatic evidence on "
                 f"{powered['n'] + powered['unrated']} items, worth {powered['effective_n']:.0f} ratings")
    if p_adj is not None and passed != above:
        text += "; held back by the Holm step-down"
    if p_adj is None:
        text += " (not tested: the category fails an evidence gate)"
    return Reason(gate="non_inferiority", passed=bool(passed), value=lb, threshold=t.threshold, text=text,
                  level=level, p_value=t.p(), p_adjusted=p_adj, measure=t.measure if win else None)


def _unsupported(gate: str, threshold: float, lacking: str, what: str) -> Reason:
    """A gate the evidence has no data for fails, saying so (value None)."""
    return Reason(gate=gate, passed=False, value=None, threshold=threshold,
                  text=f"{lacking}: this evidence cannot support the {what} gate")


def _rate_gate(gate: str, est: CategoryEstimates, threshold: float, conf: float) -> Reason:
    if est.critical_n == 0:
        return _unsupported(gate, threshold, "the ratings carry no critical flags", "critical-rate")
    ub = est.critical_ub
    return Reason(
        gate=gate, passed=ub <= threshold, value=ub, threshold=threshold,
        text=f"AI critical failures {est.critical_k} of {est.critical_n} items; exact {conf:.0%} upper "
             f"bound {ub:.1%} {'within' if ub <= threshold else 'above'} the {threshold:.0%} allowed",
    )


def _lower_gate(gate: str, what: str, est: CategoryEstimates, key: str, threshold: float, strict: bool) -> Reason:
    low = est.estimates.get(key, {}).get("low")
    if low is None or not np.isfinite(low):
        return _unsupported(gate, threshold, *UNSUPPORTED[key])
    ok = low > threshold if strict else low >= threshold
    return Reason(gate=gate, passed=bool(ok), value=low, threshold=threshold,
                  text=f"{what}: lower end of the {est.estimates['confidence']:.0%} interval {low:+.3f}, "
                       f"needs {'more than' if strict else 'at least'} {threshold:+.3f}")


UNSUPPORTED = {
    "diff_acceptable": ("no rated item carries acceptable flags for both answers", "acceptable-difference"),
    "acceptable_ai": ("the ratings carry no acceptable flags for the AI answers", "acceptable-rate"),
}
"""Why an acceptable-rate gate has no interval: its flags are absent from every rating."""


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
KIND_GATES = ("unpaired_evidence",)
"""Gates only some kinds of evidence carry (eval.decide.evidence); where present, automate needs them."""


def tier_of(reasons: list[Reason]) -> Tier:
    passed = {r.gate: r.passed for r in reasons}
    if not all(passed.get(g, False) for g in ELIGIBILITY_GATES):
        return "human"
    if all(passed.get(g, False) for g in AUTOMATE_GATES) and all(passed.get(g, True) for g in KIND_GATES):
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
    p = np.array([measured(estimates[c], policy).p() for c in eligible])
    result = stats.holm(p, policy.noninferiority_alpha)
    return dict(zip(eligible, result.levels.tolist())), dict(zip(eligible, result.adjusted.tolist()))


WIN_RATE_METHOD = """\
Ratings without scores (preference-only comparisons): non-inferiority is tested on the AI win rate,
ties (good or bad) counting half, whose lower bound must exceed 1/2 - win_rate_margin: the same
ticket-clustered bootstrap SE, t test and Holm family as the mean difference. Reviewer agreement is
alpha on the preferences (human < tie < AI). Acceptable and critical rates come only from the flags
the ratings give: a tie_bad is not read as two unacceptable answers, which would estimate the rates
from the both-bad items alone. A gate whose flags no rating gives fails, saying the evidence cannot
support it."""


def decided_on_win_rate(decisions: Sequence[CategoryDecision]) -> bool:
    """Whether any category or cut was decided on the win rate (then decisions.json explains it)."""
    return any(r.measure == "win_rate_ai" for c in decisions for d in (c, *(c.cuts or ())) for r in d.reasons)


def lacks_evidence(reasons: list[Reason]) -> bool:
    """Human for want of evidence (too few rated items, or none rated twice to measure agreement),
    as opposed to evidence against the AI: what "not enough evidence" means wherever it is shown."""
    failed = {r.gate: r for r in reasons if not r.passed}
    return "min_rated" in failed or ("reviewer_alpha" in failed and failed["reviewer_alpha"].value is None)
