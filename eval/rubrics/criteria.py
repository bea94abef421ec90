"""The criterion kinds as small pure functions: (criterion, answer, item) → value, or None for N/A.

Values are on each kind's [value_min, value_max] scale (0–1 for all built-in kinds). The
answer is lower-cased once (``Answer.of``) and everything derived from the item (customer
text, personal data in the context) is computed at most once per item and shared by both sides.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

from eval.redact import find_pii
from eval.rubrics.spec import (
    Criterion,
    Escalation,
    Forbidden,
    Length,
    LlmJudge,
    MentionsFact,
    NoPiiEcho,
    Required,
)

PiiKey = tuple[str, str]
_DIGIT_RUN = re.compile(r"\d+")


class SaidTurn(Protocol):
    """A turn of the conversation as criteria read it (a record ``Turn`` or a light view of one)."""

    @property
    def role(self) -> str: ...

    @property
    def text(self) -> str: ...


@dataclass(frozen=True)
class Judged:
    """A model's verdict on one ``llm_judge`` criterion for one answer: a value or an error."""

    value: float | None = None
    reason: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class JudgeRequest:
    """One answer to be rated on one ``llm_judge`` criterion, with the conversation before it."""

    criterion: LlmJudge
    answer: str
    context: tuple[SaidTurn, ...]
    item_id: str
    side: str


class JudgeFailed(ValueError):
    """An ``llm_judge`` criterion has no usable verdict: the answer gets an error, not a score."""


class Answer:
    """An answer as criteria see it: its text, lower-cased once, the judge's verdicts for the
    rubric's ``llm_judge`` criteria (by criterion id, judged beforehand), and what is derived from
    the text, worked out on first use. Slots and plain properties rather than a frozen dataclass
    with cached properties: two of these are made per item, and that cost 1 µs each."""

    __slots__ = ("_digits", "_pii", "_words", "judged", "lower", "text")

    def __init__(self, text: str, lower: str, judged: Mapping[str, Judged] | None = None) -> None:
        self.text = text
        self.lower = lower
        self.judged: Mapping[str, Judged] = judged or {}
        self._words: int | None = None
        self._pii: frozenset[PiiKey] | None = None
        self._digits: str | None = None

    @classmethod
    def of(cls, text: str, judged: Mapping[str, Judged] | None = None) -> Answer:
        return cls(text, text.lower(), judged)

    @property
    def words(self) -> int:
        if self._words is None:
            self._words = len(self.text.split())
        return self._words

    @property
    def pii(self) -> frozenset[PiiKey]:
        if self._pii is None:
            self._pii = pii_keys(self.text)
        return self._pii

    def may_hold(self, keys: frozenset[PiiKey]) -> bool:
        """False when no key can be in the answer, so ``pii`` need not be scanned. Each key is the
        value with formatting removed (``PiiSpan.key``), and removing the same formatting from the
        whole answer keeps a value it holds in one piece, so a miss here is exact."""
        for kind, key in keys:
            if kind in ("phone", "card"):
                if self._digits is None:
                    self._digits = "".join(_DIGIT_RUN.findall(self.text))
                haystack = self._digits
            elif kind == "iban":
                haystack = self.text.replace(" ", "").upper()
            elif kind == "address":
                haystack = " ".join(self.lower.replace(",", " ").replace(".", " ").split())
            else:
                haystack = self.lower
            if key in haystack:
                return True
        return False


class ItemView:
    """What criteria may know about the item besides the answer: its metadata and context (built
    once per item and shared by both answers, like ``Answer`` made with slots)."""

    __slots__ = ("_context_pii", "_customer_text", "context", "metadata")

    def __init__(self, metadata: Mapping[str, Any], context: tuple[SaidTurn, ...]) -> None:
        self.metadata = metadata
        self.context = context
        self._customer_text: str | None = None
        self._context_pii: frozenset[PiiKey] | None = None

    @property
    def customer_text(self) -> str:
        """The customer's turns, lower-cased like answers (patterns are compiled for that)."""
        if self._customer_text is None:
            self._customer_text = "\n".join(t.text for t in self.context if t.role == "customer").lower()
        return self._customer_text

    @property
    def context_pii(self) -> frozenset[PiiKey]:
        if self._context_pii is None:
            self._context_pii = frozenset().union(*(pii_keys(t.text) for t in self.context))
        return self._context_pii


@lru_cache(maxsize=4096)
def pii_keys(text: str) -> frozenset[PiiKey]:
    """Personal data in a text, cached: the turns of a ticket come back in the context of each of
    its later items (and a human answer in the next item's context), so most lookups are repeats."""
    return frozenset((s.kind, s.key) for s in find_pii(text))


def _mentions(haystack: str, needle: str) -> bool:
    """Substring at word edges, so order A-12 is not found inside A-123."""
    start = haystack.find(needle)
    while start != -1:
        end = start + len(needle)
        before = haystack[start - 1] if start else " "
        after = haystack[end] if end < len(haystack) else " "
        if not before.isalnum() and not after.isalnum():
            return True
        start = haystack.find(needle, start + 1)
    return False


def required(c: Required, answer: Answer, item: ItemView) -> float:
    if c.match == "any":
        return float(c.regex.search(answer.lower) is not None)
    return float(all(r.search(answer.lower) for r in c.regexes))


def forbidden(c: Forbidden, answer: Answer, item: ItemView) -> float:
    return float(c.regex.search(answer.lower) is None)


def mentions_fact(c: MentionsFact, answer: Answer, item: ItemView) -> float | None:
    """N/A when the ticket has no such fact (missing, null or blank)."""
    value = item.metadata.get(c.fact)
    needle = "" if value is None else str(value).strip().lower()
    if not needle:
        return None
    return float(_mentions(answer.lower, needle))


def length(c: Length, answer: Answer, item: ItemView) -> float:
    """1 inside [min_words, max_words]; below, words/min_words (0 at 0 words); above,
    2 - words/max_words (0 at 2*max_words and beyond). Words are whitespace-separated tokens."""
    words = answer.words
    if words < c.min_words:
        return words / c.min_words
    if c.max_words is not None and words > c.max_words:
        return max(0.0, 2.0 - words / c.max_words)
    return 1.0


def escalation(c: Escalation, answer: Answer, item: ItemView) -> float:
    escalates = c.regex.search(answer.lower) is not None
    return float(escalates == (c.expect == "required"))


def no_pii_echo(c: NoPiiEcho, answer: Answer, item: ItemView) -> float | None:
    """Fails when the answer repeats an email, phone, card or IBAN from the context; N/A when the
    context holds none (nothing to echo)."""
    if not item.context_pii:
        return None
    if not answer.may_hold(item.context_pii):
        return 1.0
    return float(not (answer.pii & item.context_pii))


def llm_judge(c: LlmJudge, answer: Answer, item: ItemView) -> float:
    """The judge's 1-5 score, looked up: the call itself happens before scoring (eval.judges)."""
    verdict = answer.judged.get(c.id)
    if verdict is None:
        raise JudgeFailed(f"no judge verdict for criterion {c.id!r} (does the run config have a judge section?)")
    if verdict.error is not None or verdict.value is None:
        raise JudgeFailed(verdict.error or "judge gave no value")
    return verdict.value


EVALUATORS: dict[str, Callable[[Any, Answer, ItemView], float | None]] = {
    "required": required, "forbidden": forbidden, "mentions_fact": mentions_fact,
    "length": length, "escalation": escalation, "no_pii_echo": no_pii_echo, "llm_judge": llm_judge,
}


def evaluate(c: Criterion, answer: Answer, item: ItemView) -> float | None:
    """The criterion's value, or None when it does not apply (``when`` unmet or kind-specific N/A)."""
    if c.when is not None and c.when.regex.search(item.customer_text) is None:
        return None
    return EVALUATORS[c.kind](c, answer, item)
