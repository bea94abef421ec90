"""The information cut-off: a responder receives a ``ReplayRequest`` holding copies of the
earlier turns and nothing else (no ticket, metadata, human answer or later turn), so the cut-off
is enforced by the type, not by each backend's good manners."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from eval.records import Ticket, Turn, item_id

Which = Literal["all", "first"]


def copy_turn(turn: Turn) -> Turn:
    """A turn's own fields are strings, so a shallow copy is enough unless it carries extra
    fields (which may be mutable): a deep copy of every turn would dominate the replay."""
    return turn.model_copy(deep=bool(turn.model_extra))


class ReplayRequest:
    """One agent turn to answer. ``context`` holds copies of the turns before it, made on first
    read: most responders (precomputed) never read it. The originals stay in a private slot, so
    no responder reaches the ticket through it."""

    __slots__ = ("_context", "_turns", "item_id", "ticket_id", "turn_index")

    def __init__(self, item_id: str, ticket_id: str, turn_index: int, context: Sequence[Turn]) -> None:
        self.item_id = item_id
        self.ticket_id = ticket_id
        self.turn_index = turn_index
        self._turns = tuple(context)
        self._context: tuple[Turn, ...] | None = None

    @property
    def context(self) -> tuple[Turn, ...]:
        if self._context is None:
            self._context = tuple(copy_turn(t) for t in self._turns)
        return self._context

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ReplayRequest):
            return NotImplemented
        return (self.item_id, self.ticket_id, self.turn_index, self.context) == (
            other.item_id, other.ticket_id, other.turn_index, other.context)

    __hash__ = None  # type: ignore[assignment]  # turns are mutable models

    def __repr__(self) -> str:
        return (f"ReplayRequest(item_id={self.item_id!r}, ticket_id={self.ticket_id!r}, "
                f"turn_index={self.turn_index!r}, context={self.context!r})")


def agent_turn_indices(ticket: Ticket, which: Which) -> list[int]:
    indices = [i for i, turn in enumerate(ticket.turns) if turn.role == "agent"]
    return indices[:1] if which == "first" else indices


def replay_request(ticket: Ticket, turn_index: int) -> ReplayRequest:
    """The earlier turns only; the request copies them when a responder reads its context."""
    return ReplayRequest(item_id(ticket.ticket_id, turn_index), ticket.ticket_id, turn_index,
                         ticket.turns[:turn_index])
