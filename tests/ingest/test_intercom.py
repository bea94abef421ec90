"""The Intercom adapter on an export written from the REST API's conversation model: whole tickets compared."""

from __future__ import annotations

import json
from pathlib import Path


from eval.ingest import ingest_to_dir, load_mapping
from eval.ingest.adapters import ADAPTERS, export_rows
from eval.ingest.adapters.base import Lookups
from eval.ingest.adapters.intercom import Intercom
from eval.ingest.quarantine import Problem
from eval.ingest.validate import check_ticket

EXPORT = Path(__file__).parent / "exports" / "intercom"
FILES = ["conversations.json", "conversations_page.json", "admins.json"]


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _run(out: Path, mapping: Path = EXPORT / "mapping.yaml") -> tuple[list[dict], list[dict]]:
    summary = ingest_to_dir([str(EXPORT / f) for f in FILES], out, load_mapping(mapping), fmt="intercom")
    tickets, quarantined = _jsonl(out / "tickets.jsonl"), _jsonl(out / "quarantine.jsonl")
    assert summary.read == summary.kept + summary.quarantined == len(tickets) + len(quarantined)
    return tickets, quarantined


def _converted() -> list[dict]:
    """Straight from the adapter, each row checked as the stage checks it; repeated ids are the stage's to refuse."""
    rows = export_rows([str(EXPORT / f) for f in FILES], "intercom", load_mapping(EXPORT / "mapping.yaml"))
    checked = [check_ticket(row.record, 20_000) for row in rows if row.record is not None]
    assert not [c for c in checked if isinstance(c, Problem)]
    return [c.model_dump(mode="json") for c in checked if not isinstance(c, Problem)]


def _by_id(tickets: list[dict]) -> dict[str, dict]:
    """The first ticket of each id."""
    first: dict[str, dict] = {}
    for ticket in tickets:
        first.setdefault(ticket["ticket_id"], ticket)
    return first


def test_conversations_convert_whole(tmp_path: Path) -> None:
    tickets, _ = _run(tmp_path)
    assert tickets == _jsonl(EXPORT / "expected.jsonl")


def test_bad_records_are_quarantined_with_reason_and_field(tmp_path: Path) -> None:
    _, quarantined = _run(tmp_path)
    got = [(Path(q["source"]).name, q["line"], q.get("record"), q["reason"], q["field"]) for q in quarantined]
    assert got == [
        ("conversations.json", 5, None, "missing_field", "id"),
        ("conversations.json", 6, None, "unknown_author", "conversation_parts.conversation_parts[0].author.type"),
        ("conversations.json", 7, None, "invalid_json", "(record)"),
        ("conversations.json", 8, None, "notes_only", "turns"),
        ("conversations.json", 9, None, "duplicate_ticket_id", "ticket_id"),
        ("conversations_page.json", 1, "conversations[2]", "missing_field", "id"),
    ]
    assert "'visitor'" in quarantined[1]["detail"]


def test_adapter_rows_validate_as_the_expected_tickets() -> None:
    converted = _converted()
    assert [t["ticket_id"] for t in converted].count("215468001") == 2
    assert list(_by_id(converted).values()) == _jsonl(EXPORT / "expected.jsonl")


def test_parts_come_out_in_time_order_without_events() -> None:
    """The fixture lists the reply before the assignment and the note; events without a body are no turns."""
    refund = _by_id(_converted())["215468001"]
    raw = json.loads((EXPORT / "conversations.json").read_text(encoding="utf-8").splitlines()[0])
    assert [p["part_type"] for p in raw["conversation_parts"]["conversation_parts"]] == [
        "comment", "assignment", "note", "comment", "close"]
    assert [(t["role"], t["author"]) for t in refund["turns"]] == [
        ("customer", None), ("note", "Maria Lopez"), ("agent", "Maria Lopez"), ("customer", None), ("agent", "Maria Lopez"),
    ]


def test_roles_bots_and_names() -> None:
    tickets = _by_id(_converted())
    bot_turns = [(t["author"], t.get("author_type")) for t in tickets["215468002"]["turns"] if t["role"] == "agent"]
    assert bot_turns == [("Fin", "bot"), ("Fin", "bot"), ("Claire Dubois", None)]
    assert [t["role"] for t in tickets["215468004"]["turns"]] == ["agent", "customer", "agent"]  # admin_initiated
    assert tickets["215468010"]["turns"][1]["author"] == "Lucía Gómez"  # an id-only author, named from admins.json
    assert tickets["215468011"]["turns"][0]["author"] == "Acme Billing"  # a team wrote the opening message


def test_an_admin_part_sent_by_the_ai_agent_is_a_bot_turn() -> None:
    part = {"part_type": "comment", "body": "<p>Your order ships today.</p>", "created_at": 1741000060,
            "author": {"type": "admin", "id": "814860", "name": "Maria Lopez", "from_ai_agent": True}}
    ticket = {"id": "1", "created_at": 1741000000,
              "source": {"type": "conversation", "body": "<p>Where is my order?</p>", "author": {"type": "user", "id": "u1"}},
              "conversation_parts": {"type": "conversation_part.list", "conversation_parts": [part]}}
    with Lookups() as lookups:
        conv = Intercom(None).conversation(ticket, lookups)
    assert [(m.role, m.author, m.author_type) for m in conv.messages] == [
        ("customer", None, None), ("agent", "Maria Lopez", "bot")]


def test_texts_are_cleaned_and_plain_text_keeps_its_lines() -> None:
    tickets = _by_id(_converted())
    german = [t["text"] for t in tickets["215468003"]["turns"]]
    assert "Mit freundlichen Grüßen" not in german[0] and "schrieb" not in german[2]
    assert german[1].endswith("[attachment: Rechnung-2291.pdf]")
    assert "\nAhora vivo" in tickets["215468010"]["turns"][0]["text"]  # display_as=plaintext: no HTML to collapse


def test_channel_csat_and_language() -> None:
    got = [(t["ticket_id"], t["channel"], t["metadata"].get("csat"), t["metadata"].get("language"))
           for t in _by_id(_converted()).values()]
    assert got == [
        ("215468001", "chat", 5, "en"), ("215468002", "chat", None, "fr"), ("215468003", "email", 2, "de"),
        ("215468004", "chat", None, "en"), ("215468010", "whatsapp", None, "es"), ("215468011", "email", None, "en"),
    ]


def test_category_by_tag_prefix_alone_quarantines_untagged(tmp_path: Path) -> None:
    (tmp_path / "map.yaml").write_text("category:\n  tag_prefix: cat_\n")
    tickets, quarantined = _run(tmp_path / "out", tmp_path / "map.yaml")
    assert [(t["ticket_id"], t["category"]) for t in tickets] == [("215468002", "delivery"), ("215468004", "plan_change")]
    no_category = [q["raw"]["id"] for q in quarantined if (q["reason"], q["field"]) == ("missing_field", "category")]
    assert no_category == ["215468001", "215468003", "215468001", "215468010", "215468011"]


def test_the_stage_knows_the_intercom_format(tmp_path: Path) -> None:
    assert ADAPTERS["intercom"] is Intercom
    tickets, _ = _run(tmp_path)
    assert len(tickets) == 6
