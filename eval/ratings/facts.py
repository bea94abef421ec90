"""The ticket facts a reviewer needs to judge correctness: what the agent saw beside the thread.

An answer saying "your order shipped yesterday" can only be judged against the order's status.
Ticket metadata also holds outcomes the agent could not know when answering (CSAT, handle
time, resolution) and personal fields; those are left out, and every value is redacted like the
conversation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from eval.blinding import cut
from eval.redact import redact

MAX_FACTS = 12
MAX_VALUE_CHARS = 200
_OUTCOME = re.compile(
    r"csat|satisf|nps|survey|rating|handle_?time|resolution|resolved|reopen|first_response|"
    r"response_time|sla|escalated_at|closed|solved|outcome|sentiment", re.IGNORECASE)
_PERSONAL = re.compile(r"name|email|phone|address|iban|card|birth|password|token|ip_?addr", re.IGNORECASE)


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return cut(redact(text), MAX_VALUE_CHARS)


def known_metadata(metadata: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """(key, value) of the metadata an agent saw when answering, in the ticket's own order: no outcome,
    no personal field, nothing empty or internal (``_``)."""
    return [(key, value) for key, value in metadata.items()
            if not (value is None or value == "" or key.startswith("_") or _OUTCOME.search(key) or _PERSONAL.search(key))]


def ticket_facts(metadata: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key, redacted value) of the metadata an agent saw, in the ticket's own order."""
    return [(key, _shown(value)) for key, value in known_metadata(metadata)[:MAX_FACTS]]
