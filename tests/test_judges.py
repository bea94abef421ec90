"""Judges: strict verdicts, the llm_judge criterion, the pairwise judge and calibration."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fake_openai import FakeState, serve

from eval.config import JudgeConfig
from eval.judges.calibration import calibrate, judge_usable, majority, reviewer_label
from eval.judges.pairwise import PairwiseVerdict, combine, judge_pairs, pairwise_to_file
from eval.judges.rubric import rubric_judge
from eval.judges.runner import JudgeRunner
from eval.judges.verdict import MalformedVerdict, parse_pair, parse_score
from eval.records import AIAnswer, HumanAnswer, Item, Turn, UnblindedRating
from eval.rubrics import score_to_file
from eval.rubrics.spec import LlmJudge, RubricError, parse_rubric

RUBRIC = """
id: care
version: 2
categories: ["*"]
criteria:
  - id: empathy
    kind: llm_judge
    criterion: "Empathy: the answer acknowledges the customer's situation."
    steps: ["Find the customer's worry.", "Check the answer addresses it."]
  - id: short
    kind: length
    max_words: 60
"""


def item(n: int, ai: str | None = "We are sorry, your refund is on its way.", category: str = "refund") -> Item:
    return Item(
        item_id=f"T{n}#1", ticket_id=f"T{n}", turn_index=1, category=category,
        context=[Turn(role="customer", text="Where is my refund? Mail me at ann.lee@example.com")],
        human=HumanAnswer(text="It is processing.\nKind regards,\nSamir", author="agent_1"),
        ai=AIAnswer(text=ai, responder="openai", error=None if ai else "HTTP 500 after 3 attempts"),
    )


def write_items(path: Path, items: list[Item]) -> Path:
    path.write_text("".join(i.to_json() + "\n" for i in items))
    return path


def judge_cfg(url: str, tmp_path: Path, **kw) -> JudgeConfig:
    return JudgeConfig(**{"base_url": url, "model": "judge-1", "timeout_s": 2, "max_retries": 1,
                          "backoff_base_s": 0.01, "backoff_max_s": 0.02,
                          "cache_path": str(tmp_path / "judge.sqlite"), **kw})


def last_user(body: dict) -> str:
    return body["messages"][-1]["content"]


# --- strict verdicts -------------------------------------------------------------------------

def test_a_well_formed_verdict_parses() -> None:
    assert parse_score('{"score": 4, "reason": "Kind and clear."}').score == 4
    assert parse_pair(' {"winner": "tie", "reason": "Both fine."}\n').winner == "tie"


@pytest.mark.parametrize("text", [
    "Score: 4. Kind and clear.", '```json\n{"score": 4, "reason": "ok"}\n```', '{"score": 4.5, "reason": "ok"}',
    '{"score": "4", "reason": "ok"}', '{"score": true, "reason": "ok"}', '{"score": 6, "reason": "ok"}',
    '{"score": 4}', '{"score": 4, "reason": "  "}', '{"score": 4, "reason": "ok", "confidence": 0.9}',
    '[4, "ok"]',
])
def test_a_malformed_score_verdict_is_an_error_not_a_score(text: str) -> None:
    with pytest.raises(MalformedVerdict):
        parse_score(text)


@pytest.mark.parametrize("text", ['{"winner": "a", "reason": "x"}', '{"winner": "AI", "reason": "x"}', "A"])
def test_a_malformed_pair_verdict_is_an_error(text: str) -> None:
    with pytest.raises(MalformedVerdict):
        parse_pair(text)


# --- llm_judge criterion ---------------------------------------------------------------------

def test_llm_judge_criterion_parses_with_its_own_scale() -> None:
    import yaml

    rubric = parse_rubric(yaml.safe_load(RUBRIC), "care.yaml")
    crit = rubric.criteria[0]
    assert isinstance(crit, LlmJudge) and rubric.judged == (crit,)
    assert (crit.value_min, crit.value_max, crit.pass_value) == (1.0, 5.0, 4.0)
    bad = yaml.safe_load(RUBRIC.replace("    steps:", "    stpes:"))
    with pytest.raises(RubricError, match=r"criteria\[0\].stpes: unknown key"):
        parse_rubric(bad, "care.yaml")


def _empathy_reply(body: dict) -> str:
    text = last_user(body)
    answer = text.split("Answer to rate (the agent's next message):\n")[1]
    if "broken" in answer:
        return "The answer is empathetic: 5"
    return json.dumps({"score": 5 if "sorry" in answer else 2, "reason": "judged on apology"})


def test_llm_judge_scores_come_from_the_judge_and_a_malformed_one_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "rubrics").mkdir()
    (tmp_path / "rubrics" / "care.yaml").write_text(RUBRIC)
    items = write_items(tmp_path / "items.jsonl", [item(1), item(2, ai="It is broken, we know."), item(3, ai=None)])
    state = FakeState(reply=_empathy_reply)
    with serve(state) as url:
        runner = JudgeRunner.from_config(judge_cfg(url, tmp_path), rng=np.random.default_rng(0))
        summary = score_to_file(items, tmp_path / "scores.jsonl", tmp_path / "rubrics", judge=rubric_judge(runner))
        runner.close()
    scores = {(s["item_id"], s["side"]): s for s in map(json.loads, (tmp_path / "scores.jsonl").read_text().splitlines())}
    good = scores[("T1#1", "ai")]
    assert good["criteria"]["empathy"] == {"value": 5.0, "passed": True, "critical": False, "reason": "judged on apology"}
    assert good["score"] == pytest.approx(1.0)
    human = scores[("T1#1", "human")]
    assert human["criteria"]["empathy"]["value"] == 2.0 and human["criteria"]["empathy"]["passed"] is False
    assert human["score"] == pytest.approx((0.25 + 1.0) / 2)
    bad = scores[("T2#1", "ai")]
    assert bad["score"] is None and bad["error"].startswith("llm_judge empathy: malformed verdict")
    assert "error" in bad["criteria"]["empathy"]
    assert scores[("T3#1", "ai")]["score"] is None
    assert summary.total.judge_errors == 1 and summary.total.ai_errors == 1
    assert len(state.bodies) == 5  # 3 human + 2 AI answers; the failed AI answer is not judged
    bodies = "".join(state.bodies)
    assert "ann.lee@example.com" not in bodies and "[EMAIL]" in bodies
    assert all(json.loads(b)["response_format"] == {"type": "json_object"} for b in state.bodies)


def test_a_rubric_with_llm_judge_and_no_judge_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "care.yaml").write_text(RUBRIC)
    items = write_items(tmp_path / "items.jsonl", [item(1)])
    with pytest.raises(RubricError, match="care@2 have llm_judge criteria but the run config has no judge"):
        score_to_file(items, tmp_path / "scores.jsonl", tmp_path / "care.yaml")


# --- pairwise ----------------------------------------------------------------------------------

def test_a_verdict_that_flips_with_the_order_is_a_tie() -> None:
    assert combine("ai", "ai") == "ai" and combine("human", "human") == "human"
    assert combine("ai", "human") == "tie" and combine("ai", "tie") == "tie"


def _prefers_apology(body: dict) -> str:
    text = last_user(body)
    a, b = text.split("Reply A:\n")[1].split("\n\nWhich reply")[0].split("\n\nReply B:\n")
    if ("sorry" in a) != ("sorry" in b):
        return json.dumps({"winner": "A" if "sorry" in a else "B", "reason": "apology"})
    return json.dumps({"winner": "A" if len(a) > len(b) else "B", "reason": "more complete"})


def _always_a(body: dict) -> str:
    return json.dumps({"winner": "A", "reason": "first is better"})


def test_pairwise_judge_asks_both_orders_with_names_masked(tmp_path: Path) -> None:
    items = [item(1), item(2, ai="Wait."), item(3, ai=None)]
    names = frozenset({"Samir"})
    with serve(consistent := FakeState(reply=_prefers_apology)) as url:
        runner = JudgeRunner.from_config(judge_cfg(url, tmp_path, cache=False))
        verdicts = judge_pairs(runner, items, names)
        runner.close()
    with serve(biased := FakeState(reply=_always_a)) as url:
        runner = JudgeRunner.from_config(judge_cfg(url, tmp_path, cache=False))
        flipped = judge_pairs(runner, items, names)
        runner.close()
    assert [v.preference for v in verdicts] == ["ai", "human", None]
    assert verdicts[0].ai_first == verdicts[0].human_first == "ai" and not verdicts[0].flipped
    assert verdicts[2].error.startswith("no AI answer")
    assert [v.preference for v in flipped[:2]] == ["tie", "tie"] and all(v.flipped for v in flipped[:2])
    assert len(consistent.bodies) == 4 and len(biased.bodies) == 4
    sent = "".join(consistent.bodies)
    assert "Samir" not in sent and "ann.lee@example.com" not in sent
    assert '"ai"' not in sent.lower() and "human" not in sent.lower()


def test_pairwise_to_file_writes_one_verdict_per_item(tmp_path: Path) -> None:
    items = write_items(tmp_path / "items.jsonl", [item(n) for n in range(5)])
    with serve(FakeState(reply=_prefers_apology)) as url:
        runner = JudgeRunner.from_config(judge_cfg(url, tmp_path))
        counts = pairwise_to_file(items, tmp_path / "judge_pairwise.jsonl", runner)
        runner.close()
    lines = (tmp_path / "judge_pairwise.jsonl").read_text().splitlines()
    assert counts == {"items": 5, "errors": 0, "flipped": 0, "ai": 5, "human": 0, "tie": 0} and len(lines) == 5


# --- calibration -------------------------------------------------------------------------------

def rating(item_id: str, reviewer: str, pref: str | None, category: str = "c", score_ai: int = 3,
           score_human: int = 3, gold: bool = False) -> UnblindedRating:
    return UnblindedRating(rating_id=f"{item_id}-{reviewer}", item_id=item_id, ticket_id=item_id,
                           category=category, reviewer=reviewer, score_ai=score_ai,
                           score_human=score_human, preference=pref, gold=gold)


def verdict(item_id: str, pref: str | None, category: str = "c", flipped: bool = False) -> PairwiseVerdict:
    return PairwiseVerdict(item_id=item_id, category=category, ai_first=pref, human_first=pref,
                           preference=pref, flipped=flipped, reasons=[], error=None if pref else "x")


def test_labels_and_majority() -> None:
    assert reviewer_label(rating("i", "r", "tie_bad")) == "tie"
    assert reviewer_label(rating("i", "r", None, score_ai=4, score_human=2)) == "ai"
    assert reviewer_label(rating("i", "r", None)) == "tie"
    assert majority(["ai", "ai", "human"]) == "ai" and majority(["ai", "human"]) == "tie"


def test_calibration_by_hand() -> None:
    ratings = [rating("1", "a", "ai"), rating("1", "b", "ai"), rating("2", "a", "human"), rating("2", "b", "ai"),
               rating("3", "a", "human"), rating("3", "b", "human"), rating("4", "a", "ai", gold=True)]
    verdicts = [verdict("1", "ai"), verdict("2", "ai", flipped=False), verdict("3", "tie", flipped=True),
                verdict("4", "human"), verdict("5", None)]
    cal = calibrate(verdicts, ratings, min_items=3)["c"]
    # majorities: 1 ai, 2 tie (split), 3 human; judge: ai, ai, tie
    assert cal.items == 3 and cal.agreement_with_ties == pytest.approx(1 / 3)
    assert cal.decisive_items == 1 and cal.agreement_without_ties == 1.0
    assert cal.judge_vs_reviewers == pytest.approx(3 / 6) and cal.reviewers_pairwise == pytest.approx(2 / 3)
    assert cal.leniency == pytest.approx(2 / 3 - 3 / 6) and cal.flip_rate == pytest.approx(1 / 3)
    assert cal.judge_errors == 1 and not cal.usable and "0.50 < reviewers with each other 0.67" in cal.why


def _simulate(rng: np.random.Generator, n: int, p_reviewer: float, p_judge: float):
    """True label uniform over 3; each rater keeps it with probability p, else picks one of the other two."""
    labels = np.array(["ai", "human", "tie"])
    truth = rng.integers(0, 3, n)

    def rate(p: float) -> np.ndarray:
        wrong = (truth + rng.integers(1, 3, n)) % 3
        return np.where(rng.random(n) < p, truth, wrong)

    prefs = {"ai": "ai", "human": "human", "tie": "tie_good"}
    ratings = [rating(str(i), r, prefs[labels[x]]) for r in ("a", "b") for i, x in enumerate(rate(p_reviewer))]
    verdicts = [verdict(str(i), labels[x]) for i, x in enumerate(rate(p_judge))]
    return verdicts, ratings


@pytest.mark.parametrize(("p_reviewer", "p_judge", "usable"), [(0.7, 0.9, True), (0.8, 0.5, False)])
def test_calibration_recovers_planted_accuracies(p_reviewer: float, p_judge: float, usable: bool) -> None:
    verdicts, ratings = _simulate(np.random.default_rng(11), 6000, p_reviewer, p_judge)
    cal = calibrate(verdicts, ratings)["c"]
    # closed forms for symmetric 3-class noise
    assert cal.reviewers_pairwise == pytest.approx(p_reviewer**2 + (1 - p_reviewer) ** 2 / 2, abs=0.02)
    expected = p_judge * p_reviewer + (1 - p_judge) * (1 - p_reviewer) / 2
    assert cal.judge_vs_reviewers == pytest.approx(expected, abs=0.02)
    assert cal.leniency == pytest.approx(0.0, abs=0.03)
    assert cal.usable is usable and judge_usable({"c": cal})("c") is usable
    assert judge_usable({"c": cal})("other") is False


def test_a_lenient_judge_shows_positive_leniency() -> None:
    ratings = [rating(str(i), r, "human" if i % 2 else "ai") for i in range(40) for r in ("a", "b")]
    verdicts = [verdict(str(i), "ai") for i in range(40)]
    cal = calibrate(verdicts, ratings)["c"]
    assert cal.leniency == pytest.approx(0.5) and cal.agreement_with_ties == pytest.approx(0.5)
