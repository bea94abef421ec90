"""Streaming generation in fixed-size chunks, written in order as they complete.

Chunk ``i`` always covers the same tickets and draws from ``default_rng([seed, i])``, so the
output is byte-identical whatever the number of workers. Each chunk also returns, per
category, its ``k`` agent turns with the smallest random sort keys; merging those gives a
uniform sample without replacement (bottom-k sampling) for the ratings round while memory
stays bounded by the sample size, not the ticket count.
"""

from __future__ import annotations

import heapq
import json
import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import BaseModel

from eval.run.folder import NAMES
from eval.errors import UsageError
from eval.store import atomic_writer
from eval.synth.conversations import AnswerTruth, build_ticket
from eval.synth.judge import JUDGE_STREAM, judge_lines, planted_judge
from eval.synth.live import live_start, planted_tiers, write_live_period
from eval.synth.panel import PANEL, assign, gold_expectation, ratings
from eval.synth.phrases import Dice
from eval.synth.truth import BY_NAME, CATEGORIES, RATED_TARGET, TIER_RULE, planted

CHUNK = 2_000
RATINGS_STREAM = 1_000_003
"""Seed stream of the ratings round, distinct from every chunk index."""
TICKETS, KEY, RATINGS, JUDGE = NAMES["tickets"], NAMES["key"], NAMES["ratings"], NAMES["judge"]
"""A dataset's tickets, key, reviewer ratings and judge verdicts are named like the run-folder files of the same format."""
AI_ANSWERS, TRUTH = "ai_answers.jsonl", "truth.json"
"""The dataset folder's files, named here only. A dataset is the input of a run, not a run folder
(``eval.run.folder``): that some names are the same is a convention, not a shared constant."""
FILES = (TICKETS, AI_ANSWERS, KEY, RATINGS, JUDGE, TRUTH)


class SynthSummary(BaseModel):
    out_dir: str
    seed: int
    tickets: int
    files: dict[str, int]
    """Records per file (for ``truth.json``: answer rows)."""
    categories: dict[str, int]
    """Tickets per category."""
    agent_turns: int
    rated_items: int
    ratings: int
    last_created_at: str | None = None
    """``created_at`` of the last ticket (the live period starts the day after)."""


@dataclass
class CategoryTally:
    tickets: int = 0
    agent_turns: int = 0
    human_quality: float = 0.0
    ai_quality: float = 0.0
    human_critical: int = 0
    ai_critical: int = 0

    def add(self, a: AnswerTruth) -> None:
        self.agent_turns += 1
        self.human_quality += a.human_quality
        self.ai_quality += a.ai_quality
        self.human_critical += a.human_critical
        self.ai_critical += a.ai_critical

    def merge(self, other: CategoryTally) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def realized(self) -> dict:
        n = max(self.agent_turns, 1)
        return {"tickets": self.tickets, "agent_turns": self.agent_turns,
                "human_mean_quality": round(self.human_quality / n, 4),
                "ai_mean_quality": round(self.ai_quality / n, 4),
                "ai_minus_human_quality": round((self.ai_quality - self.human_quality) / n, 4),
                "human_critical_rate": round(self.human_critical / n, 4),
                "ai_critical_rate": round(self.ai_critical / n, 4)}


@dataclass
class Chunk:
    tickets: str
    ai_answers: str
    truth_rows: str
    judge: str
    candidates: dict[str, list[tuple[float, int, AnswerTruth]]]
    """Per category: (sort key, generation order, answer) of the chunk's bottom-k agent turns."""
    tallies: dict[str, CategoryTally]
    count: int


def make_chunk(seed: int, index: int, total: int, size: int = CHUNK) -> Chunk:
    """Tickets ``index*size`` up to ``total``; pure given its arguments."""
    dice = Dice(np.random.default_rng([seed, index]))
    start, stop = index * size, min(total, (index + 1) * size)
    names = [c.name for c in CATEGORIES]
    shares = [c.share for c in CATEGORIES]
    tickets: list[str] = []
    ai: list[str] = []
    rows: list[str] = []
    heaps: dict[str, list[tuple[float, int, AnswerTruth]]] = {n: [] for n in names}
    tallies = {n: CategoryTally() for n in names}
    answers: list[AnswerTruth] = []
    seq = index * 10 * size  # generation order across chunks (a ticket has at most 5 agent turns)
    for no in range(start, stop):
        spec = BY_NAME[dice.weighted(names, shares)]
        draft = build_ticket(dice, spec, no, total)
        tickets.append(json.dumps(draft.ticket, ensure_ascii=False, separators=(",", ":")))
        ai.extend(json.dumps(a, ensure_ascii=False, separators=(",", ":")) for a in draft.ai_answers)
        tallies[spec.name].tickets += 1
        k = RATED_TARGET[spec.group]
        answers.extend(draft.answers)
        for a in draft.answers:
            rows.append(a.row())
            tallies[spec.name].add(a)
            entry = (-dice.u(), -seq, a)  # a max-heap on the key keeps the k smallest keys
            seq += 1
            heap = heaps[spec.name]
            if len(heap) < k:
                heapq.heappush(heap, entry)
            elif entry[:2] > heap[0][:2]:
                heapq.heapreplace(heap, entry)
    candidates = {n: sorted((-u, -s, a) for u, s, a in h) for n, h in heaps.items()}
    judge = judge_lines(np.random.default_rng([seed, JUDGE_STREAM, index]), answers)
    return Chunk("\n".join(tickets) + "\n", "\n".join(ai) + "\n", "\n".join(rows) + "\n", judge,
                 candidates, tallies, stop - start)


def _chunks(seed: int, total: int, workers: int, size: int) -> Iterator[Chunk]:
    """Chunks in order; with workers > 1 at most ``2*workers`` are in flight (flat memory)."""
    n = -(-total // size)
    if workers <= 1 or n <= 1:
        for i in range(n):
            yield make_chunk(seed, i, total, size)
        return
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending: list[Future[Chunk]] = []
        nxt = 0
        while nxt < n or pending:
            while nxt < n and len(pending) < 2 * workers:
                pending.append(pool.submit(make_chunk, seed, nxt, total, size))
                nxt += 1
            yield pending.pop(0).result()


def _sample(per_chunk: dict[str, list], chunk: Chunk) -> None:
    for name, cands in chunk.candidates.items():
        k = RATED_TARGET[BY_NAME[name].group]
        per_chunk[name] = heapq.nsmallest(k, per_chunk.get(name, []) + cands, key=lambda e: e[:2])


def _write_truth(out: Path, seed: int, total: int, tallies: dict[str, CategoryTally],
                 sample: list[AnswerTruth], packets: list, rows_path: Path) -> None:
    rated = {c.name: 0 for c in CATEGORIES}
    for a in sample:
        rated[a.category] += 1
    categories = {c.name: {**planted(c), "judge": planted_judge(c.name),
                           "realized": {**tallies[c.name].realized(), "rated_items": rated[c.name]}}
                  for c in CATEGORIES}
    head = {
        "seed": seed, "tickets": total, "tier_rule": TIER_RULE, "categories": categories,
        "reviewers": [{"reviewer": r.reviewer, "bias": r.bias, "noise": r.noise, "sensitivity": r.sensitivity,
                       "careless": r.careless} for r in PANEL],
        "gold": [gold_expectation(p) for p in packets if p.gold],
        "answer_fields": ["item_id", "human_quality", "human_critical", "human_style",
                          "ai_quality", "ai_critical", "ai_style"],
    }
    with atomic_writer(out / TRUTH) as fh, open(rows_path, encoding="utf-8") as rows:
        fh.write(json.dumps(head, indent=1, ensure_ascii=False)[:-2])
        fh.write(',\n "answers": [\n')
        first = True
        for line in rows:
            fh.write(("" if first else ",\n") + line.rstrip("\n"))
            first = False
        fh.write("\n ]\n}\n")


def synth_to_dir(out_dir: Path, tickets: int, seed: int, advance: Callable[[int], None] | None = None,
                 workers: int = 2) -> SynthSummary:
    """Write the six synthetic data files and the live period after them (``eval.synth.live``) to
    ``out_dir``; same seed, same bytes."""
    summary = write_synth(out_dir, tickets, seed, advance, workers, CHUNK)
    if summary.last_created_at is not None:
        start = live_start(summary.last_created_at)
        summary.files.update(write_live_period(Path(out_dir), planted_tiers(), seed, start))
    return summary


def write_synth(out_dir: Path, tickets: int, seed: int, advance: Callable[[int], None] | None,
                workers: int, chunk_size: int) -> SynthSummary:
    """``synth_to_dir`` with the chunk size open (the bytes depend on it; tests use small chunks)."""
    if tickets < 1:
        raise UsageError(f"tickets must be >= 1, got {tickets}")
    if chunk_size < 1:
        raise UsageError(f"chunk_size must be >= 1, got {chunk_size}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows_path = out_dir / ".truth_answers.partial"
    tallies = {c.name: CategoryTally() for c in CATEGORIES}
    sample_heaps: dict[str, list] = {}
    n_ai = 0
    with ExitStack() as stack:
        t_fh = stack.enter_context(atomic_writer(out_dir / TICKETS))
        a_fh = stack.enter_context(atomic_writer(out_dir / AI_ANSWERS))
        j_fh = stack.enter_context(atomic_writer(out_dir / JUDGE))
        r_fh = stack.enter_context(open(rows_path, "w", encoding="utf-8", newline="\n"))
        for chunk in _chunks(seed, tickets, workers, chunk_size):
            t_fh.write(chunk.tickets)
            last = chunk.tickets
            a_fh.write(chunk.ai_answers)
            j_fh.write(chunk.judge)
            r_fh.write(chunk.truth_rows)
            n_ai += chunk.ai_answers.count("\n")
            for name, tally in chunk.tallies.items():
                tallies[name].merge(tally)
            _sample(sample_heaps, chunk)
            if advance is not None:
                advance(chunk.count)
    sample = sorted((e for es in sample_heaps.values() for e in es), key=lambda e: e[1])
    items = [e[2] for e in sample]
    dice = Dice(np.random.default_rng([seed, RATINGS_STREAM]))
    packets = assign(dice, items)
    rating_rows = ratings(dice, packets)
    with atomic_writer(out_dir / KEY) as fh:
        fh.writelines(json.dumps(p.key(), separators=(",", ":")) + "\n" for p in packets)
    with atomic_writer(out_dir / RATINGS) as fh:
        fh.writelines(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in rating_rows)
    _write_truth(out_dir, seed, tickets, tallies, items, packets, rows_path)
    rows_path.unlink()
    return SynthSummary(
        out_dir=str(out_dir), seed=seed, tickets=tickets,
        files={TICKETS: tickets, AI_ANSWERS: n_ai, KEY: len(packets), RATINGS: len(rating_rows), JUDGE: n_ai,
               TRUTH: n_ai},
        categories={name: t.tickets for name, t in tallies.items()},
        agent_turns=n_ai, rated_items=len(packets), ratings=len(rating_rows),
        last_created_at=json.loads(last.rstrip("\n").rsplit("\n", 1)[-1])["created_at"],
    )
