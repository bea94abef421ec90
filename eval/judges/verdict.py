"""Strict parsing of judge verdicts: exactly the JSON asked for, or a ``MalformedVerdict``.

No repair, no regex fishing for a number in prose: a verdict that needs guessing is not
evidence. The prompt asks for JSON only and the client asks for JSON mode where it can.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

Winner = Literal["A", "B", "tie"]


class MalformedVerdict(ValueError):
    """The judge's answer is not the JSON verdict the prompt asked for."""


@dataclass(frozen=True)
class ScoreVerdict:
    score: int
    reason: str


@dataclass(frozen=True)
class PairVerdict:
    winner: Winner
    reason: str


def _object(text: str, keys: set[str]) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MalformedVerdict(f"not JSON: {exc.msg} at char {exc.pos}") from exc
    if not isinstance(value, dict):
        raise MalformedVerdict(f"expected a JSON object, got {type(value).__name__}")
    if set(value) != keys:
        raise MalformedVerdict(f"expected keys {sorted(keys)}, got {sorted(value)}")
    reason = value["reason"]
    if not isinstance(reason, str) or not reason.strip():
        raise MalformedVerdict("reason must be a non-empty string")
    return value


def parse_score(text: str, low: int = 1, high: int = 5) -> ScoreVerdict:
    """``{"score": <int low..high>, "reason": "..."}``; a float, a string or a bool is not a score."""
    value = _object(text, {"score", "reason"})
    score = value["score"]
    if type(score) is not int or not low <= score <= high:
        raise MalformedVerdict(f"score must be a whole number from {low} to {high}, got {score!r}")
    return ScoreVerdict(score, value["reason"].strip())


def parse_pair(text: str) -> PairVerdict:
    """``{"winner": "A" | "B" | "tie", "reason": "..."}``."""
    value = _object(text, {"winner", "reason"})
    if value["winner"] not in ("A", "B", "tie"):
        raise MalformedVerdict(f"winner must be \"A\", \"B\" or \"tie\", got {value['winner']!r}")
    return PairVerdict(value["winner"], value["reason"].strip())
