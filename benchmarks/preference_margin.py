"""False automate at the win-rate margin, preference-only ratings: more runs than the test affords.

    .venv/bin/python benchmarks/preference_margin.py                  # 2,000 runs of 160 tickets
    .venv/bin/python benchmarks/preference_margin.py --runs 5000 --tickets 400

Each run plants an AI win rate of exactly 0.5 - win_rate_margin (eval.synth.preferences: clustered
tickets, two anonymous raters an item, every other gate passing) and decides it with the default
policy; the share decided ``automate`` is the false-automate rate, shown with its exact 95% interval.
A run at a win rate of 0.5 gives the power beside it.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def automate_share(win_rate: float, runs: int, tickets: int, seed: int) -> int:
    from eval.decide import decide
    from eval.policy import Policy
    from eval.synth.preferences import preference_ratings

    rng, policy, automated = np.random.default_rng(seed), Policy(), 0
    for _ in range(runs):
        ratings = preference_ratings(rng, win_rate, tickets=tickets)
        items = ratings[["item_id", "ticket_id", "category"]].drop_duplicates()
        automated += decide(ratings, items, None, policy, rng).categories[0].tier == "automate"
    return automated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--tickets", type=int, default=160)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from eval.policy import Policy
    from eval.stats import clopper_pearson

    margin = Policy().win_rate_margin
    for label, win in (("false automate at the margin", 0.5 - margin), ("power at a win rate of 0.5", 0.5)):
        start = time.perf_counter()
        k = automate_share(win, args.runs, args.tickets, args.seed)
        low, high = clopper_pearson(k, args.runs, 0.95)
        print(f"{label} (true win rate {win:.2f}): {k} of {args.runs} runs automate = {k / args.runs:.2%} "
              f"(95% {low:.2%} to {high:.2%}), {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
