"""Single-answer packets: each row shows the conversation and ONE answer, for audits and teams that rate that way.

The answer is drawn per item: its reviewers (distinct, as for paired packets) get the AI and the
human answer in turn from a random first side, so both answers of an item go to different
reviewers and neither side is favoured. Rows look the same whichever answer they show; only the
review key (RUN/review_key.jsonl) says which one it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel

from eval.ratings import labelstudio
from eval.ratings.shown import Assignment, PacketRow, ShownTurn, write_packet_files
from eval.records import Record, Side

REVIEW_COLUMNS = ("score", "acceptable", "critical", "comment", "seconds")
CSV_COLUMNS = ("review_id", "reviewer", "position", "category", "facts", "context", "answer", *REVIEW_COLUMNS)


class ReviewKey(Record):
    """Maps a single-answer packet's review_id to the item and the answer shown; never shown to reviewers."""

    review_id: str
    item_id: str
    answer: Literal["replayed", "historical"]
    source: Side
    gold: bool = False
    reviewer: str | None = None
    round: int = 0


class AuditKey(Record):
    """Maps an audit packet's review_id to the live AI answer shown (``RUN/audit_key.jsonl``): its ticket, turn
    and category, so its review reads as a live review (DESIGN.md Review, ``answer: live``)."""

    review_id: str
    answer: Literal["live"] = "live"
    source: Literal["ai"] = "ai"
    ticket_id: str
    turn_index: int
    category: str
    reviewer: str | None = None
    round: int = 0


KEYED = ("item_id", "answer", "source", "ticket_id", "turn_index", "category")
"""The fields a key entry gives the review row of its review_id."""


class SingleRow(BaseModel):
    """One line of a reviewer's single-answer packet: what they see, and the empty review cells."""

    review_id: str
    reviewer: str
    position: int
    category: str
    context: list[ShownTurn]
    answer: str
    facts: list[tuple[str, str]] = []
    score: int | None = None
    acceptable: bool | None = None
    critical: bool | None = None
    comment: str | None = None
    seconds: float | None = None


class BlindReview(BaseModel):
    """A review as the app stores it: what the reviewer said of a review_id, before the review key names its item."""

    review_id: str
    reviewer: str
    score: int
    acceptable: bool
    critical: bool
    comment: str = ""
    seconds: float | None = None
    reviewed_at: str | None = None
    """When the app stored it."""


def balance(assignments: list[Assignment], rng: np.random.Generator) -> list[Assignment]:
    """The side shown (``x``) alternates over each item's reviewers from a random first side."""
    by_item: dict[str, list[int]] = {}
    for n, a in enumerate(assignments):
        by_item.setdefault(a.item_id, []).append(n)
    out = list(assignments)
    for item_id in sorted(by_item):
        first: Side = "ai" if rng.random() < 0.5 else "human"
        for turn, n in enumerate(by_item[item_id]):
            out[n] = replace(out[n], x=first if turn % 2 == 0 else ("human" if first == "ai" else "ai"))
    return out


def single_rows(rows: dict[str, list[PacketRow]]) -> dict[str, list[SingleRow]]:
    """Paired rows cut to their X answer, which ``balance`` made the answer to show."""
    return {reviewer: [SingleRow(review_id=r.rating_id, reviewer=r.reviewer, position=r.position, category=r.category,
                                 context=r.context, answer=r.answer_x, facts=r.facts) for r in mine]
            for reviewer, mine in rows.items()}


def review_keys(assignments: Sequence[Assignment], rnd: int) -> list[ReviewKey]:
    return sorted((ReviewKey(review_id=a.rating_id, item_id=a.item_id, answer="replayed" if a.x == "ai" else "historical",
                             source=a.x, gold=a.gold, reviewer=a.reviewer, round=rnd) for a in assignments),
                  key=lambda k: (k.item_id, k.reviewer or ""))


def write_reviewer(folder: Path, reviewer: str, rows: list[SingleRow]) -> list[Path]:
    return write_packet_files(folder, reviewer, rows, CSV_COLUMNS, labelstudio.single_tasks)
