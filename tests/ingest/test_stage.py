"""The stage as a whole: order, byte-determinism, progress, counts, the quarantine gate."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from eval.ingest import IngestError, IngestSummary, ingest, ingest_to_dir
from eval.records import Quarantined, Ticket
from eval.run.manifest import load_manifest

DATA = Path(__file__).parent / "data"


def ticket(n: int, **changes: object) -> str:
    record = {
        "ticket_id": f"T{n:04d}", "category": ["billing", "login"][n % 2],
        "turns": [{"role": "customer", "text": f"question {n}"}, {"role": "agent", "text": f"answer {n}"}],
        "metadata": {"n": n},
    }
    return json.dumps({**record, **changes})


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """2500 records, every 10th one without an agent turn, a truncated last line."""
    lines = [ticket(n, turns=[{"role": "customer", "text": "hi"}]) if n % 10 == 0 else ticket(n) for n in range(2500)]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + '\n{"ticket_id": "T9')
    return path


def test_ingest_yields_one_result_per_record_in_order(mixed: Path) -> None:
    results = list(ingest([str(mixed)]))
    assert len(results) == 2501
    lines = [r.line for r in results if isinstance(r, Quarantined)]
    assert lines == [n + 1 for n in range(0, 2500, 10)] + [2501]
    ids = [r.ticket_id for r in results if isinstance(r, Ticket)]
    assert ids == [f"T{n:04d}" for n in range(2500) if n % 10]


def test_output_is_byte_identical_across_runs(mixed: Path, tmp_path: Path) -> None:
    first = ingest_to_dir([str(mixed)], tmp_path / "a")
    second = ingest_to_dir([str(mixed)], tmp_path / "b")
    assert first == second
    for name in ("tickets.jsonl", "quarantine.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert not list((tmp_path / "a").glob("*.partial"))


def test_kept_tickets_round_trip_unchanged(mixed: Path, tmp_path: Path) -> None:
    ingest_to_dir([str(mixed)], tmp_path / "out")
    written = (tmp_path / "out" / "tickets.jsonl").read_text().splitlines()
    source = mixed.read_text().splitlines()
    assert Ticket.model_validate_json(written[0]) == Ticket.model_validate_json(source[1])
    assert json.loads(written[0])["metadata"] == {"n": 1}


def test_summary_counts_and_manifest(mixed: Path, tmp_path: Path) -> None:
    summary = ingest_to_dir([str(mixed)], tmp_path / "out")
    assert (summary.read, summary.kept, summary.quarantined) == (2501, 2250, 251)
    assert summary.by_reason == {"invalid_json": 1, "no_agent_turn": 250}
    assert summary.sources == [str(mixed)]
    assert summary.quarantine_share == pytest.approx(251 / 2501)
    assert load_manifest(tmp_path / "out")["ingest"] == summary.model_dump()


def test_progress_callback_adds_up_to_records_read(mixed: Path, tmp_path: Path) -> None:
    steps: list[int] = []
    summary = ingest_to_dir([str(mixed)], tmp_path / "out", advance=steps.append)
    assert sum(steps) == summary.read
    assert len(steps) >= 3


def test_quarantine_limit_message() -> None:
    summary = IngestSummary(read=200, kept=180, quarantined=20, by_reason={"empty_text": 15, "no_agent_turn": 5})
    assert summary.over_limit(0.10) is None
    message = summary.over_limit(0.05)
    assert message is not None
    assert "20 of 200" in message and "10.0%" in message and "5.0%" in message and "empty_text 15" in message
    assert IngestSummary().quarantine_share == 0.0


def test_missing_later_input_fails_before_any_file_appears(mixed: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(IngestError, match="nope.jsonl: file not found"):
        ingest_to_dir([str(mixed), str(tmp_path / "nope.jsonl")], out)
    assert not (out / "tickets.jsonl").exists()
    assert not (out / "quarantine.jsonl").exists()


def test_no_inputs_and_bad_limit_are_refused(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="no input files"):
        list(ingest([]))
    with pytest.raises(ValueError, match="max_text_chars"):
        list(ingest([str(DATA / "foreign.jsonl")], max_text_chars=0))


def test_several_formats_in_one_run(tmp_path: Path) -> None:
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text(ticket(1) + "\n")
    csv = tmp_path / "b.csv"
    csv.write_text('ticket_id,category,turns\nT0002,login,"[{""role"": ""agent"", ""text"": ""ok""}]"\n')
    summary = ingest_to_dir([str(jsonl), str(csv)], tmp_path / "out")
    assert (summary.read, summary.kept) == (2, 2)
    assert summary.sources == [str(jsonl), str(csv)]


class Stop(Exception):
    """Ends an ingest from its progress callback, after some batches were committed."""


def _stop(_: int) -> None:
    raise Stop


def test_resumed_ingest_finds_duplicates_of_ids_kept_before_the_cut(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kept-id index is rebuilt on resume: duplicates after the last committed batch, in the
    same file and in the next one, still name the first record, and the files equal a run never cut."""
    monkeypatch.setenv("SUPPORT_EVAL_BATCH_ROWS", "100")
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    lines = [ticket(n) for n in range(1100)]
    lines[1049] = ticket(3)
    first.write_text("\n".join(lines) + "\n")
    second.write_text("\n".join([ticket(2000), ticket(5), ticket(2001), ticket(2000)]) + "\n")
    paths, out = [str(first), str(second)], tmp_path / "cut"

    with pytest.raises(Stop):
        ingest_to_dir(paths, out, advance=_stop)
    progress = json.loads((out / "tickets.jsonl.progress.json").read_text())
    assert progress["position"] == {"records": 1000}
    summary = ingest_to_dir(paths, out)

    bad = [Quarantined.model_validate_json(x) for x in (out / "quarantine.jsonl").read_text().splitlines()]
    assert [(q.source, q.line, q.reason) for q in bad] == [
        (str(first), 1050, "duplicate_ticket_id"), (str(second), 2, "duplicate_ticket_id"),
        (str(second), 4, "duplicate_ticket_id"),
    ]
    assert [q.detail for q in bad] == [
        f"ticket_id 'T0003' already kept from {first} line 4",
        f"ticket_id 'T0005' already kept from {first} line 6",
        f"ticket_id 'T2000' already kept from {second} line 1",
    ]
    assert (summary.read, summary.kept, summary.quarantined) == (1104, 1101, 3)
    whole = ingest_to_dir(paths, tmp_path / "whole")
    assert whole == summary
    for name in ("tickets.jsonl", "quarantine.jsonl"):
        assert (out / name).read_bytes() == (tmp_path / "whole" / name).read_bytes()


def test_kept_id_index_leaves_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The index lives in an unlinked temporary file: nothing is left in the temp folder, even
    while ingest runs."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    data = tmp_path / "t.jsonl"
    data.write_text("\n".join(ticket(n) for n in range(1500)) + "\n")
    seen: list[list[Path]] = []
    summary = ingest_to_dir([str(data)], tmp_path / "out", advance=lambda _: seen.append(list(scratch.iterdir())))
    assert summary.kept == 1500
    assert seen == [[], []]
    assert list(scratch.iterdir()) == []
