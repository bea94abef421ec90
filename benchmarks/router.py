"""The router on a planted harmful minority, and ``route`` throughput.

    .venv/bin/python benchmarks/router.py planted              # 100 runs, 1,000 rated turns each
    .venv/bin/python benchmarks/router.py throughput --turns 1000000

planted: each run rates 1,000 turns of one category (eval.synth.routing: 15% mention a chargeback, where
35% of AI answers are harmful; 0.2% of the routine ones are harmful with no cue), learns the router and
routes 5,000 fresh turns of the same scenario. Per run: the true harmful rate among the turns sent to
the AI (from the planted probabilities), and the AI's share against an oracle that sends every
routine turn to the AI (85%).

throughput: writes a ticket file with one agent turn per ticket (as `validate` would), then times
``support-eval route`` (eval.decide.router.apply.route_file) on it with the conversation-only router,
and the answer-aware one with an answers file. Data generation and learning are not timed.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np


def planted_run(seed: int) -> tuple[float, float]:
    """(AI share of fresh turns, true harmful rate among them) of one run."""
    from eval.decide.router import learn_router
    from eval.policy import Policy
    from eval.synth.routing import planted_turns

    rng = np.random.default_rng(seed)
    router = learn_router(planted_turns(rng, 1000), Policy())
    fresh = planted_turns(rng, 5000)
    if router is None:
        return 0.0, 0.0
    routes, _ = router.route(fresh, "answer")
    ai = routes == "ai"
    return float(ai.mean()), float(fresh["p_harm"][ai].mean()) if ai.any() else 0.0


def planted(runs: int, workers: int) -> None:
    from eval.policy import Policy
    from eval.synth.routing import Scenario

    started = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        rows = list(pool.map(planted_run, range(runs)))
    share, rate = np.array(rows).T
    limit, oracle = Policy().critical_ub_automate, 1 - Scenario().cue_share
    print(f"{runs} runs in {time.perf_counter() - started:.0f} s")
    print(f"harmful rate among AI-routed turns within {limit:.0%}: {np.mean(rate <= limit):.1%} of runs "
          f"(median {np.median(rate):.2%}, max {rate.max():.2%})")
    print(f"AI share: mean {share.mean():.1%}, min {share.min():.1%}; against the oracle's {oracle:.0%}: "
          f"{share.mean() / oracle:.1%} (runs with no AI route: {np.mean(share == 0):.0%})")


def _write_tickets(path: Path, answers: Path, n: int, seed: int) -> None:
    from eval.synth.routing import CUE, ROUTINE

    rng = np.random.default_rng(seed)
    openings = np.array(ROUTINE + CUE)
    with open(path, "w") as fh, open(answers, "w") as ah:
        for i, opening in enumerate(openings[rng.integers(len(openings), size=n)]):
            tid = f"N{i:08d}"
            fh.write(json.dumps({"ticket_id": tid, "category": "refund_request", "channel": "email",
                                 "turns": [{"role": "customer", "text": f"Hi, {opening}. Order A-{i}."},
                                           {"role": "agent", "text": "Let me check."}],
                                 "metadata": {"plan": "standard"}}) + "\n")
            ah.write(json.dumps({"ticket_id": tid, "turn_index": 1, "text": "I can help with your refund."}) + "\n")


def throughput(turns: int) -> None:
    from eval.decide.router import learn_router
    from eval.decide.router.apply import route_file
    from eval.policy import Policy
    from eval.synth.routing import planted_turns

    router = learn_router(planted_turns(np.random.default_rng(0), 1000), Policy())
    assert router is not None
    with tempfile.TemporaryDirectory() as tmp:
        tickets, answers, out = Path(tmp) / "tickets.jsonl", Path(tmp) / "answers.jsonl", Path(tmp) / "routes.jsonl"
        _write_tickets(tickets, answers, turns, 1)
        for label, given in (("context", None), ("answer", answers)):
            started = time.perf_counter()
            summary = route_file(router, tickets, out, given)
            took = time.perf_counter() - started
            print(f"{label:8} {summary.turns:,} turns in {took:.1f} s: {summary.turns / took:,.0f} turns/s, "
                  f"routes {summary.by_category['refund_request']}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("planted", "throughput"))
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--turns", type=int, default=1_000_000)
    args = parser.parse_args()
    if args.mode == "planted":
        planted(args.runs, args.workers)
    else:
        throughput(args.turns)


if __name__ == "__main__":
    main()
