"""Texts of the live period: an AI draft in the agent's voice, and what the agent sent of it."""

from __future__ import annotations

import math

from eval.synth.conversations import _core, _human_turn, _join
from eval.synth.phrases import Dice, bank, fill
from eval.synth.truth import HUMAN_MIX, HUMAN_STYLES

EDITS = ("unchanged", "light", "rewritten")
HANDLE_NO_DRAFT_S = (260.0, 0.5)
"""Seconds an agent spends on a turn without a draft: lognormal, median 260 s, log-sd 0.5 (the
per-exchange base of the demo tickets' ``handle_time_s``)."""
HANDLE_FACTOR = {"unchanged": 0.35, "light": 0.6, "rewritten": 1.1}
"""Handle time with a draft, as a share of the time without one (a rewrite costs reading the draft)."""
LIGHT_WORDS = ("now", "today", "please", "again", "quickly", "kindly", "also", "just")


def draft_text(dice: Dice, category: str, ents: dict, style: str, first: bool) -> str:
    """An assist draft: written for the agent to send, so in the agent's voice and signed by them."""
    cat, agent, shared = bank()["categories"][category], bank()["agent"], bank()["shared"]
    opening = fill(dice.pick(agent["greet"] if first else agent["follow_prefix"]), ents)
    extra = dice.pick(shared["reassure"]) if dice.chance(0.35) else ""
    core = _core(dice, cat, ents, style, set())
    return _join(opening, core, extra, dice.pick(agent["close"])) + "\n" + fill(dice.pick(agent["sign"]), ents)


def _light(dice: Dice, draft: str) -> str:
    """A few words changed, dropped or added in the body; the sign-off kept."""
    body, _, sign = draft.partition("\n")
    words = body.split(" ")
    for _ in range(dice.integer(1, 3)):
        at = dice.integer(0, len(words) - 1)
        action = dice.u()
        if action < 0.4 and len(words) > 4:
            del words[at]
        elif action < 0.7:
            words[at] = dice.pick(LIGHT_WORDS)
        else:
            words.insert(at, dice.pick(LIGHT_WORDS))
    edited = " ".join(words)
    return edited + ("\n" + sign if sign else "") if edited != body else edited + " Thanks!\n" + sign


def sent_text(dice: Dice, edit: str, draft: str, category: str, ents: dict, first: bool) -> str:
    """What the agent sent: the draft, the draft with a few words changed, or their own answer."""
    if edit == "unchanged":
        return draft
    if edit == "light":
        return _light(dice, draft)
    cat = bank()["categories"][category]
    style = dice.weighted(HUMAN_STYLES[:3], HUMAN_MIX[:3])
    return _human_turn(dice, cat, ents, style, first, "plain", set())


def handle_time(dice: Dice, edit: str) -> float:
    """Seconds the agent spent on the turn with the draft in hand."""
    median, log_sd = HANDLE_NO_DRAFT_S
    return float(round(median * math.exp(dice.normal(0, log_sd)) * HANDLE_FACTOR[edit]))
