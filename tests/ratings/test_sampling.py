"""Sampling that fills the reviewers' capacity exactly, gives every category some items and names shortfalls."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from rich.console import Console

from eval.blinding import item_agent_texts, learn_agent_names, present, source_auc
from eval.policy import Policy
from eval.ratings.packets import assign, packets_table, write_packets
from eval.ratings.sampling import PacketSpec, allocate, sample_items
from eval.records import BlindKey, Item
from eval.store import read_jsonl

DEMO = Path(__file__).parents[2] / "datasets" / "demo"


def _index(sizes: dict[str, int]) -> pd.DataFrame:
    ids = [(f"{c}-{i}", c) for c, n in sizes.items() for i in range(n)]
    return pd.DataFrame(ids, columns=["item_id", "category"], dtype=object)


def _loads(sample: pd.DataFrame, spec: PacketSpec, seed: int = 0) -> Counter[str]:
    assignments = assign(sample, spec, np.random.default_rng(seed), set())
    per_item: dict[str, list[str]] = {}
    for a in assignments:
        per_item.setdefault(a.item_id, []).append(a.reviewer)
    assert all(len(set(r)) == len(r) for r in per_item.values()), "an item went twice to one reviewer"
    return Counter(a.reviewer for a in assignments)


def test_allocation_is_proportional_with_a_floor_of_one_and_caps_handed_on() -> None:
    out = allocate(52, {"big": 149, "mid": 40, "tiny": 149, "none": 0}, {"big": 900, "mid": 300, "tiny": 2, "none": 50})
    assert out == {"big": 39, "mid": 11, "tiny": 2, "none": 0}  # 39.42 and 10.58 of 50
    floored = allocate(20, {c: 149 for c in "abcdefgh"} | {"s1": 9, "s2": 10, "s3": 11},
                       {c: 500 for c in "abcdefgh"} | {"s1": 9, "s2": 10, "s3": 11})
    assert sum(floored.values()) == 20 and min(floored.values()) >= 1
    assert allocate(2, {"a": 10, "b": 30, "c": 20}, {"a": 5, "b": 5, "c": 5}) == {"a": 0, "b": 1, "c": 1}
    assert allocate(100, {"a": 1, "b": 1}, {"a": 3, "b": 4}) == {"a": 3, "b": 4}


@pytest.mark.parametrize(("reviewers", "per_reviewer", "gold_every"), [
    (3, 40, 7), (5, 40, 7), (3, 41, 0), (4, 37, 3), (2, 25, 5), (7, 13, 2), (5, 1, 0), (3, 40, 1),
])
def test_every_reviewer_gets_exactly_the_number_asked_for(reviewers: int, per_reviewer: int, gold_every: int) -> None:
    """Eight large categories and three of 9-11 items (the issue's shape); gold candidates at various densities."""
    sizes = {f"cat{c}": 300 + 50 * c for c in range(8)} | {"small9": 9, "small10": 10, "small11": 11}
    index = _index(sizes)
    gold_ok = set(index["item_id"][::gold_every]) if gold_every else set()
    targets = {c: (149 if n > 100 else 40, "") for c, n in sizes.items()}
    spec = PacketSpec(tuple(f"r{i}" for i in range(reviewers)), per_reviewer)
    sample = sample_items(index, targets, gold_ok, spec, np.random.default_rng(reviewers * 100 + per_reviewer))
    assert int(sample.items["k"].sum()) == spec.capacity
    loads = _loads(sample.items, spec)
    assert dict(loads) == dict.fromkeys(spec.reviewers, per_reviewer)
    counts = sample.items["category"].value_counts()
    if len(sample.items) >= len(sizes):
        assert set(counts.index) == set(sizes), "a category with items got none"
    assert sample.items["item_id"].is_unique


def test_small_categories_get_items_where_proportional_flooring_gave_none() -> None:
    sizes = {f"cat{c}": 400 for c in range(8)} | {"small9": 9, "small10": 10, "small11": 11}
    targets = {c: (n if n < 100 else 149, "") for c, n in sizes.items()}
    spec = PacketSpec(("a", "b", "c"), 40)
    sample = sample_items(_index(sizes), targets, set(), spec, np.random.default_rng(1))
    counts = sample.items["category"].value_counts()
    assert all(counts[c] >= 1 for c in ("small9", "small10", "small11"))
    assert all(p.sampled >= 1 and p.short == 0 for p in sample.plans)


def test_a_category_that_cannot_fill_its_share_is_named_in_the_table_and_notes() -> None:
    sizes = {"big": 1000, "tiny": 3}
    spec = PacketSpec(("a", "b", "c"), 60, calibration_share=0.0, gold_share=0.0)
    sample = sample_items(_index(sizes), {"big": (149, ""), "tiny": (149, "")}, set(), spec, np.random.default_rng(0))
    plans = {p.category: p for p in sample.plans}
    assert plans["tiny"].sampled == 3 and plans["tiny"].share == 45 and plans["tiny"].short == 42
    assert plans["big"].sampled == 87 and plans["big"].short == 0
    assert any("tiny: 42 items short of its share of 45 (only 3 available)" in n for n in sample.notes)
    from eval.ratings.packets import PacketSummary

    summary = PacketSummary(round=0, reviewers=list(spec.reviewers), per_reviewer=60, capacity=180, items=90,
                            ratings=180, per_reviewer_counts={}, categories=sample.plans, ai_errors_skipped=0, notes=[])
    console = Console(width=200, record=True)
    console.print(packets_table(summary))
    text = console.export_text()
    assert "short" in text and "42 (only 3)" in text


def test_targets_below_capacity_are_drawn_whole_and_the_note_says_reviewers_get_fewer() -> None:
    spec = PacketSpec(("a", "b", "c"), 100)
    sample = sample_items(_index({"x": 30, "y": 500}), {"x": (30, ""), "y": (20, "")}, set(), spec,
                          np.random.default_rng(0))
    assert sample.items["category"].value_counts().to_dict() == {"x": 30, "y": 20}
    assert any("fewer than 100 items per reviewer" in n for n in sample.notes)


def test_odd_leftovers_with_two_extra_calibration_reviewers_still_fill_exactly() -> None:
    """raters 1, calibration 3: the last calibration item gets one extra reviewer where two would overfill."""
    spec = PacketSpec(("a", "b", "c"), 7, raters=1, calibration_raters=3, calibration_share=0.5, gold_share=0.0)
    sample = sample_items(_index({"x": 50}), {"x": (50, "")}, set(), spec, np.random.default_rng(2))
    assert int(sample.items["k"].sum()) == 21
    assert dict(_loads(sample.items, spec)) == {"a": 7, "b": 7, "c": 7}


def test_the_same_seed_gives_the_same_sample() -> None:
    index, spec = _index({"x": 300, "y": 40}), PacketSpec(("a", "b", "c", "d"), 33)
    draws = [sample_items(index, {"x": (149, ""), "y": (149, "")}, {"x-1", "y-2"}, spec, np.random.default_rng(9))
             for _ in range(2)]
    pd.testing.assert_frame_equal(draws[0].items, draws[1].items)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo replayed and scored, as a first round (no ratings, no decisions)."""
    tmp = tmp_path_factory.mktemp("demo")
    config = yaml.safe_load((DEMO / "config.yaml").read_text())
    del config["ratings"]
    config["data"]["paths"] = [str(DEMO / p) for p in config["data"]["paths"]]
    config["replay"]["responder"]["path"] = str(DEMO / config["replay"]["responder"]["path"])
    config["rubrics"]["path"] = str(DEMO / config["rubrics"]["path"])
    config["judge"]["path"] = str(DEMO / config["judge"]["path"])
    (tmp / "config.yaml").write_text(yaml.safe_dump(config))
    res = subprocess.run([sys.executable, "-m", "eval", "run", str(tmp / "config.yaml"), "--out", str(tmp / "run")],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    return tmp / "run"


@pytest.mark.parametrize("reviewers", [3, 5])
def test_demo_per_reviewer_40_gives_every_reviewer_40_and_every_category_items(demo_run: Path, reviewers: int,
                                                                               tmp_path: Path) -> None:
    """Before: 37 each for 3 reviewers, 38/38/38/38/37 for 5 (floor of a proportional cut)."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(demo_run, run)
    spec = PacketSpec(tuple(f"qa_{i:02d}" for i in range(1, reviewers + 1)), 40)
    summary = write_packets(run, spec, Policy(), seed=7)
    assert summary.per_reviewer_counts == dict.fromkeys(spec.reviewers, 40)
    key = list(read_jsonl(run / "key.jsonl", BlindKey))
    assert Counter(k.reviewer for k in key) == dict.fromkeys(spec.reviewers, 40)
    assert all(p.sampled >= 1 for p in summary.categories if p.available)
    for reviewer in spec.reviewers:
        assert len((run / "packets" / f"{reviewer}.jsonl").read_text().splitlines()) == 40


def test_demo_blinding_audit_over_every_item_is_no_worse(demo_run: Path) -> None:
    """AUC of telling AI from human on what reviewers see, all 6,402 demo items: 0.7215 before issue 12."""
    items = [i for i in read_jsonl(demo_run / "items.jsonl", Item) if i.ai.text and not i.ai.error]
    names = learn_agent_names(item_agent_texts(items))
    after = [(p.human, p.ai) for p in (present(i, names) for i in items)]
    auc = source_auc(after, folds=5, seed=0)
    assert auc is not None and auc <= 0.7215 + 0.005
    before = [(p.human, p.ai) for p in (present(i, names, strip=False) for i in items[:1500])]
    assert source_auc(before, folds=5, seed=0) > 0.95, "the audit must still see the unstripped tells"
    assert json.dumps(after).count("(cut)") == 0, "no demo answer is long enough to be cut"


def test_allocation_always_sums_to_what_fits_within_caps_and_floors() -> None:
    rng = np.random.default_rng(4)
    for _ in range(1000):
        n = int(rng.integers(1, 9))
        weights = {f"c{i}": int(rng.choice([0, 1, 9, 40, 149, 500])) for i in range(n)}
        caps = {c: int(rng.integers(0, 60)) for c in weights}
        total = int(rng.integers(0, 200))
        out = allocate(total, weights, caps)
        live = [c for c in weights if weights[c] and caps[c]]
        assert sum(out.values()) == min(total, sum(caps[c] for c in live)), (total, weights, caps, out)
        assert all(0 <= out[c] <= caps[c] for c in weights) and all(out[c] == 0 for c in weights if c not in live)
        if total >= len(live):
            assert all(out[c] >= 1 for c in live), (total, weights, caps, out)
