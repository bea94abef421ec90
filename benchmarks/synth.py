"""Generation speed and memory of ``support-eval synth``: tickets/s and peak RSS per size.

    .venv/bin/python benchmarks/synth.py            # 10k and 100k tickets
    .venv/bin/python benchmarks/synth.py --full     # also 1M tickets

Each size runs in a fresh process so its peak RSS (self + worker processes, from
``resource.getrusage``) is its own; flat memory shows as a peak that does not grow with size.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _one(tickets: int, workers: int) -> None:
    from eval.synth import synth_to_dir

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        summary = synth_to_dir(Path(tmp), tickets, seed=1, workers=workers)
        seconds = time.perf_counter() - start
        size = sum(p.stat().st_size for p in Path(tmp).iterdir())
    peak_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"{tickets:>9,} tickets  {seconds:7.1f} s  {tickets / seconds:9,.0f} tickets/s  "
          f"peak RSS main {peak_self:6.0f} MB, largest worker {peak_children:6.0f} MB  "
          f"output {size / 1e6:8.1f} MB  ({summary.agent_turns:,} agent turns, {summary.ratings:,} ratings)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also run 1,000,000 tickets")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        _one(args.one, args.workers)
        return
    sizes = [10_000, 100_000] + ([1_000_000] if args.full else [])
    for n in sizes:
        subprocess.run([sys.executable, __file__, "--one", str(n), "--workers", str(args.workers)], check=True)


if __name__ == "__main__":
    main()
