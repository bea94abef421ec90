"""Rubric loading, every criterion kind, the Zendesk QA formula and the scoring stage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from eval.records import AIAnswer, HumanAnswer, Item, Score, Ticket, Turn
from eval.rubrics import (
    ESCALATION_PATTERNS, RubricError, load_rubrics, parse_rubric, score_answer, score_item,
    score_to_file,
)
from eval.store import RecordError

DATA = Path(__file__).parent / "data"
RUBRICS = DATA / "rubrics"


def make_item(
    context: list[tuple[str, str]] | None = None, metadata: dict[str, Any] | None = None,
    human: str = "Thanks, done.", ai: str | None = "Thanks, done.", ai_error: str | None = None,
    category: str = "refund_request", ticket_id: str = "T1",
) -> Item:
    turns = [Turn(role=role, text=text) for role, text in (context or [("customer", "Help please")])]
    return Item(
        item_id=f"{ticket_id}#{len(turns)}", ticket_id=ticket_id, turn_index=len(turns),
        category=category, context=turns, human=HumanAnswer(text=human),
        ai=AIAnswer(text=ai, responder="test", error=ai_error), metadata=metadata or {},
    )


def rubric(*criteria: dict[str, Any], source: str = "r.yaml"):
    raw = {"id": "r", "version": 3, "categories": ["refund_request"], "criteria": list(criteria)}
    return parse_rubric(raw, source)


def value(crit: dict[str, Any], text: str, item: Item | None = None) -> float | None:
    result = score_answer(rubric({"id": "c", **crit}), text, item or make_item())
    return result.criteria["c"].value


# --- criterion kinds ------------------------------------------------------------------------------

def test_required_any_and_all() -> None:
    any_ = {"kind": "required", "patterns": ["sorry", "apologi[sz]e"], "match": "any"}
    all_ = {**any_, "match": "all"}
    assert value(any_, "We APOLOGISE for this") == 1.0
    assert value(any_, "Thanks for waiting") == 0.0
    assert value(all_, "Sorry, we apologize") == 1.0
    assert value(all_, "Sorry about that") == 0.0


@pytest.mark.parametrize(("pattern", "text", "expected"), [
    ("APOLOGI[SZ]E", "we apologise", 1.0),
    (r"\bA-\d+", "order a-12", 1.0),
    (r"\S+@\S+", "mail X@Y.COM", 1.0),
    (r"\S+@\S+", "no address", 0.0),
    (r"\D{3}-\d", "abc-1", 1.0),
    ("Élan", "ÉLAN vital", 1.0),
])
def test_patterns_are_case_insensitive_and_keep_escape_meaning(pattern: str, text: str, expected: float) -> None:
    assert value({"kind": "required", "patterns": [pattern]}, text) == expected
    assert value({"kind": "required", "patterns": [pattern, "zzz"], "match": "all"}, text + " ZZZ") == expected


def test_forbidden_fails_when_any_pattern_matches() -> None:
    crit = {"kind": "forbidden", "patterns": ["refund (is|will be) (processed )?instantly", "no refunds?"]}
    assert value(crit, "Your refund will be processed instantly.") == 0.0
    assert value(crit, "No refund after 7 days.") == 0.0
    assert value(crit, "Your refund takes 3-5 days.") == 1.0


def test_mentions_fact_matches_case_insensitively_at_word_edges() -> None:
    crit = {"kind": "mentions_fact", "fact": "order_id"}
    item = make_item(metadata={"order_id": "A-123"})
    assert value(crit, "Order a-123 is on its way", item) == 1.0
    assert value(crit, "Order A-1234 is on its way", item) == 0.0
    assert value(crit, "Order XA-123 is on its way", item) == 0.0
    assert value(crit, "Numeric 4711.", make_item(metadata={"order_id": 4711})) == 1.0


@pytest.mark.parametrize("metadata", [{}, {"order_id": None}, {"order_id": "  "}])
def test_mentions_fact_is_na_when_the_ticket_lacks_it(metadata: dict[str, Any]) -> None:
    assert value({"kind": "mentions_fact", "fact": "order_id"}, "A-123", make_item(metadata=metadata)) is None


@pytest.mark.parametrize(("words", "expected"), [
    (0, 0.0), (5, 0.5), (10, 1.0), (15, 1.0), (20, 1.0), (30, 0.5), (40, 0.0), (60, 0.0),
])
def test_length_shape(words: int, expected: float) -> None:
    crit = {"kind": "length", "min_words": 10, "max_words": 20}
    assert value(crit, " ".join(["word"] * words)) == pytest.approx(expected)


def test_length_with_one_bound() -> None:
    assert value({"kind": "length", "max_words": 4}, "a b c d e f") == pytest.approx(0.5)
    assert value({"kind": "length", "min_words": 4}, " ".join(["w"] * 500)) == 1.0


def test_escalation_builtin_phrases_and_override() -> None:
    required = {"kind": "escalation", "expect": "required"}
    forbidden = {"kind": "escalation", "expect": "forbidden"}
    handed_on = "I've escalated this to our fraud team."
    assert value(required, handed_on) == 1.0
    assert value(required, "Please try again later.") == 0.0
    assert value(forbidden, handed_on) == 0.0
    assert value(forbidden, "Please try again later.") == 1.0
    assert value({**required, "patterns": ["try again"]}, "Please try again later.") == 1.0
    assert value({**required, "patterns": ["try again"]}, handed_on) == 0.0
    assert len(ESCALATION_PATTERNS) > 1


def test_no_pii_echo() -> None:
    crit = {"kind": "no_pii_echo"}
    item = make_item([("customer", "Reach me at jana@example.com or +44 20 7946 0958, card 4111111111111111")])
    assert value(crit, "We wrote to JANA@example.com.", item) == 0.0
    assert value(crit, "We'll call 020 7946 0958.", item) == 0.0
    assert value(crit, "Your card 4111 1111 1111 1111 is blocked.", item) == 0.0
    assert value(crit, "Your card ending 1111 is blocked; we'll email you.", item) == 1.0
    assert value(crit, "Write to help@shop.example instead.", item) == 1.0
    assert value(crit, "We wrote to jana@example.com.", make_item([("customer", "no details")])) is None


def test_when_applies_only_if_the_customer_context_matches() -> None:
    crit = {"kind": "escalation", "expect": "required", "when": {"context_matches": ["lawyer", "legal action"]}}
    legal = make_item([("customer", "My LAWYER will hear about this")])
    note_only = make_item([("customer", "Where is it?"), ("note", "lawyer mentioned on phone")])
    assert value(crit, "Sorry for that.", legal) == 0.0
    assert value(crit, "Sorry for that.", note_only) is None
    assert value(crit, "Sorry for that.", make_item([("customer", "Where is it?")])) is None


@pytest.mark.parametrize(("na", "expected_value", "expected_score"), [
    ("skip", None, 1.0), ("pass", 1.0, 1.0), ("fail", 0.0, 0.5),
])
def test_na_handling(na: str, expected_value: float | None, expected_score: float) -> None:
    r = rubric({"id": "fact", "kind": "mentions_fact", "fact": "order_id", "na": na},
               {"id": "sorry", "kind": "required", "patterns": ["sorry"]})
    result = score_answer(r, "Sorry!", make_item())
    assert result.criteria["fact"].value == expected_value
    assert result.score == expected_score


def test_critical_na_fail_counts_as_critical_failure() -> None:
    r = rubric({"id": "fact", "kind": "mentions_fact", "fact": "order_id", "na": "fail", "critical": True},
               {"id": "sorry", "kind": "required", "patterns": ["sorry"]})
    result = score_answer(r, "Sorry!", make_item())
    assert (result.score, result.critical_fail) == (0.0, True)


# --- the Zendesk QA formula ------------------------------------------------------------------------

def test_weighted_mean_over_applicable_criteria() -> None:
    r = rubric(
        {"id": "sorry", "kind": "required", "patterns": ["sorry"], "weight": 2},
        {"id": "order", "kind": "mentions_fact", "fact": "order_id", "weight": 5},  # N/A: skipped
        {"id": "refund", "kind": "required", "patterns": ["refund"], "weight": 1},
        {"id": "length", "kind": "length", "max_words": 2, "weight": 0.5},
    )
    result = score_answer(r, "Sorry about that", make_item())  # 3 words > 2: length 2 - 3/2 = 0.5
    assert result.criteria["length"].value == pytest.approx(0.5)
    assert result.score == pytest.approx((2 * 1 + 1 * 0 + 0.5 * 0.5) / (2 + 1 + 0.5))
    assert result.critical_fail is False
    assert result.rubric == "r@3"
    assert result.criteria["order"].passed is None
    assert (result.criteria["refund"].passed, result.criteria["sorry"].passed) == (False, True)


def test_failed_critical_criterion_sets_score_to_zero() -> None:
    r = rubric(
        {"id": "sorry", "kind": "required", "patterns": ["sorry"], "weight": 9},
        {"id": "policy", "kind": "forbidden", "patterns": ["instantly"], "critical": True, "weight": 0.1},
    )
    failed = score_answer(r, "Sorry, refunded instantly", make_item())
    assert (failed.score, failed.critical_fail) == (0.0, True)
    assert failed.criteria["policy"].critical is True
    assert failed.criteria["sorry"].value == 1.0
    passed = score_answer(r, "Sorry, refunded", make_item())
    assert (passed.score, passed.critical_fail) == (1.0, False)


def test_no_applicable_criteria_is_not_a_score() -> None:
    r = rubric({"id": "order", "kind": "mentions_fact", "fact": "order_id"})
    result = score_answer(r, "anything", make_item())
    assert result.score is None
    assert result.error == "no applicable criteria"


# --- items and the stage ---------------------------------------------------------------------------

def test_ai_error_is_recorded_not_scored() -> None:
    book = load_rubrics(RUBRICS)
    human, ai = score_item(book, make_item(ai=None, ai_error="timeout after 30s"))
    assert (human.side, ai.side) == ("human", "ai")
    assert human.score is not None
    assert (ai.score, ai.criteria, ai.error, ai.rubric) == (None, {}, "timeout after 30s", "refund_request@1")
    _, no_text = score_item(book, make_item(ai=None))
    assert no_text.score is None and no_text.error


def test_category_rubric_and_default_fallback() -> None:
    book = load_rubrics(RUBRICS)
    assert book.for_category("refund_request").ref == "refund_request@1"
    assert book.for_category("password_reset").ref == "password_reset@2"
    assert book.for_category("order_status").ref == "default@1"
    human, _ = score_item(book, make_item(category="fraud_report"))
    assert human.rubric == "default@1"


def test_missing_default_names_the_category(tmp_path: Path) -> None:
    (tmp_path / "refund.yaml").write_text((RUBRICS / "refund_request.yaml").read_text())
    book = load_rubrics(tmp_path)
    with pytest.raises(RubricError, match="no rubric for category 'order_status'"):
        score_item(book, make_item(category="order_status"))


def _tickets_as_items(ai_error_for: str) -> list[Item]:
    items = []
    for line in (DATA / "tickets.jsonl").read_text().splitlines():
        t = Ticket.model_validate_json(line)
        for i, turn in enumerate(t.turns):
            if turn.role == "agent":
                error = "no precomputed answer" if t.ticket_id == ai_error_for else None
                items.append(Item(
                    item_id=f"{t.ticket_id}#{i}", ticket_id=t.ticket_id, turn_index=i, category=t.category,
                    context=t.turns[:i], human=HumanAnswer(text=turn.text),
                    ai=AIAnswer(text=None if error else "I guarantee a refund today.", responder="t", error=error),
                    metadata=t.metadata,
                ))
    return items


def test_score_to_file_is_ordered_deterministic_and_summarised(tmp_path: Path) -> None:
    items = _tickets_as_items(ai_error_for="T0004")
    items_path = tmp_path / "items.jsonl"
    items_path.write_text("".join(i.to_json() + "\n" for i in items))
    advanced: list[int] = []
    summary = score_to_file(items_path, tmp_path / "a.jsonl", RUBRICS, advanced.append)
    score_to_file(items_path, tmp_path / "b.jsonl", RUBRICS)
    first = (tmp_path / "a.jsonl").read_bytes()
    assert first == (tmp_path / "b.jsonl").read_bytes()
    scores = [Score.model_validate_json(line) for line in first.decode().splitlines()]
    assert [(s.item_id, s.side) for s in scores] == [(i.item_id, side) for i in items for side in ("human", "ai")]
    assert sum(advanced) == len(items) == summary.items
    assert summary.rubrics == {"fraud_report": "default@1", "order_status": "default@1",
                               "password_reset": "password_reset@2", "refund_request": "refund_request@1"}
    fraud = summary.categories["fraud_report"]
    assert (fraud.items, fraud.ai_errors, fraud.ai_scored, fraud.human_scored) == (3, 1, 2, 3)
    category_of = {i.item_id: i.category for i in items}
    for category, cat in summary.categories.items():
        human = [s.score for s in scores if s.side == "human" and category_of[s.item_id] == category]
        assert cat.human_mean == pytest.approx(sum(human) / len(human))
    # "I guarantee…" breaks the default rubric's critical no_false_promises: every scored AI answer fails.
    assert summary.categories["order_status"].ai_critical_fail_rate == 1.0
    assert summary.categories["order_status"].ai_mean == 0.0
    assert summary.total.ai_errors == 1
    assert summary.total.items == len(items)


def test_score_to_file_names_a_bad_item_line(tmp_path: Path) -> None:
    good = make_item().to_json()
    bad = json.loads(good)
    del bad["human"]
    items_path = tmp_path / "items.jsonl"
    items_path.write_text(good + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(RecordError, match=r"items.jsonl:2: field 'human'"):
        score_to_file(items_path, tmp_path / "scores.jsonl", RUBRICS)
    assert not (tmp_path / "scores.jsonl").exists()


# --- bad rubric files ------------------------------------------------------------------------------

def _write(tmp_path: Path, raw: Any, name: str = "refund.yaml") -> Path:
    path = tmp_path / name
    path.write_text(raw if isinstance(raw, str) else yaml.safe_dump(raw))
    return path


def _base(**changes: Any) -> dict[str, Any]:
    criteria = [
        {"id": "a", "kind": "required", "patterns": ["sorry"]},
        {"id": "b", "kind": "forbidden", "patterns": ["never"]},
        {"id": "c", "kind": "length", "max_words": 100},
    ]
    return {"id": "refund", "version": 1, "categories": ["refund_request"], "criteria": criteria, **changes}


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda r: r["criteria"][2].update(kind="foo"), r"refund.yaml: criteria\[2\]\.kind: unknown kind 'foo'"),
    (lambda r: r["criteria"][1].pop("kind"), r"criteria\[1\]\.kind: required key missing"),
    (lambda r: r["criteria"][0].update(colour="red"), r"criteria\[0\]\.colour: unknown key"),
    (lambda r: r.update(owner="qa"), r"refund.yaml: owner: unknown key"),
    (lambda r: r.pop("version"), r"refund.yaml: version: required key missing"),
    (lambda r: r["criteria"][0].update(patterns=["ok", "apologi(ze"]), r"criteria\[0\]\.patterns: bad regex 'apologi\(ze'"),
    (lambda r: r["criteria"][0].update(patterns=[r"(a)\1"]), r"criteria\[0\]\.patterns: .*backreference"),
    (lambda r: r["criteria"][0].update(match="some"), r"criteria\[0\]\.match"),
    (lambda r: r["criteria"][0].update(na="maybe"), r"criteria\[0\]\.na"),
    (lambda r: r["criteria"][0].update(weight=-1), r"criteria\[0\]\.weight"),
    (lambda r: r["criteria"][2].update(min_words=200), r"criteria\[2\]: .*min_words 200 > max_words 100"),
    (lambda r: r["criteria"][1].update(id="a"), r"criteria\[1\]\.id: duplicate criterion id 'a'"),
    (lambda r: r["criteria"][0].update(when={"context_matches": ["("]}), r"criteria\[0\]\.when\.context_matches: bad regex"),
    (lambda r: r.update(criteria=[]), r"refund.yaml: criteria"),
])
def test_bad_rubric_errors_name_file_and_key(tmp_path: Path, mutate: Any, message: str) -> None:
    raw = _base()
    mutate(raw)
    with pytest.raises(RubricError, match=message):
        load_rubrics(_write(tmp_path, raw))


def test_invalid_yaml_and_missing_paths(tmp_path: Path) -> None:
    with pytest.raises(RubricError, match=r"refund.yaml: not valid YAML"):
        load_rubrics(_write(tmp_path, "id: [unclosed"))
    with pytest.raises(RubricError, match="expected a mapping"):
        load_rubrics(_write(tmp_path, "- just a list"))
    with pytest.raises(RubricError, match="not found"):
        load_rubrics(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RubricError, match="no \\*.yaml"):
        load_rubrics(tmp_path / "empty")


def test_two_rubrics_for_one_category_are_rejected(tmp_path: Path) -> None:
    _write(tmp_path, _base(), "a.yaml")
    _write(tmp_path, _base(id="other"), "b.yaml")
    with pytest.raises(RubricError, match=r"b.yaml: categories: 'refund_request' already has rubric refund@1"):
        load_rubrics(tmp_path)


def test_single_file_loads(tmp_path: Path) -> None:
    book = load_rubrics(_write(tmp_path, _base(version="2025-03")))
    assert book.for_category("refund_request").ref == "refund@2025-03"
