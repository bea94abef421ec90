"""The live period after the demo's decision: valid records, planted counts, drift, edits, determinism."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from eval.records import AssistLog, Record, Review
from eval.synth import FILES
from eval.synth.generate import CHUNK, synth_to_dir, write_synth
from eval.synth.live import (
    ASSIST_LOGS,
    ASSIST_LOGS_PER_WEEK,
    AUDITS_PER_WEEK,
    DRAFT_REVIEWS_PER_WEEK,
    DRIFT,
    LIVE_CRITICAL,
    LIVE_FILES,
    LIVE_REVIEWS,
    LIVE_TRUTH,
    PROMOTION,
    UNCHANGED,
    WEEKS,
    live_start,
    planted_tiers,
    quality_of,
    write_live_period,
)
from eval.synth.truth import BY_NAME, GROUP_TIER, derive_tier, planted

DEMO = Path(__file__).resolve().parents[1] / "datasets" / "demo"
START = datetime(2025, 7, 5, tzinfo=UTC)
TIERS = planted_tiers()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("live")
    counts = write_live_period(out, TIERS, 11, START)
    return {"dir": out, "counts": counts,
            "reviews": [json.loads(line) for line in (out / LIVE_REVIEWS).open(encoding="utf-8")],
            "logs": [json.loads(line) for line in (out / ASSIST_LOGS).open(encoding="utf-8")],
            "truth": json.loads((out / LIVE_TRUTH).read_text(encoding="utf-8"))}


def _week(stamp: str) -> int:
    return (datetime.fromisoformat(stamp.replace("Z", "+00:00")) - START).days // 7 + 1


def _in(tier: str) -> list[str]:
    return [c for c, t in TIERS.items() if t == tier]


def test_tiers_come_from_the_planted_truth() -> None:
    assert {name: GROUP_TIER[spec.group] for name, spec in BY_NAME.items()} == TIERS
    assert DRIFT.category in _in("automate") and PROMOTION.category in _in("assist")


def test_records_validate_and_dump_as_written(live: dict) -> None:
    d = live["dir"]
    models: list[tuple[str, type[Record]]] = [(LIVE_REVIEWS, Review), (ASSIST_LOGS, AssistLog)]
    for name, model in models:
        for lineno, line in enumerate((d / name).open(encoding="utf-8"), start=1):
            rec = model.model_validate_json(line)
            assert rec.model_dump_json(include=set(json.loads(line))) == line.rstrip("\n"), f"{name}:{lineno}"
    assert {r["answer"] for r in live["reviews"]} == {"live"}
    assert all(r["ticket_id"].startswith("L") and 1 <= r["score"] <= 5 for r in live["reviews"])
    assert len({r["review_id"] for r in live["reviews"]}) == len(live["reviews"])
    turns = [(g["ticket_id"], g["turn_index"]) for g in live["logs"]]
    assert len(set(turns)) == len(turns)
    demo_ids = {json.loads(line)["ticket_id"] for line in (DEMO / "tickets.jsonl").open(encoding="utf-8")}
    assert not demo_ids & {t for t, _ in turns} and not demo_ids & {r["ticket_id"] for r in live["reviews"]}


def test_counts_per_week_and_category_as_planted(live: dict) -> None:
    reviews = Counter((r["category"], r["source"], _week(r["reviewed_at"])) for r in live["reviews"])
    logs = Counter((g["category"], _week(g["sent_at"])) for g in live["logs"])
    expected = {(c, "ai", w): AUDITS_PER_WEEK for c in _in("automate") for w in range(1, WEEKS + 1)}
    expected |= {(c, "ai_draft", w): DRAFT_REVIEWS_PER_WEEK for c in _in("assist") for w in range(1, WEEKS + 1)}
    assert dict(reviews) == expected
    assert dict(logs) == {(c, w): ASSIST_LOGS_PER_WEEK for c in _in("assist") for w in range(1, WEEKS + 1)}
    logged = {(g["ticket_id"], g["turn_index"]) for g in live["logs"]}
    drafts = [r for r in live["reviews"] if r["source"] == "ai_draft"]
    assert all((r["ticket_id"], r["turn_index"]) in logged for r in drafts)
    assert all(r["reviewed_at"] >= "2025-07-05" for r in live["reviews"])


def _rates(reviews: list[dict], category: str, weeks: range) -> tuple[float, float, int]:
    rs = [r for r in reviews if r["category"] == category and _week(r["reviewed_at"]) in weeks]
    return sum(r["critical"] for r in rs) / len(rs), sum(r["score"] for r in rs) / len(rs), len(rs)


def test_the_drift_is_visible_in_one_category_only(live: dict) -> None:
    before, after = range(1, DRIFT.start_week), range(DRIFT.start_week, WEEKS + 1)
    harm_before, score_before, _ = _rates(live["reviews"], DRIFT.category, before)
    harm_after, score_after, n = _rates(live["reviews"], DRIFT.category, after)
    assert n == AUDITS_PER_WEEK * len(after)
    assert 0.06 < harm_after < 0.14 and harm_before < 0.02
    assert 0.7 < score_before - score_after < 1.1
    assert 4.0 < score_before < 4.35
    for c in set(_in("automate")) - {DRIFT.category}:
        harm_early, score_early, _ = _rates(live["reviews"], c, before)
        harm_late, score_late, _ = _rates(live["reviews"], c, after)
        assert harm_early < 0.02 and harm_late < 0.02, c
        assert abs(score_early - score_late) < 0.15, c


def test_unchanged_share_as_planted(live: dict) -> None:
    per: dict[str, list[bool]] = defaultdict(list)
    for g in live["logs"]:
        per[g["category"]].append(g["sent"] == g["draft"])
    for c, same in per.items():
        shares = UNCHANGED["candidate" if c == PROMOTION.category else "other"]
        expected = shares[0] * (1 - quality_of(c, "assist", 1).mix[-1])
        assert abs(sum(same) / len(same) - expected) < 0.03, c
    assert sum(per[PROMOTION.category]) / len(per[PROMOTION.category]) > 0.8
    assert all(g["handle_time_s"] > 0 for g in live["logs"])


def test_the_promotion_candidate_is_one_the_tier_rule_would_automate(live: dict) -> None:
    """Its planted draft quality passes the automate rule against the human baseline; the others do not."""
    for c in _in("assist"):
        ai = quality_of(c, "assist", 1).stats()
        human: dict = planted(BY_NAME[c])["human"]  # type: ignore[assignment]
        tier = derive_tier(ai["mean_quality"] - human["mean_quality"], ai["critical_rate"],
                           ai["acceptable_rate"], ai["acceptable_rate"] - human["acceptable_rate"])
        assert tier == ("automate" if c == PROMOTION.category else "assist"), c
    truth = live["truth"]
    assert truth["promotion_candidate"]["category"] == PROMOTION.category
    assert truth["drift"]["category"] == DRIFT.category and truth["drift"]["start_week"] == DRIFT.start_week
    assert truth["drift"]["critical_rate_before"] == LIVE_CRITICAL
    assert truth["drift"]["start_date"] == "2025-09-20T00:00:00Z"
    assert set(truth["categories"]) == set(_in("automate")) | set(_in("assist"))


def test_same_seed_same_bytes_and_only_the_live_files(tmp_path: Path) -> None:
    write_live_period(tmp_path / "a", TIERS, 5, START, weeks=3)
    write_live_period(tmp_path / "b", TIERS, 5, START, weeks=3)
    write_live_period(tmp_path / "c", TIERS, 6, START, weeks=3)
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(LIVE_FILES)
    for name in LIVE_FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
        assert (tmp_path / "a" / name).read_bytes() != (tmp_path / "c" / name).read_bytes(), name


def test_synth_writes_the_live_period_and_leaves_the_other_files_alone(tmp_path: Path) -> None:
    summary = synth_to_dir(tmp_path / "with", 300, 4, workers=1)
    write_synth(tmp_path / "without", 300, 4, None, 1, CHUNK)
    assert sorted(p.name for p in (tmp_path / "with").iterdir()) == sorted(FILES + LIVE_FILES)
    for name in FILES:
        assert (tmp_path / "with" / name).read_bytes() == (tmp_path / "without" / name).read_bytes(), name
    last = max(json.loads(line)["created_at"] for line in (tmp_path / "without" / "tickets.jsonl").open())
    assert summary.last_created_at == last and summary.files[LIVE_REVIEWS] > 0
    start = json.loads((tmp_path / "with" / LIVE_TRUTH).read_text())["start"]
    assert start == live_start(last).strftime("%Y-%m-%dT%H:%M:%SZ") and start > last


def test_the_demo_live_files_regenerate_from_the_demo_tickets(tmp_path: Path) -> None:
    with (DEMO / "tickets.jsonl").open(encoding="utf-8") as fh:
        last = max(json.loads(line)["created_at"] for line in fh)
    write_live_period(tmp_path, TIERS, 7, live_start(last))
    for name in LIVE_FILES:
        assert (tmp_path / name).read_bytes() == (DEMO / name).read_bytes(), name
