"""Batched, resumable writers: committed batches survive, torn tails are cut, foreign progress is ignored;
and the stage writers built on them give the same bytes however they are interrupted or split."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from eval.config import PrecomputedResponder, ReplayConfig
from eval.engines.local import LocalEngine, ordered_map
from eval.ingest import ingest_to_dir
from eval.records import Item
from eval.replay.stage import replay_to_file
from eval.rubrics import score_to_file
from eval.run.manifest import changed_inputs
from eval.store import (
    BATCH_ROWS_ENV,
    Checkpoint,
    RecordError,
    WriteError,
    atomic_writer,
    batch_rows,
    parse_line,
    read_lines,
)

DEMO = Path(__file__).resolve().parents[1] / "datasets" / "demo"


def _lines(start: int, stop: int) -> str:
    return "".join(json.dumps({"n": i}) + "\n" for i in range(start, stop))


def test_a_resumed_checkpoint_continues_after_its_last_commit(tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl"
    with Checkpoint([out], {"k": 1}) as cp:
        assert cp.open() is None
        cp.write(0, _lines(0, 3), 3)
        cp.commit({"offset": 3}, {"seen": 3})
        cp.write(0, _lines(3, 5), 2)  # written but never committed: the kill comes first
    with open(out.with_name("a.jsonl.partial"), "a") as fh:
        fh.write('{"n": 5, "torn')

    with Checkpoint([out], {"k": 1}) as cp:
        assert cp.open() == {"position": {"offset": 3}, "state": {"seen": 3}}
        assert out.with_name("a.jsonl.partial").read_text() == _lines(0, 3)
        cp.write(0, _lines(3, 6), 3)
        cp.commit({"offset": 6}, {"seen": 6})
        cp.finish()
    assert out.read_text() == _lines(0, 6)
    assert not out.with_name("a.jsonl.partial").exists()
    assert not out.with_name("a.jsonl.progress.json").exists()


def test_progress_records_length_lines_and_hash_of_what_is_committed(tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl"
    with Checkpoint([out], {}) as cp:
        cp.open()
        cp.write(0, _lines(0, 4), 4)
        cp.commit(4, {})
    saved = json.loads(out.with_name("a.jsonl.progress.json").read_text())
    data = _lines(0, 4).encode()
    assert saved["outputs"] == [{"bytes": len(data), "lines": 4, "sha256": hashlib.sha256(data).hexdigest()}]
    assert saved["batches"] == 1


@pytest.mark.parametrize("damage", ["other key", "changed byte", "short file", "torn progress", "no partial"])
def test_progress_that_does_not_match_starts_over(tmp_path: Path, damage: str) -> None:
    out = tmp_path / "a.jsonl"
    partial, progress = out.with_name("a.jsonl.partial"), out.with_name("a.jsonl.progress.json")
    with Checkpoint([out], {"k": 1}) as cp:
        cp.open()
        cp.write(0, _lines(0, 3), 3)
        cp.commit(3, {})
    key = {"k": 2} if damage == "other key" else {"k": 1}
    if damage == "changed byte":
        partial.write_text(partial.read_text().replace('"n": 1', '"n": 7'))
    elif damage == "short file":
        partial.write_text(_lines(0, 2))
    elif damage == "torn progress":
        progress.write_text(progress.read_text()[:20])
    elif damage == "no partial":
        partial.unlink()
    with Checkpoint([out], key) as cp:
        assert cp.open() is None
        assert partial.read_text() == ""


def test_several_outputs_share_one_progress_record(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    with Checkpoint([a, b], {}) as cp:
        cp.open()
        cp.write(0, _lines(0, 2), 2)
        cp.write(1, _lines(10, 11), 1)
        cp.commit(1, {})
        cp.write(1, _lines(11, 12), 1)
    with Checkpoint([a, b], {}) as cp:
        assert cp.open() is not None
        assert [o.lines for o in cp.outputs] == [2, 1]
        cp.finish()
    assert a.read_text() == _lines(0, 2) and b.read_text() == _lines(10, 11)


def test_an_unwritable_place_is_a_write_error_naming_the_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(WriteError, match=r"cannot write .*file/run/a\.jsonl"), \
            Checkpoint([blocker / "run" / "a.jsonl"], {}) as cp:
        cp.open()
    with pytest.raises(WriteError, match="cannot write"), atomic_writer(blocker / "b.json") as fh:
        fh.write("{}")


def test_read_lines_resumes_at_an_offset_with_the_right_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(b'{"n": 1}\n\n{"n": 2}\n{"n": \n')
    rows = list(read_lines(path))
    assert [(n, line) for n, _, line in rows] == [(1, b'{"n": 1}\n'), (3, b'{"n": 2}\n'), (4, b'{"n": \n')]
    n, offset, _ = rows[0]
    assert [r[0] for r in read_lines(path, offset, n)] == [3, 4]
    with pytest.raises(RecordError, match=r"a\.jsonl:4: field"):
        parse_line(path, 4, rows[2][2], Item)


def test_batch_rows_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BATCH_ROWS_ENV, "17")
    assert batch_rows() == 17
    monkeypatch.setenv(BATCH_ROWS_ENV, "0")
    with pytest.raises(ValueError, match=BATCH_ROWS_ENV):
        batch_rows()


def test_changed_inputs_names_each_change() -> None:
    before = {"config_sha256": "a", "inputs": [{"path": "x", "sha256": "1"}, {"path": "y", "sha256": "2"}]}
    now = [{"path": "x", "sha256": "9"}, {"path": "z", "sha256": "3"}]
    assert changed_inputs(before, "b", now) == [
        "the config (its hash differs)", "input x (content changed)", "input y (no longer used or missing)",
        "input z (new)",
    ]
    assert changed_inputs(before, "a", before["inputs"]) == []


def _square(x: int) -> int:
    return x * x


def test_ordered_map_keeps_input_order_across_processes() -> None:
    assert list(ordered_map(_square, range(40), workers=2)) == [x * x for x in range(40)]
    assert list(ordered_map(_square, [3], workers=2)) == [9]


class _Stop(Exception):
    pass


def _stopping_after(calls: int):
    seen = [0]

    def advance(n: int) -> None:
        seen[0] += 1
        if seen[0] == calls:
            raise _Stop

    return advance


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ingest, replay and score of 400 demo tickets written in one go (small batches); the
    summaries are kept in ``summaries.json``."""
    run = tmp_path_factory.mktemp("whole")
    tickets = tmp_path_factory.mktemp("in") / "tickets.jsonl"
    tickets.write_text("".join((DEMO / "tickets.jsonl").read_text().splitlines(keepends=True)[:400]))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(BATCH_ROWS_ENV, "64")
        ingest_to_dir([str(tickets)], run)
        replay = replay_to_file(run / "tickets.jsonl", run / "items.jsonl", _replay_cfg(), lambda p: DEMO / p)
        score = score_to_file(run / "items.jsonl", run / "scores.jsonl", DEMO / "rubrics", engine=LocalEngine(1))
    (run / "summaries.json").write_text(json.dumps({"replay": _untimed(replay), "score": score.model_dump()}))
    return run


def _untimed(replay_summary) -> dict:
    return replay_summary.model_dump(exclude={"answer_seconds", "ms_per_item"})


def _replay_cfg() -> ReplayConfig:
    return ReplayConfig(responder=PrecomputedResponder(kind="precomputed", path="ai_answers.jsonl"))


def test_interrupted_stages_resume_to_the_same_bytes(demo_run: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BATCH_ROWS_ENV, "64")
    run = tmp_path
    for name in ("tickets.jsonl", "quarantine.jsonl"):
        (run / name).write_bytes((demo_run / name).read_bytes())
    with pytest.raises(_Stop):
        replay_to_file(run / "tickets.jsonl", run / "items.jsonl", _replay_cfg(), lambda p: DEMO / p,
                       _stopping_after(3))
    assert (run / "items.jsonl.progress.json").exists() and not (run / "items.jsonl").exists()
    summary = replay_to_file(run / "tickets.jsonl", run / "items.jsonl", _replay_cfg(), lambda p: DEMO / p)
    assert (run / "items.jsonl").read_bytes() == (demo_run / "items.jsonl").read_bytes()
    want = json.loads((demo_run / "summaries.json").read_text())
    assert _untimed(summary) == want["replay"]

    with pytest.raises(_Stop):
        score_to_file(run / "items.jsonl", run / "scores.jsonl", DEMO / "rubrics", _stopping_after(2), engine=LocalEngine(1))
    assert json.loads((run / "scores.jsonl.progress.json").read_text())["batches"] == 2  # advance follows commit
    resumed = score_to_file(run / "items.jsonl", run / "scores.jsonl", DEMO / "rubrics", engine=LocalEngine(2))
    assert (run / "scores.jsonl").read_bytes() == (demo_run / "scores.jsonl").read_bytes()
    assert resumed.model_dump() == want["score"]


def test_scores_do_not_depend_on_batch_size_or_workers(demo_run: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BATCH_ROWS_ENV, "1000")
    summary = score_to_file(demo_run / "items.jsonl", tmp_path / "s.jsonl", DEMO / "rubrics", engine=LocalEngine(2))
    assert (tmp_path / "s.jsonl").read_bytes() == (demo_run / "scores.jsonl").read_bytes()
    lines = (tmp_path / "s.jsonl").read_text().splitlines()
    assert summary.scores == len(lines) == 2 * summary.items
