"""The judge's calibration against reviewers per category, shown beside the decision, driving nothing.

A judge sees every item, reviewers only a sample. Its verdicts enter the gates only through the
prediction-powered estimates (eval.decide.automatic), whose validity comes from the rated items
correcting its bias, never from its agreement. What is shown here is how far to trust the judge on
its own: its agreement with reviewers against theirs with each other, its leniency, and, only where
it agrees at least as well as reviewers do, its AI win rate over every judged item.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
from pydantic import BaseModel
from scipy import stats

from eval.judges.calibration import CategoryCalibration
from eval.judges.table import WIN, Tally, Verdict, verdicts_file
from eval.run.folder import RunFolder


class JudgeEvidence(BaseModel):
    used: bool
    """True only where calibration passed; then the judge's win rate is reported for the category."""
    why: str
    judged_items: int
    judge_errors: int
    agreement_with_reviewers: float | None
    reviewers_with_each_other: float | None
    leniency: float | None = None
    """The judge's AI-preferred share minus the reviewers' (eval.judges.calibration): above 0 it flatters the AI."""
    win_rate_ai: float | None = None
    """AI wins (ties half) over every judged item of the category."""
    low: float | None = None
    high: float | None = None


def _interval(wins: np.ndarray, confidence: float) -> tuple[float, float]:
    """t interval of a mean of 0/0.5/1 scores; the items are many and independent enough for it."""
    if len(wins) < 2:
        return float("nan"), float("nan")
    half = stats.t.ppf(0.5 + confidence / 2, len(wins) - 1) * wins.std(ddof=1) / np.sqrt(len(wins))
    return float(max(0.0, wins.mean() - half)), float(min(1.0, wins.mean() + half))


def judge_evidence(
    verdicts: Iterable[Verdict], calibration: Mapping[str, CategoryCalibration], confidence: float = 0.95,
) -> dict[str, JudgeEvidence]:
    """Per judged category: whether the judge is used and, if so, its AI win rate with an interval."""
    return tallied_evidence(Tally((v.category, v.preference) for v in verdicts), calibration, confidence)


def tallied_evidence(
    tally: Tally, calibration: Mapping[str, CategoryCalibration], confidence: float = 0.95,
) -> dict[str, JudgeEvidence]:
    """:func:`judge_evidence` from the verdicts counted per (category, preference), as ``decide`` streams them
    (``eval.judges.table.placed_verdicts``): ten million verdicts are never records."""
    out = {}
    for category in sorted({c for c, _ in tally}):
        wins = np.repeat(list(WIN.values()), [tally[(category, p)] for p in WIN])
        cal = calibration.get(category)
        evidence = JudgeEvidence(
            used=bool(cal and cal.usable), why=cal.why if cal else "no reviewer ratings to calibrate against",
            judged_items=len(wins), judge_errors=tally[(category, None)],
            agreement_with_reviewers=cal.judge_vs_reviewers if cal else None,
            reviewers_with_each_other=cal.reviewers_pairwise if cal else None, leniency=cal.leniency if cal else None,
        )
        if evidence.used and len(wins):
            low, high = _interval(wins, confidence)
            evidence = evidence.model_copy(update={"win_rate_ai": float(wins.mean()), "low": low, "high": high})
        out[category] = evidence
    return out


def judge_evidence_of_run(run_dir: Path, tally: Tally, confidence: float = 0.95) -> dict[str, JudgeEvidence]:
    """From the run's verdicts (imported or pairwise) as ``tally`` counted them, and judge_calibration.json;
    empty when no judge ran."""
    folder = RunFolder(run_dir)
    calibration_path = folder.judge_calibration
    if verdicts_file(folder) is None:
        return {}
    calibration = {}
    if calibration_path.exists():
        raw = json.loads(calibration_path.read_text(encoding="utf-8"))
        calibration = {c: CategoryCalibration.model_validate(v) for c, v in raw.items()}
    return tallied_evidence(tally, calibration, confidence)
