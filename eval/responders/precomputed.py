"""Answers logged by another system (shadow mode), joined on ``ticket_id`` + ``turn_index``.

Nothing is invented: a turn without a logged answer gets an error answer (``MISSING``), and
logged answers that match no agent turn of a known ticket are counted as orphans, not used:
each group of tickets counts the answers it joined (``joined``), so no second pass over the
tickets is needed.

The join goes through an on-disk SQLite index (stdlib) of where each answer's line starts, so
memory stays flat however many answers there are: a dict of millions of answer texts would not,
and a streaming merge join would need both files sorted the same way, which logs from another
system rarely are. Each batch of requests costs one indexed query and one read per answer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO


from eval.records import AIAnswer, PrecomputedAnswer, Ticket
from eval.replay.request import ReplayRequest
from eval.responders.base import BaseResponder, Responder
from eval.store import RecordError, parse_line, read_lines, scratch_db

NAME = "precomputed"
MISSING = "missing: no precomputed answer for this turn"
BLANK = "blank: the precomputed answer has no text"

Key = tuple[str, int]
_CHUNK = 10_000
_MAX_VARS = 500

_SCHEMA = """
CREATE TABLE answers (ticket_id TEXT, turn_index INTEGER, offset INTEGER, line INTEGER,
                      PRIMARY KEY (ticket_id, turn_index)) WITHOUT ROWID;
"""


def _answer_rows(path: Path) -> Iterator[tuple[str, int, int, int]]:
    """(ticket_id, turn_index, byte offset, line) of every answer line, each validated."""
    for lineno, end, line in read_lines(path):
        rec = parse_line(path, lineno, line, PrecomputedAnswer)
        yield rec.ticket_id, rec.turn_index, end - len(line), lineno


def _insert_answers(db: sqlite3.Connection, path: Path) -> None:
    """A second answer for the same turn raises naming its line (found by redoing the chunk row by row)."""
    chunk: list[tuple[str, int, int, int]] = []
    for row in _answer_rows(path):
        chunk.append(row)
        if len(chunk) == _CHUNK:
            _insert_chunk(db, path, chunk)
            chunk = []
    _insert_chunk(db, path, chunk)


def _insert_chunk(db: sqlite3.Connection, path: Path, chunk: list[tuple[str, int, int, int]]) -> None:
    try:
        with db:
            db.executemany("INSERT INTO answers VALUES (?, ?, ?, ?)", chunk)
        return
    except sqlite3.IntegrityError:
        pass
    for ticket_id, turn_index, offset, lineno in chunk:
        try:
            with db:
                db.execute("INSERT INTO answers VALUES (?, ?, ?, ?)", (ticket_id, turn_index, offset, lineno))
        except sqlite3.IntegrityError as exc:
            raise RecordError(
                f"{path}:{lineno}: field 'turn_index': a second answer for "
                f"ticket {ticket_id!r} turn {turn_index}"
            ) from exc


def index_answers(answers_path: Path) -> sqlite3.Connection:
    """Where each answer's line starts, by (ticket_id, turn_index); needs no tickets, so a run
    builds it while ingest is still running."""
    db = scratch_db(_SCHEMA)
    try:
        _insert_answers(db, Path(answers_path))
    except BaseException:
        db.close()
        raise
    return db


Shipped = tuple[tuple[str, int, int, bytes], ...]
"""Answer lines looked up for some tickets: (ticket_id, turn_index, line number, raw line)."""


@dataclass(frozen=True)
class LoggedAnswers(BaseResponder):
    """The answers of a group of tickets, already read from the answers file: what a pool worker
    gets with each group, so only the main process needs the index."""

    answers_path: Path
    lines: Shipped
    name: str = NAME
    held_out: frozenset[str] = frozenset()

    def answer(self, requests: Sequence[ReplayRequest]) -> list[AIAnswer]:
        where = {(t, i): (n, line) for t, i, n, line in self.lines}
        return [self._one(where.get((r.ticket_id, r.turn_index))) for r in requests]

    def joined(self, tickets: Sequence[Ticket]) -> int:
        """How many of these answers belong to an agent turn of ``tickets``."""
        agent = {(t.ticket_id, i) for t in tickets for i, turn in enumerate(t.turns) if turn.role == "agent"}
        return sum((t, i) in agent for t, i, _, _ in self.lines)

    def _one(self, found: tuple[int, bytes] | None) -> AIAnswer:
        if found is None:
            return AIAnswer(text=None, responder=NAME, error=MISSING)
        logged = parse_line(self.answers_path, found[0], found[1], PrecomputedAnswer)
        if not logged.text.strip():
            return AIAnswer(text=None, responder=NAME, model=logged.model, latency_ms=logged.latency_ms, error=BLANK)
        return AIAnswer(text=logged.text, responder=NAME, model=logged.model, latency_ms=logged.latency_ms)


@dataclass
class Precomputed(BaseResponder):
    """Answers from the index; worker processes get each group's answers (``for_tickets``), so
    only this process holds the index."""

    answers_path: Path
    db: sqlite3.Connection
    name: str = NAME
    held_out: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_file(cls, answers_path: Path) -> Precomputed:
        return cls(Path(answers_path), index_answers(answers_path))

    def count(self) -> int:
        """Answers in the index."""
        return self.db.execute("SELECT COUNT(*) FROM answers").fetchone()[0]

    def unused(self, joined: int) -> int:
        return self.count() - joined

    def answer(self, requests: Sequence[ReplayRequest]) -> list[AIAnswer]:
        return self.logged(sorted({r.ticket_id for r in requests})).answer(requests)

    def for_tickets(self, ticket_ids: Sequence[str]) -> Responder:
        return self.logged(ticket_ids)

    def logged(self, ticket_ids: Sequence[str]) -> LoggedAnswers:
        """Every answer of these tickets, read in file order."""
        found = sorted(self._lookup(ticket_ids), key=lambda row: row[2])
        if not found:
            return LoggedAnswers(self.answers_path, ())
        with open(self.answers_path, "rb") as fh:
            return LoggedAnswers(self.answers_path, tuple((t, i, n, _line_at(fh, o)) for t, i, o, n in found))

    def _lookup(self, ticket_ids: Sequence[str]) -> list[tuple[str, int, int, int]]:
        found: list[tuple[str, int, int, int]] = []
        for start in range(0, len(ticket_ids), _MAX_VARS):
            part = list(ticket_ids[start:start + _MAX_VARS])
            found += self.db.execute(
                f"SELECT ticket_id, turn_index, offset, line FROM answers WHERE ticket_id IN ({','.join('?' * len(part))})",
                part,
            )
        return found

    def close(self) -> None:
        self.db.close()


def _line_at(fh: BinaryIO, offset: int) -> bytes:
    fh.seek(offset)
    return fh.readline()
