"""Scores both answers of every item the way Zendesk QA computes a review score.

Criterion score = (value - min) / (max - min); the answer's score is the weighted mean over
applicable criteria; any failed critical criterion sets it to 0. An AI answer that does not
exist (``ai.error``) is recorded with ``score=None`` and the error, never as a zero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_json

from eval.records import AIAnswer, CriterionResult, Item, Score, Side, Ticket, item_id
from eval.rubrics.criteria import (
    Answer,
    ItemView,
    Judged,
    JudgeFailed,
    JudgeRequest,
    evaluate,
)
from eval.rubrics.items import ItemLine, SaidView, Scorable, read_item
from eval.rubrics.spec import Rubric, RubricBook
from eval.store import parse_line

NO_CRITERIA = "no applicable criteria"
NO_AI_TEXT = "AI answer has no text"
JUDGE_ERROR = "llm_judge"
_ADVANCE_EVERY = 256

Judge = Callable[[Sequence[JudgeRequest]], list[Judged]]
"""Answers judge requests in order (eval.judges.rubric); a failed verdict is ``Judged(error=...)``."""
Verdicts = Mapping[tuple[str, str], Mapping[str, Judged]]
"""(item_id, side) → criterion id → verdict."""


Result = tuple[str, float | None, bool | None, bool, str | None, str | None]
"""One criterion's outcome: (id, value, passed, critical, reason, error)."""


def _result_json(r: Result) -> dict[str, Any]:
    """The ``CriterionResult`` JSON of a result (reason and error only when set, as the model writes)."""
    out: dict[str, Any] = {"value": r[1], "passed": r[2], "critical": r[3]}
    if r[4] is not None:
        out["reason"] = r[4]
    if r[5] is not None:
        out["error"] = r[5]
    return out


@dataclass(frozen=True)
class AnswerScore:
    """One answer's rubric result, before it is tied to an item and side.

    Results are plain tuples: a pydantic object per criterion would cost a large share of the
    scoring time, and score lines are written straight from the tuples (``to_json``) with
    pydantic's own serialiser.
    """

    rubric: str
    results: tuple[Result, ...]
    score: float | None
    critical_fail: bool = False
    error: str | None = None

    @cached_property
    def criteria(self) -> dict[str, CriterionResult]:
        return {r[0]: CriterionResult(**_result_json(r)) for r in self.results}

    def to_record(self, item_id: str, side: Side) -> Score:
        return Score(
            item_id=item_id, side=side, rubric=self.rubric, criteria=self.criteria,
            score=self.score, critical_fail=self.critical_fail, error=self.error,
        )

    def to_json(self, item_id: str, side: Side) -> str:
        """Byte for byte ``to_record(item_id, side).to_json()``, without building the records."""
        return to_json({
            "item_id": item_id, "side": side, "rubric": self.rubric,
            "criteria": {r[0]: _result_json(r) for r in self.results},
            "score": self.score, "critical_fail": self.critical_fail, "error": self.error,
        }).decode()


def _score(rubric: Rubric, answer: Answer, item: ItemView) -> AnswerScore:
    results: list[Result] = []
    weights = weighted = 0.0
    critical_fail = False
    for c in rubric.criteria:
        try:
            value = evaluate(c, answer, item)
        except JudgeFailed as exc:
            results.append((c.id, None, None, c.critical, None, str(exc)))
            return AnswerScore(rubric.ref, tuple(results), None, error=f"{JUDGE_ERROR} {c.id}: {exc}")
        if value is None and c.na != "skip":
            value = c.value_max if c.na == "pass" else c.value_min
        if value is None:
            results.append((c.id, None, None, c.critical, None, None))
            continue
        value = float(value)  # a custom judge may give an int; the record holds floats
        passed = value >= c.pass_value
        judged = answer.judged.get(c.id) if answer.judged else None
        results.append((c.id, value, passed, c.critical, judged.reason if judged else None, None))
        critical_fail = critical_fail or (c.critical and not passed)
        weights += c.weight
        weighted += c.weight * (value - c.value_min) / (c.value_max - c.value_min)
    if not weights:
        return AnswerScore(rubric.ref, tuple(results), None, error=NO_CRITERIA)
    return AnswerScore(rubric.ref, tuple(results), 0.0 if critical_fail else weighted / weights, critical_fail)


def score_answer(rubric: Rubric, text: str, item: Scorable) -> AnswerScore:
    """Score one answer text against ``rubric`` in the setting of ``item`` (its metadata and context)."""
    return _score(rubric, Answer.of(text), ItemView(item.metadata, tuple(item.context)))


def _ai_error(item: Scorable) -> str | None:
    return item.ai.error if item.ai.error is not None else (NO_AI_TEXT if item.ai.text is None else None)


def _answer_scores(book: RubricBook, item: Scorable, verdicts: Verdicts | None) -> tuple[AnswerScore, AnswerScore]:
    rubric = book.for_category(item.category)
    view = ItemView(item.metadata, tuple(item.context))
    judged = verdicts or {}
    human = _score(rubric, Answer.of(item.human.text, judged.get((item.item_id, "human"))), view)
    ai_error = _ai_error(item)
    if ai_error is not None:
        return human, AnswerScore(rubric.ref, (), None, error=ai_error)
    return human, _score(rubric, Answer.of(item.ai.text or "", judged.get((item.item_id, "ai"))), view)


def score_item(book: RubricBook, item: Scorable, verdicts: Verdicts | None = None) -> tuple[Score, Score]:
    """(human, ai) scores of one item with its category's rubric; ``verdicts`` holds the judge's
    verdicts for the rubric's ``llm_judge`` criteria (see ``judge_requests``)."""
    human, ai = _answer_scores(book, item, verdicts)
    return human.to_record(item.item_id, "human"), ai.to_record(item.item_id, "ai")


def judge_requests(book: RubricBook, item: Scorable) -> list[JudgeRequest]:
    """What the judge must rate before ``score_item``: each applicable ``llm_judge`` criterion of
    each answer that exists (a criterion whose ``when`` does not hold is not sent)."""
    rubric = book.for_category(item.category)
    if not rubric.judged:
        return []
    view = ItemView(item.metadata, tuple(item.context))
    sides = [("human", item.human.text)] + ([("ai", item.ai.text or "")] if _ai_error(item) is None else [])
    return [
        JudgeRequest(c, text, view.context, item.item_id, side)
        for c in rubric.judged
        if c.when is None or c.when.regex.search(view.customer_text)
        for side, text in sides
    ]


def _chunks(items: Iterable[Scorable], size: int) -> Iterator[list[Scorable]]:
    chunk: list[Scorable] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _judge_chunk(book: RubricBook, chunk: list[Scorable], judge: Judge | None) -> dict[tuple[str, str], dict[str, Judged]]:
    requests = [r for item in chunk for r in judge_requests(book, item)]
    verdicts: dict[tuple[str, str], dict[str, Judged]] = {}
    if not requests or judge is None:
        return verdicts
    outcomes = judge(requests)
    if len(outcomes) != len(requests):
        raise ValueError(f"judge returned {len(outcomes)} verdicts for {len(requests)} requests")
    for request, outcome in zip(requests, outcomes, strict=True):
        verdicts.setdefault((request.item_id, request.side), {})[request.criterion.id] = outcome
    return verdicts


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
    judge_errors: int = 0
    """Answers (either side) left unscored because an ``llm_judge`` verdict failed or was malformed."""


class ScoreSummary(BaseModel):
    items: int
    scores: int
    categories: dict[str, CategoryScores]
    total: CategoryScores
    rubrics: dict[str, str]
    """Category → ``id@version`` of the rubric that scored it."""


@dataclass
class CategoryTally:
    """Counts of one category's scored answers, merged across batches."""

    items: int = 0
    scored: dict[str, int] = field(default_factory=lambda: {"human": 0, "ai": 0})
    sums: dict[str, float] = field(default_factory=lambda: {"human": 0.0, "ai": 0.0})
    critical: dict[str, int] = field(default_factory=lambda: {"human": 0, "ai": 0})
    ai_errors: int = 0
    no_criteria: int = 0
    judge_errors: int = 0

    def add(self, human: AnswerScore, ai: AnswerScore) -> None:
        self.items += 1
        for side, s in (("human", human), ("ai", ai)):
            if s.score is not None:
                self.scored[side] += 1
                self.sums[side] += s.score
                self.critical[side] += s.critical_fail
            elif s.error == NO_CRITERIA:
                self.no_criteria += 1
            elif s.error is not None and s.error.startswith(JUDGE_ERROR):
                self.judge_errors += 1
            else:
                self.ai_errors += 1

    def merge(self, other: CategoryTally) -> None:
        self.items += other.items
        for side in ("human", "ai"):
            self.scored[side] += other.scored[side]
            self.sums[side] += other.sums[side]
            self.critical[side] += other.critical[side]
        self.ai_errors += other.ai_errors
        self.no_criteria += other.no_criteria
        self.judge_errors += other.judge_errors

    def summary(self) -> CategoryScores:
        def ratio(num: float, side: str) -> float | None:
            return num / self.scored[side] if self.scored[side] else None

        return CategoryScores(
            items=self.items, human_scored=self.scored["human"], ai_scored=self.scored["ai"],
            human_mean=ratio(self.sums["human"], "human"), ai_mean=ratio(self.sums["ai"], "ai"),
            human_critical_fail_rate=ratio(self.critical["human"], "human"),
            ai_critical_fail_rate=ratio(self.critical["ai"], "ai"),
            ai_errors=self.ai_errors, no_applicable_criteria=self.no_criteria,
            judge_errors=self.judge_errors,
        )


@dataclass(frozen=True)
class LineBatch:
    """Raw lines of items.jsonl with where they start, and the input position after them."""

    path: str
    first_line: int
    lines: tuple[tuple[int, bytes], ...]
    position: dict[str, int]


@dataclass(frozen=True)
class ScoredBatch:
    """Score lines of one batch, their counts, and the input position to resume after them."""

    text: str | bytes
    lines: int
    items: int
    position: dict[str, int]
    tallies: dict[str, CategoryTally]
    rubrics: dict[str, str]

    @property
    def rows(self) -> int:
        return self.items

    @property
    def done(self) -> int:
        return self.items

    def texts(self) -> tuple[tuple[str | bytes, int], ...]:
        return ((self.text, self.lines),)

    def encoded(self) -> ScoredBatch:
        """The batch with its lines as UTF-8 bytes, the form pool workers send them back in."""
        return replace(self, text=self.text.encode("utf-8") if isinstance(self.text, str) else self.text)


def score_batch(book: RubricBook, batch: LineBatch, judge: Judge | None = None) -> ScoredBatch:
    """Parse and score one batch of item lines. Pure apart from ``judge``."""
    # A judge gets the context turns themselves, so judged batches keep the full models.
    items = ([read_item(batch.path, lineno, line) for lineno, line in batch.lines] if judge is None
             else [parse_line(batch.path, lineno, line, Item) for lineno, line in batch.lines])
    return score_items(book, items, batch.position, judge)


def score_items(book: RubricBook, items: Sequence[Scorable], position: dict[str, int],
                judge: Judge | None = None) -> ScoredBatch:
    """Human then ai score line per item, in item order, with the counts; ``judge`` is called
    once per chunk of items, so its calls overlap."""
    out: list[str] = []
    tallies: dict[str, CategoryTally] = {}
    rubrics: dict[str, str] = {}
    for chunk in _chunks(items, _ADVANCE_EVERY):
        verdicts = _judge_chunk(book, chunk, judge)
        for item in chunk:
            human, ai = _answer_scores(book, item, verdicts)
            out.append(human.to_json(item.item_id, "human"))
            out.append(ai.to_json(item.item_id, "ai"))
            tallies.setdefault(item.category, CategoryTally()).add(human, ai)
            rubrics.setdefault(item.category, human.rubric)
    text = "\n".join(out) + "\n" if out else ""
    return ScoredBatch(text, len(out), len(items), position, tallies, rubrics)


def score_answered(book: RubricBook, answered: Sequence[tuple[Ticket, int, AIAnswer]]) -> ScoredBatch:
    """Score lines of turns replay just answered, the same bytes ``score_batch`` writes for their
    item lines, without the round trip through items.jsonl (``eval.run.compose``)."""
    items = [
        ItemLine(item_id(t.ticket_id, i), t.category, tuple(t.turns[:i]), SaidView(t.turns[i].text), ai, t.metadata)
        for t, i, ai in answered
    ]
    return score_items(book, items, {})
