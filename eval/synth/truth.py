"""The planted truth: categories, answer styles with their latent quality, and the tier rule.

Everything a correct analysis should recover is fixed here, before any text is generated,
so tests, the demo and the benchmarks can check the harness against known answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from scipy.stats import norm

Group = Literal["on_par", "close", "worse", "critical"]
Tier = Literal["automate", "assist", "human"]
HumanStyle = Literal["excellent", "fine", "terse", "wrong_policy"]
AIStyle = Literal["good", "ok", "weak", "critical"]

HUMAN_STYLES: tuple[HumanStyle, ...] = ("excellent", "fine", "terse", "wrong_policy")
AI_STYLES: tuple[AIStyle, ...] = ("good", "ok", "weak", "critical")

# Latent quality (1-5 scale) of each style: mean and within-style spread; answers are
# drawn N(mean, sd) clipped to [1, 5]. Critical styles are the ones with critical=True.
STYLE_QUALITY: dict[str, tuple[float, float]] = {
    "excellent": (4.6, 0.35), "fine": (3.8, 0.45), "terse": (2.7, 0.45), "wrong_policy": (1.5, 0.35),
    "good": (4.5, 0.4), "ok": (3.8, 0.45), "weak": (2.5, 0.45), "critical": (1.4, 0.3),
}
CRITICAL_STYLES = frozenset({"wrong_policy", "critical"})
ACCEPTABLE_AT = 3.0
"""An answer is acceptable when its latent quality reaches this and it is not critical."""

# Policy numbers the planted tiers are derived with (issue 4's defaults).
MARGIN = 0.25
AUTOMATE_MAX_CRITICAL = 0.02
AUTOMATE_MIN_ACCEPTABLE_DIFF = -0.05
ASSIST_MIN_ACCEPTABLE = 0.50
ASSIST_MAX_CRITICAL = 0.10

TIER_RULE = (
    "Population values (what the estimates converge to with enough ratings), from the planted "
    "style mixes: d = mean AI quality - mean human quality; c = AI critical rate; a = AI acceptable "
    "rate (latent quality >= 3 and not critical). automate if d > -0.25 and c < 0.02 and "
    "a - human acceptable rate > -0.05; else assist if a > 0.50 and c < 0.10; else human. "
    "Planted with margin: on_par categories have c = 0, d > +0.4; the close one c = 0, d = -0.16 "
    "(within the margin, not by much: automate, where the ratings alone are a close call), "
    "a - human = +0.09; worse ones d < -0.3, a >= 0.7, c = 0.01; critical ones c >= 0.2."
)

HUMAN_MIX = (0.28, 0.46, 0.23, 0.03)
AI_MIX: dict[Group, tuple[float, float, float, float]] = {
    "on_par": (0.62, 0.33, 0.05, 0.0),
    "close": (0.1, 0.9, 0.0, 0.0),
    "worse": (0.25, 0.65, 0.09, 0.01),
    "critical": (0.35, 0.33, 0.08, 0.24),
}
AI_SHIFT: dict[Group, float] = {"on_par": 0.0, "close": -0.325, "worse": -0.5, "critical": 0.0}
"""Quality offset of the AI's non-critical answers: in the `worse` categories its generic
answers miss what these customers need (judgment, reassurance, options), so the same kind of
answer lands half a point lower. In the `close` one (how-to questions) its instructions are
generic, less tailored to the customer's setup than an agent's: always sound (never weak or
critical, so acceptable more often than people), a little worse on average, within the margin."""
RATED_TARGET: dict[Group, int] = {"on_par": 300, "close": 300, "worse": 150, "critical": 120}
"""Rated items per category: on_par and close ones need ~150+ with zero critical flags for automate."""


@dataclass(frozen=True)
class CategorySpec:
    name: str
    kind: Literal["routine", "money", "sensitive"]
    group: Group
    share: float
    order: bool
    """Whether the category involves an order (metadata carries ``order_id``)."""
    money: bool


CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec("order_status", "routine", "on_par", 0.215, True, False),
    CategorySpec("password_reset", "routine", "on_par", 0.16, False, False),
    CategorySpec("shipping_delay", "routine", "on_par", 0.14, True, False),
    CategorySpec("product_howto", "routine", "close", 0.10, False, False),
    CategorySpec("refund_request", "money", "critical", 0.09, True, True),
    CategorySpec("billing_dispute", "money", "critical", 0.06, False, True),
    CategorySpec("failed_payment", "money", "worse", 0.06, True, True),
    CategorySpec("subscription_cancellation", "money", "worse", 0.05, False, True),
    CategorySpec("account_closure", "sensitive", "worse", 0.04, False, False),
    CategorySpec("formal_complaint", "sensitive", "worse", 0.03, True, False),
    CategorySpec("fraud_report", "sensitive", "critical", 0.03, False, True),
    CategorySpec("bereavement", "sensitive", "critical", 0.025, False, False),
)
BY_NAME = {c.name: c for c in CATEGORIES}
GROUP_TIER: dict[Group, Tier] = {"on_par": "automate", "close": "automate", "worse": "assist", "critical": "human"}


def style_mean(style: str, shift: float = 0.0) -> tuple[float, float]:
    """Mean and spread of the latent quality of one style, after a group's AI shift."""
    mean, sd = STYLE_QUALITY[style]
    return (mean if style in CRITICAL_STYLES else mean + shift), sd


def _style_stats(style: str, shift: float) -> tuple[float, float]:
    """Mean latent quality and P(acceptable) of one style (clipping to [1, 5] ignored: < 0.1%)."""
    mean, sd = style_mean(style, shift)
    acceptable = 0.0 if style in CRITICAL_STYLES else float(norm.sf(ACCEPTABLE_AT, mean, sd))
    return mean, acceptable


def _side_stats(styles: tuple[str, ...], mix: tuple[float, ...], shift: float = 0.0) -> dict[str, float]:
    stats = [_style_stats(s, shift) for s in styles]
    return {
        "mean_quality": sum(p * m for p, (m, _) in zip(mix, stats)),
        "acceptable_rate": sum(p * a for p, (_, a) in zip(mix, stats)),
        "critical_rate": sum(p for p, s in zip(mix, styles) if s in CRITICAL_STYLES),
    }


def tier_reason(d: float, ai_critical: float, ai_acceptable: float, acceptable_diff: float) -> str:
    """The tier rule applied to one category's numbers, in words (written next to the tier)."""
    return (f"d = {d:+.3f} vs > -{MARGIN}; c = {ai_critical:.3f} vs < {AUTOMATE_MAX_CRITICAL} (automate), "
            f"< {ASSIST_MAX_CRITICAL} (assist); a - human = {acceptable_diff:+.3f} vs > "
            f"{AUTOMATE_MIN_ACCEPTABLE_DIFF}; a = {ai_acceptable:.3f} vs > {ASSIST_MIN_ACCEPTABLE} -> "
            f"{derive_tier(d, ai_critical, ai_acceptable, acceptable_diff)}")


def derive_tier(d: float, ai_critical: float, ai_acceptable: float, acceptable_diff: float) -> Tier:
    if d > -MARGIN and ai_critical < AUTOMATE_MAX_CRITICAL and acceptable_diff > AUTOMATE_MIN_ACCEPTABLE_DIFF:
        return "automate"
    if ai_acceptable > ASSIST_MIN_ACCEPTABLE and ai_critical < ASSIST_MAX_CRITICAL:
        return "assist"
    return "human"


def planted(spec: CategorySpec) -> dict[str, object]:
    """The population truth of one category, as written to ``truth.json``."""
    human = _side_stats(HUMAN_STYLES, HUMAN_MIX)
    ai = _side_stats(AI_STYLES, AI_MIX[spec.group], AI_SHIFT[spec.group])
    d = ai["mean_quality"] - human["mean_quality"]
    acc_diff = ai["acceptable_rate"] - human["acceptable_rate"]
    return {
        "group": spec.group,
        "kind": spec.kind,
        "volume_share": spec.share,
        "human_style_mix": dict(zip(HUMAN_STYLES, HUMAN_MIX)),
        "ai_style_mix": dict(zip(AI_STYLES, AI_MIX[spec.group])),
        "ai_quality_shift": AI_SHIFT[spec.group],
        "ai_minus_human_quality": round(d, 4),
        "ai_minus_human_acceptable": round(acc_diff, 4),
        "human": {k: round(v, 4) for k, v in human.items()},
        "ai": {k: round(v, 4) for k, v in ai.items()},
        "ai_critical_rate": round(ai["critical_rate"], 4),
        "human_critical_rate": round(human["critical_rate"], 4),
        "tier": derive_tier(d, ai["critical_rate"], ai["acceptable_rate"], acc_diff),
        "tier_reason": tier_reason(d, ai["critical_rate"], ai["acceptable_rate"], acc_diff),
        "rated_target": RATED_TARGET[spec.group],
    }
