"""Responders: the backends that answer an agent turn, all behind one protocol.

A responder sees only a ``ReplayRequest``: the turns before the agent turn. It never sees the
ticket, its metadata (which holds outcomes such as csat), the human answer or any later turn,
so the information cut-off is enforced by the type, not by each backend's good manners.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from eval.config import OpenAIResponder, PrecomputedResponder, RetrievalResponder
from eval.records import AIAnswer, Turn


def copy_turn(turn: Turn) -> Turn:
    """A turn's own fields are strings, so a shallow copy is enough unless it carries extra
    fields (which may be mutable); deep copies were half the replay's time."""
    return turn.model_copy(deep=bool(turn.model_extra))


class ReplayRequest:
    """One agent turn to answer. ``context`` holds copies of the turns before it, made on first
    read: most responders (precomputed) never read it, and copying was a third of their replay
    time. The originals stay in a private slot, so no responder reaches the ticket through it."""

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

    __hash__ = None  # type: ignore[assignment]  # turns are mutable models, as before

    def __repr__(self) -> str:
        return (f"ReplayRequest(item_id={self.item_id!r}, ticket_id={self.ticket_id!r}, "
                f"turn_index={self.turn_index!r}, context={self.context!r})")


class Responder(Protocol):
    """Answers requests in order, one ``AIAnswer`` per request.

    A failed call is ``AIAnswer(text=None, error=...)``, never an empty or invented answer.
    ``held_out`` names tickets the responder learned from; ``replay`` does not replay them.
    """

    name: str
    held_out: frozenset[str]

    def answer(self, requests: Sequence[ReplayRequest]) -> list[AIAnswer]: ...


def build_responder(
    cfg: RetrievalResponder | PrecomputedResponder | OpenAIResponder,
    tickets_path: Path,
    resolve: Callable[[str], Path],
) -> Responder:
    # Imported here: the backends import ReplayRequest from this package, and the
    # precomputed responder should not pay for importing scikit-learn.
    if isinstance(cfg, RetrievalResponder):
        from eval.responders.retrieval import Retrieval

        return Retrieval.from_file(tickets_path, cfg.history_fraction)
    if isinstance(cfg, PrecomputedResponder):
        from eval.responders.precomputed import Precomputed

        return Precomputed.from_files(resolve(cfg.path), tickets_path)
    if isinstance(cfg, OpenAIResponder):
        from eval.responders.openai import OpenAIChat

        return OpenAIChat.from_config(cfg, resolve)
    raise TypeError(f"unknown responder config: {type(cfg).__name__}")
