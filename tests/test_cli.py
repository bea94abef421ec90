"""End to end through the real CLI, as a user runs it (a subprocess, not the Python API)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "eval", *args], capture_output=True, text=True, timeout=300)


def lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


@pytest.mark.parametrize("config", ["precomputed.yaml", "retrieval.yaml"])
def test_run_writes_a_complete_run_folder(tmp_path: Path, config: str) -> None:
    res = cli("run", str(DATA / config), "--out", str(tmp_path / "run"))
    assert res.returncode == 0, res.stderr
    run = tmp_path / "run"
    manifest = json.loads((run / "manifest.json").read_text())
    tickets = {t["ticket_id"]: t for t in lines(DATA / "tickets.jsonl")}
    items = lines(run / "items.jsonl")
    scores = lines(run / "scores.jsonl")
    assert manifest["counts"]["tickets"] == len(tickets) == 12
    assert manifest["counts"]["items"] == len(items) > 0
    assert manifest["config_sha256"] and manifest["inputs"] and manifest["versions"]["python"]
    assert set(manifest["stages"]) == {"ingest", "replay", "score", "decide", "report"}  # no ratings: decide says so
    decisions = json.loads((run / "decisions.json").read_text())
    assert {(c["tier"], c["rated_items"]) for c in decisions["categories"]} == {("human", 0)}
    assert "No ratings yet" in res.stdout and (run / "report.html").exists()
    for item in items:
        turns = tickets[item["ticket_id"]]["turns"]
        assert item["context"] == [{"author": None, **t} for t in turns[: item["turn_index"]]]
        assert turns[item["turn_index"]]["role"] == "agent"
    assert len(scores) == 2 * len(items)
    assert {(s["item_id"], s["side"]) for s in scores} == {(i["item_id"], side) for i in items for side in ("human", "ai")}
    assert "Per category" in res.stdout and str(run / "scores.jsonl") in res.stdout


def test_missing_precomputed_answer_is_an_error_not_a_score(tmp_path: Path) -> None:
    assert cli("run", str(DATA / "precomputed.yaml"), "--out", str(tmp_path)).returncode == 0
    items = {i["item_id"]: i for i in lines(tmp_path / "items.jsonl")}
    assert items["T0010#1"]["ai"]["text"] is None and items["T0010#1"]["ai"]["error"]
    ai = [s for s in lines(tmp_path / "scores.jsonl") if s["item_id"] == "T0010#1" and s["side"] == "ai"]
    assert ai[0]["score"] is None and ai[0]["error"]


def test_rerunning_a_stage_gives_the_same_bytes(tmp_path: Path) -> None:
    assert cli("run", str(DATA / "retrieval.yaml"), "--out", str(tmp_path)).returncode == 0
    before = {n: (tmp_path / n).read_bytes() for n in ("items.jsonl", "scores.jsonl")}
    assert cli("replay", str(tmp_path)).returncode == 0
    assert cli("score", str(tmp_path)).returncode == 0
    assert {n: (tmp_path / n).read_bytes() for n in before} == before


def test_bad_config_names_the_key_and_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ndata: {paths: [t.jsonl]}\nrubrics: {path: r}\nreplay: {turns: sometimes}\n")
    res = cli("run", str(bad))
    assert res.returncode == 2
    assert "bad.yaml" in res.stderr and "replay.turns" in res.stderr


def test_validate_fails_with_exit_1_over_the_quarantine_limit(tmp_path: Path) -> None:
    src = tmp_path / "mixed.jsonl"
    good = (DATA / "tickets.jsonl").read_text().splitlines()[:3]
    src.write_text("\n".join(good + ['{"ticket_id": "X1", "category": "a", "turns": []}']) + "\n")
    res = cli("validate", str(src), "--out", str(tmp_path / "out"), "--max-quarantine", "0.1")
    assert res.returncode == 1, res.stdout + res.stderr
    assert "quarantine" in res.stderr
    assert len(lines(tmp_path / "out" / "tickets.jsonl")) == 3
    assert len(lines(tmp_path / "out" / "quarantine.jsonl")) == 1
    ok = cli("validate", str(src), "--out", str(tmp_path / "out2"), "--max-quarantine", "0.5")
    assert ok.returncode == 0 and "kept 3" in ok.stdout


DEMO = Path(__file__).parents[1] / "datasets" / "demo"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    """The demo through `support-eval run`, once for the tests that only read it."""
    out = tmp_path_factory.mktemp("demo")
    return out, cli("run", str(DEMO / "config.yaml"), "--out", str(out))


def test_demo_run_reaches_every_planted_tier_and_flags_the_careless_reviewer(demo_run) -> None:
    run, res = demo_run
    assert res.returncode == 0, res.stderr
    truth = json.loads((DEMO / "truth.json").read_text())["categories"]
    decisions = json.loads((run / "decisions.json").read_text())
    assert {c["category"]: c["tier"] for c in decisions["categories"]} == {k: v["tier"] for k, v in truth.items()}
    assert "qa_06" in decisions["reviewers_excluded"]
    assert json.loads((run / "manifest.json").read_text())["tiers"]["fraud_report"] == "human"
    assert "Recommendation per category" in res.stdout


def test_demo_automatic_evidence_cuts_the_ratings_still_needed_by_30_percent(demo_run) -> None:
    """Issue 16: over the categories the ratings alone leave unsettled, the ratings still needed with the
    judge and rubric (prediction-powered) are at most 70% of those needed from the ratings alone, with the
    planted tiers. The planted close call (product_howto, AI 0.16 worse within the 0.25 margin) is settled
    with the automatic evidence where the ratings alone still ask for more."""
    run, res = demo_run
    assert res.returncode == 0, res.stderr
    truth = json.loads((DEMO / "truth.json").read_text())["categories"]
    cats = json.loads((run / "decisions.json").read_text())["categories"]
    assert {c["category"]: c["tier"] for c in cats} == {k: v["tier"] for k, v in truth.items()}
    open_alone = [c for c in cats if isinstance(c.get("ratings_needed_ratings_only"), int)
                  and c["ratings_needed_ratings_only"] > 0]
    assert open_alone
    assert sum(c["ratings_needed"] or 0 for c in open_alone) <= 0.7 * sum(
        c["ratings_needed_ratings_only"] for c in open_alone)
    finite = [c for c in open_alone if c["ratings_needed"] is not None]  # not carried by unreachable ones
    assert finite and sum(c["ratings_needed"] for c in finite) <= 0.7 * sum(
        c["ratings_needed_ratings_only"] for c in finite)
    settled = {c["category"] for c in finite if c["ratings_needed"] == 0}
    assert settled and all(truth[name]["tier"] == "automate" for name in settled)


def test_ratings_import_and_decide_rerun_alone_with_bad_rows_reported(tmp_path: Path) -> None:
    assert cli("run", str(DEMO / "config.yaml"), "--out", str(tmp_path)).returncode == 0
    decisions = (tmp_path / "decisions.json").read_bytes()
    good = (DEMO / "ratings.jsonl").read_text().splitlines()
    first = json.loads(good[0])
    bad = tmp_path / "extra.csv"
    bad.write_text("rating_id,reviewer,score_x,score_y,preference\n"
                   f"{first['rating_id']},qa_99,7,3,x\nnope,qa_99,3,3,y\n")
    res = cli("ratings", "import", str(tmp_path), str(DEMO / "ratings.jsonl"), str(bad))
    assert res.returncode == 0, res.stderr
    assert f"{len(good) + 2} ratings read, {len(good)} kept, 2 rejected" in res.stdout
    assert "extra.csv:2" in res.stdout and "extra.csv:3" in res.stdout
    assert cli("decide", str(tmp_path)).returncode == 0
    assert (tmp_path / "decisions.json").read_bytes() == decisions
