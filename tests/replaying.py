"""Replay in-memory tickets through the production path: the tickets are written to a file
and replayed by ``replay_to_file`` with the given responder, as a run replays them."""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

from eval.config import ReplayConfig, RetrievalResponder
from eval.records import Item, Ticket
from eval.replay.request import Which
from eval.replay.stage import replay_to_file
from eval.responders import Responder


def replay_items(tickets: Iterable[Ticket], responder: Responder, which: Which = "all",
                 batch_size: int = 256) -> list[Item]:
    """The items a replay writes; ``batch_size`` requests per responder call (the config's)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tickets.jsonl"
        path.write_text("".join(t.model_dump_json() + "\n" for t in tickets), encoding="utf-8")
        cfg = ReplayConfig.model_construct(turns=which, responder=RetrievalResponder.model_construct(batch_size=batch_size))
        replay_to_file(path, Path(tmp) / "items.jsonl", cfg, Path, responder=responder)
        return [Item.model_validate_json(line) for line in (Path(tmp) / "items.jsonl").read_text().splitlines()]
