"""A large messages CSV as a warehouse gives it: a ticket's rows scattered and out of time order.

Written in constant memory, so the ingest benchmark can reuse it at millions of rows.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

COLUMNS = ("ticket_id", "created_at", "role", "author", "text", "category", "channel")
_CATEGORIES = ("refund_request", "shipping", "account_access", "billing")
_CHANNELS = ("email", "chat", "web")
_SAYS = {
    "customer": "I still have not received the refund for my order, could you check what happened?",
    "agent": "Thank you for waiting. I have checked your order and the refund was sent today.",
    "note": "Checked the payment provider: the refund is on its way.",
}
_HELD = 4096
"""Rows held back and written in random order: a ticket's rows end up far apart and unsorted."""


def write_messages_csv(path: Path, n_tickets: int, rng: np.random.Generator) -> int:
    """``n_tickets`` tickets of 2 to 8 messages (customer first, an agent second, then alternating with a note
    now and then), in our default column names. Each text starts ``<ticket id> message <k> of <n>:`` so a
    test can check that every ticket comes back whole and in order. Returns the number of rows written."""
    held: list[list[str]] = []
    written = 0
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(COLUMNS)
        for number in range(n_tickets):
            for row in _ticket_rows(number, rng):
                held.append(row)
                if len(held) == _HELD:
                    pick = int(rng.integers(_HELD))
                    held[pick], held[-1] = held[-1], held[pick]
                    out.writerow(held.pop())
                    written += 1
        rng.shuffle(held)
        out.writerows(held)
    return written + len(held)


def _ticket_rows(number: int, rng: np.random.Generator) -> list[list[str]]:
    ticket_id = f"W{number:07d}"
    count = int(rng.integers(2, 9))
    start = 1_735_689_600 + 90 * number
    category, channel = _CATEGORIES[number % len(_CATEGORIES)], _CHANNELS[number % len(_CHANNELS)]
    rows = []
    for k in range(count):
        role = "customer" if k % 2 == 0 else "note" if k > 1 and rng.random() < 0.2 else "agent"
        when = datetime.fromtimestamp(start + 45 * k, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        author = "" if role == "customer" else f"agent_{number % 50}"
        text = f"{ticket_id} message {k + 1} of {count}: {_SAYS[role]}"
        rows.append([ticket_id, when, role, author, text, category if k == 0 else "", channel])
    return rows
