"""Reading files: numbering, encodings, CSV cells as text, and clear errors for unreadable inputs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import datasets
import huggingface_hub.constants
import pytest

from eval.ingest import IngestError
from eval.ingest.sources import read_rows

TICKET = {"ticket_id": "T1", "category": "c", "turns": [{"role": "agent", "text": "hi"}]}


def test_jsonl_lines_are_file_lines_with_blank_lines_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    body = json.dumps(TICKET).encode()
    path.write_bytes(b"\xef\xbb\xbf" + body + b"\r\n\r\n   \n" + body + b"\r\n" + body)
    rows = list(read_rows(str(path)))
    assert [r.line for r in rows] == [1, 4, 5]
    assert all(r.record == TICKET and r.problem is None for r in rows)


def test_jsonl_multibyte_text_and_unicode_line_separators_stay_in_one_line(tmp_path: Path) -> None:
    """U+2028 and U+0085 are legal inside a JSON string, and byte 0x85 is common in UTF-8: no split."""
    record = {**TICKET, "category": "ça\u2028va 🙂 Å\u0085…"}
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n" + json.dumps(TICKET) + "\n", encoding="utf-8")
    rows = list(read_rows(str(path)))
    assert [r.line for r in rows] == [1, 2]
    assert rows[0].record == record


def test_small_batches_keep_numbering(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps({**TICKET, "n": n}) + "\n" for n in range(10)))
    rows = list(read_rows(str(path), batch_size=3))
    assert [(r.line, r.record["n"]) for r in rows] == [(n + 1, n) for n in range(10)]


def test_crlf_across_the_read_buffer_and_lone_cr_break_lines_once(tmp_path: Path) -> None:
    """``\\r\\n`` across the reader's 8 KiB buffer is one line break, as is a lone ``\\r``."""
    body = json.dumps(TICKET).encode()
    padded = json.dumps({**TICKET, "pad": ""}).encode()
    padded = padded.replace(b'"pad": ""', b'"pad": "' + b"x" * (8191 - len(padded)) + b'"')
    assert len(padded) == 8191
    path = tmp_path / "t.jsonl"
    path.write_bytes(padded + b"\r\n" + body + b"\r\r" + body + b"\r")
    assert [r.line for r in read_rows(str(path)) if r.problem is None] == [1, 2, 4]


def test_json_array_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps([TICKET, TICKET], indent=1))
    with pytest.raises(IngestError, match="JSON array"):
        list(read_rows(str(path)))


@pytest.mark.parametrize(
    ("name", "message"),
    [("missing.jsonl", "file not found"), ("owner/missing.csv", "file not found"), ("notes.txt", "unknown file type")],
)
def test_unreadable_paths_are_clear_errors(tmp_path: Path, name: str, message: str) -> None:
    path = tmp_path / name
    if name.endswith(".txt"):
        path.write_text("hello")
    with pytest.raises(IngestError, match=message) as err:
        list(read_rows(str(path)))
    assert str(path) in str(err.value)


def test_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="is a directory"):
        list(read_rows(str(tmp_path)))


def test_hub_like_name_goes_to_the_hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Offline, a hub name fails with a message naming it (no network in tests)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(IngestError, match="someone/support-chats: not a local file and not loadable from the hub"):
        list(read_rows("someone/support-chats"))


def test_csv_cells_stay_text(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text('id,n,flag,note\n007,1.50,true,NA\n008,,false,"a, ""quoted"" b"\n', encoding="utf-8")
    rows = [r.record for r in read_rows(str(path))]
    assert rows == [
        {"id": "007", "n": "1.50", "flag": "true", "note": "NA"},
        {"id": "008", "n": None, "flag": "false", "note": 'a, "quoted" b'},
    ]


def test_csv_rows_are_data_rows_across_chunks(tmp_path: Path) -> None:
    path = tmp_path / "t.tsv"
    path.write_text("id\ttext\n" + "".join(f"{n:05d}\tline {n}\n" for n in range(2500)))
    rows = list(read_rows(str(path), batch_size=700))
    assert len(rows) == 2500
    assert rows[-1].line == 2500 and rows[-1].record == {"id": "02499", "text": "line 2499"}


def test_csv_invalid_utf8_names_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"\xef\xbb\xbfid,text\n1,caf\xc3\xa9\n2,caf\xe9\n3,ok\n")
    rows = list(read_rows(str(path)))
    assert [r.record for r in rows] == [{"id": "1", "text": "café"}, None, {"id": "3", "text": "ok"}]
    problem = rows[1].problem
    assert problem is not None and (problem.reason, problem.field) == ("invalid_utf8", "text")
    assert rows[1].raw == {"id": "2", "text": "caf\\xe9"}


@pytest.mark.parametrize(
    ("body", "message"),
    [("", "no header row"), ("id,id\n1,2\n", "repeats column"), ("id,text\n1,a\n2,b,c\n", "not readable as CSV")],
)
def test_unreadable_csv_is_a_clear_error(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(body)
    with pytest.raises(IngestError, match=message) as err:
        list(read_rows(str(path)))
    assert str(path) in str(err.value)


def test_local_reads_restore_the_offline_switches(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("ticket_id,category\nT1,c\n")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "0")
    assert len(list(read_rows(str(path)))) == 1
    assert datasets.config.HF_HUB_OFFLINE is False
    assert "HF_HUB_OFFLINE" not in os.environ
    assert os.environ["HF_DATASETS_OFFLINE"] == "0"
