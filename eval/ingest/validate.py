"""Check one mapped record against the Ticket model and turn every failure into a reason code.

The text size limit is a run parameter, so it is checked here rather than in the model.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from eval.ingest.mapping import Mapping, MappingProblem, apply_mapping, origin
from eval.ingest.quarantine import RECORD, Problem, Reason
from eval.ingest.sources import SourceRow
from eval.records import Ticket
from eval.store import ScratchIndex

_SHOWN_INPUT = 80


def check_record(row: SourceRow, mapping: Mapping | None, max_text_chars: int) -> Ticket | Problem:
    """A row that was read (``record`` set, no problem), mapped and checked; ids are not compared
    here (``KeptIds`` does that, in input order), so this runs in any process."""
    if row.kind == "export":
        return check_ticket(row.record or {}, max_text_chars)
    try:
        record = apply_mapping(row.record or {}, mapping, cells_are_text=row.kind == "csv")
    except MappingProblem as exc:
        return exc.problem
    return check_ticket(record, max_text_chars, mapping)


def check_ticket(
    record: dict[str, Any], max_text_chars: int, mapping: Mapping | None = None
) -> Ticket | Problem:
    """The Ticket, or the first problem found (the detail also lists the other failing fields)."""
    try:
        ticket = Ticket.model_validate(record)
    except ValidationError as exc:
        return _problem(exc.errors(include_url=False), mapping)
    for index, turn in enumerate(ticket.turns):
        if len(turn.text) > max_text_chars:
            detail = f"{len(turn.text)} characters, over the limit of {max_text_chars}"
            return Problem("text_too_long", f"turns.{index}.text", detail)
    return ticket


def _problem(errors: list[ErrorDetails], mapping: Mapping | None) -> Problem:
    first = errors[0]
    reason = _reason(first)
    where = ".".join(str(part) for part in first["loc"]) or RECORD
    detail = first["msg"].removeprefix("Value error, ")
    if reason == "missing_field" and first["type"] != "missing":
        detail = "empty or null"
    if reason not in ("missing_field", "empty_transcript", "no_agent_turn"):
        detail += f" (got {_short(first['input'])})"
    source = origin(mapping, where)
    if source is not None and source != where:
        detail += f" [source field '{source}']"
    if len(errors) > 1:
        others = ", ".join(".".join(str(p) for p in e["loc"]) for e in errors[1:])
        detail += f"; also: {others}"
    return Problem(reason, where, detail)


def _reason(err: ErrorDetails) -> Reason:
    loc, kind = err["loc"], err["type"]
    in_turn = len(loc) == 3 and loc[0] == "turns"
    if kind == "missing" or (kind.endswith("_type") and err["input"] is None):
        return "missing_field"
    if loc == ("turns",) and kind == "too_short":
        return "empty_transcript"
    if loc == ("turns",) and kind == "value_error" and "no agent turn" in err["msg"]:
        return "no_agent_turn"
    if in_turn and loc[2] == "role" and kind == "literal_error":
        return "unknown_role"
    if in_turn and loc[2] == "text" and kind in ("string_too_short", "value_error"):
        return "empty_text"
    if kind.endswith("_type"):
        return "wrong_type"
    return "invalid_value"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN_INPUT else text[: _SHOWN_INPUT - 3] + "..."


class KeptIds(ScratchIndex):
    """Ticket ids kept so far and where, the only state of ingest that grows with the input: in an
    on-disk SQLite index, so it is exact and memory stays flat at millions of tickets (a dict of
    every id cost ~100 MB per million).

    Where is packed into one int (source index, line).
    """

    _LINE_BITS = 40
    _SCHEMA = "CREATE TABLE kept (ticket_id TEXT PRIMARY KEY, place INTEGER) WITHOUT ROWID;"
    _CLAIM = "INSERT OR IGNORE INTO kept VALUES (?, ?)"
    _FIRST = "SELECT place FROM kept WHERE ticket_id = ?"

    def __init__(self, sources: list[str]):
        super().__init__(self._SCHEMA)
        self._sources = sources
        self._cursor = self._db.cursor()

    def claim(self, ticket_id: str, source_index: int, line: int) -> Problem | None:
        """None if the id is new (now taken), else the duplicate problem naming the first record."""
        cursor = self._cursor
        cursor.execute(self._CLAIM, (ticket_id, (source_index << self._LINE_BITS) | line))
        if cursor.rowcount:
            return None
        first = cursor.execute(self._FIRST, (ticket_id,)).fetchone()[0]
        first_source = self._sources[first >> self._LINE_BITS]
        first_line = first & ((1 << self._LINE_BITS) - 1)
        detail = f"ticket_id {ticket_id!r} already kept from {first_source} line {first_line}"
        return Problem("duplicate_ticket_id", "ticket_id", detail)
