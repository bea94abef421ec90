"""Freshdesk tickets, as the API v2 gives them.

Read: tickets as ``GET /api/v2/tickets/{id}?include=conversations`` returns them, one per line or a JSON array of
them; conversations as ``GET /api/v2/tickets/{id}/conversations`` returns them (``include=conversations`` embeds
only the first ten, so a longer ticket needs these; when a ticket has any, they replace the embedded ones); and
optionally agents (``GET /api/v2/agents``: ``[{id, contact: {name, email}}]``) and contacts
(``GET /api/v2/contacts``) to name agents and to tell a contact's reply from an agent's.

The description (``description`` HTML, else ``description_text``) is the requester's first message, at the
ticket's ``created_at``; on an outbound email (source 10) an agent wrote it, taken to be the responder. Then the
conversations: ``private: true`` is an internal note; the requester is a customer; a user in the agents export is an
agent; a user in the contacts export, or any other author of an ``incoming: true`` conversation (a Cc'd person), is
a customer; any other author is an agent. ``incoming`` alone does not decide: the requester's replies through the
portal are not incoming. Agents are named from the agents export, else by user id. Bodies are taken from the HTML
(``body``), else ``body_text``, so the cleaner sees quotes, links and images.

Merged tickets: the API has no merged flag. Merging closes each secondary ticket (status 5) and adds a note to it,
by default "This ticket is closed and merged into ticket <id>", and the secondary's conversations go on in the
primary. A closed ticket with that note is quarantined (merged_ticket); a customised merge note is not recognised.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, ClassVar

from eval.ingest.adapters.base import (
    CategoryFacts,
    Conversation,
    Lookups,
    Message,
    ObjectAdapter,
    Rejected,
    category_of,
    custom_metadata,
    text_id,
)
from eval.records import Role

_CHANNELS = {1: "email", 2: "portal", 3: "phone", 7: "chat", 9: "feedback_widget", 10: "outbound_email"}
_OUTBOUND_EMAIL = 10
_STATUSES = {2: "open", 3: "pending", 4: "resolved", 5: "closed"}
_CLOSED = 5
_PRIORITIES = {1: "low", 2: "medium", 3: "high", 4: "urgent"}
_TICKET_KEYS = ("requester_id", "subject", "description_text", "conversations")  # contacts have a description too
_MERGED_NOTE = re.compile(r"this ticket is closed and merged into ticket", re.IGNORECASE)


class Freshdesk(ObjectAdapter):
    name: ClassVar[str] = "freshdesk"

    def is_lookup(self, obj: dict[str, Any]) -> bool:
        return _kind(obj) != "ticket"

    def store(self, obj: dict[str, Any], lookups: Lookups) -> None:
        kind = _kind(obj)
        if kind == "conversation":
            lookups.add("conversation", obj["ticket_id"], obj)
        elif kind in ("agent", "contact") and obj.get("id") is not None:
            person = obj["contact"] if kind == "agent" else obj
            lookups.put(kind, obj["id"], {"name": person.get("name")})

    def tickets(self, obj: dict[str, Any]) -> Iterator[tuple[str | None, Any]]:
        if not self.is_lookup(obj):
            yield None, obj

    def conversation(self, ticket: dict[str, Any], lookups: Lookups) -> Conversation:
        ticket_id = text_id(ticket.get("id"), "id")
        requester = ticket.get("requester_id")
        if requester is None:
            raise Rejected("missing_field", "requester_id", "no requester: who wrote the description is unknown")
        conversations = lookups.all("conversation", ticket_id) or ticket.get("conversations") or []
        if not isinstance(conversations, list):
            raise Rejected("wrong_type", "conversations", f"expected a list, got {type(conversations).__name__}")
        _refuse_merged(ticket, conversations)
        messages = [_description(ticket, lookups)]
        messages += [_message(i, c, requester, lookups) for i, c in enumerate(conversations)]
        facts = _facts(ticket)
        source = ticket.get("source")
        return Conversation(
            ticket_id=ticket_id, category=category_of(self.rule, facts), messages=messages,
            created_at=ticket.get("created_at"),
            channel=_CHANNELS.get(source, f"source_{source}") if isinstance(source, int) else None,
            metadata={**_metadata(ticket, facts), **custom_metadata(self.mapping, facts)},
        )


def _kind(obj: dict[str, Any]) -> str:
    """ticket, conversation, agent or contact: the API's objects share no type field."""
    if isinstance(obj.get("contact"), dict):
        return "agent"
    if obj.get("ticket_id") is not None and ("incoming" in obj or "private" in obj):
        return "conversation"
    if not any(key in obj for key in _TICKET_KEYS) and ("name" in obj or "email" in obj):
        return "contact"
    return "ticket"


def _refuse_merged(ticket: dict[str, Any], conversations: list[Any]) -> None:
    if ticket.get("status") != _CLOSED:
        return
    for i, conv in enumerate(conversations):
        for key in ("body_text", "body"):
            if isinstance(conv, dict) and isinstance(conv.get(key), str) and _MERGED_NOTE.search(conv[key]):
                raise Rejected("merged_ticket", f"conversations[{i}].{key}",
                               "closed with the note 'This ticket is closed and merged into ticket ...': "
                               "its messages live on in the primary ticket")


def _body(obj: dict[str, Any], html_key: str, text_key: str) -> tuple[str, bool]:
    """The HTML (the cleaner reads its quotes, links and images), else the plain text; and whether it is HTML."""
    html, text = obj.get(html_key), obj.get(text_key)
    if isinstance(html, str) and html.strip():
        return html, True
    return (text if isinstance(text, str) else ""), False


def _description(ticket: dict[str, Any], lookups: Lookups) -> Message:
    outbound = ticket.get("source") == _OUTBOUND_EMAIL
    body, is_html = _body(ticket, "description", "description_text")
    return Message(
        role="agent" if outbound else "customer", body=body, is_html=is_html,
        created_at=ticket.get("created_at"), author=_agent_name(ticket.get("responder_id"), lookups) if outbound else None,
        attachments=_attachments(ticket),
    )


def _message(index: int, conv: Any, requester: Any, lookups: Lookups) -> Message:
    where = f"conversations[{index}]"
    if not isinstance(conv, dict):
        raise Rejected("wrong_type", where, f"expected a conversation object, got {type(conv).__name__}")
    user = conv.get("user_id")
    if user is None:
        raise Rejected("unknown_author", f"{where}.user_id", "no user_id: who wrote this conversation is unknown")
    role = _role(conv, user, requester, lookups)
    body, is_html = _body(conv, "body", "body_text")
    return Message(
        role=role, body=body, is_html=is_html, created_at=conv.get("created_at"),
        author=None if role == "customer" else _agent_name(user, lookups), attachments=_attachments(conv),
    )


def _role(conv: dict[str, Any], user: Any, requester: Any, lookups: Lookups) -> Role:
    if conv.get("private") is True:
        return "note"
    if str(user) == str(requester):
        return "customer"
    if lookups.get("agent", user) is not None:
        return "agent"
    if lookups.get("contact", user) is not None or conv.get("incoming") is True:
        return "customer"
    return "agent"


def _agent_name(user: Any, lookups: Lookups) -> str | None:
    if user is None:
        return None
    agent = lookups.get("agent", user)
    return str(agent["name"]) if agent and agent.get("name") else str(user)


def _attachments(obj: dict[str, Any]) -> tuple[str, ...]:
    found = obj.get("attachments")
    return tuple(str(a["name"]) for a in found if isinstance(a, dict) and a.get("name")) if isinstance(found, list) else ()


def _facts(ticket: dict[str, Any]) -> CategoryFacts:
    """Custom fields are keyed by their API names (``cf_...``); Freshdesk's ticket ``type`` is a category rule too."""
    fields = ticket.get("custom_fields")
    custom = {str(k): v for k, v in fields.items()} if isinstance(fields, dict) else {}
    found = ticket.get("tags")
    tags = [t for t in found if isinstance(t, str)] if isinstance(found, list) else []
    kind = ticket.get("type")
    return CategoryFacts(custom=custom, tags=tags, type=kind if isinstance(kind, str) else None)


def _metadata(ticket: dict[str, Any], facts: CategoryFacts) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(ticket.get("subject"), str) and ticket["subject"].strip():
        out["subject"] = ticket["subject"].strip()
    for key, names in (("status", _STATUSES), ("priority", _PRIORITIES)):
        code = ticket.get(key)
        if code is not None:
            out[key] = names.get(code, code) if isinstance(code, int) else code
    if facts.type:
        out["type"] = facts.type
    if facts.tags:
        out["tags"] = list(facts.tags)
    return out
