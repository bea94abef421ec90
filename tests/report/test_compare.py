"""compare: tier changes, estimates outside the other run's interval, exit 1 when a category lost a tier."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from eval.records import Decisions
from eval.report import compare_runs

DEMO = Path(__file__).parents[2] / "datasets" / "demo"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "eval", *args], check=False, capture_output=True, text=True, timeout=600)


def _cat(name: str, tier: str, diff: tuple[float, float, float]) -> dict:
    est, low, high = diff
    return {"category": name, "tier": tier, "tickets": 10, "volume_share": 0.25, "rated_items": 50,
            "estimates": {"diff_mean": {"estimate": est, "low": low, "high": high, "se": 0.1, "n": 50}},
            "reasons": [], "ratings_needed": None}


def _decisions(*cats: dict, margin: float = 0.25) -> Decisions:
    return Decisions.model_validate({"policy": {"margin": margin, "reviewers": {"min_overlap": 20}}, "method": "",
                                     "reviewers_excluded": [], "reviewers_note": "", "categories": list(cats)})


def test_planted_changes_are_found() -> None:
    a = _decisions(_cat("same", "assist", (0.0, -0.1, 0.1)), _cat("down", "automate", (0.3, 0.2, 0.4)),
                   _cat("up", "human", (-0.5, -0.7, -0.3)), _cat("gone", "human", (0.0, -0.1, 0.1)),
                   _cat("wide", "assist", (0.0, -0.5, 0.5)))
    b = _decisions(_cat("same", "assist", (0.05, -0.05, 0.15)), _cat("down", "assist", (0.1, 0.0, 0.2)),
                   _cat("up", "assist", (-0.45, -0.6, -0.3)), _cat("new", "automate", (0.0, -0.1, 0.1)),
                   _cat("wide", "assist", (0.3, 0.25, 0.35)), margin=0.5)
    cmp = compare_runs(a, b, "a", "b")
    change = {c.category: c.change for c in cmp.categories}
    assert change == {"same": "same", "down": "lost", "up": "gained", "gone": "removed", "new": "added",
                      "wide": "same"}
    assert cmp.lost_tier == ["down"] and cmp.changed_tier == ["down", "up"]
    assert cmp.moved == ["down", "wide"]
    wide = next(c for c in cmp.categories if c.category == "wide").moved[0]
    assert wide.quantity == "diff_mean" and not wide.b_outside_a and wide.a_outside_b
    down = next(c for c in cmp.categories if c.category == "down").moved[0]
    assert down.b_outside_a and down.a_outside_b and (down.a, down.b) == (0.3, 0.1)
    assert [(p.key, p.a, p.b) for p in cmp.policy_changes] == [("margin", 0.25, 0.5)]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("compare")
    base = yaml.safe_load((DEMO / "config.yaml").read_text())
    strict = {**base, "name": "demo-strict", "data": {"paths": [str(DEMO / "tickets.jsonl")]},
              "replay": {**base["replay"], "responder": {"kind": "precomputed", "path": str(DEMO / "ai_answers.jsonl")}},
              "rubrics": {"path": str(DEMO / "rubrics")},
              "ratings": {"key": str(DEMO / "key.jsonl"), "files": [str(DEMO / "ratings.jsonl")]},
              "judge": {**base["judge"], "path": str(DEMO / "judge.jsonl")},
              "policy": {"always_human": ["order_status"], "margin": 0.2}}
    (root / "strict.yaml").write_text(yaml.safe_dump(strict))
    for name, config in (("a", DEMO / "config.yaml"), ("b", root / "strict.yaml")):
        res = cli("run", str(config), "--out", str(root / name))
        assert res.returncode == 0, res.stderr
    return root / "a", root / "b", root


def test_compare_two_demo_runs_with_different_policies(two_runs) -> None:
    a, b, root = two_runs
    res = cli("compare", str(a), str(b))
    assert res.returncode == 1, res.stderr
    assert "order_status" in res.stderr and "lost a tier" in res.stderr
    cmp = json.loads((b / "compare.json").read_text())
    tiers_a = {c["category"]: c["tier"] for c in json.loads((a / "decisions.json").read_text())["categories"]}
    tiers_b = {c["category"]: c["tier"] for c in json.loads((b / "decisions.json").read_text())["categories"]}
    assert cmp["changed_tier"] == sorted(c for c in tiers_a if tiers_a[c] != tiers_b[c])
    assert "order_status" in cmp["lost_tier"] and tiers_b["order_status"] == "human"
    assert cmp["moved"] == []  # same data and seed: only the policy differs
    assert {p["key"] for p in cmp["policy_changes"]} == {"always_human", "margin"}
    md = (b / "compare.md").read_text()
    assert "order_status" in md and "lost a tier" in md

    back = cli("compare", str(b), str(a), "--out", str(root / "back"))
    gained = json.loads((root / "back" / "compare.json").read_text())
    assert {c["category"]: c["change"] for c in gained["categories"]}["order_status"] == "gained"
    assert back.returncode == (1 if gained["lost_tier"] else 0)

    same = cli("compare", str(a), str(a), "--out", str(root / "same"))
    assert same.returncode == 0, same.stderr
    assert json.loads((root / "same" / "compare.json").read_text())["changed_tier"] == []


def test_compare_with_a_missing_run_is_a_usage_error(tmp_path: Path) -> None:
    res = cli("compare", str(tmp_path / "nope"), str(tmp_path))
    assert res.returncode == 2 and "not found" in res.stderr.replace("\n", "")
