"""The judge adds evidence to a decision only where calibration trusted it, and never moves a tier."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml
from fake_openai import FakeState, serve

from eval.decide import decide_to_file
from eval.judges.calibration import CategoryCalibration
from eval.judges.evidence import judge_evidence
from eval.judges.pairwise import PairwiseVerdict
from eval.policy import load_policy

DATA = Path(__file__).parent / "data"
DEMO = Path(__file__).parents[1] / "datasets" / "demo"


def cal(category: str, usable: bool) -> CategoryCalibration:
    return CategoryCalibration(
        category=category, items=50, judge_errors=0, agreement_with_ties=0.7, agreement_without_ties=0.8,
        decisive_items=40, kappa_with_ties=0.5, judge_vs_reviewers=0.7 if usable else 0.4,
        reviewers_pairwise=0.6, reviewer_pairs=60, leniency=0.0, judge_tie_rate=0.1, flip_rate=0.05,
        usable=usable, why="planted")


def verdicts(category: str, prefs: list[str | None]) -> list[PairwiseVerdict]:
    return [PairwiseVerdict(item_id=f"{category}{i}", category=category, ai_first=p, human_first=p,
                            preference=p, flipped=False, reasons=[], error=None if p else "HTTP 500")
            for i, p in enumerate(prefs)]


def test_win_rate_only_where_calibrated_with_ties_half_and_errors_counted() -> None:
    prefs = ["ai"] * 60 + ["tie"] * 20 + ["human"] * 20 + [None] * 3
    out = judge_evidence(verdicts("a", prefs) + verdicts("b", prefs), {"a": cal("a", True), "b": cal("b", False)})
    assert out["a"].used and out["a"].win_rate_ai == (60 + 10) / 100 and out["a"].judge_errors == 3
    wins = np.array([1.0] * 60 + [0.5] * 20 + [0.0] * 20)
    half = 1.984217 * wins.std(ddof=1) / 10  # t(0.975, 99) by hand
    assert abs(out["a"].low - (0.7 - half)) < 1e-5 and abs(out["a"].high - (0.7 + half)) < 1e-5
    assert not out["b"].used and out["b"].win_rate_ai is None and out["b"].judged_items == 100


def test_decisions_carry_the_judge_and_keep_their_tiers(tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "eval", "run", str(DEMO / "config.yaml"), "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    before = json.loads((tmp_path / "decisions.json").read_text())
    cats = [c["category"] for c in before["categories"]]
    lines = [v.model_dump_json() for c in cats for v in verdicts(c, ["ai", "human", "tie"] * 20)]
    (tmp_path / "judge_pairwise.jsonl").write_text("\n".join(lines) + "\n")
    (tmp_path / "judge.jsonl").unlink()  # the demo's imported verdicts would come first (eval.judges.table)
    trusted = {c: json.loads(cal(c, c == "order_status").model_dump_json()) for c in cats}
    (tmp_path / "judge_calibration.json").write_text(json.dumps(trusted))
    decide_to_file(tmp_path, load_policy(None), seed=7)
    after = json.loads((tmp_path / "decisions.json").read_text())
    assert [c["tier"] for c in after["categories"]] == [c["tier"] for c in before["categories"]]
    judged = {c["category"]: c["judge"] for c in after["categories"]}
    assert judged["order_status"]["used"] and judged["order_status"]["win_rate_ai"] == 0.5
    assert not judged["fraud_report"]["used"] and judged["fraud_report"]["win_rate_ai"] is None


def test_judge_verb_against_a_real_http_server(tmp_path: Path) -> None:
    with serve(state := FakeState(reply=lambda body: json.dumps({"winner": "A", "reason": "first"}))) as url:
        config = yaml.safe_load((DATA / "precomputed.yaml").read_text())
        config["data"]["paths"] = [str(DATA / "tickets.jsonl")]
        config["replay"]["responder"]["path"] = str(DATA / "ai_answers.jsonl")
        config["rubrics"]["path"] = str(DATA / "rubrics")
        config["judge"] = {"base_url": url, "model": "judge-1", "cache": False, "timeout_s": 5}
        (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
        run = tmp_path / "run"
        cli = [sys.executable, "-m", "eval"]
        assert subprocess.run([*cli, "run", str(tmp_path / "config.yaml"), "--out", str(run)],
                              capture_output=True, timeout=300).returncode == 0
        res = subprocess.run([*cli, "judge", str(run)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    out = [json.loads(x) for x in (run / "judge_pairwise.jsonl").read_text().splitlines()]
    assert len(out) == 14 and all(v["preference"] == "tie" and v["flipped"] for v in out if not v["error"])
    assert len(state.bodies) == 2 * sum(1 for v in out if not v["error"])
    assert "no category" in res.stdout
