"""One synthetic ticket: the conversation, the human answers, the shadow AI's answers and their truth.

Tickets are built as plain dicts in the field order of ``eval.records`` (so ``json.dumps``
gives the same bytes ``model_dump_json`` would) because building and validating pydantic
models for a million tickets would dominate the run time; tests validate every record.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from eval.synth.phrases import Dice, bank, entities, fill, typos
from eval.synth.truth import (
    AI_MIX,
    AI_SHIFT,
    AI_STYLES,
    CRITICAL_STYLES,
    HUMAN_MIX,
    HUMAN_STYLES,
    CategorySpec,
    style_mean,
)

AI_MODEL = "shadow-bot-v3"
START = datetime(2025, 1, 6, tzinfo=UTC)
SPAN_S = 180 * 86400
EXCHANGES = (1, 2, 3, 4, 5)
EXCHANGE_WEIGHTS = (0.38, 0.30, 0.18, 0.09, 0.05)
CHANNELS = ("chat", "email", "phone", "web_form")
CHANNEL_WEIGHTS = (0.45, 0.35, 0.10, 0.10)
DATE_FORMATS = ("%B %d", "%Y-%m-%d", "%d/%m/%Y", "%b %d")
ANGRY = {"formal_complaint": 0.6, "fraud_report": 0.35, "billing_dispute": 0.35, "shipping_delay": 0.3}


@dataclass(frozen=True)
class AnswerTruth:
    """The latent truth of one agent turn's two answers (``truth.json`` only)."""

    item_id: str
    category: str
    human_style: str
    human_quality: float
    ai_style: str
    ai_quality: float

    @property
    def human_critical(self) -> bool:
        return self.human_style in CRITICAL_STYLES

    @property
    def ai_critical(self) -> bool:
        return self.ai_style in CRITICAL_STYLES

    def row(self) -> str:
        return json.dumps([self.item_id, self.human_quality, self.human_critical, self.human_style,
                           self.ai_quality, self.ai_critical, self.ai_style])


@dataclass(frozen=True)
class TicketDraft:
    ticket: dict
    ai_answers: list[dict]
    answers: list[AnswerTruth]


def _quality(dice: Dice, style: str, shift: float = 0.0) -> float:
    mean, sd = style_mean(style, shift)
    return round(min(5.0, max(1.0, dice.normal(mean, sd))), 2)


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def _fresh(dice: Dice, pool: list[str], said: set[str]) -> str:
    """A line not yet used in this ticket when the pool allows: people rarely repeat themselves."""
    unused = [p for p in pool if p not in said] or pool
    line = dice.pick(unused)
    said.add(line)
    return line


def _customer_turn(dice: Dice, cat: dict, ents: dict, first: bool, mood: str, typo_rate: float,
                   said: set[str]) -> str:
    cust = bank()["customer"]
    if first:
        core = fill(dice.pick(cat["ask"]), ents)
        text = _join(dice.pick(cust["greet"]), core)
        if dice.chance(0.6):
            text = _join(text, fill(dice.pick(cust["pii"]), ents))
    else:
        pool = cat["follow"] if dice.chance(0.55) else cust["follow_generic"]
        text = fill(_fresh(dice, pool, said), ents)
        if dice.chance(0.15):
            text = _join(text, fill(dice.pick(cust["pii"]), ents))
    if mood == "angry" and dice.chance(0.7):
        text = _join(text, dice.pick(cust["angry"]))
    elif mood == "polite" and dice.chance(0.6):
        text = _join(text, fill(dice.pick(cust["polite"]), ents))
    return typos(dice, text, typo_rate)


# What an answer says is drawn from the level's shared pool whichever side writes it: real
# shadow-mode AI and agents resolve the same tickets in overlapping words. The AI differs in its
# tells (self-reference, formula openings and closings, stripped before blind review) and, more
# mildly, in style: it acknowledges the customer and adds a reassurance sentence more often.
LEVEL = {"excellent": "full", "good": "full", "fine": "basic", "ok": "basic",
         "terse": "thin", "weak": "thin", "wrong_policy": "wrong", "critical": "wrong"}
HUMAN_REASSURE = 0.2
AI_REASSURE = 0.35
AI_EMPATHY = 0.15


def _core(dice: Dice, cat: dict, ents: dict, style: str, said: set[str]) -> str:
    return fill(_fresh(dice, cat["answers"][LEVEL[style]], said), ents)


def _human_turn(dice: Dice, cat: dict, ents: dict, style: str, first: bool, mood: str,
                said: set[str]) -> str:
    agent, shared = bank()["agent"], bank()["shared"]
    core = _core(dice, cat, ents, style, said)
    if style == "terse":
        return _join(core, f"- {ents['agent']}" if dice.chance(0.5) else "")
    opening = fill(dice.pick(agent["greet"] if first else agent["follow_prefix"]), ents)
    empathy = dice.pick(shared["empathy"]) if style == "excellent" and (mood == "angry" or dice.chance(0.4)) else ""
    extra = dice.pick(shared["reassure"]) if dice.chance(HUMAN_REASSURE) else ""
    close = dice.pick(agent["close"]) if style == "excellent" or dice.chance(0.4) else ""
    sign = fill(dice.pick(agent["sign"]), ents)
    return _join(opening, empathy, core, extra, close) + "\n" + sign


def _ai_turn(dice: Dice, cat: dict, ents: dict, style: str, first: bool, mood: str, said: set[str]) -> str:
    ai, shared = bank()["ai"], bank()["shared"]
    opening = fill(dice.pick(ai["open"] if first else ai["follow_prefix"]), ents)
    empathy = dice.pick(shared["empathy"]) if dice.chance(2 * AI_EMPATHY if mood == "angry" else AI_EMPATHY) else ""
    core = _core(dice, cat, ents, style, said)
    extra = dice.pick(shared["reassure"]) if dice.chance(AI_REASSURE) else ""
    text = _join(opening, empathy, core, extra, dice.pick(ai["close"]))
    sign = dice.pick(ai["sign"])
    return text + ("\n" + sign if sign else "")


def _metadata(dice: Dice, spec: CategorySpec, ents: dict, exchanges: int, channel: str,
              human_q: list[float]) -> dict:
    meta: dict = {}
    if spec.order:
        meta["order_id"] = ents["order_id"]
    if spec.money:
        meta["amount"] = ents["amount"]
    if spec.name in ("subscription_cancellation", "billing_dispute", "bereavement"):
        meta["plan"] = ents["plan"]
    base = 420 if channel == "phone" else 260
    meta["handle_time_s"] = int(base * exchanges ** 0.7 * math.exp(dice.normal(0, 0.5)))
    if dice.chance(0.45):
        mean_q = sum(human_q) / len(human_q)
        meta["csat"] = int(min(5, max(1, round(mean_q + dice.normal(0.2, 0.8)))))
    else:
        meta["csat"] = None
    return meta


def build_ticket(dice: Dice, spec: CategorySpec, ticket_no: int, total: int) -> TicketDraft:
    """One ticket of ``spec``'s category; ``ticket_no`` of ``total`` places it in time."""
    cat = bank()["categories"][spec.name]
    created = START + timedelta(seconds=int(SPAN_S * (ticket_no + dice.u()) / total))
    ticket_id = f"T{ticket_no + 1:07d}"
    event = created - timedelta(days=dice.integer(0, 12))
    ents = entities(dice, ticket_no, event.strftime(dice.pick(DATE_FORMATS)))
    ents["agent_id"] = f"agent_{bank()['names']['agents'].index(ents['agent']) + 1:02d}"
    channel = dice.weighted(CHANNELS, CHANNEL_WEIGHTS)
    angry_p = ANGRY.get(spec.name, 0.15)
    mood = dice.weighted(("angry", "polite", "plain"), (angry_p, 0.4, 0.6 - angry_p))
    typo_rate = 0.06 if channel == "chat" else 0.025
    exchanges = dice.weighted(EXCHANGES, EXCHANGE_WEIGHTS)

    turns: list[dict] = []
    if channel == "chat" and dice.chance(0.3):
        turns.append({"role": "system", "text": "Chat started via web widget.", "author": None})
    ai_answers: list[dict] = []
    answers: list[AnswerTruth] = []
    said: tuple[set[str], set[str], set[str]] = (set(), set(), set())
    for k in range(exchanges):
        text = _customer_turn(dice, cat, ents, k == 0, mood, typo_rate, said[0])
        turns.append({"role": "customer", "text": text, "author": None})
        if dice.chance(0.08):
            turns.append({"role": "note", "text": f"Internal: checked account, case {ents['ref']}.",
                          "author": ents["agent_id"]})
        h_style = dice.weighted(HUMAN_STYLES, HUMAN_MIX)
        a_style = dice.weighted(AI_STYLES, AI_MIX[spec.group])
        index = len(turns)
        turns.append({"role": "agent", "text": _human_turn(dice, cat, ents, h_style, k == 0, mood, said[1]),
                      "author": ents["agent_id"]})
        ai_answers.append({"ticket_id": ticket_id, "turn_index": index,
                           "text": _ai_turn(dice, cat, ents, a_style, k == 0, mood, said[2]), "model": AI_MODEL,
                           "latency_ms": round(math.exp(dice.normal(7.0, 0.35)), 1)})
        answers.append(AnswerTruth(f"{ticket_id}#{index}", spec.name, h_style, _quality(dice, h_style),
                                   a_style, _quality(dice, a_style, AI_SHIFT[spec.group])))
    if dice.chance(0.25):
        turns.append({"role": "customer", "text": dice.pick(bank()["customer"]["thanks_close"]), "author": None})

    ticket = {
        "ticket_id": ticket_id, "category": spec.name, "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "channel": channel, "turns": turns,
        "metadata": _metadata(dice, spec, ents, exchanges, channel, [a.human_quality for a in answers]),
    }
    return TicketDraft(ticket, ai_answers, answers)
