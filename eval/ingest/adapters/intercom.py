"""Intercom conversations, as the REST API gives them.

Read: conversations as ``GET /conversations/{id}`` returns them (the one response that carries
``conversation_parts``), one per line, or list pages ``{"type": "conversation.list", "conversations": [...]}``;
optionally admins (``GET /admins``: ``{"type": "admin.list", "admins": [...]}``) to name admins in exports of
API versions whose authors carry only a type and an id.

The opening message is ``source``, written at the conversation's ``created_at``; then every part with a body or
attachments. Parts without either (assignment, open, close, snoozed, away_mode_assignment ...) are events, not
messages. A message's role comes from its author's ``type``: user, lead and contact are customers; admin and team
agents, named; bot an agent with ``author_type: "bot"``, as is an admin part with ``from_ai_agent`` (Fin answering
on a teammate's behalf). Parts ``note`` and ``note_and_reopen`` are internal notes whoever wrote them. Another
author type on a message quarantines the conversation (unknown_author): who said it decides what is replayed.

Channel: ``source.type`` is the medium (``conversation`` is the Messenger chat, ``phone_call`` and ``phone_switch``
are phone; email, sms, whatsapp, facebook ... as given). ``delivered_as`` says who started the conversation
(customer_initiated, operator_initiated for a custom bot, automated, admin_initiated), not the medium: it is kept
as metadata. ``conversation_rating.rating`` (1-5) is the csat.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
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

_ROLES: dict[str, Role] = {"user": "customer", "lead": "customer", "contact": "customer", "admin": "agent",
                           "team": "agent", "bot": "agent"}
_NOTES = frozenset({"note", "note_and_reopen"})
_CHANNELS = {"conversation": "chat", "phone_call": "phone", "phone_switch": "phone"}
_PARTS = "conversation_parts"
_CSAT = range(1, 6)
_TAG = re.compile(r"</?[a-zA-Z][^>]*>")
"""Bodies are HTML unless the export asked for ``display_as=plaintext``; plain text keeps its line breaks."""


class Intercom(ObjectAdapter):
    name: ClassVar[str] = "intercom"

    def is_lookup(self, obj: dict[str, Any]) -> bool:
        return obj.get("type") in ("admin.list", "admin")

    def store(self, obj: dict[str, Any], lookups: Lookups) -> None:
        admins = obj.get("admins") if obj.get("type") == "admin.list" else [obj] if obj.get("type") == "admin" else []
        for admin in admins if isinstance(admins, list) else []:
            if isinstance(admin, dict) and admin.get("id") is not None and admin.get("name"):
                lookups.put("admin", admin["id"], admin["name"])

    def tickets(self, obj: dict[str, Any]) -> Iterator[tuple[str | None, Any]]:
        if self.is_lookup(obj):
            return
        if obj.get("type") == "conversation.list" and isinstance(obj.get("conversations"), list):
            yield from ((f"conversations[{i}]", c) for i, c in enumerate(obj["conversations"]))
        else:
            yield None, obj

    def conversation(self, ticket: dict[str, Any], lookups: Lookups) -> Conversation:
        ticket_id = text_id(ticket.get("id"), "id")
        source = _object(ticket, "source")
        opening = _message(source, "source", lookups, ticket.get("created_at")) if source else None
        messages = [m for m in (opening, *_parts(ticket, lookups)) if m is not None]
        facts = _facts(ticket)
        return Conversation(
            ticket_id=ticket_id, category=category_of(self.rule, facts), messages=messages,
            created_at=ticket.get("created_at"), channel=_channel(source.get("type")),
            metadata={**_metadata(ticket, source, facts.tags), **custom_metadata(self.mapping, facts)},
        )


def _object(obj: dict[str, Any], key: str) -> dict[str, Any]:
    value = obj.get(key)
    if value is not None and not isinstance(value, dict):
        raise Rejected("wrong_type", key, f"expected an object, got {type(value).__name__}")
    return value or {}


def _dicts(value: Any) -> list[dict[str, Any]]:
    """The objects of a list; nothing when the value is not a list (a malformed export)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _parts(ticket: dict[str, Any], lookups: Lookups) -> list[Message | None]:
    listing = _object(ticket, _PARTS)
    parts = listing.get(_PARTS, [])
    if not isinstance(parts, list):
        raise Rejected("wrong_type", f"{_PARTS}.{_PARTS}", f"expected a list of parts, got {type(parts).__name__}")
    return [_message(part, f"{_PARTS}.{_PARTS}[{i}]", lookups) for i, part in enumerate(parts)]


def _message(part: Any, where: str, lookups: Lookups, created_at: Any = None) -> Message | None:
    """The part as a message; None for an event (nothing said, nothing attached)."""
    if not isinstance(part, dict):
        raise Rejected("wrong_type", where, f"expected a conversation part object, got {type(part).__name__}")
    raw_body, raw_author = part.get("body"), part.get("author")
    body = raw_body if isinstance(raw_body, str) else ""
    attachments = tuple(str(a["name"]) for a in _dicts(part.get("attachments")) if a.get("name"))
    if not body.strip() and not attachments:
        return None
    author: dict[str, Any] = raw_author if isinstance(raw_author, dict) else {}
    kind = author.get("type")
    if kind not in _ROLES:
        raise Rejected("unknown_author", f"{where}.author.type",
                       f"author type {kind!r} is none of {', '.join(_ROLES)}: who wrote this message is unknown")
    role: Role = "note" if part.get("part_type") in _NOTES else _ROLES[kind]
    bot = role == "agent" and (kind == "bot" or author.get("from_ai_agent") is True)
    return Message(
        role=role, body=body, is_html=bool(_TAG.search(body)), created_at=part.get("created_at", created_at),
        author=None if role == "customer" else _name(author, lookups), author_type="bot" if bot else None,
        attachments=attachments,
    )


def _name(author: dict[str, Any], lookups: Lookups) -> str | None:
    """The author's name; an admin's from the admins export when the part has none; else the id."""
    ident = author.get("id")
    named = author.get("name") or (lookups.get("admin", ident) if ident is not None else None)
    if named:
        return str(named)
    return None if ident is None else str(ident)


def _channel(kind: Any) -> str | None:
    return _CHANNELS.get(kind, kind) if isinstance(kind, str) and kind else None


def _facts(ticket: dict[str, Any]) -> CategoryFacts:
    """Custom attributes are keyed by their names; tags by theirs. Intercom has no ticket forms or types."""
    attributes = ticket.get("custom_attributes")
    custom = {str(k): v for k, v in attributes.items()} if isinstance(attributes, dict) else {}
    listing = ticket.get("tags")
    names = [t["name"] for t in _dicts(listing.get("tags") if isinstance(listing, dict) else None)
             if isinstance(t.get("name"), str)]
    return CategoryFacts(custom=custom, tags=names)


def _metadata(ticket: dict[str, Any], source: dict[str, Any], tags: Sequence[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    subject = ticket.get("title") or source.get("subject")
    if isinstance(subject, str) and subject.strip():
        out["subject"] = subject.strip()
    for ours, theirs in (("status", ticket.get("state")), ("delivered_as", source.get("delivered_as"))):
        if theirs:
            out[ours] = theirs
    if tags:
        out["tags"] = list(tags)
    rating = ticket.get("conversation_rating")
    score = rating.get("rating") if isinstance(rating, dict) else None
    if isinstance(score, int) and not isinstance(score, bool) and score in _CSAT:
        out["csat"] = score
    return out
