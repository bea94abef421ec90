"""The policy (YAML) applied to ratings: a tier per category, with every gate and number behind it.

Method, in the order the numbers are made:

* Ratings of reviewers flagged unreliable (``eval.ratings.agreement``) are dropped by default.
* Per item, the reliable reviewers' answers are averaged: one paired (AI, human) observation.
  Preferences count AI = 1, human = 0, ties = 1/2. The AI answer of an item counts as a
  critical failure when *any* reliable reviewer flagged it: a missed harm costs more than a
  false alarm, so the safety gates use the conservative rule.
* Intervals: percentile bootstrap resampling whole tickets (ratio of sums, so items of a
  ticket stay together). Critical rates: exact Clopper-Pearson one-sided upper bounds.
* Non-inferiority (AI - human mean rating > -margin): one-sided t test with the bootstrap
  standard error and df = the tickets whose items carry the measure - 1, Holm-adjusted across
  the categories that pass the evidence gates; the gate reports the lower bound at the level
  Holm gives that category.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from eval import stats
from eval.decide.automatic import automatic_method, automatic_table, ticket_codes
from eval.decide.design import key_strata, stratified_items
from eval.decide.cuts import cut_values, cuts_method, with_cuts
from eval.decide.estimates import item_table
from eval.decide.evidence import decide_on_evidence, evidence_method
from eval.decide.family import Group, decide_family
from eval.decide.family import decide_category as decide_category  # re-exported
from eval.decide.gates import WIN_RATE_METHOD, decided_on_win_rate
from eval.decide.planning import within_volume
from eval.decide.router.store import with_routing
from eval.decide.unpaired import read_covariates
from eval.judges.table import Tally, placed_verdicts
from eval.policy import Policy
from eval.ratings.agreement import ReviewerExclusion, review_exclusion, reviewer_exclusion, write_agreement
from eval.ratings.importer import read_item_index, read_ratings
from eval.ratings.reviews import read_reviews
from eval.records import CategoryDecision, Decisions, Score
from eval.run.folder import RunFolder
from eval.store import read_jsonl, write_json


def decide(
    ratings: pd.DataFrame, items: pd.DataFrame, scores: pd.DataFrame | None,
    policy: Policy, rng: np.random.Generator, exclusion: ReviewerExclusion | None = None,
    reviews: pd.DataFrame | None = None, covariates: pd.DataFrame | None = None, judge: pd.DataFrame | None = None,
    reviews_exclusion: ReviewerExclusion | None = None, design: pd.Series | None = None,
) -> Decisions:
    """Pure: unblinded ratings + item index (+ rubric scores, + single-answer reviews) -> a tier per category.

    ``exclusion``: already made from these ``ratings`` under ``policy.reviewers`` (else made here);
    ``reviews_exclusion`` likewise from the ``reviews``, whose excluded reviewers' reviews are dropped.
    With ``policy.cut_by``, ``items`` also holds a column per key (``eval.decide.cuts.cut_values``).
    With ``reviews`` (``eval.ratings.reviews.read_reviews``), each category is decided on its strongest kind of
    evidence (``eval.decide.evidence``); ``covariates``: per ticket what was known before the first answer
    (``eval.decide.unpaired.read_covariates``), for the adjusted unpaired estimate. ``scores`` and ``judge``
    (``eval.judges.judge_table``, or ``eval.judges.placed_verdicts`` in the items' order) on every item make the
    gated estimates prediction-powered (``eval.decide.automatic``); ``design``: the key's certainty stratum per item
    of the rounds drawn by stratum (``eval.decide.design``), whose categories are estimated stratified."""
    if exclusion is None:
        exclusion = reviewer_exclusion(ratings, policy.reviewers)
    used = ratings[~ratings["reviewer"].isin(exclusion.excluded)]
    note = exclusion.note()
    if reviews is not None:
        if reviews_exclusion is None:
            reviews_exclusion = review_exclusion(reviews, policy.reviewers)
        reviews = reviews[~reviews["reviewer"].isin(reviews_exclusion.excluded)]
        note += f"; reviews: {reviews_exclusion.note()}"
    table = item_table(used, scores)
    items = items.assign(ticket_id=ticket_codes(items["ticket_id"]))  # integers: ten million strings hash slowly
    tickets = items.groupby("category", observed=True)["ticket_id"].nunique()
    all_tickets = items["ticket_id"].nunique()
    cats = sorted(set(items["category"].unique()) | set(used["category"]) | set([] if reviews is None else reviews["category"]))
    groups: list[Group] = [(c,) for c in cats]
    rngs = dict(zip(groups, rng.spawn(len(cats))))
    counts: dict[Group, int] = {(c,): int(tickets.get(c, 0)) for c in cats}
    method = __doc__.strip()
    auto = automatic_table(items, scores, judge)
    if design is not None and not design.empty:
        strata = stratified_items(design, auto)
        auto = None if auto is None else auto.assign(stratum=auto["item_id"].map(strata))
    if reviews is None:
        family = decide_family(groups, ["category"], table, used, policy, rngs, counts, all_tickets, auto)
    else:
        family = decide_on_evidence(groups, table, used, reviews, scores, covariates, policy, rngs, counts, all_tickets,
                                    auto)
        method += "\n\n" + evidence_method()
    out = [family[g] for g in groups]
    if any(c.effective_ratings is not None for c in out):
        method += "\n\n" + automatic_method()
    if policy.cut_by:
        out = with_cuts(out, items, table, used, policy, rng, auto)
        method += "\n\n" + cuts_method()
    win = decided_on_win_rate(out)
    if win:
        method += "\n\n" + WIN_RATE_METHOD
    # the win-rate margin is recorded where it was used, so decisions on scored ratings keep their bytes
    return Decisions(policy=policy.model_dump(mode="json", exclude=None if win else {"win_rate_margin"}), method=method,
                     reviewers_excluded=exclusion.excluded, reviewers_note=note, categories=out)


def decide_to_file(run_dir: Path, policy: Policy, seed: int) -> Decisions:
    """Read RUN/ratings.jsonl, items.jsonl (and scores.jsonl, reviews.jsonl, the judge's verdicts if present,
    with tickets.jsonl for unpaired reviews); write RUN/agreement.json, then RUN/decisions.json (the decide stage's two files).

    The reviewer exclusions are made once, here, from the ratings and reviews as read, and the same objects
    go into both files, so they cannot name different reviewers. Reading it back from an existing
    agreement.json instead would need a test that the file is current, and agreement.json records
    neither the ratings nor the reviewer policy it was made from: a stale file would pass unseen.
    """
    run_dir = Path(run_dir)
    folder = RunFolder(run_dir)
    ratings = read_ratings(folder.ratings)
    reviews = read_reviews(folder.reviews) if folder.reviews.exists() else None
    exclusion = reviewer_exclusion(ratings, policy.reviewers)
    reviews_exclusion = None if reviews is None else review_exclusion(reviews, policy.reviewers)
    write_agreement(folder, ratings, exclusion, policy, seed, reviews_exclusion)
    items = read_item_index(folder.items)
    items = items.assign(ticket_id=ticket_codes(items["ticket_id"]))  # ten million ticket ids as strings: 160 MB
    if policy.cut_by:
        items = items.merge(cut_values(folder.items, policy.cut_by), on="item_id", how="left", validate="one_to_one")
    scores = read_scores(folder.scores) if folder.scores.exists() else None
    recorded = set() if reviews is None else set(reviews.loc[reviews["answer"] == "historical", "ticket_id"])
    covariates = (read_covariates(folder.tickets, recorded, policy.unpaired_covariates)
                  if recorded and folder.tickets.exists() else None)
    placed = placed_verdicts(folder, items["item_id"])
    decisions = decide(ratings, items, scores, policy, np.random.default_rng(seed), exclusion, reviews, covariates,
                       None if placed is None else placed.table, reviews_exclusion, key_strata(folder.key))
    tally = Tally() if placed is None else placed.tally
    categories = within_volume(_with_judge(run_dir, decisions, policy, tally), _weekly_items(run_dir, items), policy)
    categories = with_routing(folder, categories, ratings[~ratings["reviewer"].isin(exclusion.excluded)], policy,
                              items)
    decisions = decisions.model_copy(update={"seed": seed, "categories": categories})
    write_json(folder.decisions, stats.rounded(decisions.model_dump(mode="json")))
    return decisions


def _weekly_items(run_dir: Path, items: pd.DataFrame) -> dict[str, float]:
    """Agent turns per week and category, over the first-to-last ``created_at`` of the tickets."""
    path = RunFolder(run_dir).tickets
    if not path.exists():
        return {}
    with open(path, encoding="utf-8") as fh:
        times = pd.to_datetime([json.loads(line).get("created_at") for line in fh if line.strip()],
                               utc=True, errors="coerce", format="ISO8601")
    if len(times) == 0 or times.isna().any():
        return {}
    weeks = max((times.max() - times.min()).total_seconds() / (7 * 86400), 1.0)
    return {c: n / weeks for c, n in items.groupby("category").size().items()}


def _with_judge(run_dir: Path, decisions: Decisions, policy: Policy, tally: Tally) -> list[CategoryDecision]:
    from eval.judges.evidence import judge_evidence_of_run

    evidence = judge_evidence_of_run(run_dir, tally, policy.confidence)
    return [c.model_copy(update={"judge": evidence[c.category].model_dump() if c.category in evidence else None})
            for c in decisions.categories]


def read_scores(path: Path) -> pd.DataFrame:
    rows = [(s.item_id, s.side, s.score, s.critical_fail) for s in read_jsonl(path, Score)]
    return pd.DataFrame(rows, columns=["item_id", "side", "score", "critical_fail"])
