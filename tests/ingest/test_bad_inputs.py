"""Each bad input kind gets its own quarantine reason, its line, and none stops the run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.ingest import REASONS, ingest_to_dir
from eval.records import Quarantined, Ticket


def good(ticket_id: str, **changes: object) -> dict:
    record = {
        "ticket_id": ticket_id,
        "category": "refund_request",
        "created_at": "2025-03-02T10:15:00Z",
        "channel": "chat",
        "turns": [
            {"role": "customer", "text": "Where is my refund?"},
            {"role": "agent", "text": "It was sent today.", "author": "agent_17"},
        ],
        "metadata": {"order_id": "A-123", "csat": 4},
    }
    record.update(changes)
    return record


def line(record: object) -> bytes:
    return json.dumps(record).encode("utf-8")


def run(tmp_path: Path, lines: list[bytes], **options):
    data = tmp_path / "tickets_in.jsonl"
    data.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "out"
    summary = ingest_to_dir([str(data)], out, **options)
    kept = [Ticket.model_validate_json(x) for x in (out / "tickets.jsonl").read_text().splitlines()]
    bad = [Quarantined.model_validate_json(x) for x in (out / "quarantine.jsonl").read_text().splitlines()]
    assert summary.read == summary.kept + summary.quarantined
    assert (summary.kept, summary.quarantined) == (len(kept), len(bad))
    return summary, kept, bad


def agent(text: str) -> dict:
    return {"role": "agent", "text": text}


CUSTOMER = {"role": "customer", "text": "hello"}

# bad line (placed as line 2 between two good ones), expected reason, expected field
BAD_INPUTS = {
    "duplicate_ticket_id": (line(good("T1")), "duplicate_ticket_id", "ticket_id"),
    "empty_transcript": (line(good("T9", turns=[])), "empty_transcript", "turns"),
    "no_agent_turn": (line(good("T9", turns=[CUSTOMER])), "no_agent_turn", "turns"),
    "unknown_role": (
        line(good("T9", turns=[CUSTOMER, {"role": "bot", "text": "hi"}])), "unknown_role", "turns.1.role",
    ),
    "empty_text": (line(good("T9", turns=[CUSTOMER, agent("   ")])), "empty_text", "turns.1.text"),
    "invalid_utf8": (line(good("T9"))[:-30] + b"\xff\xfe" + line(good("T9"))[-28:], "invalid_utf8", "(record)"),
    "truncated_json": (line(good("T9"))[:57], "invalid_json", "(record)"),
    "lone_surrogate_text": (line(good("T9", turns=[CUSTOMER, agent("half \ud83d of a pair")])), "invalid_utf8", "(record)"),
    "lone_surrogate_id": (line(good("T9\udc00")), "invalid_utf8", "(record)"),
    "wrong_type": (line(good("T9", category=17)), "wrong_type", "category"),
    "text_too_long": (line(good("T9", turns=[CUSTOMER, agent("x" * 101)])), "text_too_long", "turns.1.text"),
    "missing_field": (line({k: v for k, v in good("T9").items() if k != "category"}), "missing_field", "category"),
    "null_field": (line(good("T9", category=None)), "missing_field", "category"),
    "bad_timestamp": (line(good("T9", created_at="yesterday")), "invalid_value", "created_at"),
    "not_an_object": (b'["T9", "refund_request"]', "wrong_type", "(record)"),
    "turn_not_an_object": (line(good("T9", turns=["hello", agent("hi")])), "wrong_type", "turns.0"),
}


@pytest.mark.parametrize("kind", sorted(BAD_INPUTS))
def test_each_bad_input_is_quarantined_with_its_reason(tmp_path: Path, kind: str) -> None:
    bad_line, reason, field = BAD_INPUTS[kind]
    summary, kept, bad = run(tmp_path, [line(good("T1")), bad_line, line(good("T2"))], max_text_chars=100)

    assert [t.ticket_id for t in kept] == ["T1", "T2"]
    assert len(bad) == 1
    assert (bad[0].reason, bad[0].field, bad[0].line) == (reason, field, 2)
    assert bad[0].source.endswith("tickets_in.jsonl")
    assert bad[0].detail
    assert (summary.read, summary.kept, summary.quarantined) == (3, 2, 1)
    assert summary.by_reason == {reason: 1}


def test_text_exactly_at_the_limit_is_kept(tmp_path: Path) -> None:
    _, kept, bad = run(tmp_path, [line(good("T1", turns=[CUSTOMER, agent("x" * 100)]))], max_text_chars=100)
    assert len(kept) == 1 and bad == []


def test_mixed_file_keeps_exactly_the_good_records(tmp_path: Path) -> None:
    """One file holding every bad kind between good records; blank lines are not records."""
    lines, expected = [line(good("T1"))], {}
    for n, kind in enumerate(sorted(BAD_INPUTS)):
        lines.append(line(good(f"G{n}")))
        bad_line, reason, field = BAD_INPUTS[kind]
        lines.append(bad_line)
        expected[len(lines)] = (reason, field)
    lines += [b"", line(good("G-last"))]

    summary, kept, bad = run(tmp_path, lines, max_text_chars=100)

    assert [t.ticket_id for t in kept] == ["T1"] + [f"G{n}" for n in range(len(BAD_INPUTS))] + ["G-last"]
    assert {q.line: (q.reason, q.field) for q in bad} == expected
    assert summary.read == 2 * len(BAD_INPUTS) + 2
    assert summary.quarantined == len(BAD_INPUTS)
    assert set(summary.by_reason) <= set(REASONS)
    assert sum(summary.by_reason.values()) == summary.quarantined


def test_invalid_utf8_is_caught_on_its_own_line_only(tmp_path: Path) -> None:
    """Good lines with multi-byte characters around one bad byte keep their exact text."""
    accented = good("T1", turns=[{"role": "customer", "text": "Café ☕ — où?"}, agent("Voilà 🙂")])
    lines = [
        json.dumps(accented, ensure_ascii=False).encode("utf-8"),
        b'{"ticket_id": "T2", "category": "caf\xe9"}',
        json.dumps(good("T3"), ensure_ascii=False).encode("utf-8"),
    ]
    _, kept, bad = run(tmp_path, lines)

    assert [t.ticket_id for t in kept] == ["T1", "T3"]
    assert kept[0].turns[0].text == "Café ☕ — où?"
    assert kept[0].turns[1].text == "Voilà 🙂"
    assert (bad[0].reason, bad[0].line) == ("invalid_utf8", 2)
    assert "0xe9" in bad[0].detail
    assert bad[0].raw == '{"ticket_id": "T2", "category": "caf\\xe9"}'


def test_duplicate_detail_names_the_first_record(tmp_path: Path) -> None:
    _, kept, bad = run(tmp_path, [line(good("T1")), line(good("T2")), line(good("T1", category="other"))])
    assert [t.category for t in kept] == ["refund_request", "refund_request"]
    assert bad[0].line == 3
    assert "tickets_in.jsonl line 1" in bad[0].detail


def test_an_invalid_record_does_not_claim_its_ticket_id(tmp_path: Path) -> None:
    _, kept, bad = run(tmp_path, [line(good("T1", turns=[])), line(good("T1"))])
    assert [t.ticket_id for t in kept] == ["T1"]
    assert bad[0].reason == "empty_transcript"


def test_duplicates_are_found_across_files(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_bytes(line(good("T1")) + b"\n")
    second.write_bytes(line(good("T2")) + b"\n" + line(good("T1")) + b"\n")
    summary = ingest_to_dir([str(first), str(second)], tmp_path / "out")
    bad = Quarantined.model_validate_json((tmp_path / "out" / "quarantine.jsonl").read_text())
    assert (bad.source, bad.line, bad.reason) == (str(second), 2, "duplicate_ticket_id")
    assert str(first) in bad.detail
    assert (summary.read, summary.kept) == (3, 2)


def test_an_escaped_surrogate_pair_is_text_and_a_lone_half_is_not(tmp_path: Path) -> None:
    """``\\ud83d\\ude00`` is one emoji; ``\\ud83d`` alone cannot be written as UTF-8 and is
    quarantined on its own line instead of stopping the ingest."""
    pair = line(good("T1", turns=[CUSTOMER, agent("ok \U0001f600")]))
    assert b"\\ud83d\\ude00" in pair
    summary, kept, bad = run(tmp_path, [pair, line(good("T2", turns=[CUSTOMER, agent("\ud83d")]))])
    assert [t.turns[1].text for t in kept] == ["ok \U0001f600"]
    assert [(b.reason, b.line) for b in bad] == [("invalid_utf8", 2)]
    assert "lone surrogate" in bad[0].detail and summary.read == 2
