"""The replay stage: tickets.jsonl to items.jsonl through the checkpointed batch loop.

Groups are cut once (``shards``) and mapped by the run's engine; a responder whose groups can
travel (precomputed: each group carries its logged answers) is replayed on worker processes,
one that waits on a network on threads in this process, with the same bytes either way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from eval.config import ReplayConfig
from eval.engines import Engine, Job
from eval.engines.local import LocalEngine
from eval.replay.group import ReplayedGroup, Replayer, replay_shard
from eval.replay.shards import TicketShard, ticket_shards
from eval.replay.tally import ReplaySummary, Tally
from eval.responders import Responder, build_responder, requests_per_call
from eval.run.batches import Resumed, checkpointed
from eval.store import file_stat


def travels(responder: Responder) -> bool:
    """Whether each group carries what answers it, so groups can go to worker processes."""
    return responder.for_tickets(()) is not None


def shipped_replayer(which: str) -> Replayer:
    """A worker's replayer when every shard carries its answers."""
    return Replayer(None, which)  # type: ignore[arg-type]  # a config's turns


def built_replayer(cfg: dict[str, Any], tickets_path: str, resolve: Callable[[str], Path]) -> Replayer:
    """A worker's replayer with its own responder, built from the config (Ray actors)."""
    replay = ReplayConfig.model_validate(cfg)
    return Replayer(build_responder(replay.responder, Path(tickets_path), resolve), replay.turns)


def replay_job(responder: Responder, cfg: ReplayConfig, tickets_path: Path, resolve: Callable[[str], Path],
               clock: Callable[[], float]) -> Job[TicketShard, ReplayedGroup]:
    if travels(responder):
        return Job(replay_shard, shipped_replayer, (cfg.turns,))
    return Job(replay_shard, built_replayer, (cfg.model_dump(mode="json"), str(tickets_path), resolve),
               here=Replayer(responder, cfg.turns, clock), threads=responder.parallel_batches)


def replay_key(tickets_path: Path, cfg: ReplayConfig) -> dict[str, Any]:
    return {"stage": "replay", "tickets": file_stat(tickets_path), "replay": cfg.model_dump(mode="json")}


def shards_from(tickets_path: Path, position: dict[str, int], responder: Responder,
                cfg: ReplayConfig) -> Iterator[TicketShard]:
    return ticket_shards(tickets_path, position, responder, cfg.turns, requests_per_call(cfg.responder))


def replay_to_file(
    tickets_path: Path, items_path: Path, cfg: ReplayConfig, resolve: Callable[[str], Path],
    advance: Callable[[int], None] | None = None, *, clock: Callable[[], float] = time.perf_counter,
    engine: Engine | None = None, responder: Responder | None = None,
) -> ReplaySummary:
    """Stream tickets to items.jsonl in committed batches; a killed replay resumes from its last
    batch. ``advance(n)``: n more tickets consumed. ``engine``: the run's (default: local, every
    core); ``responder``: one already built from ``cfg`` (it is closed here). ``clock`` reads the
    responder's time where it answers in this process."""
    responder = responder or build_responder(cfg.responder, tickets_path, resolve)
    engine = engine or LocalEngine()
    job = replay_job(responder, cfg, tickets_path, resolve, clock)

    def start(position: dict[str, int], state: Resumed) -> tuple[Tally, Iterator[ReplayedGroup]]:
        tally = Tally.load(state) if state else Tally()
        return tally, engine.map(job, shards_from(tickets_path, position, responder, cfg))

    try:
        tally = checkpointed([items_path], replay_key(tickets_path, cfg), start, advance)
        return tally.summary(responder, cfg.turns)
    finally:
        responder.close()
