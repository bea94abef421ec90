"""Why a record was rejected: the fixed set of reason codes and the quarantine entry.

Reason codes are a closed set so reports and the ``--max-quarantine`` gate can count them;
each bad input kind has its own code and none of them stops a run.

=====================  ==================================================================
code                   meaning
=====================  ==================================================================
invalid_utf8           the line (JSONL) or a cell (CSV) holds bytes that are not UTF-8
invalid_json           a JSONL line, or a JSON-encoded CSV cell, does not parse (e.g. cut off)
wrong_type             a value has the wrong JSON type (number for text, object for list, ...)
missing_field          a required field (or its mapped source path) is absent
empty_transcript       ``turns`` is an empty list
no_agent_turn          no turn has role ``agent``
unknown_role           a turn role is not customer/agent/system/note after role mapping
empty_text             a turn text is empty or blank
text_too_long          a turn text is longer than ``max_text_chars``
duplicate_ticket_id    an earlier record with this ticket_id was already kept
merged_ticket          a helpdesk ticket merged into another (its messages live on there)
notes_only             a helpdesk ticket with internal notes only: nothing was said to a customer
unknown_author         a helpdesk message whose author is neither the requester nor a known user
invalid_value          any other rejected value (bad timestamp, empty ticket_id, ...)
=====================  ==================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

from eval.errors import UserError
from eval.records import Quarantined

Reason = Literal[
    "invalid_utf8",
    "invalid_json",
    "wrong_type",
    "missing_field",
    "empty_transcript",
    "no_agent_turn",
    "unknown_role",
    "empty_text",
    "text_too_long",
    "duplicate_ticket_id",
    "merged_ticket",
    "notes_only",
    "unknown_author",
    "invalid_value",
]
REASONS: tuple[Reason, ...] = get_args(Reason)

RECORD = "(record)"
"""The ``field`` of a problem with the record as a whole (bad bytes, bad JSON, not an object)."""


class IngestError(UserError):
    """A problem that stops ingest (missing file, bad mapping, unreadable file), phrased for the user."""


@dataclass(frozen=True)
class Problem:
    reason: Reason
    field: str
    detail: str = ""

    def quarantine(self, source: str, line: int, raw: Any, record: str | None = None) -> Quarantined:
        """``record`` locates a record inside a line that holds several (an API page: ``tickets[3]``)."""
        extra = {} if record is None else {"record": record}
        return Quarantined(
            source=source, line=line, field=self.field, reason=self.reason, detail=self.detail, raw=raw, **extra
        )
