"""What a paired packet row shows, and who was given which item: shared by both packet kinds."""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from eval.ratings import labelstudio
from eval.records import Side
from eval.store import atomic_writer, write_json, write_jsonl


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


def write_packet_files(folder: Path, reviewer: str, rows: Sequence[BaseModel], columns: Sequence[str],
                       tasks: Callable[[list[dict[str, Any]]], Any]) -> list[Path]:
    """A reviewer's packet as JSONL, CSV (conversation and facts as text) and Label Studio tasks, for either kind."""
    jsonl, table, ls = (folder / f"{reviewer}{ext}" for ext in (".jsonl", ".csv", ".labelstudio.json"))
    write_jsonl(jsonl, rows)
    with atomic_writer(table) as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            cells = row.model_dump()
            cells["context"] = labelstudio.context_text([(t["role"], t["text"]) for t in cells["context"]])
            cells["facts"] = labelstudio.facts_text(cells["facts"])
            writer.writerow({k: "" if cells[k] is None else cells[k] for k in columns})
    write_json(ls, tasks([r.model_dump() for r in rows]))
    return [jsonl, table, ls]
