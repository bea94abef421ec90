"""Which kind of evidence decides a category, when single-answer reviews (RUN/reviews.jsonl) exist beside ratings.

Kinds, strongest first:

* ``paired_ratings``: blind ratings of both answers of an item, side by side (ratings.jsonl);
* ``reviews_paired``: single-answer reviews of both answers of an item, the replayed AI answer and the
  recorded human one, usually by different reviewers. Per item the mean review score of each side and their
  difference, as paired ratings give, so the same estimates and gates apply;
* ``reviews_unpaired``: reviews of recorded answers of different tickets, bot-handled against human-handled
  (eval.decide.unpaired). Observational: the bot got different tickets. Alone it reaches at most assist
  unless the policy says ``unpaired_may_automate: true``; the ``unpaired_evidence`` gate says so.

A category is decided on the strongest kind it has at least ``min_rated`` items of (for unpaired reviews:
on each side), else on the strongest kind it has any of; the decision names the kind (``evidence``) and
shows the others beside it (``other_evidence``). Reviewer agreement for reviews is the same ordinal
Krippendorff's alpha over (item, side) units, with review scores rounded to the nearest of the five points;
it needs no reviewer identity, so anonymous reviews count. Named reviewers of reviews are screened as raters
are (eval.ratings.agreement.review_exclusion: their review scores against the others' mean on the same answers),
and under the same reviewer policy the reviews of those flagged are dropped before any of this; anonymous reviews
are kept, their reliability not assessable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from eval.decide.estimates import CategoryEstimates, category_estimates, item_table
from eval.decide.family import Group, automatic_groups, decide_groups, rating_evidence, with_automatic
from eval.decide.unpaired import unpaired_estimates, unpaired_method
from eval.policy import Policy
from eval.ratings.agreement import item_alpha
from eval.records import CategoryDecision, EvidenceKind, Reason

KINDS: tuple[EvidenceKind, ...] = ("paired_ratings", "reviews_paired", "reviews_unpaired")
COVARIATE_WORDS = {"first_message_chars": "first-message length"}
KIND_WORDS: dict[EvidenceKind, str] = {
    "paired_ratings": "blind ratings of the AI and the human answer side by side",
    "reviews_paired": "single-answer reviews of both answers of the same turns",
    "reviews_unpaired": ("single-answer reviews of different tickets (unpaired, observational): "
                         "the bot got different tickets"),
}


def evidence_method() -> str:
    """What decisions.json's ``method`` adds when the run has reviews."""
    return (__doc__ or "").strip() + "\n\n" + unpaired_method()


@dataclass(frozen=True)
class Evidence:
    est: CategoryEstimates
    alpha: float


def _recorded_units(reviews: pd.DataFrame) -> pd.DataFrame:
    """One row per reviewed recorded answer: its group (source ``ai``: bot-handled, or ``human``), mean score,
    acceptable share, critical if any reviewer flagged it."""
    flags = reviews.assign(acc=reviews["acceptable"].astype(float), crit=reviews["critical"].astype(float),
                           score=reviews["score"].astype(float), group=reviews["source"])
    grouped = flags.groupby(["item_id", "group"], sort=True)
    units = grouped[["score", "acc"]].mean().join(grouped["crit"].max()).join(grouped[["ticket_id"]].first())
    return units.reset_index()


def _paired_rows(reviews: pd.DataFrame) -> pd.DataFrame:
    """Reviews of items whose replayed AI answer and recorded human answer were both reviewed, as the
    rating rows ``item_table`` averages per item (each review fills its own side), with ``side`` (0: AI)
    and ``score`` for agreement."""
    ai = (reviews["answer"] == "replayed") & (reviews["source"] == "ai")
    human = (reviews["answer"] == "historical") & (reviews["source"] == "human")
    both = set(reviews.loc[ai, "item_id"]) & set(reviews.loc[human, "item_id"])
    part = reviews[(ai | human) & reviews["item_id"].isin(both)]
    is_ai = (part["answer"] == "replayed").to_numpy()
    return pd.DataFrame({
        "item_id": part["item_id"], "ticket_id": part["ticket_id"], "category": part["category"],
        "score_ai": part["score"].where(is_ai), "score_human": part["score"].where(~is_ai),
        "preference": pd.Series(np.nan, index=part.index, dtype=object),
        "acceptable_ai": part["acceptable"].where(is_ai), "acceptable_human": part["acceptable"].where(~is_ai),
        "critical_ai": part["critical"].where(is_ai), "critical_human": part["critical"].where(~is_ai),
        "side": np.where(is_ai, 0, 1), "score": part["score"],
    })


def review_alpha(reviews: pd.DataFrame, side: np.ndarray) -> float:
    """Ordinal alpha over (item, side) units of single reviews, scores rounded to the nearest of 1..5."""
    scored = reviews["score"].notna().to_numpy()
    long = pd.DataFrame({"item": reviews["item_id"].to_numpy()[scored], "side": side[scored],
                         "score": np.clip(np.rint(reviews["score"].to_numpy(float)[scored]), 1, 5).astype(int)})
    return item_alpha(long, 0, 0.95, None).alpha


def review_evidence(
    reviews: pd.DataFrame, scores: pd.DataFrame | None, covariates: pd.DataFrame | None, policy: Policy,
    rngs: dict[Group, np.random.Generator], auto: pd.DataFrame | None = None,
) -> dict[Group, dict[EvidenceKind, Evidence]]:
    """Per category the reviews paired by item and the unpaired ones, each with its estimates and alpha."""
    autos = automatic_groups(auto, ["category"])
    paired = _paired_rows(reviews)
    tables = dict(list(item_table(paired, scores).groupby("category", sort=True)))
    paired_by = dict(list(paired.groupby("category", sort=True)))
    recorded = reviews[(reviews["answer"] == "historical") & reviews["source"].isin(["ai", "human"])]
    recorded_by = dict(list(recorded.groupby("category", sort=True)))
    out: dict[Group, dict[EvidenceKind, Evidence]] = {}
    for g, rng in rngs.items():
        rng_paired, rng_unpaired = rng.spawn(2)
        kinds = out.setdefault(g, {})
        if g[0] in paired_by:
            est = with_automatic(category_estimates(tables[g[0]], policy.confidence, policy.bootstrap_resamples, rng_paired),
                                 tables[g[0]], autos, g, policy)
            rows = paired_by[g[0]]
            kinds["reviews_paired"] = Evidence(est, review_alpha(rows, rows["side"].to_numpy()))
        part = recorded_by.get(g[0])
        unpaired = None if part is None else unpaired_estimates(_recorded_units(part), covariates, policy, rng_unpaired)
        if part is not None and unpaired is not None:
            kinds["reviews_unpaired"] = Evidence(unpaired, review_alpha(part, (part["source"] == "human").to_numpy(int)))
    return out


def chosen_kind(kinds: dict[EvidenceKind, Evidence], min_rated: int) -> EvidenceKind:
    """The strongest kind with at least ``min_rated`` items, else the strongest present."""
    present = [k for k in KINDS if k in kinds]
    enough = [k for k in present if kinds[k].est.rated_items >= min_rated]
    return (enough or present or ["paired_ratings"])[0]


def _headline(kind: EvidenceKind, ev: Evidence) -> dict[str, Any]:
    """What ``other_evidence`` shows of a kind not used: items, tickets, the difference, agreement."""
    est = ev.est.estimates
    out = {"rated_items": ev.est.rated_items, "tickets": ev.est.tickets, "alpha": ev.alpha,
           "diff_mean": {k: est["diff_mean"][k] for k in ("estimate", "low", "high")}}
    if kind == "reviews_unpaired":
        out["diff_mean_adjusted"] = {k: est["diff_mean_adjusted"][k] for k in ("estimate", "low", "high")}
        out["unpaired"] = True
    return out


def _shown(e: dict[str, Any]) -> str:
    """``+0.12 (-0.05 to +0.30)``, or ``undefined`` where too few tickets were left to estimate it."""
    if not np.isfinite(e["estimate"]):
        return "undefined (fewer than two tickets left on a side)"
    return f"{e['estimate']:+.2f} ({e['low']:+.2f} to {e['high']:+.2f})"


def unpaired_gate(est: CategoryEstimates, policy: Policy) -> Reason:
    """Says plainly that the evidence is unpaired, and holds it below automate unless the policy allows it."""
    e, u = est.estimates, est.estimates["unpaired"]
    facts = ", ".join(COVARIATE_WORDS.get(c, c.removeprefix("metadata.")) for c in u["covariates"])
    allowed = policy.unpaired_may_automate
    return Reason(gate="unpaired_evidence", passed=allowed, value=None, threshold=None, text=(
        f"decided on {KIND_WORDS['reviews_unpaired']} ({u['items_ai']} bot-handled, {u['items_human']} "
        f"human-handled answers); AI - human mean review {_shown(e['diff_mean'])}, adjusted for "
        f"{facts or 'nothing (no ticket fact varies)'} {_shown(e['diff_mean_adjusted'])} ({u['trimmed_tickets']} of "
        f"{u['tickets']} tickets trimmed for poor overlap); the gates use the {u['gate_uses']} difference; "
        + ("the policy lets it reach automate (unpaired_may_automate: true)" if allowed else
           "alone it may not reach automate (policy unpaired_may_automate: false)")))


def decide_on_evidence(
    groups: list[Group], table: pd.DataFrame, ratings: pd.DataFrame, reviews: pd.DataFrame,
    scores: pd.DataFrame | None, covariates: pd.DataFrame | None, policy: Policy,
    rngs: dict[Group, np.random.Generator], tickets: dict[Group, int], all_tickets: int,
    auto: pd.DataFrame | None = None,
) -> dict[Group, CategoryDecision]:
    """Each category on its strongest kind of evidence, in one Holm family; the kind named, the others shown."""
    ests, alphas = rating_evidence(["category"], table, ratings, policy, rngs, auto)
    kinds = review_evidence(reviews, scores, covariates, policy, rngs, auto)
    for g in groups:
        if g in ests:
            kinds[g]["paired_ratings"] = Evidence(ests[g], alphas.get(g, float("nan")))
    used = {g: chosen_kind(kinds[g], policy.min_rated) for g in groups}
    picked = {g: kinds[g][used[g]] for g in groups if used[g] in kinds[g]}
    extra = {g: [unpaired_gate(ev.est, policy)] for g, ev in picked.items() if used[g] == "reviews_unpaired"}
    family = decide_groups(groups, {g: ev.est for g, ev in picked.items()},
                           alphas | {g: ev.alpha for g, ev in picked.items()}, extra, policy, tickets, all_tickets)
    return {g: d.model_copy(update={"evidence": used[g], "other_evidence": {
        k: _headline(k, kinds[g][k]) for k in KINDS if k in kinds[g] and k != used[g]} or None}) for g, d in family.items()}
