"""Helpdesk exports end to end: our tickets survive a trip through a Zendesk export, and a run on the
shipped sample export (no rubrics, a mapping that names only the category field) reaches a report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from eval.config import load_config
from eval.ingest import ingest_to_dir
from eval.ingest.mapping import data_mapping, parse_mapping
from eval.synth.zendesk import write_zendesk_export

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "datasets" / "zendesk_sample"
SYNTH_NOTE = "Checked the account history before replying."


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "eval", *args], capture_output=True, text=True, timeout=600, cwd=ROOT)


def test_demo_tickets_come_back_from_a_zendesk_export(tmp_path: Path) -> None:
    """Customer texts exactly (their email quotes removed), agent texts without their signatures,
    roles and order as they were, the export's internal notes as notes."""
    tickets = _jsonl(ROOT / "datasets" / "demo" / "tickets.jsonl")[:300]
    paths = write_zendesk_export(tickets, tmp_path / "export", np.random.default_rng(5))
    rule = {"category": {"custom_field": "Category"}, "custom_fields": {"order_id": "Order number"}}
    mapping = parse_mapping(rule, "test", None)
    summary = ingest_to_dir([str(p) for p in paths], tmp_path / "out", mapping, fmt="zendesk")
    assert (summary.read, summary.kept) == (300, 300)
    quoted = signed = 0
    for original, back in zip(tickets, _jsonl(tmp_path / "out" / "tickets.jsonl"), strict=True):
        turns = [t for t in back["turns"] if t["text"] != SYNTH_NOTE]
        assert [t["role"] for t in turns] == [t["role"] for t in original["turns"]]
        assert (back["category"], back["channel"]) == (original["category"], original["channel"])
        assert back["metadata"].get("order_id") == original["metadata"].get("order_id")
        for was, now in zip(original["turns"], turns, strict=True):
            if was["role"] == "agent":
                assert now["text"] and was["text"].startswith(now["text"])
                signed += was["text"] != now["text"]
            else:
                assert now["text"] == was["text"]
        quoted += original["channel"] == "email" and sum(t["role"] == "customer" for t in original["turns"]) > 1
    assert quoted > 20 and signed > 50  # the cleaning had quotes and signatures to remove


def test_a_config_can_give_the_mapping_inline_or_as_a_file(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("name: x\ndata: {paths: [t.json], format: zendesk, mapping: {category: {tag_prefix: cat_}}}\n")
    cfg = load_config(config)
    inline = data_mapping(cfg.data, cfg.resolve, str(config))
    assert inline is not None and inline.category is not None and inline.category.tag_prefix == "cat_"
    filed = data_mapping(load_config(SAMPLE / "config.yaml").data, load_config(SAMPLE / "config.yaml").resolve, "c")
    assert filed is not None and filed.category is not None and filed.category.custom_field == "Category"


def test_validate_reads_an_export_with_format(tmp_path: Path) -> None:
    res = cli("validate", *(str(p) for p in sorted(SAMPLE.glob("*.json"))), "--format", "zendesk",
              "--mapping", str(SAMPLE / "mapping.yaml"), "--out", str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert "kept 600" in res.stdout and len(_jsonl(tmp_path / "tickets.jsonl")) == 600
    bad = cli("validate", str(SAMPLE / "tickets.json"), "--format", "zendesk", "--out", str(tmp_path / "bad"))
    assert bad.returncode == 2 and "users export" in bad.stderr + bad.stdout


def test_a_first_run_on_an_export_goes_from_export_to_report(tmp_path: Path) -> None:
    run = tmp_path / "run"
    res = cli("run", str(SAMPLE / "config.yaml"), "--out", str(run))
    assert res.returncode == 0, res.stderr
    assert "packaged default rubric support-default@1" in res.stdout and "No ratings yet" in res.stdout
    assert f"Report: {run / 'report.html'}" in res.stdout.replace("\n", "")
    scores = _jsonl(run / "scores.jsonl")
    assert {s["rubric"] for s in scores} == {"support-default@1"}
    decisions = json.loads((run / "decisions.json").read_text())
    assert len(decisions["categories"]) == 12 and {c["tier"] for c in decisions["categories"]} == {"human"}
    by_language = cli("decide", str(run), "--by", "language")
    assert by_language.returncode == 0, by_language.stderr
    cuts = json.loads((run / "decisions.json").read_text())["categories"][0]["cuts"]
    assert [c["value"] for c in cuts] == ["en"]


def test_cleaning_on_worker_processes_writes_the_same_bytes(tmp_path: Path) -> None:
    tickets = _jsonl(ROOT / "datasets" / "demo" / "tickets.jsonl")[:700]  # three batches of 256
    paths = [str(p) for p in write_zendesk_export(tickets, tmp_path / "export", np.random.default_rng(6))]
    mapping = parse_mapping({"category": {"custom_field": "Category"}}, "test", None)
    for workers in (1, 2):
        ingest_to_dir(paths, tmp_path / str(workers), mapping, workers=workers, fmt="zendesk")
    for name in ("tickets.jsonl", "quarantine.jsonl"):
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "2" / name).read_bytes()
    assert len(_jsonl(tmp_path / "2" / "tickets.jsonl")) == 700
