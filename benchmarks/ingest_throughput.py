"""Ingest throughput and memory: records/s and peak RSS for growing inputs (prints figures).

Peak RSS (of this process; JSONL inputs over 16,384 records are judged on a pool of worker
processes besides) should not grow with the input: kept ticket ids live in an on-disk index.
``--format zendesk`` writes synthetic tickets as a Zendesk export (``eval.synth.zendesk``: one ticket
per line with HTML comments, quoted replies, signatures and notes, and a users file) and times
``support-eval validate EXPORT --format zendesk`` itself, peak RSS of that process included.
Usage: .venv/bin/python benchmarks/ingest_throughput.py [--format zendesk] [N ...]   (default 20000 100000)
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from eval.ingest import ingest_to_dir
from eval.synth.conversations import build_ticket
from eval.synth.phrases import Dice
from eval.synth.truth import BY_NAME, CATEGORIES
from eval.synth.zendesk import write_zendesk_export


def write_input(path: Path, n: int) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            record = {
                "ticket_id": f"T{i:09d}", "category": f"cat_{i % 12}", "created_at": "2025-03-02T10:15:00Z",
                "turns": [{"role": "customer", "text": "Where is my order? " * 8},
                          {"role": "agent", "text": "It ships tomorrow, tracking follows. " * 6, "author": "a1"}],
                "metadata": {"order_id": f"A-{i}", "csat": i % 5 + 1},
            }
            if i % 50 == 0:
                record["turns"] = []
            fh.write(json.dumps(record) + "\n")


def synthetic_tickets(n: int, seed: int = 0) -> Iterator[dict]:
    """Realistic tickets from the synthetic generator, one at a time."""
    dice = Dice(np.random.default_rng(seed))
    names, shares = [c.name for c in CATEGORIES], [c.share for c in CATEGORIES]
    for no in range(n):
        yield build_ticket(dice, BY_NAME[dice.weighted(names, shares)], no, n).ticket


def main_export(sizes: list[int]) -> None:
    """``support-eval validate`` on a generated Zendesk export, as a user runs it."""
    cli = str(Path(sys.executable).with_name("support-eval"))
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            paths = [str(p) for p in write_zendesk_export(synthetic_tickets(n), Path(tmp), np.random.default_rng(1))]
            (Path(tmp) / "mapping.yaml").write_text("category: {custom_field: Category}\n")
            size_mb = sum(Path(p).stat().st_size for p in paths) / 2**20
            before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
            start = time.perf_counter()
            subprocess.run([cli, "validate", *paths, "--format", "zendesk", "--mapping", str(Path(tmp) / "mapping.yaml"),
                            "--out", str(Path(tmp) / "out")], check=True, stdout=subprocess.DEVNULL)
            seconds = time.perf_counter() - start
            peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            kept = len((Path(tmp) / "out" / "tickets.jsonl").read_bytes().splitlines())
            note = "" if peak_mb * 1024 > before else " (peak of an earlier, larger run)"
            print(f"zendesk n={n:>9,}  export {size_mb:7.1f} MB  {seconds:6.1f} s  {n / seconds:8,.0f} tickets/s  "
                  f"peak RSS of validate {peak_mb:6.0f} MB{note}  kept {kept:,}")


def main(sizes: list[int]) -> None:
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "in.jsonl"
            write_input(data, n)
            start = time.perf_counter()
            summary = ingest_to_dir([str(data)], Path(tmp) / "out")
            seconds = time.perf_counter() - start
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            size_mb = data.stat().st_size / 2**20
            print(f"n={n:>9,}  input {size_mb:7.1f} MB  {seconds:6.1f} s  {n / seconds:8,.0f} records/s  "
                  f"peak RSS so far {peak_mb:6.0f} MB  kept {summary.kept:,}  quarantined {summary.quarantined:,}")


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:2] == ["--format", "zendesk"]:
        main_export([int(a) for a in args[2:]] or [20_000, 100_000])
    else:
        main([int(a) for a in args] or [20_000, 100_000])
