"""Replay of one group of whole tickets into item lines: the unit every engine runs.

Item lines are written here only, byte for byte the ``Item(...).to_json()`` of each answered
turn, without building items (each turn and the metadata are serialised once per ticket).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic_core import to_json

from eval.records import AIAnswer, Ticket
from eval.replay.request import ReplayRequest, Which, agent_turn_indices, replay_request
from eval.replay.shards import TicketShard
from eval.replay.tally import Tally
from eval.responders import Responder

Answered = list[tuple[Ticket, int, AIAnswer]]


class Answerer(Protocol):
    """What a replay call needs of a responder (``Timed`` wraps one and adds its clock)."""

    @property
    def name(self) -> str: ...

    @property
    def held_out(self) -> frozenset[str]: ...

    def answer(self, requests: Sequence[ReplayRequest]) -> list[AIAnswer]: ...


def checked(answer: AIAnswer, responder: Answerer, request: ReplayRequest) -> AIAnswer:
    """A responder bug must not pass as an empty answer or a silent non-answer."""
    blank = answer.text is not None and not answer.text.strip()
    if blank or (answer.text is None and not answer.error):
        raise ValueError(
            f"responder {responder.name!r} returned {'an empty' if blank else 'no'} answer "
            f"without an error for item {request.item_id}"
        )
    return answer


def answers_of(responder: Answerer, requests: list[ReplayRequest]) -> list[AIAnswer]:
    """One responder call; a responder that loses or invents answers stops the replay."""
    answers = responder.answer(requests)
    if len(answers) != len(requests):
        raise ValueError(
            f"responder {responder.name!r} returned {len(answers)} answers "
            f"for {len(requests)} requests"
        )
    return answers


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


def item_lines(batch: list[tuple[Ticket, int, AIAnswer]]) -> Iterator[str]:
    """Byte for byte the ``Item(...).to_json()`` of each answered turn (same serialiser), without
    building items: each turn and the metadata are serialised once per ticket, not once per later
    item whose context repeats them: building and copying those would dominate the replay."""
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
class Timed:
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


def answered(tickets: Sequence[Ticket], responder: Answerer, which: Which) -> Answered:
    """One responder call for every agent turn of ``tickets`` the responder did not learn from;
    each answer checked and paired with its ticket and turn."""
    turns = [(t, i) for t in tickets if t.ticket_id not in responder.held_out for i in agent_turn_indices(t, which)]
    if not turns:
        return []
    requests = [replay_request(ticket, i) for ticket, i in turns]
    answers = answers_of(responder, requests)
    return [(ticket, i, checked(answer, responder, request))
            for (ticket, i), request, answer in zip(turns, requests, answers, strict=True)]


@dataclass(frozen=True)
class ReplayedGroup:
    """Item lines of one group (UTF-8, the form they are written in), their counts and the input
    position after them."""

    text: bytes
    items: int
    tickets: int
    position: dict[str, int]
    tally: Tally

    @property
    def rows(self) -> int:
        return self.items

    @property
    def done(self) -> int:
        return self.tickets

    def texts(self) -> tuple[tuple[bytes, int], ...]:
        return ((self.text, self.items),)


@dataclass(frozen=True)
class Replayer:
    """What a worker replays shards with: a responder (None when each shard carries its own
    part of it, ``TicketShard.answers``) and the clock the responder's time is read with."""

    responder: Responder | None
    which: Which
    clock: Callable[[], float] = time.perf_counter

    def replay(self, shard: TicketShard) -> tuple[ReplayedGroup, Answered]:
        responder = shard.answers if shard.answers is not None else self.responder
        assert responder is not None, "a shard without answers needs the replayer's responder"
        tickets = shard.tickets()
        tally = Tally()
        timed = Timed(responder, self.clock)
        done = answered(list(tally.read(tickets, responder.held_out)), timed, self.which)
        for ticket, _, answer in done:
            tally.count(ticket.category, answer)
        tally.seconds = timed.seconds
        tally.joined = responder.joined(tickets)
        lines = list(item_lines(done))
        text = ("\n".join(lines) + "\n").encode("utf-8") if lines else b""
        return ReplayedGroup(text, len(lines), tally.tickets, shard.position, tally), done


def replay_shard(replayer: Replayer, shard: TicketShard) -> ReplayedGroup:
    return replayer.replay(shard)[0]
