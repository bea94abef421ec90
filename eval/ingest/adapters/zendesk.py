"""Zendesk Support exports, as the Support API gives them.

Read: tickets (the ticket JSON export, one ticket per line with its ``comments``; incremental
export pages ``{"tickets": [...], "users": [...]}``; show responses ``{"ticket": {...},
"comments": [...]}``), users (``GET /api/v2/users`` pages or one user per line), comments from the
incremental ticket events export with ``include=comment_events`` (``{"ticket_events": [...]}``),
and optionally ``ticket_fields`` and ``ticket_forms`` pages so a category rule can name a custom
field or a form by its title.

A comment's role comes from its author: the requester and other end-users are customers, agents
and admins agents (named), ``public: false`` comments internal notes, author -1 (Zendesk itself)
system. Bodies are taken from ``html_body``, else ``plain_body``, else ``body``.
"""

from __future__ import annotations

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
from eval.ingest.quarantine import IngestError

_USER_ROLES = {"end-user": "customer", "agent": "agent", "admin": "agent"}
_LOOKUP_KEYS = ("users", "ticket_fields", "ticket_forms", "ticket_events")
_SYSTEM_AUTHOR = -1
_MERGED_TAG = "closed_by_merge"
_BOT_CHANNELS = frozenset({"answer_bot", "answer_bot_for_agents", "answer_bot_for_sdk", "answer_bot_for_web_widget"})
_CSAT = frozenset({"good", "bad"})


class Zendesk(ObjectAdapter):
    name: ClassVar[str] = "zendesk"

    def is_lookup(self, obj: dict[str, Any]) -> bool:
        if "tickets" in obj or "ticket" in obj or "requester_id" in obj:
            return False
        return any(key in obj for key in _LOOKUP_KEYS) or obj.get("role") in _USER_ROLES or "child_events" in obj

    def store(self, obj: dict[str, Any], lookups: Lookups) -> None:
        users = _list(obj, "users") or ([obj] if obj.get("role") in _USER_ROLES else [])
        for user in users:
            if user.get("id") is not None:
                lookups.put("user", user["id"], {"role": user.get("role"), "name": user.get("name")})
        for ticket_field in _list(obj, "ticket_fields"):
            lookups.put("field", ticket_field.get("id"), ticket_field.get("title"))
            lookups.put("field_id", ticket_field.get("title"), ticket_field.get("id"))
        for form in _list(obj, "ticket_forms"):
            lookups.put("form", form.get("id"), form.get("name"))
        events = _list(obj, "ticket_events") or ([obj] if "child_events" in obj else [])
        for event in events:
            for child in event.get("child_events") or []:
                if isinstance(child, dict) and child.get("event_type") in ("Comment", "VoiceComment"):
                    lookups.add("comment", event.get("ticket_id"), {"created_at": event.get("created_at"), **child})

    def tickets(self, obj: dict[str, Any]) -> Iterator[tuple[str | None, Any]]:
        if isinstance(obj.get("tickets"), list):
            yield from ((f"tickets[{i}]", ticket) for i, ticket in enumerate(obj["tickets"]))
        elif isinstance(obj.get("ticket"), dict):
            ticket = obj["ticket"]
            yield None, {**ticket, "comments": obj["comments"]} if "comments" in obj and "comments" not in ticket else ticket
        elif "requester_id" in obj or "comments" in obj:
            yield None, obj

    def ready(self, lookups: Lookups) -> None:
        if not lookups.count("user"):
            raise IngestError(
                "zendesk: no users in the inputs; a comment's role comes from its author, so pass the users "
                "export (GET /api/v2/users, or tickets with include=users) with the tickets"
            )

    def conversation(self, ticket: dict[str, Any], lookups: Lookups) -> Conversation:
        ticket_id = text_id(ticket.get("id"), "id")
        tags = [t for t in ticket.get("tags") or [] if isinstance(t, str)]
        if _MERGED_TAG in tags:
            raise Rejected("merged_ticket", "tags", f"tag {_MERGED_TAG}: its messages continue in the ticket it was merged into")
        requester = ticket.get("requester_id")
        embedded = ticket.get("comments")
        comments: list[Any] = embedded if isinstance(embedded, list) else lookups.all("comment", ticket_id)
        if not comments and ticket.get("description"):
            comments = [{"author_id": requester, "body": ticket["description"], "public": True,
                         "created_at": ticket.get("created_at")}]
        messages = [_message(i, c, requester, lookups) for i, c in enumerate(comments)]
        via = _dict(ticket, "via")
        facts = _facts(ticket, tags, lookups)
        return Conversation(
            ticket_id=ticket_id, category=category_of(self.rule, facts), messages=messages,
            created_at=ticket.get("created_at"), channel=via.get("channel"),
            metadata={**_metadata(ticket, tags), **custom_metadata(self.mapping, facts)},
        )


def _list(obj: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = obj.get(key)
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _dict(obj: dict[str, Any], key: str) -> dict[str, Any]:
    value = obj.get(key)
    return value if isinstance(value, dict) else {}


def _message(index: int, comment: Any, requester: Any, lookups: Lookups) -> Message:
    where = f"comments[{index}]"
    if not isinstance(comment, dict):
        raise Rejected("wrong_type", where, f"expected a comment object, got {type(comment).__name__}")
    author_id = comment.get("author_id")
    user = lookups.get("user", author_id) if author_id is not None else None
    name = user.get("name") if user else None
    if author_id == _SYSTEM_AUTHOR:
        role, name = "system", "Zendesk"
    elif author_id is not None and author_id == requester:
        role = "customer"
    elif user is not None and user.get("role") in _USER_ROLES:
        role = _USER_ROLES[user["role"]]
    else:
        raise Rejected("unknown_author", f"{where}.author_id",
                       f"author {author_id!r} is neither the requester nor a user in the users export")
    if comment.get("public") is False:
        role = "note"
    html, plain = comment.get("html_body"), comment.get("plain_body")
    via = _dict(comment, "via")
    return Message(
        role=role,  # type: ignore[arg-type]  # one of the Role values above
        body=html if html else plain if plain else str(comment.get("body") or ""),
        is_html=bool(html), created_at=comment.get("created_at"),
        author=name if role in ("agent", "note") else None,
        author_type="bot" if via.get("channel") in _BOT_CHANNELS else None,
        attachments=tuple(a["file_name"] for a in comment.get("attachments") or [] if isinstance(a, dict) and a.get("file_name")),
    )


def _facts(ticket: dict[str, Any], tags: list[str], lookups: Lookups) -> CategoryFacts:
    custom: dict[str, Any] = {}
    for entry in ticket.get("custom_fields") or ticket.get("fields") or []:
        if isinstance(entry, dict) and entry.get("id") is not None:
            custom[str(entry["id"])] = entry.get("value")
            title = lookups.get("field", entry["id"])
            if title:
                custom[str(title)] = entry.get("value")
    form = ticket.get("ticket_form_id")
    return CategoryFacts(
        custom=custom, tags=tags, form=None if form is None else str(form),
        form_name=lookups.get("form", form) if form is not None else None, type=ticket.get("type"),
    )


def _metadata(ticket: dict[str, Any], tags: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {key: ticket[key] for key in ("subject", "status", "priority", "type") if ticket.get(key)}
    if tags:
        out["tags"] = tags
    rating = ticket.get("satisfaction_rating")
    if isinstance(rating, dict) and rating.get("score") in _CSAT:
        out["csat"] = rating["score"]
    return out
