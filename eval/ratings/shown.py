"""What a paired packet row shows, and who was given which item: shared by both packet kinds."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

from eval.records import Side


@dataclass(frozen=True)
class Assignment:
    """One reviewer's item; ``x`` is the side shown as X (in a single-answer packet, the one answer shown)."""

    rating_id: str
    item_id: str
    reviewer: str
    x: Side
    gold: bool
    position: int = 0


class ShownTurn(BaseModel):
    role: str
    text: str


class PacketRow(BaseModel):
    """One line of a reviewer's packet: what they see, and the empty rating cells."""

    rating_id: str
    reviewer: str
    position: int
    category: str
    context: list[ShownTurn]
    answer_x: str
    answer_y: str
    facts: list[tuple[str, str]] = []
    """Ticket metadata the agent saw (outcomes and personal fields left out), to judge correctness by."""
    score_x: int | None = None
    score_y: int | None = None
    preference: str | None = None
    acceptable_x: bool | None = None
    acceptable_y: bool | None = None
    critical_x: bool | None = None
    critical_y: bool | None = None
    comment: str | None = None
    seconds: float | None = None
