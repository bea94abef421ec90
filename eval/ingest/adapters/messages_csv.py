"""One row per message, as a data warehouse exports a helpdesk's tables (``format: messages_csv``).

Columns, named by the mapping's ``messages`` section: ticket id, time (ISO 8601), text, and who wrote
the message: a role (mapped through ``roles``), or an author id looked up in an ``authors`` table of
``author_id,role[,name]``. Category, channel and author name are optional: a ticket takes the
category its rows give (blank cells agree with any; two values quarantine it), else the mapping's
``category.default``, and the channel of its earliest message that has one. A ticket's rows may sit
anywhere in the files given, in any order; its messages are ordered by time (ties keep file order).

A record is a ticket (every row with its id, over all the files given) or a row without a ticket id,
which belongs to no ticket: records in = kept + quarantined counts these. A ticket is located by its
first row (``line``) and lists its rows (``at``). A bad row quarantines its whole ticket, naming the
row: replaying a conversation with a message missing would show the AI a context that never was.

One pass stores each row under its ticket id in an on-disk table and numbers the records by their
first row; then each record is read back alone, in that order, and converted. Memory holds one
ticket at a time however many rows there are.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any, ClassVar, get_args

from eval.ingest.adapters.base import (
    Adapter,
    CategoryFacts,
    Conversation,
    Lookups,
    Message,
    Pending,
    Rejected,
    category_of,
    instant,
)
from eval.ingest.mapping import Mapping, MessageColumns
from eval.ingest.quarantine import IngestError, Problem
from eval.ingest.sources import SourceRow, read_rows
from eval.records import Role

_OURS: dict[str, Role] = {role: role for role in get_args(Role)}
_NOT_A_ROLE = f"is not ours ({', '.join(_OURS)}) nor in the mapping's roles"
_NAMED = frozenset({"agent", "note"})
"""Roles whose author is kept: a customer's name is personal data and tells the replay nothing."""
_AT_ROWS = 5
"""Rows a ticket's ``at`` lists before it says how many more: enough to find a short ticket by eye."""


@dataclass(frozen=True)
class _Row(Message):
    """A message with what its row adds: the instant it is ordered by, and a channel."""

    instant: float = 0.0
    channel: str | None = None


class MessagesCsv(Adapter):
    name: ClassVar[str] = "messages_csv"

    def __init__(self, mapping: Mapping | None) -> None:
        super().__init__(mapping)
        self.columns = MessageColumns()
        self.authors: Path | None = None
        if mapping is not None and mapping.messages is not None:
            self.columns = mapping.messages
            self.authors = None if mapping.messages.authors is None else mapping.resolve(mapping.messages.authors)

    def conversations(self, paths: Sequence[str]) -> Iterator[Pending]:
        """Every record in the order of its first row: tickets converted or quarantined, rows of no ticket quarantined."""
        with Lookups() as lookups:
            if self.authors is not None:
                _read_authors(self.authors, self.columns.roles, lookups)
            for number in range(self._group(paths, lookups)):
                yield self._record(paths, lookups.get("record", number), lookups)

    def _group(self, paths: Sequence[str], lookups: Lookups) -> int:
        """One pass: each row stored under its ticket, each record numbered by its first row. Returns the records."""
        records = 0
        for index, path in enumerate(paths):
            for count, row in enumerate(read_rows(path)):
                if count == 0:
                    self._check_columns(path, row.raw)
                owner = self._owner(row)
                problem = None if row.problem is None else astuple(row.problem)
                entry: dict[str, Any] = {"file": index, "row": row.line, "cells": row.raw, "problem": problem}
                if isinstance(owner, Problem):
                    lookups.put("record", records, {"lone": {**entry, "problem": astuple(owner)}})
                    records += 1
                    continue
                if lookups.get("ticket", owner) is None:
                    lookups.put("ticket", owner, records)
                    lookups.put("record", records, {"ticket": owner})
                    records += 1
                lookups.add("message", owner, entry)
        return records

    def _check_columns(self, path: str, cells: Any) -> None:
        """A file without a column every ticket needs fails whole, naming the mapping key that names it."""
        columns = self.columns
        needed = {"ticket_id": columns.ticket_id, "created_at": columns.created_at, "text": columns.text}
        needed.update({"author_id": columns.author_id} if self.authors is not None else {"role": columns.role})
        missing = [f"'{column}' (mapping key messages.{key})" for key, column in needed.items() if column not in cells]
        if isinstance(cells, dict) and missing:
            raise IngestError(f"{path}: no column {', '.join(missing)}")

    def _owner(self, row: SourceRow) -> str | Problem:
        """The ticket id of a row, or why the row belongs to no ticket."""
        column = self.columns.ticket_id
        if row.problem is not None and (not isinstance(row.raw, dict) or row.problem.field == column):
            return row.problem
        ticket_id = _cell(row.raw, column)
        return ticket_id or Problem("missing_field", column, "no ticket id, so the row belongs to no ticket")

    def _record(self, paths: Sequence[str], record: dict[str, Any], lookups: Lookups) -> Pending:
        if "lone" in record:
            lone = record["lone"]
            return Pending(paths[lone["file"]], lone["row"], lone["cells"], Problem(*lone["problem"]))
        entries = lookups.all("message", record["ticket"])
        first = entries[0]
        conv = self._conversation(record["ticket"], entries, paths, lookups)
        return Pending(paths[first["file"]], first["row"], [e["cells"] for e in entries], conv, _rows_at(entries, paths))

    def _conversation(
        self, ticket_id: str, entries: list[dict[str, Any]], paths: Sequence[str], lookups: Lookups
    ) -> Conversation | Problem:
        """The ticket's messages in time order, or the problem of its first bad row (in file order), naming the row."""
        messages: list[_Row] = []
        category: tuple[str, str] | None = None
        for entry in entries:
            where = _where(entry, paths, entries[0]["file"])
            try:
                if entry["problem"] is not None:
                    raise Rejected(*entry["problem"])
                messages.append(self._message(entry["cells"], lookups))
                category = self._category(entry["cells"], where, category)
            except Rejected as exc:
                return Problem(exc.problem.reason, exc.problem.field, f"{where}: {exc.problem.detail}")
        ordered = sorted(messages, key=lambda m: m.instant)
        return Conversation(
            ticket_id=ticket_id, category=category[0] if category else category_of(self.rule, CategoryFacts()),
            messages=ordered, created_at=ordered[0].created_at, channel=next((m.channel for m in ordered if m.channel), None),
        )

    def _message(self, cells: dict[str, Any], lookups: Lookups) -> _Row:
        """One row as a message; raises ``Rejected`` when its author or its time is unknown."""
        columns = self.columns
        role, name = self._author(cells, lookups)
        time = _cell(cells, columns.created_at)
        if time is None:
            raise Rejected("missing_field", columns.created_at, "no time")
        moment = instant(time)
        if moment is None:
            raise Rejected("invalid_value", columns.created_at, f"{time!r} is not an ISO 8601 time")
        text = cells.get(columns.text)
        return _Row(
            role=role, body="" if text is None else str(text), is_html=columns.html, created_at=time,
            author=(name or _cell(cells, columns.author_id)) if role in _NAMED else None,
            instant=moment, channel=_cell(cells, columns.channel),
        )

    def _author(self, cells: dict[str, Any], lookups: Lookups) -> tuple[Role, str | None]:
        """Role and name of the row's writer: from the authors table by author id when there is one, else the role column."""
        columns = self.columns
        name = _cell(cells, columns.author)
        if self.authors is not None:
            author_id = _cell(cells, columns.author_id)
            if author_id is None:
                raise Rejected("unknown_author", columns.author_id, "no author id")
            known = lookups.get("author", author_id)
            if known is None:
                raise Rejected("unknown_author", columns.author_id, f"author {author_id!r} is not in {self.authors.name}")
            return known["role"], name or known["name"]
        value = _cell(cells, columns.role)
        if value is None:
            raise Rejected("unknown_author", columns.role, "no role")
        role = _role(value, columns.roles)
        if role is None:
            raise Rejected("unknown_author", columns.role, f"role {value!r} {_NOT_A_ROLE}")
        return role, name

    def _category(self, cells: dict[str, Any], where: str, seen: tuple[str, str] | None) -> tuple[str, str] | None:
        """The ticket's category so far and the row that gave it; a row that leaves it blank agrees with any."""
        value = _cell(cells, self.columns.category)
        if value is None:
            return seen
        if seen is None:
            return value, where
        if value != seen[0]:
            raise Rejected("invalid_value", self.columns.category, f"category {value!r} differs from {seen[0]!r} ({seen[1]})")
        return seen


def _read_authors(path: Path, roles: dict[str, Role], lookups: Lookups) -> None:
    """Every author's role (through the mapping's roles) and name. Any bad row stops ingest, naming file and
    row: a wrong table would mislabel every message of its authors."""
    source = str(path)
    if not path.is_file():
        raise IngestError(f"{source}: the authors table (mapping key messages.authors) is not a file")
    for row in read_rows(source):
        where = f"{source}: data row {row.line}"
        if row.problem is not None:
            raise IngestError(f"{where}: column {row.problem.field}: {row.problem.detail}")
        cells = row.record or {}
        missing = [column for column in ("author_id", "role") if column not in cells]
        if missing:
            raise IngestError(f"{source}: no column {', '.join(missing)} (expected author_id,role[,name])")
        author_id, value = _cell(cells, "author_id"), _cell(cells, "role")
        if author_id is None or value is None:
            raise IngestError(f"{where}: no {'author_id' if author_id is None else 'role'}")
        role = _role(value, roles)
        if role is None:
            raise IngestError(f"{where}: role {value!r} {_NOT_A_ROLE}")
        if lookups.get("author", author_id) is not None:
            raise IngestError(f"{where}: author_id {author_id!r} is listed twice")
        lookups.put("author", author_id, {"role": role, "name": _cell(cells, "name")})
    if not lookups.count("author"):
        raise IngestError(f"{source}: the authors table has no rows")


def _role(value: str, roles: dict[str, Role]) -> Role | None:
    """Our role for a source value: the mapping's roles first, then our own names."""
    return roles.get(value) or _OURS.get(value)


def _cell(cells: Any, column: str) -> str | None:
    """A cell's text without surrounding blanks; None for an absent or blank cell."""
    value = cells.get(column) if isinstance(cells, dict) else None
    text = "" if value is None else str(value).strip()
    return text or None


def _where(entry: dict[str, Any], paths: Sequence[str], home: int) -> str:
    """A row as a reader finds it: its number, and its file when not the ticket's first row's."""
    row = f"row {entry['row']}"
    return row if entry["file"] == home else f"{Path(paths[entry['file']]).name} {row}"


def _rows_at(entries: list[dict[str, Any]], paths: Sequence[str]) -> str | None:
    """The rows of a ticket of several, the first few listed: ``rows 3, 7, 12 and 40 more``."""
    if len(entries) == 1:
        return None
    home = entries[0]["file"]
    shown = ", ".join(_where(e, paths, home).removeprefix("row ") for e in entries[:_AT_ROWS])
    more = len(entries) - _AT_ROWS
    return f"rows {shown}" + (f" and {more} more" if more > 0 else "")
