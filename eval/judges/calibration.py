"""How far a judge may be trusted, per category, measured against the blind reviewers.

A reviewer's label for an item is their preference (``tie_good``/``tie_bad`` both count as a tie);
a rating without a preference takes it from the scores (higher wins, equal is a tie). The human
majority of an item is its most frequent label, a tie when two labels are equally frequent.
Gold items are left out: they test reviewers, not the category.

The rule for ``decide``: a judge may stand in for reviewers in a category only when it agrees
with the individual reviewers at least as often as they agree with each other (the judge counted
as one more reviewer: the same unit on both sides), on at least ``min_items`` rated items.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from itertools import combinations
from pathlib import Path

import numpy as np
from pydantic import BaseModel
from sklearn.metrics import cohen_kappa_score

from eval.judges.pairwise import Pick
from eval.judges.table import Verdict, read_verdicts
from eval.records import UnblindedRating
from eval.run.folder import RunFolder
from eval.store import read_jsonl, write_json

LABELS: tuple[Pick, ...] = ("ai", "human", "tie")


class CategoryCalibration(BaseModel):
    category: str
    items: int
    """Rated items with a judge verdict (the base of every rate below)."""
    judge_errors: int
    agreement_with_ties: float | None
    """Judge verdict equals the human majority, three labels (ai, human, tie)."""
    agreement_without_ties: float | None
    """The same over items where neither the judge nor the majority is a tie."""
    decisive_items: int
    kappa_with_ties: float | None
    judge_vs_reviewers: float | None
    """Share of (item, reviewer) pairs where the judge's label equals the reviewer's."""
    reviewers_pairwise: float | None
    """Share of reviewer pairs on the same item with equal labels."""
    reviewer_pairs: int
    leniency: float | None
    """Judge's AI-preferred rate minus the reviewers' (per rating): above 0 the judge favours the AI
    more than reviewers do. Per rating, not per majority: a split panel makes a majority tie."""
    judge_tie_rate: float | None
    flip_rate: float | None
    """Items whose verdict changed with the order of the answers (counted as ties); None for another
    system's verdicts, whose order we do not see."""
    usable: bool
    why: str


def reviewer_label(r: UnblindedRating) -> Pick:
    if r.preference is not None:
        return "tie" if r.preference.startswith("tie") else r.preference  # type: ignore[return-value]
    ai, human = r.score_ai, r.score_human
    assert ai is not None and human is not None, "a rating without a preference has both scores (UnblindedRating)"
    if ai == human:
        return "tie"
    return "ai" if ai > human else "human"


def majority(labels: list[Pick]) -> Pick:
    counts = Counter(labels).most_common()
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return "tie"
    return counts[0][0]


def _mean(values: list[bool]) -> float | None:
    return float(np.mean(values)) if values else None


def _pairwise(by_item: Mapping[str, list[Pick]]) -> tuple[float | None, int]:
    agree = [a == b for labels in by_item.values() for a, b in combinations(labels, 2)]
    return _mean(agree), len(agree)


def _kappa(judge: list[Pick], human: list[Pick]) -> float | None:
    if len(judge) < 2 or len(set(judge) | set(human)) < 2:
        return None
    return float(cohen_kappa_score(judge, human, labels=list(LABELS)))


def _category(category: str, verdicts: list[Verdict], by_item: dict[str, list[Pick]],
              min_items: int) -> CategoryCalibration:
    judged = {v.item_id: v for v in verdicts if v.preference is not None}
    items = [i for i in by_item if i in judged]
    judge: list[Pick] = [judged[i].preference for i in items]  # type: ignore[misc]
    human = [majority(by_item[i]) for i in items]
    decisive = [(j, h) for j, h in zip(judge, human, strict=True) if j != "tie" and h != "tie"]
    vs_reviewers = _mean([judged[i].preference == label for i in items for label in by_item[i]])
    pairwise, pairs = _pairwise(by_item)
    usable, why = _rule(len(items), vs_reviewers, pairwise, min_items)
    return CategoryCalibration(
        category=category, items=len(items), judge_errors=sum(v.preference is None for v in verdicts),
        agreement_with_ties=_mean([j == h for j, h in zip(judge, human, strict=True)]),
        agreement_without_ties=_mean([j == h for j, h in decisive]), decisive_items=len(decisive),
        kappa_with_ties=_kappa(judge, human),
        judge_vs_reviewers=vs_reviewers, reviewers_pairwise=pairwise, reviewer_pairs=pairs,
        leniency=_leniency(judge, [label for i in items for label in by_item[i]]),
        judge_tie_rate=_mean([j == "tie" for j in judge]),
        flip_rate=_mean([f for i in items if (f := judged[i].flipped) is not None]), usable=usable, why=why,
    )


def _leniency(judge: list[Pick], reviewers: list[Pick]) -> float | None:
    if not judge:
        return None
    return float(np.mean([j == "ai" for j in judge]) - np.mean([r == "ai" for r in reviewers]))


def _rule(items: int, judge: float | None, reviewers: float | None, min_items: int) -> tuple[bool, str]:
    if items < min_items:
        return False, f"only {items} rated items judged (< {min_items})"
    if judge is None or reviewers is None:
        return False, "no reviewer pairs to compare with (each item needs two reviewers)"
    if judge < reviewers:
        return False, f"judge agrees with reviewers {judge:.2f} < reviewers with each other {reviewers:.2f}"
    return True, f"judge agrees with reviewers {judge:.2f} >= reviewers with each other {reviewers:.2f}"


def calibrate(
    verdicts: Iterable[Verdict], ratings: Iterable[UnblindedRating], min_items: int = 30,
) -> dict[str, CategoryCalibration]:
    """Per category (sorted): the judge against the reviewers' labels of the same items."""
    labels: dict[str, dict[str, list[Pick]]] = defaultdict(lambda: defaultdict(list))
    for r in ratings:
        if not r.gold:
            labels[r.category][r.item_id].append(reviewer_label(r))
    by_category: dict[str, list[Verdict]] = defaultdict(list)
    for v in verdicts:
        by_category[v.category].append(v)
    return {c: _category(c, by_category.get(c, []), labels[c], min_items) for c in sorted(labels)}


def judge_usable(calibration: Mapping[str, CategoryCalibration]) -> Callable[[str], bool]:
    """``judge_usable(category)``: False for a category that was never calibrated."""
    return lambda category: category in calibration and calibration[category].usable


def calibration_to_file(run_dir: Path, min_items: int = 30) -> dict[str, CategoryCalibration]:
    """The run's verdicts (``eval.judges.table``: imported or pairwise) + ``ratings.jsonl`` → ``judge_calibration.json``."""
    folder = RunFolder(run_dir)
    verdicts = read_verdicts(folder)
    ratings = read_jsonl(folder.ratings, UnblindedRating)
    result = calibrate(verdicts, ratings, min_items)
    write_json(folder.judge_calibration,
               {c: json.loads(cal.model_dump_json()) for c, cal in result.items()})
    return result
