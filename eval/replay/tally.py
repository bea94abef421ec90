"""What a replay counted: per group, merged across groups and resumes, summed into its summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

from eval.records import AIAnswer, Ticket
from eval.replay.request import Which
from eval.responders import Responder
from eval.responders.precomputed import MISSING

_COUNTERS = ("items", "errors", "missing", "replayed", "usage")


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


@dataclass
class Tally:
    """``joined``: logged answers that belong to an agent turn (precomputed), the rest are orphans."""

    tickets: int = 0
    held_out: int = 0
    items: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    missing: Counter[str] = field(default_factory=Counter)
    replayed: Counter[str] = field(default_factory=Counter)
    models: set[str] = field(default_factory=set)
    usage: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    joined: int = 0

    def state(self) -> dict[str, Any]:
        """Everything needed to continue counting after a resume (JSON for the progress record)."""
        return {
            "tickets": self.tickets, "held_out": self.held_out, "items": self.items, "errors": self.errors,
            "missing": self.missing, "replayed": self.replayed, "models": sorted(self.models),
            "usage": self.usage, "seconds": self.seconds, "joined": self.joined,
        }

    def merge(self, other: Tally) -> None:
        self.tickets += other.tickets
        self.held_out += other.held_out
        for name in _COUNTERS:
            getattr(self, name).update(getattr(other, name))
        self.models |= other.models
        self.seconds += other.seconds
        self.joined += other.joined

    @classmethod
    def load(cls, state: dict[str, Any]) -> Tally:
        counters = {k: Counter(state[k]) for k in _COUNTERS}
        return cls(tickets=state["tickets"], held_out=state["held_out"], models=set(state["models"]),
                   seconds=state["seconds"], joined=state["joined"], **counters)

    def read(self, tickets: Iterable[Ticket], held_out: frozenset[str]) -> Iterator[Ticket]:
        for ticket in tickets:
            self.tickets += 1
            if ticket.ticket_id in held_out:
                self.held_out += 1
            else:
                self.replayed[ticket.category] += 1
            yield ticket

    def add(self, group: Any) -> None:
        """A replayed group's counts (``ReplayedGroup``)."""
        self.merge(group.tally)

    def count(self, category: str, ai: AIAnswer) -> None:
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
            self.usage["cost"] += ai.usage.cost  # type: ignore[assignment]  # a float in the same Counter

    def summary(self, responder: Responder, which: Which) -> ReplaySummary:
        items = sum(self.items.values())
        return ReplaySummary(
            tickets=self.tickets,
            held_out=self.held_out,
            items=items,
            errors=sum(self.errors.values()),
            missing_by_category=dict(sorted(self.missing.items())),
            items_by_category=dict(sorted(self.items.items())),
            errors_by_category=dict(sorted(self.errors.items())),
            tickets_by_category=dict(sorted(self.replayed.items())),
            orphans=responder.unused(self.joined),
            responder=responder.name,
            model=", ".join(sorted(self.models)) or None,
            which=which,
            answer_seconds=round(self.seconds, 6),
            ms_per_item=round(1000 * self.seconds / items, 3) if items else None,
            usage={k: round(v, 6) for k, v in sorted(self.usage.items())},
            responder_stats=dict(responder.stats or {}),
        )
