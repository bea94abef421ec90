"""Ingest throughput and memory: records/s and peak RSS for growing inputs (prints figures).

Peak RSS (of this process; JSONL inputs over 16,384 records are judged on a pool of worker
processes besides) should not grow with the input: kept ticket ids live in an on-disk index.
Usage: .venv/bin/python benchmarks/ingest_throughput.py [N ...]   (default 20000 100000)
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

from eval.ingest import ingest_to_dir


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
    main([int(a) for a in sys.argv[1:]] or [20_000, 100_000])
