"""Replay: one item per agent turn, answered by a responder that knows only the turns before it.

The cut-off is structural: a responder receives a ``ReplayRequest`` holding copies of the
earlier turns and nothing else (no ticket, metadata, human answer or later turn).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from pydantic_core import to_json

from eval.config import ReplayConfig
from eval.engines import Engine
from eval.engines.local import available_cpus, ordered_threads
from eval.records import AIAnswer, HumanAnswer, Item, Ticket, item_id
from eval.responders import ReplayRequest, Responder, build_responder, copy_turn
from eval.responders.precomputed import MISSING, Precomputed
from eval.store import (
    Checkpoint,
    batch_rows,
    file_stat,
    parse_line,
    read_lines,
)

Which = Literal["all", "first"]
DEFAULT_BATCH = 256


class ReplaySummary(BaseModel):
    """Counts for the manifest and report; only the timing fields differ between identical runs."""

    tickets: int
    held_out: int
    items: int
    errors: int
    missing_by_category: dict[str, int]
    items_by_category: dict[str, int]
    errors_by_category: dict[str, int]
    orphans: int
    tickets_by_category: dict[str, int] = Field(
        default_factory=dict, description="tickets replayed (held-out ones not counted)"
    )
    responder: str
    model: str | None
    which: Which = "all"
    answer_seconds: float = Field(
        default=0.0, description="time inside the responder, summed over batches (a model responder overlaps two)"
    )
    ms_per_item: float | None = None
    usage: dict[str, float] = Field(
        default_factory=dict, description="tokens and cost of the answers in items.jsonl (cached ones included)"
    )
    responder_stats: dict[str, Any] = Field(
        default_factory=dict, description="what this replay actually sent and spent (model responders)"
    )
    retried: int | None = Field(default=None, description="items re-answered by --retry-errors")


def agent_turn_indices(ticket: Ticket, which: Which) -> list[int]:
    indices = [i for i, turn in enumerate(ticket.turns) if turn.role == "agent"]
    return indices[:1] if which == "first" else indices


def replay_request(ticket: Ticket, turn_index: int) -> ReplayRequest:
    """The earlier turns only; the request copies them when a responder reads its context."""
    return ReplayRequest(item_id(ticket.ticket_id, turn_index), ticket.ticket_id, turn_index,
                         ticket.turns[:turn_index])


def _checked(answer: AIAnswer, responder: Responder, request: ReplayRequest) -> AIAnswer:
    """A responder bug must not pass as an empty answer or a silent non-answer."""
    blank = answer.text is not None and not answer.text.strip()
    if blank or (answer.text is None and not answer.error):
        raise ValueError(
            f"responder {responder.name!r} returned {'an empty' if blank else 'no'} answer "
            f"without an error for item {request.item_id}"
        )
    return answer


def _answers(responder: Responder, requests: list[ReplayRequest]) -> list[AIAnswer]:
    """One responder call; a responder that loses or invents answers stops the replay."""
    answers = responder.answer(requests)
    if len(answers) != len(requests):
        raise ValueError(
            f"responder {responder.name!r} returned {len(answers)} answers "
            f"for {len(requests)} requests"
        )
    return answers


def _answered(batch: list[tuple[Ticket, int]], responder: Responder) -> list[tuple[Ticket, int, AIAnswer]]:
    """One responder call for ``batch``; each answer checked and paired with its ticket and turn."""
    requests = [replay_request(ticket, i) for ticket, i in batch]
    answers = _answers(responder, requests)
    return [(ticket, i, _checked(answer, responder, request))
            for (ticket, i), request, answer in zip(batch, requests, answers, strict=True)]


def _answer_batch(batch: list[tuple[Ticket, int]], responder: Responder) -> Iterator[Item]:
    for ticket, i, answer in _answered(batch, responder):
        turn = ticket.turns[i]
        yield Item(
            item_id=item_id(ticket.ticket_id, i),
            ticket_id=ticket.ticket_id,
            turn_index=i,
            category=ticket.category,
            context=[copy_turn(t) for t in ticket.turns[:i]],
            human=HumanAnswer(text=turn.text, author=turn.author),
            ai=answer,
            metadata=ticket.metadata,
        )


def _batches(
    tickets: Iterable[Ticket], responder: Responder, which: Which, batch_size: int,
) -> Iterator[list[tuple[Ticket, int]]]:
    """(ticket, agent turn) requests in groups of ``batch_size``; held-out tickets skipped."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    pending: list[tuple[Ticket, int]] = []
    for ticket in tickets:
        if ticket.ticket_id in responder.held_out:
            continue
        for i in agent_turn_indices(ticket, which):
            pending.append((ticket, i))
            if len(pending) == batch_size:
                yield pending
                pending = []
    if pending:
        yield pending


def replay(
    tickets: Iterable[Ticket], responder: Responder, which: Which = "all",
    batch_size: int = DEFAULT_BATCH,
) -> Iterator[Item]:
    """Items in ticket order, answered in batches; tickets the responder learned from are skipped.

    A responder that raises stops the replay: its contract is to return error answers.
    """
    for batch in _batches(tickets, responder, which, batch_size):
        yield from _answer_batch(batch, responder)


def _json(value: Any) -> str:
    return to_json(value).decode()


@dataclass(frozen=True, slots=True)
class _TicketJSON:
    """A ticket's pieces of its item lines, each serialised once for all its items: the item id
    up to the turn index, the ticket id, the category, the turns and the metadata."""

    item_id: str
    ticket_id: str
    category: str
    turns: list[str]
    metadata: str

    @classmethod
    def of(cls, ticket: Ticket) -> _TicketJSON:
        ticket_id = _json(ticket.ticket_id)
        return cls(ticket_id[:-1] + "#", f'","ticket_id":{ticket_id},"turn_index":',
                   f',"category":{_json(ticket.category)},"context":[',
                   [], _json(ticket.metadata))

    def context(self, ticket: Ticket, i: int) -> str:
        """The turns before turn ``i``; each turn serialised when an item first needs it (the last
        agent turn and those after it are in no context)."""
        turns = self.turns
        while len(turns) < i:
            turns.append(ticket.turns[len(turns)].model_dump_json())
        return ",".join(turns[:i])


def _item_lines(batch: list[tuple[Ticket, int, AIAnswer]]) -> Iterator[str]:
    """Byte for byte the ``Item(...).to_json()`` of each answered turn (same serialiser), without
    building items: each turn and the metadata are serialised once per ticket, not once per later
    item whose context repeats them (building and copying those was most of the replay's time)."""
    parts: dict[int, _TicketJSON] = {}
    for ticket, i, answer in batch:
        p = parts.get(id(ticket))
        if p is None:
            p = parts[id(ticket)] = _TicketJSON.of(ticket)
        turn = ticket.turns[i]
        yield (
            f'{{"item_id":{p.item_id}{i}{p.ticket_id}{i}{p.category}{p.context(ticket, i)}],'
            f'"human":{_json({"text": turn.text, "author": turn.author})},'
            f'"ai":{answer.model_dump_json()},"metadata":{p.metadata}}}'
        )


@dataclass
class _Timed:
    """Measures time spent in the responder, so items stay free of wall-clock figures."""

    inner: Responder
    clock: Callable[[], float]
    seconds: float = 0.0

    @property
    def name(self) -> str:
        return self.inner.name

    @property
    def held_out(self) -> frozenset[str]:
        return self.inner.held_out

    def answer(self, requests: Sequence[ReplayRequest]) -> list[AIAnswer]:
        start = self.clock()
        answers = self.inner.answer(requests)
        self.seconds += self.clock() - start
        return answers


@dataclass
class _Tally:
    tickets: int = 0
    held_out: int = 0
    items: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    missing: Counter[str] = field(default_factory=Counter)
    replayed: Counter[str] = field(default_factory=Counter)
    models: set[str] = field(default_factory=set)
    usage: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def state(self) -> dict[str, Any]:
        """Everything needed to continue counting after a resume (JSON for the progress record)."""
        return {
            "tickets": self.tickets, "held_out": self.held_out, "items": self.items, "errors": self.errors,
            "missing": self.missing, "replayed": self.replayed, "models": sorted(self.models),
            "usage": self.usage, "seconds": self.seconds,
        }

    def merge(self, other: _Tally) -> None:
        self.tickets += other.tickets
        self.held_out += other.held_out
        for name in ("items", "errors", "missing", "replayed", "usage"):
            getattr(self, name).update(getattr(other, name))
        self.models |= other.models
        self.seconds += other.seconds

    @classmethod
    def load(cls, state: dict[str, Any]) -> _Tally:
        counters = {k: Counter(state[k]) for k in ("items", "errors", "missing", "replayed", "usage")}
        return cls(tickets=state["tickets"], held_out=state["held_out"], models=set(state["models"]),
                   seconds=state["seconds"], **counters)

    def read(self, tickets: Iterable[Ticket], held_out: frozenset[str]) -> Iterator[Ticket]:
        for ticket in tickets:
            self.tickets += 1
            if ticket.ticket_id in held_out:
                self.held_out += 1
            else:
                self.replayed[ticket.category] += 1
            yield ticket

    def add(self, category: str, ai: AIAnswer) -> None:
        self.items[category] += 1
        if ai.error:
            self.errors[category] += 1
        if ai.error == MISSING:
            self.missing[category] += 1
        if ai.model:
            self.models.add(ai.model)
        if ai.usage is not None:
            self.usage["prompt_tokens"] += ai.usage.prompt_tokens
            self.usage["completion_tokens"] += ai.usage.completion_tokens
            self.usage["cost"] += ai.usage.cost


@dataclass(frozen=True)
class ReplayedGroup:
    """Item lines of one group of whole tickets, their counts, and the input position after them;
    ``scored`` is what a ``Scorer`` made of the same items (one-pass runs), else None."""

    text: str | bytes
    items: int
    tickets: int
    position: dict[str, int]
    tally: dict[str, Any]
    scored: Any = None
    logged: int = 0
    """Logged answers of these tickets that belong to an agent turn (precomputed responder)."""


Answered = list[tuple[Ticket, int, AIAnswer]]
Scorer = Callable[[Answered], Any]
"""Scores answered turns right after replay (``eval.rubrics.score.score_answered``), so a run
need not write items.jsonl and read it back."""


def replay_group(
    group: list[Ticket], position: dict[str, int], responder: Responder, which: Which, size: int,
    clock: Callable[[], float] = time.perf_counter, scorer: Scorer | None = None,
) -> ReplayedGroup:
    """One responder call for a group of whole tickets: the unit both engines run."""
    tally = _Tally()
    timed = _Timed(responder, clock)
    lines = []
    everything: Answered = []
    for batch in _batches(tally.read(group, responder.held_out), timed, which, max(size, 1)):
        answered = _answered(batch, timed)
        lines.extend(_item_lines(answered))
        for ticket, _, answer in answered:
            tally.add(ticket.category, answer)
        everything.extend(answered)
    tally.seconds = timed.seconds
    text = "\n".join(lines) + "\n" if lines else ""
    scored = scorer(everything) if scorer is not None else None
    return ReplayedGroup(text, len(lines), tally.tickets, position, tally.state(), scored)


def replay_to_file(
    tickets_path: Path, items_path: Path, cfg: ReplayConfig, resolve: Callable[[str], Path],
    advance: Callable[[int], None] | None = None, *, clock: Callable[[], float] = time.perf_counter,
    engine: Engine = "local", workers: int | None = None,
) -> ReplaySummary:
    """Stream tickets to items.jsonl in committed batches; a killed replay resumes from its last
    batch. ``advance(n)``: n more tickets consumed. ``engine="ray"`` answers the groups of
    tickets on a Ray cluster (``eval.engines.ray``) with the same bytes. The precomputed responder
    runs on ``workers`` processes (default: every core this process may use), also with the same
    bytes; a custom ``clock`` keeps it in this process, where the clock can be read."""
    responder = build_responder(cfg.responder, tickets_path, resolve)
    batch_size = getattr(cfg.responder, "batch_size", DEFAULT_BATCH)
    key = {"stage": "replay", "tickets": file_stat(tickets_path), "replay": cfg.model_dump(mode="json")}
    rows = batch_rows()
    try:
        with Checkpoint([items_path], key) as out:
            resumed = out.open()
            tally = _Tally.load(resumed["state"]) if resumed else _Tally()
            position = resumed["position"] if resumed else {"offset": 0, "line": 0}
            if engine == "ray":
                from eval.engines.ray import replay_groups

                done = replay_groups(tickets_path, position, responder.held_out, cfg, resolve, batch_size)
            elif isinstance(responder, Precomputed) and clock is time.perf_counter:
                from eval.replay_pool import replayed_groups

                done = replayed_groups(tickets_path, position, responder, cfg.turns, batch_size,
                                       available_cpus() if workers is None else workers)
            else:
                groups = _ticket_groups(tickets_path, position, responder, cfg.turns, batch_size)
                done = ordered_threads(lambda group: replay_group(group[0], group[2], responder, cfg.turns,
                                                                  group[1], clock),
                                       groups, getattr(responder, "parallel_batches", 1))
            pending = 0
            for result in done:
                out.write(0, result.text, result.items)
                tally.merge(_Tally.load(result.tally))
                pending += result.items
                if advance:
                    advance(result.tickets)
                if pending >= rows:
                    out.commit(result.position, tally.state())
                    pending = 0
            out.finish()
    finally:
        _close(responder)
    return _summary(tally, responder, tally.seconds, cfg.turns)


def _ticket_groups(
    path: Path, position: dict[str, int], responder: Responder, which: Which, batch_size: int,
) -> Iterator[tuple[list[Ticket], int, dict[str, int]]]:
    """Whole tickets holding at least ``batch_size`` requests (one responder call), with the
    request count and the input position after them. Groups start where the last one ended, so
    a resumed replay sends the same batches as an uninterrupted one."""
    group: list[Ticket] = []
    size = 0
    for lineno, offset, line in read_lines(path, position["offset"], position["line"]):
        ticket = parse_line(path, lineno, line, Ticket)
        group.append(ticket)
        if ticket.ticket_id not in responder.held_out:
            size += len(agent_turn_indices(ticket, which))
        if size >= batch_size:
            yield group, size, {"offset": offset, "line": lineno}
            group, size = [], 0
    if group:
        yield group, size, {"offset": offset, "line": lineno}


def _close(responder: Responder) -> None:
    """Model responders hold connections and an event loop; the others have nothing to close."""
    close = getattr(responder, "close", None)
    if close is not None:
        close()


def _summary(tally: _Tally, responder: Responder, seconds: float, which: Which) -> ReplaySummary:
    items = sum(tally.items.values())
    return ReplaySummary(
        tickets=tally.tickets,
        held_out=tally.held_out,
        items=items,
        errors=sum(tally.errors.values()),
        missing_by_category=dict(sorted(tally.missing.items())),
        items_by_category=dict(sorted(tally.items.items())),
        errors_by_category=dict(sorted(tally.errors.items())),
        tickets_by_category=dict(sorted(tally.replayed.items())),
        orphans=responder.orphans if isinstance(responder, Precomputed) else 0,
        responder=responder.name,
        model=", ".join(sorted(tally.models)) or None,
        which=which,
        answer_seconds=round(seconds, 6),
        ms_per_item=round(1000 * seconds / items, 3) if items else None,
        usage={k: round(v, 6) for k, v in sorted(tally.usage.items())},
        responder_stats=dict(getattr(responder, "stats", {}) or {}),
    )
