"""The messages CSV adapter (one row per message) through the ingest stage: whole tickets compared."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from eval.ingest import IngestError, ingest_to_dir, load_mapping
from eval.ingest.adapters import ADAPTERS
from eval.ingest.adapters.messages_csv import MessagesCsv
from eval.ingest.mapping import Mapping, parse_mapping
from messages_csv_gen import write_messages_csv

EXPORT = Path(__file__).parent / "exports" / "messages_csv"


def test_the_stage_knows_the_format() -> None:
    assert ADAPTERS["messages_csv"] is MessagesCsv


def _mapping(authors: str | None = None) -> Mapping:
    spec = load_mapping(EXPORT / "mapping.yaml")
    assert spec.messages is not None
    return spec if authors is None else replace(spec, messages=replace(spec.messages, authors=authors))


def _read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _run(out: Path, files: list[Path], mapping: Mapping | None) -> tuple[list[dict], list[dict]]:
    summary = ingest_to_dir([str(f) for f in files], out, mapping, fmt="messages_csv")
    tickets, quarantined = _read(out / "tickets.jsonl"), _read(out / "quarantine.jsonl")
    assert summary.read == summary.kept + summary.quarantined == len(tickets) + len(quarantined)
    return tickets, quarantined


def test_tickets_convert_whole_in_order_of_first_row(tmp_path: Path) -> None:
    tickets, _ = _run(tmp_path, [EXPORT / "messages.csv"], _mapping())
    assert tickets == _read(EXPORT / "expected.jsonl")


def test_bad_rows_quarantine_their_ticket_and_name_the_row(tmp_path: Path) -> None:
    _, quarantined = _run(tmp_path, [EXPORT / "messages.csv"], _mapping())
    got = [(q["line"], q.get("record"), q["reason"], q["field"]) for q in quarantined]
    assert got == [
        (3, None, "missing_field", "conversation_id"),
        (6, "rows 6, 12", "notes_only", "turns"),
        (8, "rows 8, 11", "unknown_author", "sender_type"),
        (10, "rows 10, 16", "invalid_value", "topic"),
    ]
    lone, _, unknown, conflict = quarantined
    assert lone["raw"]["body"] == "Hello? Is anyone there?"
    assert unknown["detail"].startswith("row 11: role 'partner'")
    assert [row["sender_type"] for row in unknown["raw"]] == ["end_user", "partner"]
    assert conflict["detail"] == "row 16: category 'cancellation' differs from 'billing' (row 10)"


def test_roles_from_the_authors_table(tmp_path: Path) -> None:
    tickets, quarantined = _run(tmp_path, [EXPORT / "messages_by_author.csv"], _mapping("authors.csv"))
    assert tickets == [{
        "ticket_id": "C-2001", "category": "card_replacement", "created_at": "2025-04-01T09:00:00Z", "channel": "email",
        "turns": [
            {"role": "customer", "text": "My card was stolen yesterday, please block it and send me a new one.", "author": None},
            {"role": "note", "text": "Card blocked per the fraud policy.", "author": "Priya Nair"},
            {"role": "system", "text": "Ticket escalated to the cards team.", "author": None},
            {"role": "agent", "text": "Hello, your new card is on its way and arrives within five days.",
             "author": "Maria Lopez"},
        ],
        "metadata": {"language": "en"},
    }]
    assert [(q["line"], q["reason"], q["field"], q["detail"]) for q in quarantined] == [
        (2, "unknown_author", "sender_id", "row 5: author 'u-99' is not in authors.csv"),
        (6, "unknown_author", "sender_id", "row 6: no author id"),
    ]


def test_a_ticket_spread_over_files_is_one_record(tmp_path: Path) -> None:
    header = "ticket_id,created_at,role,text,category\n"
    (tmp_path / "a.csv").write_text(header + "T1,2025-01-01T10:05:00Z,agent,Done.,billing\nT2,2025-01-02T09:00:00,customer,Hi,\n")
    (tmp_path / "b.csv").write_text(header + "T1,2025-01-01T10:00:00+00:00,customer,Please fix my invoice.,\n")
    tickets, quarantined = _run(tmp_path / "out", [tmp_path / "a.csv", tmp_path / "b.csv"], None)
    assert [(t["ticket_id"], [turn["role"] for turn in t["turns"]]) for t in tickets] == [("T1", ["customer", "agent"])]
    assert tickets[0]["created_at"] == "2025-01-01T10:00:00+00:00"
    assert [(Path(q["source"]).name, q["line"], q["reason"]) for q in quarantined] == [
        ("a.csv", 2, "missing_field"),  # T2: no category column value and no default in the mapping
    ]


def test_bad_times_and_bad_cells_quarantine_the_ticket(tmp_path: Path) -> None:
    header = b"ticket_id,created_at,role,text\n"
    rows = [b"T1,2025-01-01T10:00:00Z,customer,Hi", b"T1,yesterday,agent,Hello", b"T2,,customer,Hi",
            b"T3,2025-01-01T10:00:00Z,agent,caf\xe9", b"\xff,2025-01-01T10:00:00Z,agent,x"]
    (tmp_path / "m.csv").write_bytes(header + b"\n".join(rows) + b"\n")
    _, quarantined = _run(tmp_path / "out", [tmp_path / "m.csv"], None)
    assert [(q["line"], q["reason"], q["field"], q["detail"][:6]) for q in quarantined] == [
        (1, "invalid_value", "created_at", "row 2:"),
        (3, "missing_field", "created_at", "row 3:"),
        (4, "invalid_utf8", "text", "row 4:"),
        (5, "invalid_utf8", "ticket_id", "byte 0"),
    ]


def test_a_file_without_a_needed_column_is_refused_naming_the_mapping_key(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("conversation_id,sent_at,body\nC1,2025-01-01T10:00:00Z,Hi\n")
    with pytest.raises(IngestError, match=r"m\.csv: no column 'sender_type' \(mapping key messages\.role\)"):
        _run(tmp_path / "out", [tmp_path / "m.csv"], _mapping())


@pytest.mark.parametrize(("table", "message"), [
    (None, r"missing\.csv: the authors table \(mapping key messages\.authors\) is not a file"),
    ("author_id,role\nu-1,staff\nu-2,robot\n", r"authors\.csv: data row 2: role 'robot' is not ours"),
    ("author_id,role\nu-1,staff\n,staff\n", r"authors\.csv: data row 2: no author_id"),
    ("author_id,role\nu-1,\n", r"authors\.csv: data row 1: no role"),
    ("author_id,role\nu-1,staff\nu-1,end_user\n", r"authors\.csv: data row 2: author_id 'u-1' is listed twice"),
    ("id,role\nu-1,staff\n", r"authors\.csv: no column author_id"),
    ("author_id,role\n", r"authors\.csv: the authors table has no rows"),
])
def test_a_bad_authors_table_stops_ingest_naming_file_and_row(tmp_path: Path, table: str | None, message: str) -> None:
    name = "missing.csv" if table is None else "authors.csv"
    if table is not None:
        (tmp_path / name).write_text(table)
    with pytest.raises(IngestError, match=message):
        _run(tmp_path / "out", [EXPORT / "messages_by_author.csv"], _mapping(str(tmp_path / name)))


def test_html_bodies_become_text_when_the_mapping_says_so(tmp_path: Path) -> None:
    rows = ['T1,2025-01-01T10:00:00Z,customer,"<p>My invoice is <b>wrong</b>.</p>"',
            "T1,2025-01-01T10:01:00Z,agent,<p>Fixed.</p>"]
    (tmp_path / "m.csv").write_text("ticket_id,created_at,role,text\n" + "\n".join(rows) + "\n")
    mapping = parse_mapping({"category": {"default": "billing"}, "messages": {"html": True}}, "inline", None)
    tickets, _ = _run(tmp_path / "out", [tmp_path / "m.csv"], mapping)
    assert [turn["text"] for turn in tickets[0]["turns"]] == ["My invoice is wrong.", "Fixed."]


def test_long_tickets_list_their_first_rows(tmp_path: Path) -> None:
    lines = [f"T1,2025-01-01T10:{minute:02d}:00Z,note,Checked.\n" for minute in range(8)]
    (tmp_path / "m.csv").write_text("ticket_id,created_at,role,text\n" + "".join(lines))
    _, quarantined = _run(tmp_path / "out", [tmp_path / "m.csv"], None)
    assert quarantined[0]["record"] == "rows 1, 2, 3, 4, 5 and 3 more"


def test_a_large_unsorted_file_gives_every_ticket_whole(tmp_path: Path) -> None:
    rows = write_messages_csv(tmp_path / "m.csv", 10_000, np.random.default_rng(7))
    assert rows >= 45_000
    with open(tmp_path / "m.csv", newline="", encoding="utf-8") as fh:
        first_seen = list(dict.fromkeys(row["ticket_id"] for row in csv.DictReader(fh)))
    assert first_seen != sorted(first_seen)  # the rows really are scattered
    tickets, quarantined = _run(tmp_path / "out", [tmp_path / "m.csv"], None)
    assert quarantined == []
    assert [t["ticket_id"] for t in tickets] == first_seen
    assert sum(len(t["turns"]) for t in tickets) == rows
    for ticket in tickets:
        count = len(ticket["turns"])
        prefixes = [turn["text"].split(":")[0] for turn in ticket["turns"]]
        assert prefixes == [f"{ticket['ticket_id']} message {k} of {count}" for k in range(1, count + 1)]
