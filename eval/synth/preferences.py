"""Preference-only ratings with a planted AI win rate (ties count half), to check the win-rate gate.

Tickets come in two kinds equally often, one where the AI tends to win and one where it tends to
lose, so the items of a ticket are alike (clustered) as real tickets are; their win rates sit
``spread`` either side of the planted one, and the item count of a ticket does not depend on its
kind, so the expected win rate of the items is exactly the planted one. Each rater of an item
reports the item's own outcome with probability ``agree``, else a fresh draw from the ticket kind:
a rater's preferences keep the planted rate whatever the agreement. A ``tie_bad`` rater marks both
answers unacceptable, any other rater both acceptable; no answer is critical.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from eval.records import UnblindedRating

OUTCOMES = np.array(["ai", "human", "tie_good", "tie_bad"], dtype=object)


def _outcome_probabilities(win: np.ndarray, tie: float) -> np.ndarray:
    """P(ai, human, tie_good, tie_bad) per row with win rate ``win``: ai + tie / 2 = win."""
    return np.stack([win - tie / 2, 1 - win - tie / 2, np.full_like(win, tie / 2), np.full_like(win, tie / 2)], axis=1)


def _draw(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """One outcome index per row of ``probabilities``."""
    return (rng.random(len(probabilities))[:, None] > np.cumsum(probabilities, axis=1)).sum(axis=1)


def preference_ratings(
    rng: np.random.Generator, win_rate: float, tickets: int = 160, raters: int = 2,
    agree: float = 0.85, tie: float = 0.2, spread: float = 0.25,
) -> pd.DataFrame:
    """Unblinded anonymous ratings (``ratings.jsonl`` columns) of one category ``sim``, 1-3 items a ticket."""
    kind_win = win_rate + np.where(rng.random(tickets) < 0.5, spread, -spread)
    if kind_win.min() < tie / 2 or kind_win.max() > 1 - tie / 2:
        raise ValueError("win_rate +- spread must leave room for the ties")
    per_ticket = rng.integers(1, 4, tickets)
    ticket = np.repeat(np.arange(tickets), per_ticket)
    item = np.arange(len(ticket))
    turn = item - np.repeat(np.cumsum(per_ticket) - per_ticket, per_ticket) + 1
    probabilities = _outcome_probabilities(kind_win[ticket], tie)
    own = _draw(rng, probabilities)
    rated = np.repeat(item, raters)
    fresh = _draw(rng, probabilities[rated])
    outcome = np.where(rng.random(len(rated)) < agree, own[rated], fresh)
    preference = OUTCOMES[outcome]
    acceptable = preference != "tie_bad"
    ticket_id = pd.Series(ticket[rated]).map("T{:04d}".format)
    frame = pd.DataFrame({c: [None] * len(rated) for c in UnblindedRating.model_fields} | {
        "rating_id": [f"s{i}" for i in range(len(rated))], "ticket_id": ticket_id.to_numpy(), "category": "sim",
        "item_id": (ticket_id + "#" + pd.Series(turn[rated]).astype(str)).to_numpy(),
        "preference": preference, "acceptable_ai": acceptable, "acceptable_human": acceptable,
        "critical_ai": False, "critical_human": False, "gold": False,
    })
    return frame[list(UnblindedRating.model_fields)]
