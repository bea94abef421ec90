"""benchmarks/ppi_pandalm.py in small: PandaLM's human preferences subsampled, GPT-3.5's verdicts as the
automatic evidence on every pair (skipped without ../shared/realdata)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from conftest import load_benchmark


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    """benchmarks/ppi_pandalm.py."""
    return load_benchmark("ppi_pandalm")


@pytest.fixture(scope="module")
def pandalm(bench: ModuleType, realdata: Path) -> tuple[np.ndarray, np.ndarray]:
    return bench.load(realdata / "pandalm")


def test_the_pairs_and_verdicts_are_read_as_documented(pandalm: tuple[np.ndarray, np.ndarray]) -> None:
    human, judge = pandalm
    assert len(human) == len(judge) == 999
    assert int(np.isnan(judge).sum()) == 25  # the garbage verdicts
    assert set(np.unique(judge[~np.isnan(judge)])) == {0.0, 0.5, 1.0}
    assert np.all((human >= 0) & (human <= 1))


def test_every_pair_rated_gives_the_full_human_mean_exactly(bench: ModuleType, pandalm: tuple[np.ndarray, np.ndarray]) -> None:
    human, judge = pandalm
    e = bench.intervals(human, bench.features(judge[:, None]), np.ones(len(human), dtype=bool), 0.95)
    assert e["ratings_only"]["estimate"] == human.mean()
    assert e["ppi"]["estimate"] == human.mean()  # nothing unrated: the judge cannot move it


def test_the_judge_narrows_the_interval_and_it_still_covers_the_full_answer(
        bench: ModuleType, pandalm: tuple[np.ndarray, np.ndarray]) -> None:
    r = bench.evaluate(*pandalm, 0.25, 40, np.random.default_rng(0))
    # here ratio 0.866, coverage 1.00 PPI, 0.95 ratings-only (200 subsamples: 1.000, 0.995; over-covering:
    # no finite-population correction); the same verdicts shuffled over the pairs give a ratio of 1.000
    assert r["width_ratio"] < 0.93
    assert r["effective_n"] > 1.15 * r["rated"]
    # below 35 of 40 has probability 1.4% at a true 95%
    assert r["ppi_covers"] >= 35 / 40 and r["ratings_only_covers"] >= 35 / 40


def test_verdicts_shuffled_over_the_pairs_buy_nothing(bench: ModuleType, pandalm: tuple[np.ndarray, np.ndarray]) -> None:
    human, judge = pandalm
    r = bench.evaluate(human, np.random.default_rng(1).permutation(judge), 0.25, 40, np.random.default_rng(0))
    assert r["width_ratio"] > 0.97 and r["lambda"] < 0.2
