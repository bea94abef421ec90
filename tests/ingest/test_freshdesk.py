"""The Freshdesk adapter on an export written from the API v2 schemas: whole tickets compared."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.ingest import ingest_to_dir, load_mapping
from eval.ingest.adapters import ADAPTERS, export_rows
from eval.ingest.adapters.base import Lookups, Rejected
from eval.ingest.adapters.freshdesk import Freshdesk
from eval.ingest.quarantine import Problem
from eval.ingest.validate import check_ticket

EXPORT = Path(__file__).parent / "exports" / "freshdesk"
FILES = ["tickets.json", "tickets_page.json", "agents.json", "contacts.json", "conversations_103.json"]


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _run(out: Path, mapping: Path = EXPORT / "mapping.yaml") -> tuple[list[dict], list[dict]]:
    summary = ingest_to_dir([str(EXPORT / f) for f in FILES], out, load_mapping(mapping), fmt="freshdesk")
    tickets, quarantined = _jsonl(out / "tickets.jsonl"), _jsonl(out / "quarantine.jsonl")
    assert summary.read == summary.kept + summary.quarantined == len(tickets) + len(quarantined)
    return tickets, quarantined


def _converted(files: list[str] = FILES) -> dict[str, dict]:
    """Straight from the adapter, each row checked as the stage checks it; the first ticket of each id (the stage
    refuses the repeat)."""
    rows = export_rows([str(EXPORT / f) for f in files], "freshdesk", load_mapping(EXPORT / "mapping.yaml"))
    checked = [check_ticket(row.record, 20_000) for row in rows if row.record is not None]
    assert not [c for c in checked if isinstance(c, Problem)]
    first: dict[str, dict] = {}
    for ticket in checked:
        if not isinstance(ticket, Problem):
            first.setdefault(ticket.ticket_id, ticket.model_dump(mode="json"))
    return first


def _roles(ticket: dict) -> list[tuple[str, str | None]]:
    return [(t["role"], t["author"]) for t in ticket["turns"]]


def test_tickets_convert_whole(tmp_path: Path) -> None:
    tickets, _ = _run(tmp_path)
    assert tickets == _jsonl(EXPORT / "expected.jsonl")


def test_bad_records_are_quarantined_with_reason_and_field(tmp_path: Path) -> None:
    _, quarantined = _run(tmp_path)
    got = [(Path(q["source"]).name, q["line"], q["reason"], q["field"]) for q in quarantined]
    assert got == [
        ("tickets.json", 5, "missing_field", "id"),
        ("tickets.json", 6, "merged_ticket", "conversations[0].body_text"),
        ("tickets.json", 7, "invalid_json", "(record)"),
        ("tickets.json", 8, "notes_only", "turns"),
        ("tickets.json", 9, "unknown_author", "conversations[0].user_id"),
        ("tickets.json", 10, "duplicate_ticket_id", "ticket_id"),
    ]
    assert quarantined[1]["raw"]["id"] == 106


def test_adapter_rows_validate_as_the_expected_tickets() -> None:
    assert list(_converted().values()) == _jsonl(EXPORT / "expected.jsonl")


def test_roles_from_requester_agents_contacts_and_private() -> None:
    tickets = _converted()
    assert _roles(tickets["101"]) == [
        ("customer", None), ("note", "Priya Raman"), ("agent", "Priya Raman"), ("customer", None),
        ("customer", None),  # a Cc'd contact
        ("agent", "Priya Raman"),  # a public note
    ]
    assert _roles(tickets["102"])[2] == ("customer", None)  # the requester's portal reply is not incoming
    assert _roles(tickets["103"])[3] == ("agent", "43000009")  # an agent gone from the agents export
    assert _roles(tickets["104"]) == [("agent", "Priya Raman"), ("customer", None)]  # outbound email: the agent opens


def test_without_agents_and_contacts_roles_follow_incoming_and_agents_are_ids() -> None:
    tickets = _converted(["tickets.json"])
    assert _roles(tickets["101"]) == [
        ("customer", None), ("note", "43000001"), ("agent", "43000001"), ("customer", None), ("customer", None),
        ("agent", "43000001"),
    ]


def test_a_conversations_export_replaces_the_ten_embedded() -> None:
    embedded = _converted(["tickets.json"])["103"]["turns"]
    listed = _converted()["103"]["turns"]
    assert len(embedded) == 2 and len(listed) == 4
    assert listed[1]["text"].endswith("GS-2026.") and listed[2]["text"] == "Super, der neue Code geht!"  # body_text


def test_only_a_closed_ticket_with_the_merge_note_is_merged() -> None:
    note = {"id": 1, "user_id": 43000001, "private": True, "incoming": False, "body_text": "This ticket is closed and "
            "merged into ticket 101", "created_at": "2025-04-01T12:10:00Z"}
    ticket = {"id": 9, "requester_id": 47000101, "description": "<p>Any news?</p>", "created_at": "2025-04-01T12:00:00Z",
              "conversations": [note]}
    with Lookups() as lookups:
        assert Freshdesk(None).conversation({**ticket, "status": 2}, lookups).messages[1].role == "note"
        with pytest.raises(Rejected) as refused:
            Freshdesk(None).conversation({**ticket, "status": 5}, lookups)
    assert refused.value.problem.reason == "merged_ticket"


def test_channel_status_priority_and_language() -> None:
    got = [(t["ticket_id"], t["channel"], t["metadata"]["status"], t["metadata"]["priority"], t["metadata"].get("language"))
           for t in _converted().values()]
    assert got == [
        ("101", "email", "resolved", "medium", "en"), ("102", "portal", "closed", "low", "es"),
        ("103", "chat", "closed", "low", "de"), ("104", "outbound_email", "resolved", "medium", "en"),
        ("111", "phone", "resolved", "high", "en"), ("112", "feedback_widget", "open", "urgent", "en"),
    ]


def test_category_by_custom_field_tag_prefix_then_type() -> None:
    assert [(i, t["category"]) for i, t in _converted().items()] == [
        ("101", "refund_request"), ("102", "account_access"), ("103", "voucher"), ("104", "Shipping"),
        ("111", "delivery"), ("112", "Feedback"),
    ]


def test_the_stage_knows_the_freshdesk_format(tmp_path: Path) -> None:
    assert ADAPTERS["freshdesk"] is Freshdesk
    tickets, _ = _run(tmp_path)
    assert len(tickets) == 6
