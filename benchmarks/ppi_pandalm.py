"""Prediction-powered intervals on real data: PandaLM's human preferences with a GPT-3.5 judge.

    .venv/bin/python benchmarks/ppi_pandalm.py                          # 200 subsamples at 10, 25, 50%
    .venv/bin/python benchmarks/ppi_pandalm.py --subsamples 50 --fractions 0.25

PandaLM (``../shared/realdata/pandalm``, read from there) has 999 pairs of answers, each judged by three
annotators and by GPT-3.5. As in tests/test_preference_only.py, response1 is the human agent's answer and
response2 the AI's; a pair's human value is the mean over its annotators of 1 (AI better), 0.5 (tie) or 0
(human better), and the target is that value's mean over all 999 pairs (the AI win rate). Each subsample
rates a fraction of the pairs (drawn without replacement) and keeps the judge's verdict on every pair as
the automatic evidence (1 / 0.5 / 0, its 25 garbage verdicts missing), through the decide path itself:
``features`` and ``cross_fitted`` of eval.decide.automatic, ``ppi_mean`` with each pair its own cluster,
and the t interval of ``_entry``. The ratings-only interval is the same estimate with ``lam = 0``.

Per fraction: mean width of both 95% intervals and their ratio, coverage of the full-data target by
each, the mean power-tuning weight and the mean effective number of ratings.

The target is the mean of this finite population, and the rated pairs are part of it. Neither interval
has a finite-population correction (the standard error should shrink by sqrt(1 - fraction), 0.71 at 50%),
so both over-cover as the fraction grows. PPI over-covers more (0.99 at 25% and 50% in 200 subsamples
even with its half-width scaled by sqrt(1 - fraction)): its SE counts the unrated pairs' human values as
fresh draws, while about the full mean they are the fixed remainder of the 999. At 10% both are near 95%.
Read the widths as what a superpopulation of pairs like these would give, the coverage as conservative.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from eval.decide.automatic import _entry, cross_fitted, features
from eval.stats.ppi import ppi_mean

HUMAN_VALUE = {0: 0.5, 1: 0.0, 2: 1.0}
"""Annotator label (0 tie, 1 response1 = human better, 2 response2 = AI better) -> the AI's win value."""
JUDGE_VALUE = {"1": 0.0, "Tie": 0.5, "2": 1.0, "garbage": np.nan}
DEFAULT_REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"


def load(pandalm: Path) -> tuple[np.ndarray, np.ndarray]:
    """Per pair, in ``idx`` order: the human value (mean of the three annotators) and the judge's (NaN:
    garbage). Joined on ``idx``, so the two files' orders do not matter."""
    pairs = {p["idx"]: p for p in json.loads((pandalm / "testset-v1.json").read_text())}
    verdicts = {v["idx"]: v["gpt_result"] for v in json.loads((pandalm / "gpt-3.5-turbo-testset-v1.json").read_text())}
    order = sorted(pairs)
    human = np.array([np.mean([HUMAN_VALUE[pairs[i][f"annotator{n}"]] for n in (1, 2, 3)]) for i in order])
    judge = np.array([JUDGE_VALUE[verdicts[i]] for i in order])
    return human, judge


def intervals(human: np.ndarray, x: np.ndarray, rated: np.ndarray, confidence: float) -> dict[str, dict[str, float]]:
    """The prediction-powered and ratings-only entries (estimate, low, high, ...) when only ``rated``
    pairs have their human value; ``x``: the judge's features on every pair."""
    y = np.where(rated, human, np.nan)
    pairs = np.arange(len(human))
    f = cross_fitted(x, y, pairs)
    return {"ppi": _entry(ppi_mean(y, f, pairs), confidence),
            "ratings_only": _entry(ppi_mean(y, f, pairs, lam=0.0), confidence)}


def evaluate(human: np.ndarray, judge: np.ndarray, fraction: float, subsamples: int, rng: np.random.Generator,
             confidence: float = 0.95) -> dict[str, float]:
    """Widths, coverage of the full mean, lambda and effective n over ``subsamples`` draws of
    ``fraction`` of the pairs."""
    x = features(judge[:, None])
    assert x is not None, "the judge's verdict does not vary"
    target, n = float(human.mean()), round(fraction * len(human))
    rows = []
    for _ in range(subsamples):
        rated = np.zeros(len(human), dtype=bool)
        rated[rng.choice(len(human), n, replace=False)] = True
        e = intervals(human, x, rated, confidence)
        rows.append({**{f"{k}_width": e[k]["high"] - e[k]["low"] for k in e},
                     **{f"{k}_covers": float(e[k]["low"] <= target <= e[k]["high"]) for k in e},
                     "lambda": e["ppi"]["lambda"], "effective_n": e["ppi"]["effective_n"]})
    out = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    return {"fraction": fraction, "rated": n, **out, "width_ratio": out["ppi_width"] / out["ratings_only_width"]}


def table(results: list[dict[str, float]]) -> str:
    """The figures as a markdown table."""
    lines = ["| fraction | rated | width ratings-only | width PPI | ratio | cover ratings-only | cover PPI "
             "| lambda | effective n |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['fraction']:.2f} | {r['rated']:.0f} | {r['ratings_only_width']:.4f} | {r['ppi_width']:.4f} "
              f"| {r['width_ratio']:.3f} | {r['ratings_only_covers']:.3f} | {r['ppi_covers']:.3f} "
              f"| {r['lambda']:.2f} | {r['effective_n']:.0f} |" for r in results]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--subsamples", type=int, default=200)
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.1, 0.25, 0.5])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--realdata", type=Path, default=DEFAULT_REALDATA)
    args = parser.parse_args()
    started = time.perf_counter()
    human, judge = load(args.realdata / "pandalm")
    rng = np.random.default_rng(args.seed)
    results = [evaluate(human, judge, fraction, args.subsamples, rng) for fraction in args.fractions]
    agree = np.corrcoef(human[~np.isnan(judge)], judge[~np.isnan(judge)])[0, 1]
    print(f"PandaLM: {len(human)} pairs, AI win rate {human.mean():.4f} by the annotators, "
          f"judge-human correlation {agree:.3f}; {args.subsamples} subsamples per fraction, "
          f"{time.perf_counter() - started:.1f} s\n")
    print(table(results))


if __name__ == "__main__":
    main()
