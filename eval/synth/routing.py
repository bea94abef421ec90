"""A category with a recognisable harmful minority, for checking the router (``eval.decide.router``).

Most refund requests are routine (a damaged parcel, a late delivery) and the AI rarely harms there;
a minority mention a chargeback or a bank dispute, where the AI's answer is often harmful; and a few
routine-looking tickets are harmful with no cue at all. Each turn carries its planted probability of
a harmful AI answer, so the true harmful rate among the turns a router sends to the AI is known.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from eval.decide.router.features import turn_features
from eval.records import Turn

ROUTINE = ("my parcel arrived damaged", "the box was crushed and the item broken", "the order came late",
           "I was sent the wrong size", "the item does not match the photo", "I changed my mind about the order",
           "the delivery never came", "one item was missing from the parcel")
CUE = ("my bank opened a chargeback", "I disputed the payment with my bank", "the bank is reversing the charge",
       "I filed a chargeback with my card issuer")
FILLER = ("please help", "can I get my money back", "what are my options", "thanks", "order A-{n}",
          "I have been waiting a week", "this is the second time", "kind regards")
CHANNELS = ("email", "chat", "web_form")


@dataclass(frozen=True)
class Scenario:
    cue_share: float = 0.15
    """Share of turns mentioning a chargeback."""
    cue_harm: float = 0.35
    routine_harm: float = 0.002
    """Harmful AI answers among routine turns, which no feature reveals."""
    unacceptable: float = 0.03
    """Unacceptable (not harmful) AI answers among routine turns; people's answers are acceptable 95%."""
    human_harm: float = 0.0
    """Harmful human answers, anywhere (drawn only when above 0, so the default draws what it always did)."""


def planted_turns(rng: np.random.Generator, n: int, scenario: Scenario = Scenario(),
                  category: str = "refund_request") -> pd.DataFrame:
    """``n`` turns of one category: router features, ``ticket_id``, ``item_id``, the planted ``p_harm`` and
    one rating drawn from it (``crit_ai``, ``acc_ai``, ``acc_human``, ``crit_human``, and ``diff``: the AI - human
    score on a 1-5 scale, harmful 1, unacceptable 2, acceptable 4)."""
    cue = rng.random(n) < scenario.cue_share
    rows = []
    for i in range(n):
        opening = CUE[rng.integers(len(CUE))] if cue[i] else ROUTINE[rng.integers(len(ROUTINE))]
        filler = [FILLER[j].format(n=rng.integers(100000, 999999)) for j in rng.choice(len(FILLER), 2, replace=False)]
        text = f"Hi, {opening}. {' '.join(filler).capitalize()}."
        rows.append(turn_features(category, [Turn(role="customer", text=text)], {"plan": "standard"},
                                  CHANNELS[rng.integers(len(CHANNELS))], "I can help with your refund."))
    frame = pd.DataFrame(rows)
    p_harm = np.where(cue, scenario.cue_harm, scenario.routine_harm)
    harm = rng.random(n) < p_harm
    unacceptable = harm | (rng.random(n) < scenario.unacceptable)
    ids = [f"{category[:3].upper()}{rng.integers(1 << 40):011x}" for _ in range(n)]
    acc_human = rng.random(n) < 0.95
    human_harm = rng.random(n) < scenario.human_harm if scenario.human_harm > 0 else np.zeros(n, bool)
    score_ai = np.where(harm, 1.0, np.where(unacceptable, 2.0, 4.0))
    score_human = np.where(human_harm, 1.0, np.where(acc_human, 4.0, 2.0))
    return frame.assign(ticket_id=ids, item_id=[f"{t}#1" for t in ids], p_harm=p_harm, cue=cue,
                        crit_ai=harm.astype(float), acc_ai=(~unacceptable).astype(float),
                        acc_human=(acc_human & ~human_harm).astype(float), crit_human=human_harm.astype(float),
                        diff=score_ai - score_human)
