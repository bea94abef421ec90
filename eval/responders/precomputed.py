"""Answers logged by another system (shadow mode), joined on ``ticket_id`` + ``turn_index``.

Nothing is invented: a turn without a logged answer gets an error answer (``MISSING``), and
logged answers that match no agent turn of a known ticket are counted as orphans, not used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from eval.records import AIAnswer, PrecomputedAnswer, Ticket
from eval.responders import ReplayRequest
from eval.store import RecordError, read_jsonl

NAME = "precomputed"
MISSING = "missing: no precomputed answer for this turn"
BLANK = "blank: the precomputed answer has no text"

Key = tuple[str, int]
Logged = tuple[str, str | None, float | None]
"""(text, model, latency_ms) of one logged answer; tuples keep the lookup small."""


def load_answers(path: Path) -> dict[Key, Logged]:
    """Every line validated; a bad or duplicated line raises naming file, line and field.

    Held in memory for now; a later issue replaces this with a streamed sorted join.
    """
    answers: dict[Key, Logged] = {}
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rec = PrecomputedAnswer.model_validate_json(line)
            except ValidationError as exc:
                err = exc.errors(include_url=False)[0]
                where = ".".join(str(p) for p in err["loc"]) or "(line)"
                raise RecordError(f"{path}:{lineno}: field '{where}': {err['msg']}") from exc
            key = (rec.ticket_id, rec.turn_index)
            if key in answers:
                raise RecordError(
                    f"{path}:{lineno}: field 'turn_index': a second answer for "
                    f"ticket {rec.ticket_id!r} turn {rec.turn_index}"
                )
            answers[key] = (rec.text, rec.model, rec.latency_ms)
    return answers


def drop_orphans(answers: dict[Key, Logged], tickets_path: Path) -> int:
    """Remove answers whose ticket is unknown or whose turn is not an agent turn; count them."""
    wanted: set[Key] = set()
    for ticket in read_jsonl(tickets_path, Ticket):
        for i, turn in enumerate(ticket.turns):
            if turn.role == "agent" and (ticket.ticket_id, i) in answers:
                wanted.add((ticket.ticket_id, i))
    orphans = [key for key in answers if key not in wanted]
    for key in orphans:
        del answers[key]
    return len(orphans)


@dataclass
class Precomputed:
    answers: dict[Key, Logged]
    orphans: int = 0
    name: str = NAME
    held_out: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_files(cls, answers_path: Path, tickets_path: Path) -> Precomputed:
        answers = load_answers(answers_path)
        orphans = drop_orphans(answers, tickets_path)
        return cls(answers=answers, orphans=orphans)

    def answer(self, requests: Sequence[ReplayRequest]) -> list[AIAnswer]:
        return [self._one(r) for r in requests]

    def _one(self, request: ReplayRequest) -> AIAnswer:
        logged = self.answers.get((request.ticket_id, request.turn_index))
        if logged is None:
            return AIAnswer(text=None, responder=NAME, error=MISSING)
        text, model, latency_ms = logged
        if not text.strip():
            return AIAnswer(
                text=None, responder=NAME, model=model, latency_ms=latency_ms, error=BLANK
            )
        return AIAnswer(text=text, responder=NAME, model=model, latency_ms=latency_ms)
