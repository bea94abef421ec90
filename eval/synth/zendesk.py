"""Our tickets written back as a Zendesk Support export, with the mess a real one has: HTML comment
bodies, email replies quoting the previous message, agent signatures, internal notes, users in a
separate file. For the shipped sample export and the ingest benchmark; the Zendesk adapter must
give the tickets back (texts cleaned, roles from the users)."""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

CATEGORY_FIELD = 360_000_001
ORDER_FIELD = 360_000_002
_SYSTEM = -1
_AGENT_BASE = 1_000
_REQUESTER_BASE = 100_000
_SIGNATURE = "<p>Best regards,<br>{name}<br>Acme Support</p>"
_QUOTE = ('<div class="gmail_quote">On {when}, Acme Support &lt;support@acme.example&gt; wrote:<br>'
          "<blockquote>{text}</blockquote></div>")


def _paragraphs(text: str) -> str:
    """Blank lines part paragraphs, single line breaks become ``<br>``: the text comes back as it was."""
    paragraphs = (p.strip("\n") for p in text.split("\n\n"))
    return "".join("<p>" + "<br>".join(html.escape(line) for line in p.split("\n")) + "</p>" for p in paragraphs if p.strip())


def _when(created: datetime, minutes: int) -> str:
    return (created + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def _comment(turn: dict[str, Any], index: int, created: datetime, author_id: int, previous: str | None,
             rng: np.random.Generator, channel: str | None) -> dict[str, Any]:
    body = _paragraphs(turn["text"])
    if turn["role"] == "agent" and rng.random() < 0.5:
        body += _SIGNATURE.format(name=html.escape(turn.get("author") or "Support"))
    if turn["role"] == "customer" and previous is not None and channel == "email":
        body += _QUOTE.format(when=(created + timedelta(minutes=10 * index - 5)).strftime("%a, %-d %b %Y at %H:%M"),
                              text=html.escape(previous))
    return {"id": index, "type": "Comment", "author_id": author_id, "public": turn["role"] != "note",
            "created_at": _when(created, 10 * index), "html_body": f'<div class="zd-comment">{body}</div>',
            "attachments": []}


def zendesk_ticket(ticket: dict[str, Any], number: int, agents: dict[str, int], rng: np.random.Generator) -> dict[str, Any]:
    """One of our tickets as a Zendesk ticket with its comments; ``agents`` grows with new agent names."""
    created = datetime.fromisoformat((ticket.get("created_at") or "2025-01-01T00:00:00Z").replace("Z", "+00:00"))
    requester = _REQUESTER_BASE + number
    comments, previous = [], None
    for index, turn in enumerate(ticket["turns"]):
        author = requester if turn["role"] == "customer" else _SYSTEM
        if turn["role"] in ("agent", "note"):
            name = turn.get("author") or "agent"
            author = agents.setdefault(name, _AGENT_BASE + len(agents))
        comments.append(_comment(turn, index, created, author, previous, rng, ticket.get("channel")))
        if turn["role"] == "agent":
            previous = turn["text"]
    if rng.random() < 0.2:
        note = {"role": "note", "text": "Checked the account history before replying."}
        comments.insert(1, _comment(note, len(comments), created, _AGENT_BASE, None, rng, None))
    return {
        "id": number, "created_at": ticket.get("created_at"), "subject": ticket["turns"][0]["text"][:60],
        "status": "solved", "requester_id": requester, "via": {"channel": ticket.get("channel") or "web"},
        "tags": [], "comments": comments,
        "custom_fields": [{"id": CATEGORY_FIELD, "value": ticket["category"]},
                          {"id": ORDER_FIELD, "value": (ticket.get("metadata") or {}).get("order_id")}],
    }


def write_zendesk_export(tickets: Iterable[dict[str, Any]], folder: Path, rng: np.random.Generator) -> list[Path]:
    """``tickets.json`` (one ticket per line), ``users.json`` and ``ticket_fields.json``, streaming."""
    folder.mkdir(parents=True, exist_ok=True)
    agents: dict[str, int] = {}
    count = 0
    with open(folder / "tickets.json", "w", encoding="utf-8") as fh, \
            open(folder / "users.json", "w", encoding="utf-8") as users:
        for count, ticket in enumerate(tickets, start=1):
            fh.write(json.dumps(zendesk_ticket(ticket, count, agents, rng)) + "\n")
            users.write(json.dumps({"id": _REQUESTER_BASE + count, "name": f"Customer {count}", "role": "end-user"}) + "\n")
        for name, user_id in agents.items():
            users.write(json.dumps({"id": user_id, "name": name, "role": "agent"}) + "\n")
    fields = {"ticket_fields": [{"id": CATEGORY_FIELD, "type": "tagger", "title": "Category"},
                                {"id": ORDER_FIELD, "type": "text", "title": "Order number"}], "count": 2}
    (folder / "ticket_fields.json").write_text(json.dumps(fields, indent=2) + "\n", encoding="utf-8")
    return [folder / "tickets.json", folder / "users.json", folder / "ticket_fields.json"]
