"""Ratings file to decisions.json at scale: time per stage and peak RSS.

    .venv/bin/python benchmarks/decide.py                      # 1,000,000 rated items, 50 categories
    .venv/bin/python benchmarks/decide.py --items 100000
    .venv/bin/python benchmarks/decide.py --judge --rated 0.1    # judge verdicts on every item, 10% rated

Writes items.jsonl, and for the rated items key.jsonl and one reviewer file (10% of them rated twice,
one careless reviewer), into a temporary run folder, then times import -> agreement -> decide, each
in a fresh process as the CLI runs them (so each peak RSS is that stage's). Data generation is not
timed. With ``--judge``, judge.jsonl holds a verdict on every item (as an import writes it), so
decide's estimates are prediction-powered; ``--rated`` rates only that share of the items.
The issue 16 target: ``--items 10000000 --rated 0.01 --judge`` (100k rated) in < 60 s and < 1 GiB.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd


CHUNK = 1_000_000
ITEM_TAIL = ',"context":[],"human":{"text":"human answer"},"ai":{"responder":"bench"}}'


def _write_jsonl(path: Path, columns: dict[str, np.ndarray], tail: str = "}") -> None:
    """``columns`` as JSON lines, a chunk of rows at a time (pandas' records split at each row's first key,
    as eval.ratings.importer.write_rating_table does), each row closed by ``tail``."""
    first = next(iter(columns))
    with open(path, "w", encoding="utf-8") as fh:
        for start in range(0, len(columns[first]), CHUNK):
            part = pd.DataFrame({k: v[start:start + CHUNK] for k, v in columns.items()})
            text = part.to_json(orient="records", force_ascii=False)[1:-2]
            fh.write(text.replace(f'}},{{"{first}":', f'{tail}\n{{"{first}":') + tail + "\n")


def generate(run: Path, n_items: int, n_categories: int, seed: int = 0, judge: bool = False,
             rated: float = 1.0) -> None:
    """Items and verdicts on all ``n_items``; the key and the reviewer file for the rated share only, as
    packets write them."""
    rng = np.random.default_rng(seed)
    n_tickets = n_items * 2 // 5
    ticket = np.sort(rng.integers(0, n_tickets, n_items))
    turn = np.arange(n_items) - np.searchsorted(ticket, ticket)
    cat_of_ticket = rng.integers(0, n_categories, n_tickets)
    category = cat_of_ticket[ticket]
    effect = np.linspace(-0.8, 0.4, n_categories)[category]
    tid = np.char.add("T", np.char.zfill(ticket.astype(str), 7)).astype(object)
    iid = np.char.add(np.char.add(tid.astype(str), "#"), turn.astype(str)).astype(object)
    cats = np.array([f"category_{c:02d}" for c in range(n_categories)], dtype=object)[category]
    _write_jsonl(run / "items.jsonl", {"item_id": iid, "ticket_id": tid, "turn_index": turn, "category": cats},
                 ITEM_TAIL)
    x_is_ai = rng.random(n_items) < 0.5
    gold = rng.random(n_items) < 0.01
    chosen = rng.random(n_items) < rated
    twice = chosen & (rng.random(n_items) < 0.10)
    keyed = np.flatnonzero(chosen)
    rid = np.char.add("r", np.char.zfill(np.char.mod("%x", np.arange(n_items)), 7)).astype(object)
    _write_jsonl(run / "key.jsonl", {"rating_id": rid[keyed], "item_id": iid[keyed],
                                     "x": np.where(x_is_ai[keyed], "ai", "human"),
                                     "y": np.where(x_is_ai[keyed], "human", "ai"), "gold": gold[keyed]})
    rows = np.concatenate([keyed, np.flatnonzero(twice)])
    first = rng.integers(0, 20, n_items)
    reviewer = np.concatenate([first[chosen], (first[twice] + rng.integers(1, 20, twice.sum())) % 20])
    q_h = rng.normal(3.8, 0.8, n_items)
    q_ai = q_h + effect + rng.normal(0, 0.4, n_items)
    noise = rng.normal(0, 0.35, (rows.size, 2))
    s_ai = np.clip(np.rint(q_ai[rows] + noise[:, 0]), 1, 5).astype(int)
    s_h = np.clip(np.rint(q_h[rows] + noise[:, 1]), 1, 5).astype(int)
    careless = reviewer == 19
    s_ai[careless], s_h[careless] = rng.integers(1, 6, (2, careless.sum()))
    crit = (q_ai[rows] < 1.5) & (rng.random(rows.size) < 0.9)
    xa = x_is_ai[rows]
    pref = np.where(s_ai == s_h, "tie_good", np.where((s_ai > s_h) == xa, "x", "y"))
    _write_jsonl(run / "reviewer_file.jsonl", {
        "rating_id": rid[rows], "reviewer": np.char.add("qa_", np.char.zfill(reviewer.astype(str), 2)),
        "score_x": np.where(xa, s_ai, s_h), "score_y": np.where(xa, s_h, s_ai), "preference": pref,
        "acceptable_x": np.where(xa, s_ai, s_h) >= 3, "acceptable_y": np.where(xa, s_h, s_ai) >= 3,
        "critical_x": np.where(xa, crit, False), "critical_y": np.where(xa, False, crit),
        "comment": np.full(rows.size, ""), "seconds": np.full(rows.size, 60.0)})
    if judge:
        j_ai, j_h = q_ai + rng.normal(0, 0.4, n_items), q_h + rng.normal(0, 0.4, n_items)
        _write_jsonl(run / "judge.jsonl", {
            "item_id": iid, "preference": np.select([j_ai > j_h + 0.3, j_h > j_ai + 0.3], ["ai", "human"], "tie"),
            "score_ai": np.clip(np.rint(j_ai), 1, 5), "score_human": np.clip(np.rint(j_h), 1, 5),
            "critical_ai": q_ai < 1.5, "judge": np.full(n_items, "bench"), "category": cats,
            "source_file": np.full(n_items, "judge.jsonl"), "line": np.arange(1, n_items + 1)})


def _stage(stage: str, run: Path) -> tuple[float, float, str]:
    """One stage in a fresh process, as the CLI runs it: (seconds, peak RSS in MB, what it says)."""
    from eval.decide import decide_to_file
    from eval.policy import load_policy
    from eval.ratings import agreement_to_file, import_ratings

    policy = load_policy(None)
    start = time.perf_counter()
    if stage == "import":
        said = import_ratings([run / "reviewer_file.jsonl"], run / "key.jsonl", run / "items.jsonl",
                              run / "ratings.jsonl").text()
    elif stage == "agreement":
        said = f"flagged: {agreement_to_file(run, policy)['flagged_reviewers']}"
    else:
        tiers = pd.Series([c.tier for c in decide_to_file(run, policy, seed=0).categories]).value_counts()
        said = f"tiers: {tiers.to_dict()}"
    return time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, said


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--categories", type=int, default=50)
    parser.add_argument("--judge", action="store_true", help="judge verdicts on every item (prediction-powered)")
    parser.add_argument("--rated", type=float, default=1.0, help="share of the items rated")
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep it; reused when it exists")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = args.keep or Path(tmp)
        if not (run / "items.jsonl").exists():
            run.mkdir(parents=True, exist_ok=True)
            start = time.perf_counter()
            generate(run, args.items, args.categories, judge=args.judge, rated=args.rated)
            print(f"generated {args.items:,} items in {time.perf_counter() - start:.1f} s (not timed)")
        measured = {}
        for stage in ("import", "agreement", "decide"):
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
                measured[stage] = pool.submit(_stage, stage, run).result()
            print(f"  {stage:<10} {measured[stage][0]:6.1f} s  peak RSS {measured[stage][1]:5.0f} MB  "
                  f"{measured[stage][2]}")
    total = sum(m[0] for m in measured.values())
    print(f"ratings file -> decisions.json: {total:.1f} s (import + decide without agreement.json: "
          f"{measured['import'][0] + measured['decide'][0]:.1f} s), peak RSS {max(m[1] for m in measured.values()):.0f} MB")


if __name__ == "__main__":
    main()
