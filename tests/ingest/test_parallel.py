"""JSON Lines judged in a process pool: the same bytes as in one process, whatever the batching."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from eval.ingest import REASONS, ingest_to_dir, load_mapping
from eval.ingest.mapping import Mapping
from test_bad_inputs import BAD_INPUTS, good, line

DATA = Path(__file__).parent / "data"
FILES = ("tickets.jsonl", "quarantine.jsonl", "manifest.json")


def _mixed(n: int, offset: int) -> bytes:
    """``n`` records: every kind of bad input, duplicates (within and across files), blank lines and
    every line break; more than one pool batch of lines (1,024)."""
    bad = [bad_line for bad_line, _, _ in BAD_INPUTS.values()]
    lines = []
    for i in range(n):
        lines.append(bad[i // 7 % len(bad)] if i % 7 == 3 else line(good(f"T{(offset + i) % 1900}")))
        if i % 50 == 0:
            lines.append(b"  ")
    breaks = [b"\n", b"\r\n", b"\r"]
    return b"".join(text + breaks[i % 3] for i, text in enumerate(lines))


def _ingest(paths: list[Path], out: Path, workers: int, mapping: Mapping | None = None) -> list[bool]:
    """Ingest; return, for each progress step, whether pool processes were running then."""
    pooled: list[bool] = []
    def step(_: int) -> None:
        pooled.append(bool(multiprocessing.active_children()))

    ingest_to_dir([str(p) for p in paths], out, mapping, 100, step, workers=workers)
    return pooled


def _same_files(a: Path, b: Path) -> None:
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


@pytest.mark.parametrize("rows", ["64", "1000", "8192"])
def test_pool_writes_the_bytes_of_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: str) -> None:
    monkeypatch.setenv("SUPPORT_EVAL_BATCH_ROWS", rows)
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_bytes(_mixed(2600, 0))
    second.write_bytes(_mixed(1500, 1000))
    assert _ingest([first, second], tmp_path / "one", workers=1) == [False] * 5
    pooled = _ingest([first, second], tmp_path / "pool", workers=2)
    assert any(pooled) == (int(rows) < 2000)
    _same_files(tmp_path / "one", tmp_path / "pool")
    reasons = {r for _, r, _ in BAD_INPUTS.values()} | {"duplicate_ticket_id"}
    text = (tmp_path / "pool" / "quarantine.jsonl").read_text()
    assert all(f'"reason":"{r}"' in text for r in reasons) and reasons <= set(REASONS)


def test_pool_applies_the_mapping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The mapping reaches the workers: a foreign export gives the same tickets as in one process."""
    monkeypatch.setenv("SUPPORT_EVAL_BATCH_ROWS", "100")
    foreign = (DATA / "foreign.jsonl").read_text().splitlines()
    data = tmp_path / "foreign.jsonl"
    data.write_text("".join(text.replace('"C-1', f'"C-{n}-1') + "\n" for n in range(600) for text in foreign))
    mapping = load_mapping(DATA / "foreign_mapping.yaml")
    _ingest([data], tmp_path / "one", workers=1, mapping=mapping)
    assert any(_ingest([data], tmp_path / "pool", workers=2, mapping=mapping))
    _same_files(tmp_path / "one", tmp_path / "pool")
    assert (tmp_path / "pool" / "tickets.jsonl").read_text().count("\n") == 1200


def test_small_input_stays_in_this_process(tmp_path: Path) -> None:
    data = tmp_path / "t.jsonl"
    data.write_bytes(_mixed(3000, 0))
    assert _ingest([data], tmp_path / "out", workers=2) == [False] * 3
