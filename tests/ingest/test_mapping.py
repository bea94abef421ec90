"""Foreign shapes (chat export JSONL, question/answer CSV, Parquet) load through a mapping alone."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from eval.ingest import IngestError, ingest, ingest_to_dir, load_mapping
from eval.ingest.mapping import TurnsFromColumns, TurnsFromList
from eval.records import Quarantined, Ticket

DATA = Path(__file__).parent / "data"


def split(records: list) -> tuple[list[Ticket], list[Quarantined]]:
    return [r for r in records if isinstance(r, Ticket)], [r for r in records if isinstance(r, Quarantined)]


def test_load_mapping_reads_both_turn_styles() -> None:
    chat = load_mapping(DATA / "foreign_mapping.yaml")
    assert chat.fields.ticket_id == "id"
    assert chat.fields.metadata == {"order_id": "meta.order", "csat": "meta.csat"}
    assert isinstance(chat.turns, TurnsFromList)
    assert (chat.turns.source, chat.turns.role, chat.turns.text) == ("messages", "speaker", "body")
    assert chat.turns.roles["bot"] == "agent"

    qa = load_mapping(DATA / "qa_mapping.yaml")
    assert isinstance(qa.turns, TurnsFromColumns)
    assert [(c.field, c.role) for c in qa.turns.columns] == [("question", "customer"), ("answer", "agent")]


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("fields: {ticket_id: id, catgory: intent}\n", "key 'fields.catgory': unknown key"),
        ("turns: {from: messages, roles: {user: client}}\n", "key 'turns.roles.user'"),
        ("turns: {speaker: role}\n", "key 'turns.from'"),
        ("turns: messages\n", "expected 'from: <list field>' or 'columns: [...]'"),
        ("turns: {columns: [{field: q, role: customer, extra: 1}]}\n", "key 'turns.columns.0.extra'"),
        ("- ticket_id\n", "expected a mapping"),
        ("fields: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_mapping_names_file_and_key(tmp_path: Path, text: str, named: str) -> None:
    path = tmp_path / "bad_mapping.yaml"
    path.write_text(text)
    with pytest.raises(IngestError) as err:
        load_mapping(path)
    assert str(path) in str(err.value)
    assert named in str(err.value)


def test_missing_mapping_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="mapping file not found"):
        load_mapping(tmp_path / "nope.yaml")


def test_foreign_chat_jsonl_loads_through_mapping() -> None:
    source = str(DATA / "foreign.jsonl")
    kept, bad = split(list(ingest([source], load_mapping(DATA / "foreign_mapping.yaml"))))

    assert [t.ticket_id for t in kept] == ["C-1001", "C-1002"]
    first = kept[0]
    assert (first.category, first.created_at, first.channel) == ("track_order", "2024-11-05T09:12:00Z", "chat")
    assert [t.role for t in first.turns] == ["customer", "agent", "agent"]
    assert [t.author for t in first.turns] == [None, "triage-bot", "agent_3"]
    assert first.turns[1].text == "It ships tomorrow."
    assert first.turns[1].model_extra == {"ts": 2}
    assert first.metadata == {"order_id": "A-77", "csat": 5}
    dumped = first.model_dump()
    assert not {"id", "intent", "messages"} & set(dumped)
    assert kept[1].metadata == {"order_id": "A-78"}
    assert kept[1].model_extra["lang"] == "en"

    assert [(q.line, q.reason, q.field) for q in bad] == [
        (3, "unknown_role", "turns.1.role"),
        (4, "missing_field", "turns"),
    ]
    assert "'moderator'" in bad[0].detail and "messages.1.speaker" in bad[0].detail
    assert "'messages'" in bad[1].detail
    assert bad[1].raw["conversation"] == []


def test_question_answer_csv_loads_through_column_turns(tmp_path: Path) -> None:
    summary = ingest_to_dir([str(DATA / "qa.csv")], tmp_path, mapping=load_mapping(DATA / "qa_mapping.yaml"))
    kept = [Ticket.model_validate_json(x) for x in (tmp_path / "tickets.jsonl").read_text().splitlines()]
    bad = [Quarantined.model_validate_json(x) for x in (tmp_path / "quarantine.jsonl").read_text().splitlines()]

    assert (summary.read, summary.kept, summary.quarantined) == (4, 2, 2)
    assert [t.ticket_id for t in kept] == ["007", "008"]
    assert [(t.role, t.text) for t in kept[0].turns] == [
        ("customer", "Why was I charged twice?"),
        ("agent", "Sorry, that was a duplicate; refunded."),
    ]
    assert kept[0].metadata == {"csat": "4"}
    assert kept[0].category == "billing"
    assert kept[1].turns[0].text == "Line one\nline two of the question"
    assert kept[1].turns[1].text == "NA"
    assert kept[1].metadata == {"csat": None}
    assert [(q.line, q.reason, q.field) for q in bad] == [
        (3, "empty_text", "turns.1.text"),
        (4, "duplicate_ticket_id", "ticket_id"),
    ]
    assert "'answer'" in bad[0].detail
    assert not {"id", "question", "answer", "csat"} & set(kept[0].model_dump())


def test_parquet_in_our_own_shape(tmp_path: Path) -> None:
    path = tmp_path / "tickets.parquet"
    turns = [{"role": "customer", "text": "Hi", "author": None}, {"role": "agent", "text": "Hello", "author": "a1"}]
    pd.DataFrame(
        {
            "ticket_id": ["P1", "P2", "P3"],
            "category": ["billing", "billing", "login"],
            "created_at": pd.to_datetime(["2025-01-02T03:04:05Z"] * 3),
            "turns": [turns, [], turns],
            "metadata": [{"csat": 4}, {"csat": 2}, {"csat": None}],
        }
    ).to_parquet(path)

    kept, bad = split(list(ingest([str(path)])))

    assert [t.ticket_id for t in kept] == ["P1", "P3"]
    assert kept[0].created_at == "2025-01-02T03:04:05+00:00"
    assert [(t.role, t.text, t.author) for t in kept[0].turns] == [("customer", "Hi", None), ("agent", "Hello", "a1")]
    assert kept[0].metadata == {"csat": 4}
    assert [(q.line, q.reason) for q in bad] == [(2, "empty_transcript")]


def test_parquet_question_answer_through_mapping(tmp_path: Path) -> None:
    path = tmp_path / "qa.parquet"
    pd.DataFrame(
        {"qid": ["Q1", "Q2"], "intent": ["refund", "refund"], "instruction": ["Refund?", "Status?"],
         "response": ["Yes.", "x" * 50]}
    ).to_parquet(path)
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "fields: {ticket_id: qid, category: intent}\n"
        "turns:\n  columns:\n    - {field: instruction, role: customer}\n    - {field: response, role: agent}\n"
    )
    kept, bad = split(list(ingest([str(path)], load_mapping(mapping), max_text_chars=20)))

    assert [(t.ticket_id, t.category, t.turns[1].text) for t in kept] == [("Q1", "refund", "Yes.")]
    assert [(q.line, q.reason, q.field) for q in bad] == [(2, "text_too_long", "turns.1.text")]


def test_csv_cells_with_json_turns_are_decoded(tmp_path: Path) -> None:
    path = tmp_path / "ours.csv"
    turns = '"[{""role"": ""customer"", ""text"": ""Hi""}, {""role"": ""agent"", ""text"": ""Yo""}]"'
    path.write_text(
        "ticket_id,category,turns,metadata\n"
        f'T1,billing,{turns},"{{""csat"": 5}}"\n'
        'T2,billing,"[{""role"": ""agent""",\n'
    )
    kept, bad = split(list(ingest([str(path)])))

    assert [(t.role, t.text) for t in kept[0].turns] == [("customer", "Hi"), ("agent", "Yo")]
    assert kept[0].metadata == {"csat": 5}
    assert [(q.line, q.reason, q.field) for q in bad] == [(2, "invalid_json", "turns")]


def test_nested_paths_and_flattened_dotted_columns(tmp_path: Path) -> None:
    path = tmp_path / "flat.csv"
    path.write_text("meta.id,ticket.kind,q,a\nF1,refund,Hello?,Hi.\n")
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "fields: {ticket_id: meta.id, category: ticket.kind}\n"
        "turns: {columns: [{field: q, role: customer}, {field: a, role: agent}]}\n"
    )
    kept, bad = split(list(ingest([str(path)], load_mapping(mapping))))
    assert bad == []
    assert (kept[0].ticket_id, kept[0].category) == ("F1", "refund")


def test_empty_csv_cells_are_missing_values(tmp_path: Path) -> None:
    path = tmp_path / "ours.csv"
    turns = '"[{""role"": ""agent"", ""text"": ""Yo""}]"'
    path.write_text(f"ticket_id,category,turns,metadata\nT1,billing,{turns},\nT2,,{turns},\nT3,billing,,\n")
    kept, bad = split(list(ingest([str(path)])))

    assert [(t.ticket_id, t.metadata) for t in kept] == [("T1", {})]
    assert [(q.line, q.reason, q.field, q.detail) for q in bad] == [
        (2, "missing_field", "category", "empty or null"),
        (3, "missing_field", "turns", "empty or null"),
    ]
