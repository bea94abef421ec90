"""Replay and score in one pass: the replay and score stage functions composed over the same
shards, so a run need not write items.jsonl and read it back (every item's context parsed
again, every line sent to a second pool). items.jsonl and scores.jsonl get the same bytes as
from the two stages, and a killed pass resumes from its last committed batch of both files.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eval.config import PrecomputedResponder, RunConfig
from eval.engines import Engine, EngineName, Job
from eval.engines.local import LocalEngine
from eval.replay.group import ReplayedGroup, Replayer
from eval.replay.shards import TicketShard
from eval.replay.stage import replay_key, shards_from, shipped_replayer, travels
from eval.replay.tally import ReplaySummary, Tally
from eval.responders import Responder, build_responder
from eval.responders.precomputed import Precomputed, index_answers
from eval.rubrics.extend import rubrics_path
from eval.rubrics.score import ScoredBatch, ScoreSummary, score_answered
from eval.rubrics.stage import Scorer, Totals, score_key, scorer_of
from eval.run.batches import Resumed, checkpointed


def applies(cfg: RunConfig, engine: EngineName) -> bool:
    """Whether a run may replay and score in one pass: groups that travel to local worker
    processes, and no judge (it holds connections in this process)."""
    return engine == "local" and isinstance(cfg.replay.responder, PrecomputedResponder) and cfg.judge_endpoint is None


@contextmanager
def early_index(cfg: RunConfig, wanted: bool) -> Iterator[Future[sqlite3.Connection] | None]:
    """Index the answers file on a thread while ingest runs in its child process (the index
    needs no tickets, and this process would otherwise only wait). Yields None unless
    ``wanted``; an index nobody took is closed."""
    if not wanted:
        yield None
        return
    path = cfg.resolve(cfg.replay.responder.path)  # type: ignore[union-attr]  # wanted => precomputed
    with ThreadPoolExecutor(1, thread_name_prefix="answers-index") as pool:
        future = pool.submit(index_answers, path)
        try:
            yield future
        finally:
            # Closing twice is harmless; a failed index was already raised to whoever took it,
            # or matters less than the error that ended the run before replay.
            with suppress(Exception):
                future.result().close()


@dataclass(frozen=True)
class _Both:
    replayer: Replayer
    scorer: Scorer


def both_of(which: str, rubrics_path: str) -> _Both:
    return _Both(shipped_replayer(which), scorer_of(rubrics_path))


@dataclass(frozen=True)
class Pair:
    """A group's item lines and their score lines."""

    replayed: ReplayedGroup
    scored: ScoredBatch

    @property
    def position(self) -> dict[str, int]:
        return self.replayed.position

    @property
    def rows(self) -> int:
        return self.replayed.rows

    @property
    def done(self) -> int:
        return self.replayed.done

    def texts(self) -> tuple[tuple[str | bytes, int], ...]:
        return (*self.replayed.texts(), *self.scored.texts())


def replay_and_score(state: _Both, shard: TicketShard) -> Pair:
    group, answered = state.replayer.replay(shard)
    scored = score_answered(state.scorer.book, answered)
    return Pair(group, scored.encoded())


@dataclass
class PairTotals:
    tally: Tally
    totals: Totals

    def add(self, pair: Pair) -> None:
        self.tally.add(pair.replayed)
        self.totals.add(pair.scored)

    def state(self) -> dict[str, Any]:
        return {"replay": self.tally.state(), "score": self.totals.state()}

    @classmethod
    def load(cls, state: Resumed) -> PairTotals:
        if state is None:
            return cls(Tally(), Totals())
        return cls(Tally.load(state["replay"]), Totals.load(state["score"]))


def replay_and_score_to_file(
    tickets_path: Path, items_path: Path, scores_path: Path, cfg: RunConfig,
    advance: Callable[[int], None] | None = None, *, engine: Engine | None = None,
    index: Future[sqlite3.Connection] | None = None,
) -> tuple[ReplaySummary, ScoreSummary]:
    """items.jsonl and scores.jsonl in committed batches; ``advance(n)``: n more tickets consumed.
    ``index``: the answers index from ``early_index``, else the responder is built here.
    ``engine``: the run's (default: local, every core)."""
    responder: Responder = (build_responder(cfg.replay.responder, tickets_path, cfg.resolve) if index is None
                            else Precomputed(cfg.resolve(cfg.replay.responder.path), index.result()))  # type: ignore[union-attr]
    rubrics = rubrics_path(cfg)
    job = Job(replay_and_score, both_of, (cfg.replay.turns, str(rubrics)))
    transport = engine or LocalEngine()
    key = {**replay_key(tickets_path, cfg.replay), "stage": "replay+score",
           "rubrics": score_key(tickets_path, rubrics, False)["rubrics"]}

    def start(position: dict[str, int], state: Resumed) -> tuple[PairTotals, Iterator[Pair]]:
        return PairTotals.load(state), transport.map(job, shards_from(tickets_path, position, responder, cfg.replay))

    try:
        if not travels(responder):
            raise TypeError("one-pass replay needs a responder whose groups travel (precomputed)")
        both = checkpointed([items_path, scores_path], key, start, advance)
        return both.tally.summary(responder, cfg.replay.turns), both.totals.summary()
    finally:
        responder.close()
