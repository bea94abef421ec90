"""Scores both answers of every item the way Zendesk QA computes a review score.

Criterion score = (value - min) / (max - min); the answer's score is the weighted mean over
applicable criteria; any failed critical criterion sets it to 0. An AI answer that does not
exist (``ai.error``) is recorded with ``score=None`` and the error, never as a zero.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from eval.records import CriterionResult, Item, Score, Side
from eval.rubrics.criteria import Answer, ItemView, evaluate
from eval.rubrics.spec import Rubric, RubricBook, load_rubrics
from eval.store import atomic_writer, read_jsonl

NO_CRITERIA = "no applicable criteria"
NO_AI_TEXT = "AI answer has no text"
_ADVANCE_EVERY = 256


@dataclass(frozen=True)
class AnswerScore:
    """One answer's rubric result, before it is tied to an item and side."""

    rubric: str
    criteria: dict[str, CriterionResult]
    score: float | None
    critical_fail: bool = False
    error: str | None = None

    def to_record(self, item_id: str, side: Side) -> Score:
        return Score(
            item_id=item_id, side=side, rubric=self.rubric, criteria=self.criteria,
            score=self.score, critical_fail=self.critical_fail, error=self.error,
        )


def _score(rubric: Rubric, answer: Answer, item: ItemView) -> AnswerScore:
    results: dict[str, CriterionResult] = {}
    weights = weighted = 0.0
    critical_fail = False
    for c in rubric.criteria:
        value = evaluate(c, answer, item)
        if value is None and c.na != "skip":
            value = c.value_max if c.na == "pass" else c.value_min
        if value is None:
            results[c.id] = CriterionResult(value=None, passed=None, critical=c.critical)
            continue
        passed = value >= c.value_max
        results[c.id] = CriterionResult(value=value, passed=passed, critical=c.critical)
        critical_fail = critical_fail or (c.critical and not passed)
        weights += c.weight
        weighted += c.weight * (value - c.value_min) / (c.value_max - c.value_min)
    if not weights:
        return AnswerScore(rubric.ref, results, None, error=NO_CRITERIA)
    return AnswerScore(rubric.ref, results, 0.0 if critical_fail else weighted / weights, critical_fail)


def score_answer(rubric: Rubric, text: str, item: Item) -> AnswerScore:
    """Score one answer text against ``rubric`` in the setting of ``item`` (its metadata and context)."""
    return _score(rubric, Answer.of(text), ItemView(item.metadata, tuple(item.context)))


def score_item(book: RubricBook, item: Item) -> tuple[Score, Score]:
    """(human, ai) scores of one item with its category's rubric."""
    rubric = book.for_category(item.category)
    view = ItemView(item.metadata, tuple(item.context))
    human = _score(rubric, Answer.of(item.human.text), view).to_record(item.item_id, "human")
    ai_error = item.ai.error if item.ai.error is not None else (NO_AI_TEXT if item.ai.text is None else None)
    if ai_error is not None:
        ai = AnswerScore(rubric.ref, {}, None, error=ai_error).to_record(item.item_id, "ai")
    else:
        ai = _score(rubric, Answer.of(item.ai.text or ""), view).to_record(item.item_id, "ai")
    return human, ai


class CategoryScores(BaseModel):
    """Means and critical-fail rates are over scored answers (score not None)."""

    items: int = 0
    human_scored: int = 0
    ai_scored: int = 0
    human_mean: float | None = None
    ai_mean: float | None = None
    human_critical_fail_rate: float | None = None
    ai_critical_fail_rate: float | None = None
    ai_errors: int = 0
    """AI answers missing (failed call, no precomputed answer): not scored, not counted as zero."""
    no_applicable_criteria: int = 0
    """Answers (either side) for which no criterion applied."""


class ScoreSummary(BaseModel):
    items: int
    scores: int
    categories: dict[str, CategoryScores]
    total: CategoryScores
    rubrics: dict[str, str]
    """Category → ``id@version`` of the rubric that scored it."""


@dataclass
class _Tally:
    items: int = 0
    scored: dict[str, int] = field(default_factory=lambda: {"human": 0, "ai": 0})
    sums: dict[str, float] = field(default_factory=lambda: {"human": 0.0, "ai": 0.0})
    critical: dict[str, int] = field(default_factory=lambda: {"human": 0, "ai": 0})
    ai_errors: int = 0
    no_criteria: int = 0

    def add(self, human: Score, ai: Score) -> None:
        self.items += 1
        for s in (human, ai):
            if s.score is not None:
                self.scored[s.side] += 1
                self.sums[s.side] += s.score
                self.critical[s.side] += s.critical_fail
            elif s.error == NO_CRITERIA:
                self.no_criteria += 1
            else:
                self.ai_errors += 1

    def merge(self, other: _Tally) -> None:
        self.items += other.items
        for side in ("human", "ai"):
            self.scored[side] += other.scored[side]
            self.sums[side] += other.sums[side]
            self.critical[side] += other.critical[side]
        self.ai_errors += other.ai_errors
        self.no_criteria += other.no_criteria

    def summary(self) -> CategoryScores:
        def ratio(num: float, side: str) -> float | None:
            return num / self.scored[side] if self.scored[side] else None

        return CategoryScores(
            items=self.items, human_scored=self.scored["human"], ai_scored=self.scored["ai"],
            human_mean=ratio(self.sums["human"], "human"), ai_mean=ratio(self.sums["ai"], "ai"),
            human_critical_fail_rate=ratio(self.critical["human"], "human"),
            ai_critical_fail_rate=ratio(self.critical["ai"], "ai"),
            ai_errors=self.ai_errors, no_applicable_criteria=self.no_criteria,
        )


def score_to_file(
    items_path: Path, scores_path: Path, rubrics_path: Path,
    advance: Callable[[int], None] | None = None,
) -> ScoreSummary:
    """Stream items, write human then ai score per item in item order; ``advance(n)`` gets the
    number of items done since its last call."""
    book = load_rubrics(rubrics_path)
    tallies: dict[str, _Tally] = {}
    rubrics: dict[str, str] = {}
    pending = 0
    with atomic_writer(Path(scores_path)) as fh:
        for item in read_jsonl(Path(items_path), Item):
            human, ai = score_item(book, item)
            fh.write(human.model_dump_json() + "\n" + ai.model_dump_json() + "\n")
            tallies.setdefault(item.category, _Tally()).add(human, ai)
            rubrics.setdefault(item.category, human.rubric)
            pending += 1
            if advance is not None and pending == _ADVANCE_EVERY:
                advance(pending)
                pending = 0
    if advance is not None and pending:
        advance(pending)
    total = _Tally()
    for tally in tallies.values():
        total.merge(tally)
    return ScoreSummary(
        items=total.items, scores=2 * total.items,
        categories={c: tallies[c].summary() for c in sorted(tallies)},
        total=total.summary(), rubrics=dict(sorted(rubrics.items())),
    )
