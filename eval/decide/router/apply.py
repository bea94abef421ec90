"""``support-eval route``: every agent turn of new tickets to the AI, an AI draft, or a person.

Tickets stream in, each agent turn becomes the router's features (the conversation before it, the
ticket's facts, channel and language, and its AI answer when ``--answers`` gives one: then the
answer-aware variant routes it, else the conversation-only one), and turns are scored in batches, so
memory stays flat over millions of turns. Categories the router was never certified for go to people.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
from pydantic import BaseModel

from eval.decide.router import Router
from eval.decide.router.features import Variant, turn_features
from eval.records import PrecomputedAnswer, Route, Ticket
from eval.store import atomic_writer, read_jsonl

BATCH = 20_000


class RouteSummary(BaseModel):
    tickets: int
    turns: int
    variant: str
    out_path: str
    by_category: dict[str, dict[str, int]]
    """Per category the turns sent each way (ai, assist, human)."""


def _turns(tickets: Path, answers: dict[tuple[str, int], str] | None) -> Iterator[dict[str, object]]:
    for ticket in read_jsonl(tickets, Ticket):
        for i, turn in enumerate(ticket.turns):
            if turn.role != "agent":
                continue
            ai = None if answers is None else answers.get((ticket.ticket_id, i), "")
            yield {"ticket_id": ticket.ticket_id, "turn_index": i,
                   **turn_features(ticket.category, ticket.turns[:i], ticket.metadata, ticket.channel, ai)}


def _batches(rows: Iterator[dict[str, object]]) -> Iterator[pd.DataFrame]:
    batch: list[dict[str, object]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == BATCH:
            yield pd.DataFrame(batch)
            batch = []
    if batch:
        yield pd.DataFrame(batch)


def route_file(router: Router, tickets: Path, out: Path, answers: Path | None = None,
               advance: Callable[[int], None] | None = None) -> RouteSummary:
    """Route every agent turn of ``tickets`` (our ticket JSONL) into ``out`` (Route records, one per turn)."""
    given = None if answers is None else {(a.ticket_id, a.turn_index): a.text
                                          for a in read_jsonl(answers, PrecomputedAnswer)}
    variant: Variant = "context" if given is None else "answer"
    counts: dict[str, Counter[str]] = {}
    seen: set[str] = set()
    n = 0
    with atomic_writer(out) as fh:
        for frame in _batches(_turns(tickets, given)):
            routes, risk = router.route(frame, variant)
            for ticket, turn, category, route, r in zip(frame["ticket_id"], frame["turn_index"], frame["category"],
                                                        routes, risk):
                fh.write(Route(ticket_id=ticket, turn_index=int(turn), category=category, route=route,
                               risk=round(float(r), 6)).model_dump_json() + "\n")
                counts.setdefault(category, Counter())[route] += 1
            seen.update(frame["ticket_id"])
            n += len(frame)
            if advance is not None:
                advance(len(frame))
    return RouteSummary(tickets=len(seen), turns=n, variant=variant, out_path=str(out),
                        by_category={c: {k: v.get(k, 0) for k in ("ai", "assist", "human")} for c, v in sorted(counts.items())})
