"""Another system's judge verdicts on every agent turn (DESIGN.md Judge verdict), with a planted
quality per category, so the demo shows what automatic evidence is worth and where it must not
be believed.

A ``good`` judge sees both answers' latent quality through a little noise and flags most truly
critical AI answers. A ``lenient`` one flatters the AI: it sees the AI answer half a point better
than it is and misses half of its critical failures, so a method that trusted it would promote the
AI. A ``noise`` judge's verdicts have nothing to do with the answers. Verdicts are drawn from their
own seed stream per chunk, so adding them leaves every other file's bytes as they were.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np

from eval.synth.conversations import AnswerTruth

JudgeQuality = Literal["good", "lenient", "noise"]
JUDGE_NAME = "synth-judge-v1"
JUDGE_STREAM = 2_000_003
"""Seed stream of the judge's verdicts (with the chunk index), distinct from the chunks' and the ratings'."""


@dataclass(frozen=True)
class JudgeModel:
    quality: JudgeQuality
    ai_bias: float
    """Added to the AI answer's latent quality before the judge compares and scores it."""
    noise: float
    """Spread of the judge's perception of each answer's quality (1-5 scale)."""
    sensitivity: float
    """Probability of flagging a truly critical AI answer."""
    false_alarm: float
    """Probability of flagging an AI answer that is not critical."""
    tie_within: float = 0.25
    """A perceived difference smaller than this is a tie."""


MODELS: dict[JudgeQuality, JudgeModel] = {
    "good": JudgeModel("good", ai_bias=0.0, noise=0.3, sensitivity=0.9, false_alarm=0.02),
    "lenient": JudgeModel("lenient", ai_bias=0.6, noise=0.3, sensitivity=0.5, false_alarm=0.01),
    "noise": JudgeModel("noise", ai_bias=0.0, noise=0.0, sensitivity=0.1, false_alarm=0.1),
}
LENIENT = ("subscription_cancellation",)
"""A worse-than-human category (planted assist): a lenient judge there would argue for automate."""
NOISE = ("bereavement",)


def judge_quality(category: str) -> JudgeQuality:
    return "lenient" if category in LENIENT else "noise" if category in NOISE else "good"


def planted_judge(category: str) -> dict[str, object]:
    """The judge's planted quality in one category, as written to ``truth.json``."""
    return {"name": JUDGE_NAME, **asdict(MODELS[judge_quality(category)])}


def _scores(perceived: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(perceived), 1, 5).astype(int)


def judge_lines(rng: np.random.Generator, answers: list[AnswerTruth]) -> str:
    """One verdict per answer, as JSONL; every draw is made for every answer, so the stream never
    depends on which judge quality a category has."""
    n = len(answers)
    perception, flag, noise = rng.standard_normal((2, n)), rng.random(n), rng.uniform(1.0, 5.0, (2, n))
    lines = []
    for k, a in enumerate(answers):
        model = MODELS[judge_quality(a.category)]
        if model.quality == "noise":
            ai, human = noise[0][k], noise[1][k]
            critical = bool(flag[k] < model.false_alarm)
        else:
            ai = a.ai_quality + model.ai_bias + model.noise * perception[0][k]
            human = a.human_quality + model.noise * perception[1][k]
            critical = bool(flag[k] < (model.sensitivity if a.ai_critical else model.false_alarm))
        diff = ai - human
        preference = "tie" if abs(diff) < model.tie_within else "ai" if diff > 0 else "human"
        score_ai, score_human = _scores(np.array([ai, human]))
        lines.append(json.dumps({"item_id": a.item_id, "preference": preference, "score_ai": int(score_ai),
                                 "score_human": int(score_human), "critical_ai": critical, "judge": JUDGE_NAME},
                                separators=(",", ":")))
    return "".join(line + "\n" for line in lines)
