"""The Zendesk adapter on an export written from the Support API's schemas: whole tickets compared."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.ingest import IngestError, ingest_to_dir, load_mapping

EXPORT = Path(__file__).parent / "exports" / "zendesk"
def read_jsonl_dicts(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


FILES = ["tickets.json", "incremental_tickets.json", "users.json", "ticket_fields.json", "ticket_events.json"]


def _run(tmp_path: Path, files: list[str] = FILES, mapping: str | None = "mapping.yaml") -> tuple[list[dict], list[dict]]:
    spec = load_mapping(EXPORT / mapping) if mapping else None
    summary = ingest_to_dir([str(EXPORT / f) for f in files], tmp_path, spec, fmt="zendesk")
    tickets = read_jsonl_dicts(tmp_path / "tickets.jsonl")
    quarantined = read_jsonl_dicts(tmp_path / "quarantine.jsonl")
    assert summary.read == summary.kept + summary.quarantined == len(tickets) + len(quarantined)
    return tickets, quarantined


def test_tickets_convert_whole(tmp_path: Path) -> None:
    tickets, _ = _run(tmp_path)
    expected = [json.loads(line) for line in (EXPORT / "expected.jsonl").read_text(encoding="utf-8").splitlines()]
    assert tickets == expected


def test_bad_records_are_quarantined_with_file_record_and_reason(tmp_path: Path) -> None:
    _, quarantined = _run(tmp_path)
    got = [(Path(q["source"]).name, q["line"], q.get("record"), q["reason"], q["field"]) for q in quarantined]
    assert got == [
        ("tickets.json", 3, None, "merged_ticket", "tags"),
        ("tickets.json", 4, None, "notes_only", "turns"),
        ("tickets.json", 5, None, "unknown_author", "comments[1].author_id"),
        ("tickets.json", 6, None, "missing_field", "id"),
        ("tickets.json", 7, None, "invalid_json", "(record)"),
        ("tickets.json", 8, None, "duplicate_ticket_id", "ticket_id"),
        ("tickets.json", 9, None, "missing_field", "category"),
    ]
    merged = quarantined[0]
    assert merged["raw"]["id"] == 1003 and "merged into" in merged["detail"]
    assert "999" in quarantined[2]["detail"]


def test_roles_come_from_authors_and_notes_from_public_false(tmp_path: Path) -> None:
    tickets, _ = _run(tmp_path)
    first = tickets[0]
    assert [(t["role"], t["author"]) for t in first["turns"]] == [
        ("customer", None), ("agent", "Maria Lopez"), ("customer", None), ("note", "Maria Lopez"), ("agent", "Maria Lopez"),
    ]
    bot = tickets[1]["turns"][1]
    assert bot["role"] == "agent" and bot["author_type"] == "bot"


def test_language_csat_and_channel_are_kept(tmp_path: Path) -> None:
    tickets, _ = _run(tmp_path)
    assert [(t["ticket_id"], t["metadata"].get("language"), t["channel"]) for t in tickets] == [
        ("1001", "en", "email"), ("1002", "de", "chat"), ("1006", "es", "web"),
    ]
    assert tickets[0]["metadata"]["csat"] == "good"


def test_category_by_form_and_by_type(tmp_path: Path) -> None:
    (tmp_path / "map.yaml").write_text("category:\n  form: {'900': refunds}\n  type: true\n  default: other\n")
    spec = load_mapping(tmp_path / "map.yaml")
    ingest_to_dir([str(EXPORT / f) for f in FILES], tmp_path / "out", spec, fmt="zendesk")
    tickets = read_jsonl_dicts(tmp_path / "out" / "tickets.jsonl")
    assert [(t["ticket_id"], t["category"]) for t in tickets] == [
        ("1001", "refunds"), ("1002", "other"), ("1007", "other"), ("1006", "other"),
    ]


def test_an_export_without_users_is_refused_with_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="users export"):
        _run(tmp_path, ["tickets.json"])


def test_field_mappings_do_not_apply_to_an_export(tmp_path: Path) -> None:
    (tmp_path / "map.yaml").write_text("fields: {ticket_id: id}\n")
    with pytest.raises(IngestError, match="apply to format tickets"):
        ingest_to_dir([str(EXPORT / "tickets.json")], tmp_path / "out", load_mapping(tmp_path / "map.yaml"), fmt="zendesk")
