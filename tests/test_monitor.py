"""monitor: demotion on live audits, promotion on reviewed drafts, resume, bad input and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from eval.cli import app
from eval.config import ReviewFile
from eval.errors import MissingInput
from eval.monitor import monitor_to_file
from eval.policy import Policy
from eval.records import CategoryDecision, Decisions

POLICY = Policy()
START = np.datetime64("2026-01-05T00:00:00")


def _decision(category: str, tier: str) -> CategoryDecision:
    estimates = {"mean_human": {"estimate": 4.0}, "acceptable_human": {"estimate": 0.9}}
    return CategoryDecision(category=category, tier=tier, tickets=500, volume_share=0.25, rated_items=300,  # type: ignore[arg-type]
                            estimates=estimates, reasons=[], ratings_needed=0, audit_sample_per_week=40)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    run.mkdir()
    decisions = Decisions(policy={}, method="", reviewers_excluded=[], reviewers_note="", categories=[
        _decision("orders", "automate"), _decision("passwords", "automate"), _decision("payments", "assist"),
        _decision("fraud", "human")])
    (run / "decisions.json").write_text(decisions.model_dump_json())
    (tmp_path / "config.yaml").write_text("name: t\ndata: {paths: [x.jsonl]}\n")
    (run / "manifest.json").write_text(json.dumps({"config_path": str(tmp_path / "config.yaml")}))
    return run


def _audits(rng: np.random.Generator, category: str, weeks: int, drift_week: int | None, source: str = "ai",
            per_week: int = 40, score: float = 4.3) -> list[dict]:
    rows = []
    for i in range(weeks * per_week):
        week = i // per_week
        bad = drift_week is not None and week >= drift_week
        when = START + np.timedelta64(week * 7 * 86400 + int(rng.integers(0, 7 * 86400)), "s")
        value = float(np.clip(np.rint(rng.normal(3.4 if bad else score, 0.8)), 1, 5))
        rows.append({"review_id": f"{category}-{i}", "answer": "live", "source": source, "ticket_id": f"L{category}{i}",
                     "turn_index": 1, "category": category, "reviewer": "qa_01", "score": value,
                     "acceptable": value >= 3, "critical": bool(rng.random() < (0.10 if bad else 0.003)),
                     "reviewed_at": f"{when}Z"})
    return rows


def _write(path: Path, rows: list[dict]) -> ReviewFile:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return ReviewFile(path=str(path), scale=(1.0, 5.0))


def _logs(path: Path, category: str, n: int, unchanged: float, rng: np.random.Generator) -> Path:
    draft = "We retried the payment and it went through; no action is needed on your side."
    path.write_text("".join(json.dumps({
        "ticket_id": f"L{category}{i}", "turn_index": 1, "category": category, "draft": draft,
        "sent": draft if rng.random() < unchanged else draft + " Sorry for the trouble!", "agent": "a1",
        "sent_at": "2026-02-01T10:00:00Z"}) + "\n" for i in range(n)))
    return path


def test_a_drift_demotes_one_tier_and_stable_categories_stay(run_dir: Path, tmp_path: Path):
    rng = np.random.default_rng(1)
    rows = _audits(rng, "orders", 20, drift_week=8) + _audits(rng, "passwords", 20, None)
    result, live, _ = monitor_to_file(run_dir, [_write(tmp_path / "live.jsonl", rows)], [], POLICY)
    by = {c.category: c for c in result.categories}
    assert by["orders"].tier == "assist" and by["orders"].reason.startswith("demoted: ")
    assert by["orders"].changed_at is not None and by["orders"].changed_at >= f"{START + np.timedelta64(56, 'D')}"
    assert by["passwords"].tier == "automate" and by["passwords"].changed_at is None
    assert by["fraud"].tier == "human" and live.new == len(rows)
    assert json.loads((run_dir / "monitor.json").read_text())["categories"][0]["category"] == "orders"


def test_monitor_twice_on_split_files_equals_once_on_all(run_dir: Path, tmp_path: Path):
    rng = np.random.default_rng(2)
    rows = _audits(rng, "orders", 16, drift_week=6) + _audits(rng, "payments", 16, None, source="ai_draft", per_week=10)
    once = tmp_path / "once"
    once.mkdir()
    (once / "decisions.json").write_text((run_dir / "decisions.json").read_text())
    monitor_to_file(once, [_write(tmp_path / "all.jsonl", rows)], [], POLICY)
    half = len(rows) // 3
    monitor_to_file(run_dir, [_write(tmp_path / "a.jsonl", rows[:half])], [], POLICY)
    _, live, _ = monitor_to_file(run_dir, [_write(tmp_path / "b.jsonl", rows[half:]), ReviewFile(
        path=str(tmp_path / "a.jsonl"), scale=(1.0, 5.0))], [], POLICY)
    assert live.already == half and live.new == len(rows) - half
    assert (run_dir / "monitor.json").read_text() == (once / "monitor.json").read_text()


def test_promotion_needs_reviewed_drafts_and_drafts_sent_unchanged(run_dir: Path, tmp_path: Path):
    rng = np.random.default_rng(3)
    drafts = _write(tmp_path / "drafts.jsonl", _audits(rng, "payments", 20, None, source="ai_draft", score=4.4))
    sent = _logs(tmp_path / "logs.jsonl", "payments", 200, 0.9, rng)
    rewritten = _logs(tmp_path / "rewritten.jsonl", "payments", 200, 0.3, rng)

    def tier(reviews: list[ReviewFile], logs: list[Path]) -> str:
        for name in ("monitor.json", "live_reviews.jsonl", "assist_logs.jsonl"):
            (run_dir / name).unlink(missing_ok=True)
        result = monitor_to_file(run_dir, reviews, logs, POLICY)[0]
        return next(c for c in result.categories if c.category == "payments").tier

    assert tier([drafts], [sent]) == "automate"
    assert tier([drafts], []) == "assist"          # reviews without the agents' use of the drafts
    assert tier([], [sent]) == "assist"            # assist logs alone never promote
    assert tier([drafts], [rewritten]) == "assist"  # agents rewrite most drafts


def test_bad_rows_are_rejected_with_line_and_reason(run_dir: Path, tmp_path: Path):
    good = _audits(np.random.default_rng(4), "orders", 1, None, per_week=2)
    historical = {**good[0], "review_id": "h1", "answer": "historical", "item_id": "T1#1"}
    untimed = {k: v for k, v in {**good[0], "review_id": "u1"}.items() if k != "reviewed_at"}
    high = {**good[0], "review_id": "s1", "score": 7}
    path = tmp_path / "live.jsonl"
    path.write_text("\n".join([json.dumps(good[0]), json.dumps(historical), "{not json", json.dumps(untimed),
                               json.dumps(high), json.dumps({**good[0], "score": 1})]) + "\n")
    logs = tmp_path / "logs.jsonl"
    logs.write_text(json.dumps({"ticket_id": "L1", "turn_index": 1, "category": "payments", "draft": "d"}) + "\n")
    _, live, assisted = monitor_to_file(run_dir, [ReviewFile(path=str(path), scale=(1.0, 5.0))], [logs], POLICY)
    got = {(q.line, q.field, q.reason) for q in live.rejected}
    assert got == {(2, "answer", "not_live"), (3, "(record)", "invalid_json"), (4, "reviewed_at", "missing_field"),
                   (5, "score", "score_out_of_range"), (6, "id", "conflicting_duplicate")}
    assert [(q.line, q.field, q.reason) for q in assisted.rejected] == [(1, "sent", "missing_field")]
    assert live.new == 1 and (run_dir / "live_reviews.rejected.jsonl").read_text().count("\n") == 5


def test_exit_codes(run_dir: Path, tmp_path: Path):
    rng = np.random.default_rng(5)
    runner = CliRunner()
    calm = _write(tmp_path / "calm.jsonl", _audits(rng, "orders", 6, None))
    assert runner.invoke(app, ["monitor", str(run_dir), calm.path]).exit_code == 0
    drift = _write(tmp_path / "drift.jsonl", _audits(rng, "passwords", 20, drift_week=4))
    result = runner.invoke(app, ["monitor", str(run_dir), drift.path])
    assert result.exit_code == 1 and "demoted" in result.output
    assert runner.invoke(app, ["monitor", str(run_dir)]).exit_code == 2
    with pytest.raises(MissingInput, match="decisions.json"):
        monitor_to_file(tmp_path, [calm], [], POLICY)


def test_edit_shares_and_time_saved():
    from eval.monitor.assist import edit_summary
    from eval.records import AssistLog

    draft = "Your refund of 20 EUR was sent today and should arrive within five working days."
    sent = [draft, draft, " " + draft + " ", draft.replace("five", "5"), "Please call us about your refund."]
    logs = [AssistLog(ticket_id=f"T{i}", turn_index=1, category="refunds", draft=draft, sent=text,
                      handle_time_s=100.0 + 10 * i) for i, text in enumerate(sent)]
    summary = edit_summary(logs, historical_handle_time=300.0)
    assert summary["unchanged_share"] == 0.6 and summary["light_edit_share"] == 0.2
    assert summary["time_saved_s"] == 300.0 - 120.0 and edit_summary(logs)["time_saved_s"] is None
