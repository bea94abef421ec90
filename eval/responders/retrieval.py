"""The embedded default responder: answer with the nearest past agent reply (TF-IDF).

It learns only from a history split of the tickets (the earliest ``history_fraction`` by
``created_at``, then ``ticket_id``) and those tickets are held out of the replay, so a replayed
ticket can never be in the index. The retrieved reply is adapted to the current customer:
their order id and first name replace the historical customer's, and the historical agent's
signature is removed so the AI never signs as a human.

Items carry ``latency_ms=None``: a wall-clock figure would make items.jsonl differ between
identical runs. The replay summary reports the measured time per item instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer

from eval.records import AIAnswer, Ticket, Turn
from eval.redact import CLOSING as _CLOSING
from eval.redact import CUSTOMER_NAME_PATTERNS, NOT_NAMES, PiiSpan, redact
from eval.redact import NAME as _NAME
from eval.replay.request import ReplayRequest
from eval.responders.base import BaseResponder
from eval.store import read_jsonl

NAME = "retrieval"
MODEL = "tfidf-nn"
NO_CUSTOMER_TEXT = "no_match: no customer text before this turn"
NO_OVERLAP = "no_match: no history reply shares a word with the customer's messages"

ORDER_ID_PATTERNS = (
    r"\bORD-[A-Z0-9]+(?:-[A-Z0-9]+)*\b",  # ORD-2024-0042 (first: the next pattern would cut it)
    r"\b[A-Z]{1,3}-\d{3,}\b",  # A-12345, AB-1234
    r"#\d{4,}\b",  # #123456
)
"""Order ids recognised in text. Product codes shaped the same way are replaced too."""
ORDER_ID = re.compile("|".join(ORDER_ID_PATTERNS))
ORDER_PHRASE = re.compile(
    rf"(?i:\b(?:your\s+|the\s+)?order\s+(?:number\s+|no\.?\s+)?)(?:{ORDER_ID.pattern})"
)

GREETING = re.compile(
    rf"^(\s*(?i:hi|hello|hey|dear|good\s+(?:morning|afternoon|evening)))\s+({_NAME})\b"
)
GENERIC_SIGNATURE = re.compile(
    rf"[\s,;]*\b{_CLOSING}[,!.]?\s*[-\u2013]?\s*({_NAME})(?:\s+{_NAME})?\s*\.?\s*$"
)
DASH_SIGNATURE = re.compile(
    rf"\s*\n\s*[-\u2013\u2014]+\s*{_NAME}(?:\s+{_NAME})?(?:\s*,\s*[\w &]+)?\s*$"
)
"""A signature line such as "\u2014 Maria, Customer Care" at the end of a reply."""
CARD_ENDING = re.compile(r"(?i)\b(card\s+)?ending(?:\s+in)?\s+(\d{4})\b")
AUTHOR_NOISE = frozenset({"agent", "support", "team", "cs", "rep", "staff", "admin", "helpdesk"})


def created_instant(created_at: str) -> datetime:
    """Times without a zone are taken as UTC so mixed inputs still compare."""
    instant = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def chronological(keys: Sequence[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
    """(ticket_id, created_at) pairs by time, then id.

    Time order is used only when every ticket has ``created_at``; otherwise ``ticket_id``
    order, since a partial time order would put all undated tickets on one side.
    """
    if all(created is not None for _, created in keys):
        return sorted(keys, key=lambda k: (created_instant(str(k[1])), k[0]))
    return sorted(keys, key=lambda k: k[0])


def history_split(keys: Sequence[tuple[str, str | None]], fraction: float) -> frozenset[str]:
    """The ids of the earliest ``fraction`` of tickets."""
    ordered = chronological(keys)
    return frozenset(ticket_id for ticket_id, _ in ordered[: int(len(ordered) * fraction)])


def customer_text(context: Sequence[Turn]) -> str:
    return "\n".join(t.text for t in context if t.role == "customer")


def searchable(text: str) -> str:
    """Without order ids: one customer's id says nothing about another's question."""
    return ORDER_ID.sub(" ", text)


def order_id_in(context: Sequence[Turn]) -> str | None:
    """The most recently mentioned order id in what the agent could read."""
    found = [m.group(0) for t in context for m in ORDER_ID.finditer(t.text)]
    return found[-1] if found else None


def customer_name_in(context: Sequence[Turn]) -> str | None:
    """The first name the customer gave most recently, if any."""
    name = None
    for turn in context:
        if turn.role != "customer":
            continue
        for pattern in CUSTOMER_NAME_PATTERNS:
            for m in pattern.finditer(turn.text):
                if m.group(1) not in NOT_NAMES:
                    name = m.group(1)
    return name


def author_names(author: str | None) -> list[str]:
    """Name parts of an agent handle: ``agent_tom`` → ``["agent_tom", "tom"]``."""
    if not author:
        return []
    parts = [p for p in re.split(r"[^A-Za-z\u00C0-\u00FF]+", author) if len(p) > 1]
    return [author, *(p for p in parts if p.lower() not in AUTHOR_NOISE)]


def strip_signature(reply: str, author: str | None, customer: str | None) -> str:
    """Remove the historical agent's sign-off, self-introduction and handle.

    A closing with an unknown name ("Best, Maria") is taken as a signature too, unless the
    name is the customer's ("Thank you, Jana.").
    """
    names = author_names(author)
    if names:
        alt = "|".join(re.escape(n) for n in names)
        reply = re.sub(
            rf"(?i)[\s,;]*(?:\b{_CLOSING}[,!.]?\s*)?[-\u2013]?\s*\b(?:{alt})\b\s*\.?\s*$", "", reply
        )
        reply = re.sub(
            rf"(?i)\b(?:my\s+name\s+is|i'm|i\s+am|this\s+is)\s+(?:{alt})\b"
            rf"(?:\s+from\s+(?:the\s+)?\w+(?:\s+team)?)?\s*[,.!]?\s*",
            "", reply,
        )
        reply = re.sub(rf"(?i)\b{re.escape(names[0])}\b", "", reply)
    reply = DASH_SIGNATURE.sub("", reply)
    return GENERIC_SIGNATURE.sub(lambda m: m.group(0) if m.group(1) == customer else "", reply)


_THEIR_PII = {"email": "your email address", "phone": "your phone number", "card": "your card",
              "iban": "your account", "address": "your address"}


def _their_pii(span: PiiSpan) -> str:
    return _THEIR_PII.get(span.kind, "your details")


def scrub_other_customer(reply: str, context: Sequence[Turn]) -> str:
    """Remove the historical customer's personal data: a reply must never leak it to another.

    Card fragments ("card ending 4242") keep the current customer's own last four when they gave
    them, otherwise they are dropped ("card").
    """
    own = CARD_ENDING.search(customer_text(context))
    reply = redact(reply, _their_pii)

    def card(m: re.Match[str]) -> str:
        if own:
            return f"{m.group(1) or ''}ending {own.group(2)}"
        return "card" if m.group(1) else "your card"

    return CARD_ENDING.sub(card, reply)


def substitute_name(reply: str, old: str | None, new: str | None) -> str:
    """Greet the current customer by name, or neutrally when their name is unknown."""
    def greet(m: re.Match[str]) -> str:
        fallback = "customer" if m.group(1).strip().lower() == "dear" else "there"
        return f"{m.group(1)} {new or fallback}"

    reply = GREETING.sub(greet, reply, count=1)
    if old and old != new:
        if new:
            reply = re.sub(rf"\b{re.escape(old)}\b", new, reply)
        else:
            reply = re.sub(rf",?\s*\b{re.escape(old)}\b", "", reply)
    return reply


def substitute_order_id(reply: str, order_id: str | None) -> str:
    """Put the current order id in place of the historical one, or say "your order"."""
    if order_id:
        return ORDER_ID.sub(lambda _: order_id, reply)
    return ORDER_ID.sub("your order", ORDER_PHRASE.sub("your order", reply))


def tidy(text: str) -> str:
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r" ([,.;!?])", r"\1", text)
    return text.strip()


@dataclass(frozen=True)
class HistoryReply:
    """One indexed agent reply and what is needed to adapt it."""

    ticket_id: str
    turn_index: int
    text: str
    author: str | None
    customer_name: str | None


def history_documents(tickets: Iterable[Ticket]) -> tuple[list[str], list[HistoryReply]]:
    """Per agent turn: the customer text before it (document) and the reply (answer)."""
    documents, replies = [], []
    for ticket in tickets:
        for i, turn in enumerate(ticket.turns):
            if turn.role != "agent":
                continue
            before = ticket.turns[:i]
            document = customer_text(before)
            if not document:
                continue
            documents.append(document)
            replies.append(HistoryReply(
                ticket.ticket_id, i, turn.text, turn.author, customer_name_in(before),
            ))
    return documents, replies


def best_matches(similarity: sparse.csr_matrix) -> list[int | None]:
    """Per row, the most similar reply; ties go to the latest one (the newest practice)."""
    # Written by hand: NearestNeighbors breaks ties by sort order, not by a rule we can state.
    best: list[int | None] = []
    for row in range(similarity.shape[0]):
        start, end = similarity.indptr[row], similarity.indptr[row + 1]
        values, columns = similarity.data[start:end], similarity.indices[start:end]
        if values.size == 0 or values.max() <= 0:
            best.append(None)
            continue
        best.append(int(columns[values == values.max()].max()))
    return best


@dataclass
class Retrieval(BaseResponder):
    vectorizer: TfidfVectorizer | None
    matrix: sparse.csr_matrix | None
    replies: list[HistoryReply]
    held_out: frozenset[str]
    name: str = NAME
    model: str = MODEL

    @classmethod
    def fit(cls, history: Iterable[Ticket]) -> Retrieval:
        """Index the given tickets (all held out of the replay), oldest first for the tie-break."""
        by_id: dict[str, Ticket] = {}
        for ticket in history:
            if ticket.ticket_id in by_id:
                raise ValueError(f"ticket_id {ticket.ticket_id!r} appears twice in the history")
            by_id[ticket.ticket_id] = ticket
        order = chronological([(t.ticket_id, t.created_at) for t in by_id.values()])
        history = [by_id[ticket_id] for ticket_id, _ in order]
        documents, replies = history_documents(history)
        held_out = frozenset(t.ticket_id for t in history)
        if not documents:
            return cls(None, None, [], held_out)
        vectorizer = TfidfVectorizer(
            lowercase=True, ngram_range=(1, 2), sublinear_tf=True, min_df=1,
            stop_words="english", dtype=np.float64,
        )
        matrix = vectorizer.fit_transform([searchable(d) for d in documents]).tocsr()
        return cls(vectorizer, matrix, replies, held_out)

    @classmethod
    def from_file(cls, tickets_path: Path, history_fraction: float) -> Retrieval:
        """Two streamed passes: the split needs every ticket's date, the index only history."""
        keys = [(t.ticket_id, t.created_at) for t in read_jsonl(tickets_path, Ticket)]
        history = history_split(keys, history_fraction)
        return cls.fit(t for t in read_jsonl(tickets_path, Ticket) if t.ticket_id in history)

    def match(self, requests: Sequence[ReplayRequest]) -> list[int | None]:
        """Index into ``replies`` of the nearest history reply per request (None: no match)."""
        queries = [searchable(customer_text(r.context)) for r in requests]
        if self.vectorizer is None or self.matrix is None:
            return [None] * len(requests)
        similarity = (self.vectorizer.transform(queries) @ self.matrix.T).tocsr()
        return best_matches(similarity)

    def answer(self, requests: Sequence[ReplayRequest]) -> list[AIAnswer]:
        return [self._adapt(r, m) for r, m in zip(requests, self.match(requests), strict=True)]

    def _adapt(self, request: ReplayRequest, match: int | None) -> AIAnswer:
        if match is None:
            error = NO_OVERLAP if customer_text(request.context) else NO_CUSTOMER_TEXT
            return AIAnswer(text=None, responder=NAME, model=MODEL, error=error)
        reply = self.replies[match]
        text = strip_signature(reply.text, reply.author, reply.customer_name)
        text = substitute_name(text, reply.customer_name, customer_name_in(request.context))
        text = scrub_other_customer(text, request.context)
        text = tidy(substitute_order_id(text, order_id_in(request.context)))
        if not text:
            return AIAnswer(text=None, responder=NAME, model=MODEL,
                            error="no_match: the nearest reply was only a signature")
        return AIAnswer(text=text, responder=NAME, model=MODEL)
