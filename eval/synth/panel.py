"""The reviewer panel: who rates which sampled item, blind keys, and ratings from the latent truth.

Ratings come from each answer's latent quality and critical flag through the reviewer's own
bias and noise, never from rubric scores, so rubric-vs-rating agreement is a finding, not a
tautology.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from eval.synth.conversations import AnswerTruth
from eval.synth.phrases import Dice

GOLD_SHARE = 0.05
CALIBRATION_SHARE = 0.10
GOLD_GOOD_AT = 4.2


@dataclass(frozen=True)
class Reviewer:
    reviewer: str
    bias: float
    noise: float
    sensitivity: float
    """Probability of flagging an answer that is truly critical."""
    weight: float
    """Relative share of assignments."""
    careless: bool = False


PANEL: tuple[Reviewer, ...] = (
    Reviewer("qa_01", 0.0, 0.20, 0.95, 1.0),
    Reviewer("qa_02", 0.20, 0.25, 0.92, 1.0),
    Reviewer("qa_03", -0.20, 0.25, 0.95, 1.0),
    Reviewer("qa_04", 0.10, 0.30, 0.90, 1.0),
    Reviewer("qa_05", -0.10, 0.20, 0.97, 1.0),
    Reviewer("qa_06", 0.0, 0.0, 0.0, 0.10, careless=True),
    Reviewer("qa_07", 0.15, 0.25, 0.93, 1.0),
)

CARELESS_SCORES = (1.0, 2.0, 3.0, 4.0, 5.0)
CARELESS_WEIGHTS = (0.08, 0.12, 0.25, 0.32, 0.23)
"""A click-through rater: scores that ignore the answer, leaning to the upper middle."""

COMMENTS = {
    "x": ["X answers the actual question.", "X is clearer.", "Y misses the point.", "X is more accurate."],
    "y": ["Y answers the actual question.", "Y is clearer.", "X misses the point.", "Y is more accurate."],
    "tie_good": ["Both fine.", "Both OK, X a bit wordy.", "Both acceptable."],
    "tie_bad": ["Neither helps the customer.", "Both wrong.", "Both too vague."],
}


@dataclass(frozen=True)
class Packet:
    """One rated item: its blind key and the reviewers assigned to it."""

    rating_id: str
    truth: AnswerTruth
    x: str
    gold: bool
    reviewers: tuple[Reviewer, ...]

    def key(self) -> dict:
        return {"rating_id": self.rating_id, "item_id": self.truth.item_id, "x": self.x,
                "y": "human" if self.x == "ai" else "ai", "gold": self.gold}

    def side(self, which: str) -> tuple[float, bool]:
        """Latent quality and critical flag of the answer shown as ``which`` (x or y)."""
        source = self.x if which == "x" else ("human" if self.x == "ai" else "ai")
        t = self.truth
        return (t.ai_quality, t.ai_critical) if source == "ai" else (t.human_quality, t.human_critical)


def _is_clear(t: AnswerTruth) -> bool:
    """Gold items need an answer everyone should agree on: clearly critical or clearly good."""
    if t.ai_critical or t.human_critical:
        return True
    return min(t.ai_quality, t.human_quality) >= GOLD_GOOD_AT


def _choose(dice: Dice, k: int) -> tuple[Reviewer, ...]:
    pool = list(PANEL)
    chosen: list[Reviewer] = []
    for _ in range(k):
        r = dice.weighted(pool, [p.weight for p in pool])
        pool.remove(r)
        chosen.append(r)
    return tuple(chosen)


def assign(dice: Dice, items: list[AnswerTruth]) -> list[Packet]:
    """Blind packets for the sampled items: random x/y, a 4-reviewer calibration subset, and
    ~5% gold items (rated by 4, so careless raters get caught)."""
    clear = sum(_is_clear(t) for t in items)
    p_gold = min(1.0, GOLD_SHARE * len(items) / clear) if clear else 0.0
    seen: set[str] = set()
    packets = []
    for t in items:
        rid = f"r{dice.integer(0, 16 ** 7 - 1):07x}"
        while rid in seen:
            rid = f"r{dice.integer(0, 16 ** 7 - 1):07x}"
        seen.add(rid)
        x = "ai" if dice.chance(0.5) else "human"
        gold = _is_clear(t) and dice.chance(p_gold)
        k = 4 if gold or dice.chance(CALIBRATION_SHARE) else 2
        packets.append(Packet(rid, t, x, gold, _choose(dice, k)))
    return packets


def _perceive(dice: Dice, r: Reviewer, quality: float, critical: bool) -> tuple[float, bool]:
    if r.careless:
        return dice.weighted(CARELESS_SCORES, CARELESS_WEIGHTS), dice.chance(0.002)
    perceived = quality + r.bias + dice.normal(0, r.noise)
    flagged = dice.chance(r.sensitivity) if critical else (quality < 1.2 and dice.chance(0.05))
    return perceived, flagged


def _score(perceived: float, flagged: bool) -> int:
    s = min(5, max(1, math.floor(perceived + 0.5)))
    return min(s, 2) if flagged else s


def _preference(dice: Dice, px: float, py: float, acc_x: bool, acc_y: bool, careless: bool) -> str:
    if careless:
        return dice.pick(("x", "y", "tie_good", "tie_bad"))
    if acc_x != acc_y:
        return "x" if acc_x else "y"
    if abs(px - py) < 0.3:
        return "tie_good" if acc_x else "tie_bad"
    return "x" if px > py else "y"


def rate(dice: Dice, packet: Packet, r: Reviewer) -> dict:
    """One reviewer's rating of one packet, with the gaps real exports have."""
    (qx, cx), (qy, cy) = packet.side("x"), packet.side("y")
    px, fx = _perceive(dice, r, qx, cx)
    py, fy = _perceive(dice, r, qy, cy)
    acc_x, acc_y = px >= 3.0 and not fx, py >= 3.0 and not fy
    if r.careless:
        acc_x, acc_y = dice.chance(0.7), dice.chance(0.7)
    pref = _preference(dice, px, py, acc_x, acc_y, r.careless)
    comment: str | None = dice.pick(COMMENTS[pref]) if dice.chance(0.15) else ""
    seconds = math.exp(dice.normal(math.log(14 if r.careless else 80), 0.4 if r.careless else 0.5))
    blank_acceptable = dice.chance(0.04)
    return {
        "rating_id": packet.rating_id, "reviewer": r.reviewer,
        "score_x": _score(px, fx), "score_y": _score(py, fy),
        "preference": None if dice.chance(0.03) else pref,
        "acceptable_x": None if blank_acceptable else acc_x,
        "acceptable_y": None if blank_acceptable else acc_y,
        "critical_x": fx, "critical_y": fy,
        "comment": None if dice.chance(0.25) else comment,
        "seconds": None if dice.chance(0.05) else float(round(seconds)),
    }


def gold_expectation(packet: Packet) -> dict:
    """What a careful reviewer must answer on a gold item."""
    (qx, cx), (qy, cy) = packet.side("x"), packet.side("y")
    return {"rating_id": packet.rating_id, "item_id": packet.truth.item_id,
            "critical_x": cx, "critical_y": cy,
            "acceptable_x": qx >= 3.0 and not cx, "acceptable_y": qy >= 3.0 and not cy}


def ratings(dice: Dice, packets: list[Packet]) -> list[dict]:
    """All ratings of the round, each reviewer's in the order they worked through them."""
    by_reviewer: dict[str, list[dict]] = {r.reviewer: [] for r in PANEL}
    for packet in packets:
        for r in packet.reviewers:
            by_reviewer[r.reviewer].append(rate(dice, packet, r))
    return [row for r in PANEL for row in by_reviewer[r.reviewer]]
