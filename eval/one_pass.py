"""Replay and score in one pass: each group of tickets is answered and scored in the same worker.

Writing items.jsonl and reading it back to score it was a third of a run's time (every item's
context parsed again, every line sent to a second pool). When replay runs on local processes
with the precomputed responder and no judge is configured, ``support-eval run`` does both here
instead; items.jsonl and scores.jsonl get the same bytes as from the two stages, and a killed
pass resumes from its last committed batch of both files.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path

from eval.config import PrecomputedResponder, RunConfig
from eval.engines import Engine
from eval.engines.local import available_cpus
from eval.replay import DEFAULT_BATCH, ReplaySummary, _close, _summary, _Tally
from eval.replay_pool import replayed_groups
from eval.responders.precomputed import Precomputed, index_answers
from eval.rubrics.score import ScoreSummary, _rubric_files, _Totals
from eval.store import Checkpoint, batch_rows, file_stat


def applies(cfg: RunConfig, engine: Engine) -> bool:
    """Whether a run may replay and score in one pass (same bytes as the two stages)."""
    return engine == "local" and cfg.replay.responder.kind == "precomputed" and cfg.judge is None


@contextmanager
def early_index(cfg: RunConfig, wanted: bool) -> Iterator[Future[sqlite3.Connection] | None]:
    """Index the answers file on a thread while ingest runs in its child process (the index
    needs no tickets, and this process would otherwise only wait): at a million tickets that
    hides twenty seconds. Yields None unless ``wanted``; an index nobody took is closed."""
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


def replay_and_score_to_file(
    tickets_path: Path, items_path: Path, scores_path: Path, cfg: RunConfig,
    advance: Callable[[int], None] | None = None, *, workers: int | None = None,
    index: Future[sqlite3.Connection] | None = None,
) -> tuple[ReplaySummary, ScoreSummary]:
    """items.jsonl and scores.jsonl in committed batches; ``advance(n)``: n more tickets consumed.
    ``index``: the answers index from ``early_index``, else it is built here. Orphan answers are
    counted as the answers not joined to an agent turn (no second pass over the tickets)."""
    if not isinstance(cfg.replay.responder, PrecomputedResponder):
        raise TypeError("one-pass replay needs the precomputed responder")
    answers = cfg.resolve(cfg.replay.responder.path)
    responder = Precomputed(answers, index.result() if index is not None else index_answers(answers))
    try:
        return _both(tickets_path, items_path, scores_path, cfg, responder, advance,
                     available_cpus() if workers is None else workers)
    finally:
        _close(responder)


def _both(
    tickets_path: Path, items_path: Path, scores_path: Path, cfg: RunConfig, responder: Precomputed,
    advance: Callable[[int], None] | None, workers: int,
) -> tuple[ReplaySummary, ScoreSummary]:
    rubrics_path = cfg.resolve(cfg.rubrics.path)
    key = {"stage": "replay+score", "tickets": file_stat(tickets_path), "replay": cfg.replay.model_dump(mode="json"),
           "rubrics": [file_stat(f) for f in _rubric_files(rubrics_path)]}
    with Checkpoint([items_path, scores_path], key) as out:
        resumed = out.open()
        tally = _Tally.load(resumed["state"]["replay"]) if resumed else _Tally()
        totals = _Totals.load(resumed["state"]["score"]) if resumed else _Totals()
        logged = resumed["state"]["logged"] if resumed else 0
        position = resumed["position"] if resumed else {"offset": 0, "line": 0}
        batch_size = getattr(cfg.replay.responder, "batch_size", DEFAULT_BATCH)
        done = replayed_groups(tickets_path, position, responder, cfg.replay.turns, batch_size, workers, rubrics_path)
        pending, rows = 0, batch_rows()
        for result in done:
            out.write(0, result.text, result.items)
            out.write(1, result.scored.text, result.scored.lines)
            tally.merge(_Tally.load(result.tally))
            totals.add(result.scored)
            logged += result.logged
            pending += result.items
            if advance:
                advance(result.tickets)
            if pending >= rows:
                out.commit(result.position, {"replay": tally.state(), "score": totals.state(), "logged": logged})
                pending = 0
        out.finish()
    responder.orphans = responder.count() - logged
    return _summary(tally, responder, tally.seconds, cfg.replay.turns), totals.summary()
