"""``replay --retry-errors`` streams: same bytes as a full replay, memory flat in the file's size."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from eval.config import PrecomputedResponder, ReplayConfig
from eval.engines.local import LocalEngine
from eval.records import AIAnswer, Ticket
from eval.replay.retry import _rewrite, retry_errors_to_file
from eval.replay.stage import replay_to_file
from eval.replay.tally import Tally
from eval.store import RecordError

VOLATILE = {"answer_seconds", "ms_per_item", "retried"}


def ticket_line(k: int) -> str:
    return Ticket.model_validate({
        "ticket_id": f"T{k:05d}", "category": ("billing", "shipping", "refund")[k % 3],
        "metadata": {"csat": k % 5, "x": 0.1 * k},
        "turns": [{"role": "customer", "text": f"where is order {k} \u2014 \u00e9"},
                  {"role": "agent", "text": f"on its way {k}", "author": "bo"},
                  {"role": "customer", "text": "thanks", "tags": [k]},
                  {"role": "agent", "text": "welcome", "author": None}],
    }).to_json() + "\n"


def write_tickets(path: Path, n: int) -> Path:
    path.write_text("".join(ticket_line(k) for k in range(n)), encoding="utf-8")
    return path


def write_answers(path: Path, n: int, keep: set[str] | None = None) -> Path:
    """Answers for both agent turns of every ticket, or only for the item ids in ``keep``."""
    with open(path, "w", encoding="utf-8") as fh:
        for k in range(n):
            for turn in (1, 3):
                if keep is None or f"T{k:05d}#{turn}" in keep:
                    fh.write(json.dumps({"ticket_id": f"T{k:05d}", "turn_index": turn, "text": f"ai {k}/{turn}",
                                         "model": "bot", "latency_ms": 10.0 + k}) + "\n")
    return path


def config(answers: Path) -> ReplayConfig:
    return ReplayConfig(responder=PrecomputedResponder(kind="precomputed", path=str(answers)))


def replayed_with_gaps(tmp_path: Path, n: int, missing: set[str]) -> tuple[Path, Path, ReplayConfig]:
    """items.jsonl with ``missing`` items failed, the tickets file and a config holding every answer."""
    tickets = write_tickets(tmp_path / "tickets.jsonl", n)
    every = {f"T{k:05d}#{t}" for k in range(n) for t in (1, 3)}
    partial = write_answers(tmp_path / "partial.jsonl", n, every - missing)
    items = tmp_path / "items.jsonl"
    summary = replay_to_file(tickets, items, config(partial), Path, engine=LocalEngine(1))
    assert summary.errors == len(missing)
    return items, tickets, config(write_answers(tmp_path / "all.jsonl", n))


def test_retry_gives_the_bytes_and_counts_of_a_full_replay_over_several_batches(tmp_path: Path) -> None:
    n = 200
    missing = {f"T{k:05d}#{t}" for k in range(n) for t in (1, 3) if (k + t) % 4}  # 300: two batches
    items, tickets, full = replayed_with_gaps(tmp_path, n, missing)
    summary = retry_errors_to_file(items, full, Path, tickets)
    want = replay_to_file(tickets, tmp_path / "want.jsonl", full, Path, engine=LocalEngine(1))
    assert items.read_bytes() == (tmp_path / "want.jsonl").read_bytes()
    assert summary.retried == 300 and summary.errors == 0 and summary.items == 400
    assert summary.model_dump(exclude=VOLATILE) == want.model_dump(exclude=VOLATILE)
    assert not (tmp_path / "items.jsonl.partial").exists()


def test_kept_lines_stay_byte_for_byte_even_when_not_canonical(tmp_path: Path) -> None:
    items, tickets, full = replayed_with_gaps(tmp_path, 4, {"T00001#3"})
    lines = items.read_bytes().splitlines(keepends=True)
    lines[0] = lines[0].replace(b'{"item_id"', b'{ "item_id"').replace(b"\n", b"\r\n")
    lines[1] = lines[1].replace(b"on its way 0", "on its\u2028way 0".encode())  # str.splitlines splits there
    items.write_bytes(b"".join(lines[:3]) + b"\n" + b"".join(lines[3:]).rstrip(b"\n"))
    retry_errors_to_file(items, full, Path, tickets)
    after = items.read_bytes().splitlines(keepends=True)
    assert after[0] == lines[0] and after[1:3] == lines[1:3] and after[4:] == [*lines[4:-1], lines[-1].rstrip()]
    assert json.loads(after[3])["ai"]["text"] == "ai 1/3"


def test_a_bad_line_stops_the_retry_before_any_answer_and_keeps_the_file(tmp_path: Path) -> None:
    items, tickets, full = replayed_with_gaps(tmp_path, 4, {"T00000#1"})
    text = items.read_text().splitlines(keepends=True)
    text[5] = text[5].replace('"turn_index":3', '"turn_index":"three"')
    items.write_text("".join(text))
    with pytest.raises(RecordError, match=r"items\.jsonl:6: field 'turn_index'"):
        retry_errors_to_file(items, full, Path, tickets)
    assert items.read_text() == "".join(text)
    assert not (tmp_path / "items.jsonl.partial").exists()


def working_bytes(tmp_path: Path, n: int) -> int:
    missing = {"T00000#1", f"T{n // 2:05d}#3", f"T{n - 1:05d}#1"}
    items, tickets, _ = replayed_with_gaps(tmp_path, n, missing)
    answers = config(write_answers(tmp_path / "missing.jsonl", n, missing))  # the index stays small too
    tracemalloc.start()
    try:
        summary = retry_errors_to_file(items, answers, Path, tickets)
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary.retried == 3 and summary.errors == 0
    return peak - kept  # kept: pydantic's string cache (bounded), not ours


def test_memory_does_not_grow_with_the_items_file(tmp_path: Path) -> None:
    (tmp_path / "small").mkdir()
    (tmp_path / "big").mkdir()
    small, big = working_bytes(tmp_path / "small", 250), working_bytes(tmp_path / "big", 2000)
    assert big < 1.5 * small, (small, big)  # 8 times the lines; holding them all would be ~8 times the peak


class CrashesSecond:
    """Answers its first batch, then crashes (breaking its contract) once lines were copied."""

    name = "crashes"
    held_out: frozenset[str] = frozenset()
    calls = 0

    def answer(self, requests):
        self.calls += 1
        if self.calls > 1:
            raise RuntimeError("responder crashed")
        return [AIAnswer(text="fine", responder=self.name) for _ in requests]


def test_a_responder_crash_mid_copy_keeps_the_file_and_leaves_no_partial(tmp_path: Path) -> None:
    items, _, _ = replayed_with_gaps(tmp_path, 300, {"T00000#1", "T00299#3"})
    before = items.read_bytes()
    with pytest.raises(RuntimeError, match="crashed"):
        _rewrite(items, [1, 600], responder := CrashesSecond(), 1, Tally())
    assert responder.calls == 2 and items.read_bytes() == before
    assert not (tmp_path / "items.jsonl.partial").exists()
