"""Throughput and memory of `support-eval run` next to a plain Python loop over the same data.

    .venv/bin/python benchmarks/pipeline.py               # 10k and 100k tickets
    .venv/bin/python benchmarks/pipeline.py --full        # also 1M tickets (~2 GB in the temp dir)
    .venv/bin/python benchmarks/pipeline.py --sizes 5000  # any sizes

For each size: `support-eval synth` makes the data, `support-eval run` runs ingest → replay
(precomputed responder) → score (the demo rubrics) in a fresh process, and the plain loop reads
the same tickets.jsonl, parses each line and runs every check of the category's rubric on each
agent turn's text with the library's own criterion functions, personal-data echo included (the
limit: no validation, no AI side, no output, no resume, one core). A second, regex-only loop
skips the personal-data check, for scale. Printed: items/s of the run and the loops, the ratios,
and the peak memory of the run's whole process tree, workers included, as summed RSS (sampled
from /proc every 50 ms) and as summed PSS (every 500 ms).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = os.sysconf("SC_PAGE_SIZE")
RUBRICS = ROOT / "datasets" / "demo" / "rubrics"
CONFIG = """name: bench
seed: 1
data: {{paths: [{tickets}]}}
replay: {{turns: all, responder: {{kind: precomputed, path: {answers}}}}}
rubrics: {{path: {rubrics}}}
"""


def _pss(pid: int) -> int:
    """Proportional set size: pages shared with other processes are split among them."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def _rss(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE


def _tree(root: int) -> list[int]:
    """``root`` and all its descendants, from the kernel's children lists (no scan of /proc)."""
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        try:
            for task in os.scandir(f"/proc/{pid}/task"):
                todo += [int(c) for c in Path(task.path, "children").read_text().split()]
        except OSError:
            continue
    return pids


def _tree_memory(root: int, with_pss: bool) -> tuple[int, int]:
    """Summed (RSS, PSS) of ``root`` and all its descendants right now (PSS 0 unless asked). The
    RSS sum counts pages the workers share with each other (libraries, forked memory) once per
    process; PSS does not. PSS walks every page table, so it is read less often: sampling it every
    50 ms took a tenth of a core from the run being measured."""
    rss = pss = 0
    for pid in _tree(root):
        try:
            rss += _rss(pid)
            pss += _pss(pid) if with_pss else 0
        except (OSError, ValueError):
            continue
    return rss, pss


def _run(config: Path, out: Path) -> tuple[float, int, int]:
    """Wall seconds, peak tree RSS and peak tree PSS of one `support-eval run`."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "eval", "run", str(config), "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = [0, 0]

    def sample() -> None:
        n = 0
        while proc.poll() is None:
            rss, pss = _tree_memory(proc.pid, with_pss=n % 10 == 0)
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)
            n += 1
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - start
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"support-eval run failed:\n{err.decode()}")
    return seconds, peak[0], peak[1]


def plain_loop(tickets: Path, checks: str = "all") -> tuple[int, float]:
    """Items and seconds of the limit: parse each line, run the category's rubric checks per agent
    turn. ``checks="all"`` runs every criterion with the library's own criterion functions (the
    same checks, personal-data echo included); ``"regex"`` only the pattern, length and fact checks."""
    from eval.rubrics import load_rubrics
    from eval.rubrics.criteria import Answer, ItemView, evaluate
    from eval.rubrics.items import TurnView

    book = load_rubrics(RUBRICS)
    start = time.perf_counter()
    items = 0
    with open(tickets, encoding="utf-8") as fh:
        for line in fh:
            ticket = json.loads(line)
            rubric = book.for_category(ticket["category"])
            turns = ticket["turns"]
            for i, turn in enumerate(turns):
                if turn["role"] != "agent":
                    continue
                items += 1
                if checks == "all":
                    view = ItemView(ticket.get("metadata") or {}, tuple(TurnView(t["role"], t["text"]) for t in turns[:i]))
                    answer = Answer.of(turn["text"])
                    [evaluate(c, answer, view) for c in rubric.criteria]
                else:
                    _regex_checks(rubric, turn["text"].lower(), ticket.get("metadata") or {})
    return items, time.perf_counter() - start


def _regex_checks(rubric, text: str, metadata: dict) -> list[bool]:
    out = []
    for c in rubric.criteria:
        pattern: re.Pattern[str] | None = getattr(c, "regex", None)
        if pattern is not None:
            out.append(pattern.search(text) is not None)
        elif c.kind == "length":
            out.append(len(text.split()) >= c.min_words)
        elif c.kind == "mentions_fact":
            out.append(str(metadata.get(c.fact, "")).lower() in text)
    return out


def bench(n: int, workdir: Path) -> None:
    data = workdir / f"data_{n}"
    subprocess.run([sys.executable, "-m", "eval", "synth", "--tickets", str(n), "--seed", "1", "--out", str(data)],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    config = data / "config.yaml"
    config.write_text(CONFIG.format(tickets=data / "tickets.jsonl", answers=data / "ai_answers.jsonl", rubrics=RUBRICS))
    seconds, rss, pss = _run(config, workdir / f"run_{n}")
    manifest = json.loads((workdir / f"run_{n}" / "manifest.json").read_text())
    items = manifest["counts"]["items"]
    stages = "  ".join(f"{k} {v['seconds']:.1f}s" for k, v in manifest["stages"].items())
    loop_items, loop_seconds = plain_loop(data / "tickets.jsonl")
    assert loop_items == items, (loop_items, items)
    _, regex_seconds = plain_loop(data / "tickets.jsonl", checks="regex")
    run_rate, loop_rate, regex_rate = items / seconds, loop_items / loop_seconds, loop_items / regex_seconds
    print(f"{n:>9,} tickets {items:>9,} items | run {seconds:7.1f} s {run_rate:8,.0f} items/s "
          f"peak RSS {rss / 2**20:5.0f} MiB PSS {pss / 2**20:5.0f} MiB "
          f"| plain loop {loop_rate:8,.0f} items/s | ratio {run_rate / loop_rate:.2f} "
          f"| regex-only loop {regex_rate:8,.0f} items/s, ratio {run_rate / regex_rate:.2f} "
          f"| {stages}", flush=True)
    for path in (data, workdir / f"run_{n}"):
        subprocess.run(["rm", "-rf", str(path)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also run 1,000,000 tickets")
    parser.add_argument("--sizes", type=int, nargs="*", help="ticket counts to run instead of the defaults")
    args = parser.parse_args()
    sizes = args.sizes or ([10_000, 100_000] + ([1_000_000] if args.full else []))
    with tempfile.TemporaryDirectory(prefix="support-eval-bench-") as tmp:
        for n in sizes:
            bench(n, Path(tmp))


if __name__ == "__main__":
    main()
