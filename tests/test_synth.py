"""Synthetic data: determinism, valid records, the planted truth, the panel, and the shipped demo."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from eval.blinding import learn_agent_names, source_auc, strip_tells
from eval.records import BlindKey, PrecomputedAnswer, Rating, Ticket
from eval.redact import find_pii, luhn_valid
from eval.synth import FILES, synth_to_dir
from eval.judges.precomputed import JudgeVerdict
from eval.synth.conversations import AnswerTruth
from eval.synth.generate import write_synth
from eval.synth.judge import judge_lines, judge_quality
from eval.synth.panel import PANEL
from eval.synth.phrases import luhn_complete
from eval.synth.truth import (
    CATEGORIES,
    GROUP_TIER,
    HUMAN_MIX,
    HUMAN_STYLES,
    STYLE_QUALITY,
    derive_tier,
    planted,
)

DEMO = Path(__file__).resolve().parents[1] / "datasets" / "demo"
N = 2500


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("synth")
    done: list[int] = []
    summary = write_synth(out, N, 3, done.append, 1, 700)
    return {
        "dir": out, "summary": summary, "advanced": done,
        "tickets": [json.loads(line) for line in (out / "tickets.jsonl").open()],
        "ai": [json.loads(line) for line in (out / "ai_answers.jsonl").open()],
        "key": [json.loads(line) for line in (out / "key.jsonl").open()],
        "ratings": [json.loads(line) for line in (out / "ratings.jsonl").open()],
        "truth": json.loads((out / "truth.json").read_text()),
    }


def _bytes(d: Path) -> dict[str, bytes]:
    return {name: (d / name).read_bytes() for name in FILES}


def test_same_seed_same_bytes_whatever_the_workers(tmp_path: Path) -> None:
    write_synth(tmp_path / "a", 900, 5, None, 1, 200)
    write_synth(tmp_path / "b", 900, 5, None, 2, 200)
    assert _bytes(tmp_path / "a") == _bytes(tmp_path / "b")
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == sorted(FILES)


def test_different_seeds_differ(tmp_path: Path) -> None:
    write_synth(tmp_path / "a", 300, 1, None, 1, 100)
    write_synth(tmp_path / "b", 300, 2, None, 1, 100)
    a, b = _bytes(tmp_path / "a"), _bytes(tmp_path / "b")
    assert all(a[name] != b[name] for name in FILES)


def test_rejects_no_tickets(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="tickets must be >= 1"):
        synth_to_dir(tmp_path, 0, 1)


def test_every_record_validates_and_dumps_as_our_writers_would(data: dict) -> None:
    """Same bytes as ``model_dump_json`` (restricted to the fields we write: records may grow)."""
    d = data["dir"]
    for name, model in [("tickets.jsonl", Ticket), ("ai_answers.jsonl", PrecomputedAnswer),
                        ("key.jsonl", BlindKey), ("ratings.jsonl", Rating)]:
        for lineno, line in enumerate((d / name).open(encoding="utf-8"), start=1):
            rec = model.model_validate_json(line)
            written = set(json.loads(line))
            assert rec.model_dump_json(include=written) == line.rstrip("\n"), f"{name}:{lineno}"


def test_summary_and_progress_add_up(data: dict) -> None:
    s = data["summary"]
    assert sum(data["advanced"]) == N == s.tickets == len(data["tickets"])
    assert s.files["ai_answers.jsonl"] == len(data["ai"]) == s.agent_turns
    assert s.files["key.jsonl"] == len(data["key"]) == s.rated_items
    assert s.files["ratings.jsonl"] == len(data["ratings"]) == s.ratings
    assert sum(s.categories.values()) == N
    ids = [t["ticket_id"] for t in data["tickets"]]
    assert ids == [f"T{i:07d}" for i in range(1, N + 1)]


def test_one_ai_answer_per_agent_turn(data: dict) -> None:
    agent_turns = {(t["ticket_id"], i) for t in data["tickets"] for i, turn in enumerate(t["turns"])
                   if turn["role"] == "agent"}
    answered = [(a["ticket_id"], a["turn_index"]) for a in data["ai"]]
    assert len(answered) == len(set(answered)) and set(answered) == agent_turns
    assert {a["model"] for a in data["ai"]} == {"shadow-bot-v3"}
    assert all(a["latency_ms"] > 0 for a in data["ai"])
    truth_ids = {row[0] for row in data["truth"]["answers"]}
    assert truth_ids == {f"{t}#{i}" for t, i in agent_turns}


def test_conversation_shape_and_metadata(data: dict) -> None:
    exchanges = Counter()
    for t in data["tickets"]:
        agents = [turn for turn in t["turns"] if turn["role"] == "agent"]
        exchanges[len(agents)] += 1
        assert all(turn["author"].startswith("agent_") for turn in agents)
        assert {"handle_time_s", "csat"} <= set(t["metadata"])
        assert ("order_id" in t["metadata"]) == next(c.order for c in CATEGORIES if c.name == t["category"])
    assert set(exchanges) == {1, 2, 3, 4, 5}
    created = sorted(t["created_at"] for t in data["tickets"])
    assert created[0][:7] == "2025-01" and created[-1][:7] == "2025-07"
    assert len({t["channel"] for t in data["tickets"]}) == 4
    csat = [t["metadata"]["csat"] for t in data["tickets"]]
    assert None in csat and set(csat) - {None} <= {1, 2, 3, 4, 5}
    signed = sum(bool(re.search(r"\n(— |Best, |Kind regards,|Thanks, )", turn["text"]))
                 for t in data["tickets"] for turn in t["turns"] if turn["role"] == "agent")
    assert signed > 0.5 * len(data["ai"])


def test_customer_turns_carry_pii(data: dict) -> None:
    kinds = Counter()
    for t in data["tickets"]:
        for turn in t["turns"]:
            if turn["role"] == "customer":
                kinds.update(span.kind for span in find_pii(turn["text"]))
    assert kinds["email"] > 100 and kinds["phone"] > 100 and kinds["card"] > 50


def test_luhn_against_known_numbers() -> None:
    assert luhn_complete("411111111111111") == "4111111111111111"
    assert luhn_complete("453957876362148") == "4539578763621486"
    assert luhn_complete("37828224631000") == "378282246310005"
    rng = np.random.default_rng(0)
    for body in rng.integers(10 ** 14, 10 ** 15, 50):
        assert luhn_valid(luhn_complete(str(body)))


def test_category_mix_follows_planted_shares(data: dict) -> None:
    counts = Counter(t["category"] for t in data["tickets"])
    names = [c.name for c in CATEGORIES]
    assert len(names) >= 12 and set(counts) == set(names)
    observed = [counts[n] for n in names]
    expected = [c.share * N for c in CATEGORIES]
    assert abs(sum(c.share for c in CATEGORIES) - 1) < 1e-9
    assert stats.chisquare(observed, expected).pvalue > 1e-3
    assert max(observed) > 5 * min(observed)


def test_four_planted_groups_with_their_tiers(data: dict) -> None:
    cats = data["truth"]["categories"]
    assert {c.group for c in CATEGORIES} == {"on_par", "close", "worse", "critical"}
    for c in CATEGORIES:
        p, real = cats[c.name], cats[c.name]["realized"]
        assert p["tier"] == GROUP_TIER[c.group]
        if c.group in ("on_par", "close"):
            assert p["ai_critical_rate"] == 0 == real["ai_critical_rate"]
        if c.group == "on_par":
            assert real["ai_minus_human_quality"] > 0.2
        elif c.group == "close":  # a little worse, within the margin, acceptable at least as often as people
            assert -0.25 < p["ai_minus_human_quality"] < -0.1 and p["ai_minus_human_acceptable"] > 0
            assert -0.3 < real["ai_minus_human_quality"] < 0
        else:
            assert real["ai_minus_human_quality"] < -0.2
        if c.group == "critical":
            assert real["ai_critical_rate"] > 0.12
        assert "tier_rule" in data["truth"] and p["ai_minus_human_quality"] == pytest.approx(
            p["ai"]["mean_quality"] - p["human"]["mean_quality"], abs=1e-3)


def test_planted_human_mean_is_the_closed_form_and_the_data_match_it(data: dict) -> None:
    closed = sum(w * STYLE_QUALITY[s][0] for w, s in zip(HUMAN_MIX, HUMAN_STYLES))
    p = planted(CATEGORIES[0])
    assert p["human"]["mean_quality"] == pytest.approx(closed, abs=1e-3)
    rows = data["truth"]["answers"]
    human = np.array([r[1] for r in rows])
    assert human.mean() == pytest.approx(closed, abs=0.06)
    assert np.mean([r[2] for r in rows]) == pytest.approx(HUMAN_MIX[-1], abs=0.015)


@pytest.mark.parametrize("d, crit, acc, acc_diff, tier", [
    (0.0, 0.0, 0.9, 0.0, "automate"),
    (-0.25, 0.0, 0.9, 0.0, "assist"),
    (0.3, 0.02, 0.9, 0.0, "assist"),
    (0.3, 0.0, 0.9, -0.05, "assist"),
    (-1.0, 0.09, 0.51, -0.3, "assist"),
    (-1.0, 0.10, 0.9, -0.3, "human"),
    (-1.0, 0.0, 0.5, -0.3, "human"),
])
def test_tier_rule_boundaries(d: float, crit: float, acc: float, acc_diff: float, tier: str) -> None:
    assert derive_tier(d, crit, acc, acc_diff) == tier


def test_every_rated_item_has_two_reviewers_calibration_four_and_gold(data: dict) -> None:
    per = defaultdict(list)
    for r in data["ratings"]:
        per[r["rating_id"]].append(r["reviewer"])
    key = {k["rating_id"]: k for k in data["key"]}
    assert set(per) == set(key)
    assert all(len(v) == len(set(v)) >= 2 for v in per.values())
    sizes = Counter(len(v) for v in per.values())
    assert set(sizes) == {2, 4} and 0.08 < sizes[4] / len(per) < 0.25
    gold = [k for k in data["key"] if k["gold"]]
    assert 0.03 < len(gold) / len(key) < 0.08
    assert all(len(per[k["rating_id"]]) == 4 for k in gold)
    assert {g["rating_id"] for g in data["truth"]["gold"]} == {k["rating_id"] for k in gold}
    assert len({r.reviewer for r in PANEL}) >= 6 and sum(r.careless for r in PANEL) == 1


def test_rated_sample_per_category(data: dict) -> None:
    tickets = {t["ticket_id"]: t["category"] for t in data["tickets"]}
    rated = Counter(tickets[k["item_id"].split("#")[0]] for k in data["key"])
    cats = data["truth"]["categories"]
    for c in CATEGORIES:
        real = cats[c.name]["realized"]
        assert rated[c.name] == min(cats[c.name]["rated_target"], real["agent_turns"]) == real["rated_items"]
    assert min(rated.values()) >= 60


def test_x_y_order_is_balanced(data: dict) -> None:
    ai_first = sum(k["x"] == "ai" for k in data["key"])
    assert stats.binomtest(ai_first, len(data["key"])).pvalue > 1e-3
    assert all({k["x"], k["y"]} == {"ai", "human"} for k in data["key"])


def _unblinded(data: dict) -> list[tuple[str, float, int, bool | None, bool]]:
    """(reviewer, latent quality, score, critical flag, truly critical) per rated answer."""
    truth = {row[0]: row for row in data["truth"]["answers"]}
    key = {k["rating_id"]: k for k in data["key"]}
    out = []
    for r in data["ratings"]:
        k = key[r["rating_id"]]
        row = truth[k["item_id"]]
        for side in ("x", "y"):
            q, crit = (row[4], row[5]) if k[side] == "ai" else (row[1], row[2])
            out.append((r["reviewer"], q, r[f"score_{side}"], r[f"critical_{side}"], crit))
    return out


def test_ratings_follow_latent_quality_and_reviewer_bias(data: dict) -> None:
    by = defaultdict(list)
    for reviewer, q, score, _, _ in _unblinded(data):
        by[reviewer].append((q, score))
    for r in PANEL:
        q, s = np.array(by[r.reviewer]).T
        rho = stats.spearmanr(q, s).statistic
        if r.careless:
            assert abs(rho) < 0.2
        else:
            assert rho > 0.75
            assert np.mean(s - q) == pytest.approx(r.bias, abs=0.2)
    residual = {r: np.mean([s - q for q, s in by[r]]) for r in ("qa_02", "qa_03")}
    assert residual["qa_02"] > residual["qa_03"] + 0.2


def test_reliable_reviewers_flag_true_criticals_and_rarely_anything_else(data: dict) -> None:
    careless = {r.reviewer for r in PANEL if r.careless}
    rows = [r for r in _unblinded(data) if r[0] not in careless and r[3] is not None]
    hits = [flag for _, _, _, flag, crit in rows if crit]
    false = [flag for _, _, _, flag, crit in rows if not crit]
    assert np.mean(hits) > 0.85 and np.mean(false) < 0.002


def test_some_optional_fields_arrive_empty(data: dict) -> None:
    for field in ("preference", "acceptable_x", "comment", "seconds"):
        empty = sum(r[field] is None for r in data["ratings"]) / len(data["ratings"])
        assert 0.01 < empty < 0.4, field
    seconds = [r["seconds"] for r in data["ratings"] if r["seconds"] is not None]
    assert 20 < np.median(seconds) < 200


def test_ai_answers_have_their_own_tells(data: dict) -> None:
    tell = re.compile(r"assistant|i hope this helps", re.IGNORECASE)
    ai = np.mean([bool(tell.search(a["text"])) for a in data["ai"]])
    human = np.mean([bool(tell.search(turn["text"])) for t in data["tickets"] for turn in t["turns"]
                     if turn["role"] == "agent"])
    assert ai > 0.5 and human < 0.01
    ai_words = np.mean([len(a["text"].split()) for a in data["ai"]])
    human_words = np.mean([len(turn["text"].split()) for t in data["tickets"] for turn in t["turns"]
                           if turn["role"] == "agent"])
    assert ai_words > 1.3 * human_words


def test_stripping_the_tells_leaves_ai_and_human_hard_to_tell_apart(data: dict) -> None:
    """Shared content banks: once the blinding strips the tells, only mild style separates the sources."""
    ai = {(a["ticket_id"], a["turn_index"]): a["text"] for a in data["ai"]}
    pairs = [(turn["text"], ai[(t["ticket_id"], i)]) for t in data["tickets"]
             for i, turn in enumerate(t["turns"]) if turn["role"] == "agent"]
    pairs = [pairs[i] for i in np.random.default_rng(0).choice(len(pairs), 1000, replace=False)]
    names = learn_agent_names(h for h, _ in pairs)
    stripped = [(strip_tells(h, names), strip_tells(a, names)) for h, a in pairs]
    assert source_auc(pairs, folds=5, seed=0) > 0.95
    assert 0.55 < source_auc(stripped, folds=5, seed=0) < 0.78


def _judged(data: dict) -> dict[str, dict[str, np.ndarray]]:
    """Per planted judge quality: the judge's AI win and score difference beside the true quality difference."""
    category = {t["ticket_id"]: t["category"] for t in data["tickets"]}
    truth = {row[0]: row for row in data["truth"]["answers"]}
    out: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for line in (data["dir"] / "judge.jsonl").open(encoding="utf-8"):
        v = JudgeVerdict.model_validate_json(line)
        row = truth[v.item_id]
        quality = data["truth"]["categories"][category[v.item_id.split("#")[0]]]["judge"]["quality"]
        assert v.score_ai is not None and v.score_human is not None
        for name, value in [("win", {"ai": 1.0, "tie": 0.5, "human": 0.0}[v.preference]), ("true", row[4] - row[1]),
                            ("scored", v.score_ai - v.score_human)]:
            out[quality][name].append(value)
    return {q: {k: np.array(v) for k, v in d.items()} for q, d in out.items()}


def test_judge_verdicts_cover_every_turn_and_track_the_truth_as_planted(data: dict) -> None:
    ids = [json.loads(line)["item_id"] for line in (data["dir"] / "judge.jsonl").open()]
    assert ids == [row[0] for row in data["truth"]["answers"]] and data["summary"].files["judge.jsonl"] == len(ids)
    planted = {c: v["judge"]["quality"] for c, v in data["truth"]["categories"].items()}
    assert set(planted.values()) == {"good", "lenient", "noise"} and planted["subscription_cancellation"] == "lenient"
    judged = _judged(data)
    corr = {q: float(np.corrcoef(d["win"], d["true"])[0, 1]) for q, d in judged.items()}
    assert corr["good"] > 0.65 and abs(corr["noise"]) < 0.25 and corr["lenient"] > 0.65
    bias = {q: float((d["scored"] - d["true"]).mean()) for q, d in judged.items()}
    assert abs(bias["good"]) < 0.1 and bias["lenient"] > 0.4  # the lenient judge flatters the AI
    lenient = judged["lenient"]
    assert lenient["true"].mean() < 0 and lenient["win"].mean() > 0.5  # AI worse, yet the judge prefers it


def test_judge_models_flag_critical_ai_answers_as_planted() -> None:
    """Sensitivity and false alarms of each planted judge, on answers made to order."""
    rng = np.random.default_rng(0)
    categories = {"good": "order_status", "lenient": "subscription_cancellation", "noise": "bereavement"}
    flagged = {}
    for quality, category in categories.items():
        assert judge_quality(category) == quality
        answers = [AnswerTruth(f"T{n}#1", category, "fine", 3.8, "critical" if n % 2 else "good", 1.4 if n % 2 else 4.5)
                   for n in range(4000)]
        flags = [json.loads(line)["critical_ai"] for line in judge_lines(rng, answers).splitlines()]
        flagged[quality] = (np.mean(flags[1::2]), np.mean(flags[0::2]))  # truly critical, not critical
    assert flagged["good"][0] > 0.85 and flagged["good"][1] < 0.04
    assert 0.4 < flagged["lenient"][0] < 0.6 and flagged["lenient"][1] < 0.03  # misses half the critical failures
    assert abs(flagged["noise"][0] - flagged["noise"][1]) < 0.04  # flags that ignore the answer


def test_demo_regenerates_byte_for_byte(tmp_path: Path) -> None:
    summary = synth_to_dir(tmp_path, 3000, 7, workers=1)
    assert summary.tickets == 3000
    for name in FILES:
        assert (tmp_path / name).read_bytes() == (DEMO / name).read_bytes(), name
    assert sum((DEMO / name).stat().st_size for name in FILES) < 10_000_000
