"""Ratings file to decisions.json at scale: time per stage and peak RSS.

    .venv/bin/python benchmarks/decide.py                      # 1,000,000 rated items, 50 categories
    .venv/bin/python benchmarks/decide.py --items 100000
    .venv/bin/python benchmarks/decide.py --judge --rated 0.1    # judge verdicts on every item, 10% rated

Writes items.jsonl, key.jsonl and one reviewer file (10% of items rated twice, one careless
reviewer) into a temporary run folder, then times import -> agreement -> decide. Data
generation is not timed. With ``--judge``, judge.jsonl holds a verdict on every item (as an import writes
it), so decide's estimates are prediction-powered; ``--rated`` rates only that share of the items.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def generate(run: Path, n_items: int, n_categories: int, seed: int = 0, judge: bool = False,
             rated: float = 1.0) -> None:
    rng = np.random.default_rng(seed)
    n_tickets = n_items * 2 // 5
    ticket = np.sort(rng.integers(0, n_tickets, n_items))
    turn = np.arange(n_items) - np.searchsorted(ticket, ticket)
    cat_of_ticket = rng.integers(0, n_categories, n_tickets)
    category = cat_of_ticket[ticket]
    effect = np.linspace(-0.8, 0.4, n_categories)[category]
    tid = pd.Series(ticket).map("T{:07d}".format)
    iid = tid + "#" + pd.Series(turn).astype(str)
    cats = pd.Series(category).map("category_{:02d}".format)
    pd.DataFrame({"item_id": iid, "ticket_id": tid, "turn_index": turn, "category": cats,
                  "context": [[]] * n_items, "human": [{"text": "human answer"}] * n_items,
                  "ai": [{"responder": "bench"}] * n_items}).to_json(run / "items.jsonl", orient="records", lines=True)
    x_is_ai = rng.random(n_items) < 0.5
    rid = pd.Series(np.arange(n_items)).map("r{:07x}".format)
    pd.DataFrame({"rating_id": rid, "item_id": iid, "x": np.where(x_is_ai, "ai", "human"),
                  "y": np.where(x_is_ai, "human", "ai"), "gold": rng.random(n_items) < 0.01}).to_json(
        run / "key.jsonl", orient="records", lines=True)
    chosen = rng.random(n_items) < rated
    twice = chosen & (rng.random(n_items) < 0.10)
    rows = np.concatenate([np.flatnonzero(chosen), np.flatnonzero(twice)])
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
    pd.DataFrame({
        "rating_id": rid.to_numpy()[rows], "reviewer": pd.Series(reviewer).map("qa_{:02d}".format),
        "score_x": np.where(xa, s_ai, s_h), "score_y": np.where(xa, s_h, s_ai), "preference": pref,
        "acceptable_x": np.where(xa, s_ai, s_h) >= 3, "acceptable_y": np.where(xa, s_h, s_ai) >= 3,
        "critical_x": np.where(xa, crit, False), "critical_y": np.where(xa, False, crit),
        "comment": "", "seconds": 60.0,
    }).to_json(run / "reviewer_file.jsonl", orient="records", lines=True)
    if judge:
        j_ai, j_h = q_ai + rng.normal(0, 0.4, n_items), q_h + rng.normal(0, 0.4, n_items)
        pd.DataFrame({"item_id": iid, "preference": np.select([j_ai > j_h + 0.3, j_h > j_ai + 0.3], ["ai", "human"], "tie"),
                      "score_ai": np.clip(np.rint(j_ai), 1, 5), "score_human": np.clip(np.rint(j_h), 1, 5),
                      "critical_ai": q_ai < 1.5, "judge": "bench", "category": cats, "source_file": "judge.jsonl",
                      "line": np.arange(1, n_items + 1)}).to_json(run / "judge.jsonl", orient="records", lines=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--categories", type=int, default=50)
    parser.add_argument("--judge", action="store_true", help="judge verdicts on every item (prediction-powered)")
    parser.add_argument("--rated", type=float, default=1.0, help="share of the items rated")
    args = parser.parse_args()
    from eval.decide import decide_to_file
    from eval.policy import load_policy
    from eval.ratings import agreement_to_file, import_ratings

    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        start = time.perf_counter()
        generate(run, args.items, args.categories, judge=args.judge, rated=args.rated)
        print(f"generated {args.items:,} items in {time.perf_counter() - start:.1f} s (not timed)")
        policy = load_policy(None)
        times = {}
        start = time.perf_counter()
        summary = import_ratings([run / "reviewer_file.jsonl"], run / "key.jsonl", run / "items.jsonl",
                                 run / "ratings.jsonl")
        times["import"] = time.perf_counter() - start
        start = time.perf_counter()
        agreement = agreement_to_file(run, policy)
        times["agreement"] = time.perf_counter() - start
        start = time.perf_counter()
        decisions = decide_to_file(run, policy, seed=0)
        times["decide"] = time.perf_counter() - start
    tiers = pd.Series([c.tier for c in decisions.categories]).value_counts().to_dict()
    print(f"{summary.text()}; flagged: {agreement['flagged_reviewers']}; tiers: {tiers}")
    for stage, seconds in times.items():
        print(f"  {stage:<10} {seconds:6.1f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"ratings file -> decisions.json: {sum(times.values()):.1f} s "
          f"(import + decide without agreement.json: {times['import'] + times['decide']:.1f} s), "
          f"peak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
