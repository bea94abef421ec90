"""Groups decided together: estimates, reviewer agreement, the gates and one Holm family.

Categories are one such family and the cuts of categories (eval.decide.cuts) another; both go
through this code, so a cut is judged by exactly the gates a category is.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd

from eval.decide.automatic import prediction_powered
from eval.decide.estimates import CategoryEstimates, category_estimates
from eval.decide.gates import eligibility, holm_family, tier_gates, tier_of
from eval.decide.planning import audit_plan, ratings_needed
from eval.policy import Policy
from eval.ratings.agreement import agreement_units, item_alpha
from eval.records import CategoryDecision, Reason

Group = tuple[str, ...]
"""The values of the grouping columns; the first is always the category."""


def decide_family(
    groups: list[Group], by: list[str], table: pd.DataFrame, ratings: pd.DataFrame, policy: Policy,
    rngs: dict[Group, np.random.Generator], tickets: dict[Group, int], all_tickets: int,
    auto: pd.DataFrame | None = None,
) -> dict[Group, CategoryDecision]:
    """A decision per group of ``table`` (rated items) and ``ratings`` grouped by the columns ``by``;
    ``auto``: every item with its automatic evidence (``eval.decide.automatic.automatic_table``)."""
    ests, alphas = rating_evidence(by, table, ratings, policy, rngs, auto)
    return decide_groups(groups, ests, alphas, {}, policy, tickets, all_tickets)


def rating_evidence(
    by: list[str], table: pd.DataFrame, ratings: pd.DataFrame, policy: Policy, rngs: dict[Group, np.random.Generator],
    auto: pd.DataFrame | None = None,
) -> tuple[dict[Group, CategoryEstimates], dict[Group, float]]:
    """Estimates (prediction-powered where ``auto`` has automatic evidence) and reviewer agreement per group
    of the paired blind ratings."""
    autos = automatic_groups(auto, by)
    ests = {g: with_automatic(category_estimates(part, policy.confidence, policy.bootstrap_resamples, rngs[g]),
                              part, autos, g, policy)
            for g, part in table.groupby(by, sort=True)}
    alphas = {g: item_alpha(agreement_units(part), 0, policy.confidence, None).alpha
              for g, part in ratings.groupby(by, sort=True)}
    return ests, alphas


class AutomaticGroups(Mapping[Group, pd.DataFrame]):
    """Every item's automatic evidence per group of the columns ``by``, each group's rows taken when asked
    for: all groups at once would copy the whole table."""

    def __init__(self, auto: pd.DataFrame | None, by: list[str]) -> None:
        self._auto = pd.DataFrame() if auto is None else auto
        self._rows = {} if auto is None else {(g if isinstance(g, tuple) else (g,)): rows for g, rows in
                                               auto.groupby(by, sort=False, observed=True).indices.items()}

    def __getitem__(self, g: Group) -> pd.DataFrame:
        return self._auto.take(self._rows[g])

    def __iter__(self) -> Iterator[Group]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


def automatic_groups(auto: pd.DataFrame | None, by: list[str]) -> AutomaticGroups:
    """Every item's automatic evidence per group of the columns ``by`` (empty without any)."""
    return AutomaticGroups(auto, by)


def with_automatic(est: CategoryEstimates, part: pd.DataFrame, autos: Mapping[Group, pd.DataFrame], g: Group,
                   policy: Policy) -> CategoryEstimates:
    """``est`` made prediction-powered from the group's every item, where there is automatic evidence."""
    mine = autos.get(g)
    return est if mine is None else prediction_powered(est, part, mine, policy.confidence)


def decide_groups(
    groups: list[Group], ests: dict[Group, CategoryEstimates], alphas: dict[Group, float],
    extra: dict[Group, list[Reason]], policy: Policy, tickets: dict[Group, int], all_tickets: int,
) -> dict[Group, CategoryDecision]:
    """The gates on each group's estimates; ``extra`` gates (e.g. what unpaired evidence may not reach) must
    pass too, before the group enters the Holm family of non-inferiority tests with the evidence-gated ones."""
    eligible = [g for g in groups if all(r.passed for r in eligibility(g[0], ests.get(g), alphas.get(g, float("nan")),
                                                                          policy) + extra.get(g, []))]
    levels, adjusted = holm_family(ests, eligible, policy)
    return {
        g: decide_category(g[0], ests.get(g), alphas.get(g, float("nan")), policy,
                           levels.get(g, policy.noninferiority_alpha), adjusted.get(g),
                           tickets.get(g, 0) / all_tickets if all_tickets else 0.0, tickets.get(g, 0), extra.get(g, []))
        for g in groups
    }


def decide_category(
    cat: str, est: CategoryEstimates | None, alpha: float, policy: Policy,
    level: float, p_adj: float | None, volume_share: float = 0.0, tickets: int = 0, extra: list[Reason] | None = None,
) -> CategoryDecision:
    """One group's tier (a category or a cut of one); ``level``/``p_adj`` come from its Holm family (None: not tested)."""
    reasons = eligibility(cat, est, alpha, policy)
    if est is not None:
        reasons += tier_gates(est, policy, level, p_adj)
    reasons += extra or []
    tier = tier_of(reasons)
    need, by_gate, need_text = ratings_needed(tier, reasons, est, policy, level)
    alone = None
    if est is not None and est.ratings_only is not None:
        gates_alone = eligibility(cat, est.ratings_only, alpha, policy) + tier_gates(est.ratings_only, policy, level, None)
        alone = ratings_needed(tier_of(gates_alone + (extra or [])), gates_alone + (extra or []), est.ratings_only,
                               policy, level)[0]
    audit_text = audit_plan(est, policy) if tier == "automate" and est is not None else ""
    return CategoryDecision(
        category=cat, tier=tier, tickets=tickets, volume_share=volume_share,
        rated_items=est.rated_items if est else 0, estimates=est.estimates if est else {},
        reasons=reasons, ratings_needed=need, ratings_needed_by_gate=by_gate, ratings_needed_text=need_text,
        effective_ratings=est.effective_ratings if est else None, ratings_needed_ratings_only=alone,
        audit_text=audit_text,
    )
