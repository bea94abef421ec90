"""A follow-up round's items drawn where the automatic evidence is least certain (``eval.decide.design``).

Round 0 is uniform within each category: there are no ratings yet to say where the spread is. A
follow-up round draws a category that still needs ratings by certainty stratum when the run has
automatic evidence (rubric scores or judge verdicts) and both strata have items left; every drawn
item's stratum and inclusion probability go into the key, and ``decide`` estimates such a category
stratified.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from eval.decide.automatic import automatic_table
from eval.decide.design import STRATA, certainty_strata, round_fractions, unexplained
from eval.decide.estimates import item_table
from eval.judges import judge_table
from eval.ratings.importer import read_ratings
from eval.run.folder import RunFolder


@dataclass(frozen=True)
class Design:
    """This round's draw: the certainty stratum of every eligible item (empty without automatic evidence)
    and, per category drawn by stratum, each stratum's share of its new items."""

    strata: pd.Series
    fractions: dict[str, dict[str, float]]

    def probabilities(self, index: pd.DataFrame, drawn: set[str]) -> dict[str, tuple[str | None, float]]:
        """Per drawn item (this round and earlier ones): its stratum where its category is drawn by stratum
        this round, and its inclusion probability, the drawn share of its category (or of its stratum)."""
        frame = index[["item_id", "category"]].assign(drawn=index["item_id"].isin(drawn).to_numpy())
        by_stratum = frame["category"].isin(self.fractions.keys()).to_numpy()
        stratum = frame["item_id"].map(self.strata).astype(object).where(by_stratum)
        group = frame["category"] + np.where(by_stratum, "\x00" + stratum.fillna(""), "")
        share = frame.groupby(group.to_numpy())["drawn"].transform("mean").to_numpy()
        mask = frame["drawn"].to_numpy()
        return {i: (s if isinstance(s, str) else None, float(p))
                for i, s, p in zip(frame["item_id"][mask], stratum[mask], share[mask])}


UNIFORM = Design(pd.Series(dtype=object), {})


def active_design(run: RunFolder, index: pd.DataFrame, scores: pd.DataFrame, drawn: set[str],
                  targets: dict[str, int]) -> Design:
    """``index``: the eligible items (``item_id``, ``category``); ``drawn``: items of earlier rounds;
    ``targets``: this round's items per category."""
    auto = automatic_table(index, None if scores.empty else scores, judge_table(run))
    if auto is None:
        return UNIFORM
    strata = pd.Series(certainty_strata(auto), index=auto["item_id"].to_numpy())
    ratings = read_ratings(run.ratings)
    value = pd.Series(dtype=float)
    if len(ratings):
        table = item_table(ratings, None).set_index("item_id")
        value = table["diff"].where(table["diff"].notna(), table["win"])
    fractions = {}
    for category, part in auto.groupby("category", sort=True):
        here = strata.loc[part["item_id"]].to_numpy()
        was_drawn = part["item_id"].isin(drawn).to_numpy()
        left = set(here[~was_drawn])
        if targets.get(str(category), 0) > 0 and left == set(STRATA):
            values = unexplained(part, value.reindex(part["item_id"]).to_numpy(float))
            fractions[str(category)] = round_fractions(here, was_drawn, values, targets[str(category)])
    return Design(strata, fractions)
