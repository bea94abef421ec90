"""The scoring stage: items.jsonl to scores.jsonl through the checkpointed batch loop, batches
of ``batch_rows()`` item lines mapped by the run's engine (a judge keeps them in this process)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eval.engines import Engine, Job
from eval.engines.local import LocalEngine
from eval.rubrics.score import CategoryTally, Judge, LineBatch, ScoredBatch, ScoreSummary, score_batch
from eval.rubrics.spec import RubricBook, RubricError, load_rubrics, rubric_files
from eval.run.batches import Resumed, checkpointed
from eval.store import batch_rows, file_stat, read_lines


def line_batches(path: Path, position: dict[str, int], size: int) -> Iterator[LineBatch]:
    """Batches of ``size`` item lines from ``position`` (byte offset and line number)."""
    lines: list[tuple[int, bytes]] = []
    for lineno, offset, line in read_lines(path, position["offset"], position["line"]):
        lines.append((lineno, line))
        if len(lines) == size:
            yield LineBatch(str(path), lines[0][0], tuple(lines), {"offset": offset, "line": lineno})
            lines = []
    if lines:
        yield LineBatch(str(path), lines[0][0], tuple(lines), {"offset": offset, "line": lineno})


@dataclass(frozen=True)
class Scorer:
    """What a worker scores batches with; a judge holds connections, so it stays in this process."""

    book: RubricBook
    judge: Judge | None = None


def scorer_of(rubrics_path: str) -> Scorer:
    return Scorer(load_rubrics(Path(rubrics_path)))


def score_shard(scorer: Scorer, batch: LineBatch) -> ScoredBatch:
    """Score lines come back as the UTF-8 bytes they are written in (see ``Checkpoint.write``)."""
    return score_batch(scorer.book, batch, scorer.judge).encoded()


@dataclass
class Totals:
    """Counts per category across committed batches; JSON for the progress record."""

    tallies: dict[str, CategoryTally] = field(default_factory=dict)
    rubrics: dict[str, str] = field(default_factory=dict)

    def add(self, scored: ScoredBatch) -> None:
        for category, tally in scored.tallies.items():
            self.tallies.setdefault(category, CategoryTally()).merge(tally)
        for category, ref in scored.rubrics.items():
            self.rubrics.setdefault(category, ref)

    def state(self) -> dict[str, Any]:
        return {"tallies": {c: asdict(t) for c, t in self.tallies.items()}, "rubrics": self.rubrics}

    @classmethod
    def load(cls, state: dict[str, Any]) -> Totals:
        return cls({c: CategoryTally(**t) for c, t in state["tallies"].items()}, dict(state["rubrics"]))

    def summary(self) -> ScoreSummary:
        total = CategoryTally()
        for category in sorted(self.tallies):  # a fixed order: float sums must not depend on resumes
            total.merge(self.tallies[category])
        return ScoreSummary(
            items=total.items, scores=2 * total.items,
            categories={c: self.tallies[c].summary() for c in sorted(self.tallies)},
            total=total.summary(), rubrics=dict(sorted(self.rubrics.items())),
        )


def score_key(items_path: Path, rubrics_path: Path, judged: bool) -> dict[str, Any]:
    return {"stage": "score", "items": file_stat(items_path), "judge": judged,
            "rubrics": [file_stat(f) for f in rubric_files(Path(rubrics_path))]}


def score_to_file(
    items_path: Path, scores_path: Path, rubrics_path: Path,
    advance: Callable[[int], None] | None = None, judge: Judge | None = None,
    *, engine: Engine | None = None,
) -> ScoreSummary:
    """Stream items, write human then ai score per item in item order, in committed batches (a
    killed run resumes from its last batch); ``advance(n)`` gets the number of items done since
    its last call. Without a judge, batches are scored by ``engine`` (default: local, every core)
    with the same bytes as one process. Rubrics with ``llm_judge`` criteria need ``judge``; it is
    called once per chunk of items, so its calls run concurrently."""
    book = load_rubrics(rubrics_path)
    judged = [r.ref for r in book.rubrics if r.judged]
    if judged and judge is None:
        raise RubricError(f"{rubrics_path}: rubrics {', '.join(judged)} have llm_judge criteria "
                          "but the run config has no judge section")
    engine = engine or LocalEngine()
    job: Job[LineBatch, ScoredBatch] = (
        Job(score_shard, scorer_of, (str(rubrics_path),)) if judge is None
        else Job(score_shard, here=Scorer(book, judge)))

    def start(position: dict[str, int], state: Resumed) -> tuple[Totals, Iterator[ScoredBatch]]:
        totals = Totals.load(state) if state else Totals()
        return totals, engine.map(job, line_batches(Path(items_path), position, batch_rows()))

    totals = checkpointed([Path(scores_path)], score_key(Path(items_path), rubrics_path, judge is not None),
                          start, advance)
    return totals.summary()
