"""Routing within a category: the clear turns to the AI, the unclear ones to a person.

A tier per category either automates a risky minority with the routine majority or keeps the
majority from automation. The router scores each agent turn's risk of an AI answer being harmful
or unacceptable (``model``, from what is known at that turn: ``features``) and two thresholds per
category (``thresholds``, Learn-then-Test) give three routes: the AI answers alone (harmful rate
within ``critical_ub_automate`` and AI - human acceptable rate above ``acceptable_diff_lb``), the
AI drafts for a person (harmful rate within ``critical_ub_assist``, acceptable rate above
``acceptable_lb_assist``), and a person alone. Each holds with probability at least ``confidence``
per category, whatever the category's tier; a category with too few rated turns routes everything
to people.

Two variants are learned: ``answer`` sees the drafted AI answer (route it or not), ``context`` only
the conversation (who takes the ticket before any draft).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from sklearn.compose import ColumnTransformer

from eval.decide.router.features import VARIANTS, Variant, context_columns, vectoriser
from eval.decide.router.model import RiskModel, fit, fold_of
from eval.decide.router.thresholds import NONE, Certified, certify
from eval.policy import Policy

MIN_POSITIVES = 5
"""Fewer harmful-or-unacceptable rated turns than this: nothing to learn a risk from; no router."""


@dataclass(frozen=True)
class CategoryRoutes:
    ai: Certified
    assist: Certified

    def route(self, risk: np.ndarray) -> np.ndarray:
        """The route of each turn of the category from its risk."""
        ai = risk <= self.ai.threshold if self.ai.threshold is not None else np.zeros(len(risk), bool)
        assist = risk <= self.assist.threshold if self.assist.threshold is not None else np.zeros(len(risk), bool)
        return np.where(ai, "ai", np.where(assist, "assist", "human"))


@dataclass(frozen=True)
class Router:
    """The fitted router: per variant the fold models and the certified thresholds per category."""

    vectoriser: ColumnTransformer
    models: dict[Variant, RiskModel]
    routes: dict[Variant, dict[str, CategoryRoutes]]
    training: dict[str, Any] = field(default_factory=dict)

    def route(self, frame: pd.DataFrame, variant: Variant) -> tuple[np.ndarray, np.ndarray]:
        """(route, risk) of every row of ``frame`` (turn features with ``ticket_id`` and ``category``)."""
        risk = self.models[variant].risk(self.vectoriser.transform(frame), fold_of(frame["ticket_id"]))
        routes = np.full(len(frame), "human", dtype=object)
        for category, rows in frame.groupby("category", sort=False).indices.items():
            mine = self.routes[variant].get(str(category))
            if mine is not None:
                routes[rows] = mine.route(risk[rows])
        return routes, risk


def _category_routes(part: pd.DataFrame, risk: np.ndarray, policy: Policy) -> CategoryRoutes:
    delta = 1 - policy.confidence
    harm, tickets = part["crit_ai"].to_numpy(float), part["ticket_id"].to_numpy()
    acc_ai = part["acc_ai"].to_numpy(float)
    diff = acc_ai - part["acc_human"].to_numpy(float)
    ai = certify(risk, harm, np.nan_to_num(diff, nan=-1.0), tickets, limit=policy.critical_ub_automate,
                 floor=policy.acceptable_diff_lb, delta=delta)
    base = risk <= ai.threshold if ai.threshold is not None else None
    assist = certify(risk, harm, np.nan_to_num(acc_ai, nan=0.0), tickets, limit=policy.critical_ub_assist,
                     floor=policy.acceptable_lb_assist, delta=delta, base=base)
    return CategoryRoutes(ai, assist)


def learn_router(turns: pd.DataFrame, policy: Policy) -> Router | None:
    """The router from the rated turns: ``turns`` holds each rated turn's features (``features.turn_features``)
    with ``item_id``, ``ticket_id``, ``category`` and its ratings ``crit_ai`` (any reviewer), ``acc_ai``,
    ``acc_human`` (reviewers' mean; unanswered acceptability counts against the AI). None when there is
    too little harm or unacceptability among them to learn from."""
    known = turns[turns["crit_ai"].notna()].reset_index(drop=True)
    bad = ((known["crit_ai"] > 0) | (known["acc_ai"].fillna(0.0) < 0.5)).to_numpy(int)
    if bad.sum() < MIN_POSITIVES or bad.sum() == len(bad):
        return None
    models: dict[Variant, RiskModel] = {}
    routes: dict[Variant, dict[str, CategoryRoutes]] = {}
    vec = vectoriser()
    x, folds = sparse.csr_matrix(vec.fit_transform(known)), fold_of(known["ticket_id"])
    for part in vec.named_transformers_.values():
        if hasattr(part, "__dict__"):  # an object id the text vectorisers cache: it would vary the pickled router
            vars(part).pop("_stop_words_id", None)
    for variant in VARIANTS:
        models[variant], risk = fit(x, folds, bad, variant, None if variant == "answer" else context_columns(vec))
        routes[variant] = {str(c): _category_routes(known.iloc[rows], risk[rows], policy)
                           for c, rows in known.groupby("category", sort=True).indices.items()
                           if c not in policy.always_human}  # never routed to the AI: no route to certify
    training = {"rated_turns": len(known), "harmful_or_unacceptable": int(bad.sum()),
                "without_critical_flag": int(len(turns) - len(known)), "confidence": policy.confidence}
    return Router(vec, models, routes, training)


def routing_summary(router: Router | None, category: str) -> dict[str, Any] | None:
    """What decisions.json says of a category's routes: per variant the share of its rated turns each route
    takes, the thresholds and the certified bounds."""
    if router is None:
        return None
    out: dict[str, Any] = {"confidence": router.training["confidence"]}
    for variant, routes in router.routes.items():
        r = routes.get(category, CategoryRoutes(NONE, NONE))
        out[variant] = {"ai": vars(r.ai), "assist": vars(r.assist),
                        "human_share": max(0.0, 1.0 - r.ai.share - r.assist.share)}
    return out
