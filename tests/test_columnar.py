"""Streaming readers (eval.columnar): tiny blocks give what whole-file reading gives, verdicts are placed on
their items whatever their order, and a bad line is still named by its file and line."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from eval.columnar import lines_at
from eval.judges import table as judges_table
from eval.judges.evidence import judge_evidence, tallied_evidence
from eval.judges.table import judge_table, placed_verdicts, read_verdicts
from eval.ratings.importer import read_item_index
from eval.run.folder import RunFolder
from eval.store import read_lines

TINY = 300
"""Bytes a block: a few lines each, so every file below spans many blocks."""


def _items(folder: RunFolder, n: int) -> list[str]:
    rows = [{"item_id": f"T{i // 2:03d}#{i % 2}", "ticket_id": f"T{i // 2:03d}", "turn_index": i % 2,
             "category": ["billing", "refund", "shipping"][i % 3], "context": [{"role": "customer", "text": "x" * 40}],
             "human": {"text": "h"}, "ai": {"text": "a", "responder": "r"}} for i in range(n)]
    folder.root.mkdir(parents=True, exist_ok=True)
    folder.items.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return [r["item_id"] for r in rows]


def _verdicts(folder: RunFolder, ids: list[str], rng: np.random.Generator) -> list[dict]:
    prefs = ["ai", "human", "tie"]
    rows = [{"item_id": i, "preference": prefs[int(rng.integers(3))], "score_ai": float(rng.integers(1, 6)),
             "score_human": 2.5, "critical_ai": bool(rng.random() < 0.2), "judge": "j", "category": "billing",
             "source_file": "v.jsonl", "line": n + 1} for n, i in enumerate(ids)]
    folder.judge.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return rows


def test_item_index_in_tiny_blocks_is_the_whole_file_and_a_bad_line_is_named(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path)
    ids = _items(folder, 60)
    whole, tiny = read_item_index(folder.items), read_item_index(folder.items, block_size=TINY)
    pd.testing.assert_frame_equal(whole, tiny)
    assert whole["item_id"].tolist() == ids and whole["ticket_id"].tolist()[:3] == ["T000", "T000", "T001"]
    assert list(whole["category"].cat.categories) == ["billing", "refund", "shipping"]
    rows = folder.items.read_text().splitlines()
    rows[41] = json.dumps({**json.loads(rows[41]), "category": None})
    folder.items.write_text("\n".join(rows) + "\n")
    with pytest.raises(ValueError, match=r"items.jsonl:42: field 'category'"):
        read_item_index(folder.items, block_size=TINY)


def test_verdicts_placed_in_tiny_blocks_and_any_order_are_the_judge_table(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    folder = RunFolder(tmp_path)
    ids = _items(folder, 60)
    rng = np.random.default_rng(0)
    judged = [ids[k] for k in rng.permutation(60)[:45]]  # a quarter unjudged, the rest out of order
    _verdicts(folder, sorted(judged)[:20] + judged + [ids[0]], rng)  # 20 in the items' order first, one repeat
    monkeypatch.setattr(judges_table, "PLACED", 7)  # several placements, by position and by hashing
    items = read_item_index(folder.items)
    placed = placed_verdicts(folder, items["item_id"], block_size=TINY)
    table = judge_table(folder)
    assert placed is not None and table is not None
    first = table.drop_duplicates("item_id").set_index("item_id")
    got = placed.table.set_index("item_id")
    assert list(got.index) == ids and list(got.columns) == list(first.columns)
    expected = first.reindex(got.index)
    assert np.allclose(got.to_numpy(float), expected.to_numpy(float), equal_nan=True, rtol=0, atol=0)
    assert sum(placed.tally.values()) == len(table)
    records = judge_evidence(read_verdicts(folder), {})
    assert tallied_evidence(placed.tally, {}) == records


def test_a_bad_verdict_line_in_a_later_block_is_named(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path)
    ids = _items(folder, 30)
    rows = _verdicts(folder, ids, np.random.default_rng(1))
    items = read_item_index(folder.items)
    for bad, message in (({**rows[24], "preference": "maybe"}, "field 'preference'"), ("{cut off", "")):
        lines = [json.dumps(r) for r in rows]
        lines[24] = bad if isinstance(bad, str) else json.dumps(bad)
        folder.judge.write_text("\n".join(lines) + "\n")
        with pytest.raises(ValueError, match=rf"judge.jsonl:25: {message}"):
            placed_verdicts(folder, items["item_id"], block_size=TINY)
        with pytest.raises(ValueError, match=rf"judge.jsonl:25: {message}"):
            judge_table(folder)


def test_a_type_only_the_records_accept_is_read_through_them_from_that_block_on(tmp_path: Path) -> None:
    folder = RunFolder(tmp_path)
    ids = _items(folder, 30)
    rows = _verdicts(folder, ids, np.random.default_rng(2))
    whole = judge_table(folder)
    lines = [json.dumps(r) for r in rows]
    lines[20] = json.dumps({**rows[20], "score_ai": str(rows[20]["score_ai"])})  # "4.0": the records read it as 4
    folder.judge.write_text("\n".join(lines) + "\n")
    placed = placed_verdicts(folder, read_item_index(folder.items)["item_id"], block_size=TINY)
    assert whole is not None and placed is not None
    assert np.array_equal(placed.table.drop(columns="item_id").to_numpy(float),
                          whole.drop(columns="item_id").to_numpy(float), equal_nan=True)
    assert not math.isnan(placed.table["judge_score_ai"].iloc[20])


def test_lines_at_picks_the_nonblank_lines_the_column_reader_numbers(tmp_path: Path) -> None:
    """Blank and whitespace lines, a last line without its end and scans cut mid-line, against reading every line."""
    rng = np.random.default_rng(3)
    path = tmp_path / "lines.jsonl"
    for trial in range(200):
        kinds = rng.choice(['{"a":%d}', "", "   ", ' {"b":%d}', "\t"], size=rng.integers(0, 50))
        text = "\n".join(k % i if "%" in k else k for i, k in enumerate(kinds)) + ["", "\n", "\n\n"][trial % 3]
        path.write_text(text)
        every = list(read_lines(path))
        rows = np.sort(rng.choice(len(every), size=rng.integers(0, len(every) + 1), replace=False))
        got = list(lines_at(path, rows, scan_size=int(rng.integers(1, 40))))
        assert got == [(every[r][0], every[r][2].rstrip(b"\n")) for r in rows], text
