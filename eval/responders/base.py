"""The responder protocol and its defaults, apart from the backends that implement them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Protocol

from eval.records import AIAnswer, Ticket
from eval.replay.request import ReplayRequest


class Responder(Protocol):
    """Answers requests in order, one ``AIAnswer`` per request.

    A failed call is ``AIAnswer(text=None, error=...)``, never an empty or invented answer.
    ``held_out`` names tickets the responder learned from; replay does not replay them.
    ``parallel_batches``: batches replay may hand over at once (threads), so a model endpoint
    never idles between batches. ``for_tickets`` is what a worker process needs to answer a
    group of tickets (None: this responder answers in this process). ``joined`` counts the
    logged answers a group used and ``unused`` the rest (precomputed). ``stats``: what the
    replay sent and spent. ``close`` releases connections.
    """

    @property
    def name(self) -> str: ...

    @property
    def held_out(self) -> frozenset[str]: ...

    @property
    def parallel_batches(self) -> int: ...

    def answer(self, requests: Sequence[ReplayRequest]) -> list[AIAnswer]: ...

    def for_tickets(self, ticket_ids: Sequence[str]) -> Responder | None: ...

    def joined(self, tickets: Sequence[Ticket]) -> int: ...

    def unused(self, joined: int) -> int: ...

    @property
    def stats(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


class BaseResponder(ABC):
    """The defaults of the protocol: a responder that answers in this process, one batch at a
    time, logs nothing, spends nothing and holds nothing to close."""

    name: str = "responder"
    held_out: frozenset[str] = frozenset()
    parallel_batches: int = 1

    @abstractmethod
    def answer(self, requests: Sequence[ReplayRequest]) -> list[AIAnswer]: ...

    def for_tickets(self, ticket_ids: Sequence[str]) -> Responder | None:
        return None

    def joined(self, tickets: Sequence[Ticket]) -> int:
        return 0

    def unused(self, joined: int) -> int:
        return 0

    @property
    def stats(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        return None
