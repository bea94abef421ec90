"""The routes and the slices where the AI fails, in words (eval.report.words)."""

from __future__ import annotations

from typing import Any

from eval.records import CategoryDecision
from eval.report.words import routing_sentence, slices_sentence


def _decision(routing: dict[str, Any] | None) -> CategoryDecision:
    return CategoryDecision(category="refund_request", tier="assist", tickets=400, volume_share=0.1, rated_items=320,
                            estimates={}, reasons=[], ratings_needed=None, routing=routing)


def _route(threshold: float | None, share: float, upper: float) -> dict[str, Any]:
    return {"threshold": threshold, "share": share, "rated": 272, "harmful": 1, "harm_upper": upper,
            "acceptable_low": 0.0}


CHARGEBACK = {"category": "refund_request", "kind": "phrase", "value": "chargeback", "turns": 48,
              "category_turns": 320, "share": 0.15, "ai_harmful": 0.35, "human_harmful": 0.02, "mean_diff": -0.9,
              "found": ["harm"]}


def test_slices_sentence() -> None:
    email = {**CHARGEBACK, "kind": "channel", "value": "email", "share": 0.2, "found": ["quality"], "mean_diff": -0.62}
    assert slices_sentence(_decision({"slices": [CHARGEBACK, email]})) == (
        "Where the AI does clearly worse than people: tickets that mention “chargeback” (15% of rated turns: 35% of "
        "AI answers harmful, people 2%); tickets on the email channel (20% of rated turns: AI rated 0.62 points below "
        "people).")
    assert slices_sentence(_decision({"slices": []})).startswith("No subgroup of these tickets")
    assert slices_sentence(_decision(None)) == "" and slices_sentence(_decision({"answer": {}})) == ""


def test_routing_sentence() -> None:
    answer = {"ai": _route(0.21, 0.85, 0.011), "assist": _route(None, 0.0, 1.0), "human_share": 0.15}
    routing = {"confidence": 0.95, "answer": answer, "context": answer}
    assert routing_sentence(_decision(routing)) == (
        "AI may answer 85% of the Refund request turns alone (the clear ones); 15% go to people; with 95% "
        "confidence at most 1.1% of the AI's answers there are harmful.")
    drafts = {**answer, "assist": _route(0.5, 0.05, 0.04), "human_share": 0.1}
    assert routing_sentence(_decision({**routing, "answer": drafts})) == (
        "AI may answer 85% of the Refund request turns alone (the clear ones); it drafts for a person on 5%; 10% go "
        "to people; with 95% confidence at most 1.1% of the AI's answers there are harmful and at most 4.0% of the "
        "AI's drafts there are harmful.")
    none = {"ai": _route(None, 0.0, 1.0), "assist": _route(None, 0.0, 1.0), "human_share": 1.0}
    assert routing_sentence(_decision({**routing, "answer": none})) == (
        "No share of the Refund request turns could be routed to the AI or to AI drafts with 95% confidence: all go "
        "to people.")
    assert routing_sentence(_decision(None)) == ""
