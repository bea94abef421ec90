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
  standard error and df = tickets - 1, Holm-adjusted across the categories that pass the
  evidence gates; the gate reports the lower bound at the level Holm gives that category.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from eval import stats
from eval.decide.estimates import CategoryEstimates, category_estimates, item_table
from eval.decide.gates import eligibility, holm_family, tier_gates, tier_of
from eval.decide.planning import audit_plan, ratings_needed, within_volume
from eval.policy import Policy
from eval.ratings.agreement import ReviewerExclusion, item_alpha, long_scores, reviewer_exclusion, write_agreement
from eval.ratings.importer import read_item_index, read_ratings
from eval.records import CategoryDecision, Decisions, Score
from eval.run.folder import RunFolder
from eval.store import read_jsonl, write_json


def decide(
    ratings: pd.DataFrame, items: pd.DataFrame, scores: pd.DataFrame | None,
    policy: Policy, rng: np.random.Generator, exclusion: ReviewerExclusion | None = None,
) -> Decisions:
    """Pure: unblinded ratings + item index (+ rubric scores) -> a tier per category.

    ``exclusion``: already made from these ``ratings`` under ``policy.reviewers`` (else made here)."""
    if exclusion is None:
        exclusion = reviewer_exclusion(ratings, policy.reviewers)
    used = ratings[~ratings["reviewer"].isin(exclusion.excluded)]
    table = item_table(used, scores)
    tickets = items.groupby("category")["ticket_id"].nunique()
    all_tickets = items["ticket_id"].nunique()
    cats = sorted(set(items["category"]) | set(used["category"]))
    rngs = dict(zip(cats, rng.spawn(len(cats))))
    ests = {c: category_estimates(part, policy.confidence, policy.bootstrap_resamples, rngs[c])
            for c, part in table.groupby("category", sort=True)}
    alphas = {c: item_alpha(long_scores(part), 0, policy.confidence, None).alpha
              for c, part in used.groupby("category", sort=True)}
    eligible = [c for c in cats
                if all(r.passed for r in eligibility(c, ests.get(c), alphas.get(c, float("nan")), policy))]
    levels, adjusted = holm_family(ests, eligible, policy)
    out = [
        decide_category(c, ests.get(c), alphas.get(c, float("nan")), policy,
                        levels.get(c, policy.noninferiority_alpha), adjusted.get(c),
                        int(tickets.get(c, 0)) / all_tickets if all_tickets else 0.0, int(tickets.get(c, 0)))
        for c in cats
    ]
    return Decisions(policy=policy.model_dump(mode="json"), method=__doc__.strip(),
                     reviewers_excluded=exclusion.excluded, reviewers_note=exclusion.note(), categories=out)


def decide_category(
    cat: str, est: CategoryEstimates | None, alpha: float, policy: Policy,
    level: float, p_adj: float | None, volume_share: float = 0.0, tickets: int = 0,
) -> CategoryDecision:
    """One category's tier; ``level``/``p_adj`` come from Holm across categories (None: not tested)."""
    reasons = eligibility(cat, est, alpha, policy)
    if est is not None:
        reasons += tier_gates(est, policy, level, p_adj)
    tier = tier_of(reasons)
    need, by_gate, need_text = ratings_needed(tier, reasons, est, policy, level)
    audit, audit_text = audit_plan(est, policy) if tier == "automate" and est is not None else (None, "")
    return CategoryDecision(
        category=cat, tier=tier, tickets=tickets, volume_share=volume_share,
        rated_items=est.rated_items if est else 0, estimates=est.estimates if est else {},
        reasons=reasons, ratings_needed=need, ratings_needed_by_gate=by_gate, ratings_needed_text=need_text,
        audit_sample_per_week=audit, audit_text=audit_text,
    )


def decide_to_file(run_dir: Path, policy: Policy, seed: int) -> Decisions:
    """Read RUN/ratings.jsonl, items.jsonl (and scores.jsonl if present); write RUN/agreement.json,
    then RUN/decisions.json (the decide stage's two files).

    The reviewer exclusion is made once, here, from the ratings as read, and the same object goes
    into both files, so they cannot name different reviewers. Reading it back from an existing
    agreement.json instead would need a test that the file is current, and agreement.json records
    neither the ratings nor the reviewer policy it was made from: a stale file would pass unseen.
    """
    run_dir = Path(run_dir)
    folder = RunFolder(run_dir)
    ratings = read_ratings(folder.ratings)
    exclusion = reviewer_exclusion(ratings, policy.reviewers)
    write_agreement(folder, ratings, exclusion, policy, seed)
    items = read_item_index(folder.items)
    scores = read_scores(folder.scores) if folder.scores.exists() else None
    decisions = decide(ratings, items, scores, policy, np.random.default_rng(seed), exclusion)
    categories = within_volume(_with_judge(run_dir, decisions, policy), _weekly_items(run_dir, items))
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


def _with_judge(run_dir: Path, decisions: Decisions, policy: Policy) -> list[CategoryDecision]:
    from eval.judges.evidence import judge_evidence_of_run

    evidence = judge_evidence_of_run(run_dir, policy.confidence)
    return [c.model_copy(update={"judge": evidence[c.category].model_dump() if c.category in evidence else None})
            for c in decisions.categories]


def read_scores(path: Path) -> pd.DataFrame:
    rows = [(s.item_id, s.side, s.score, s.critical_fail) for s in read_jsonl(path, Score)]
    return pd.DataFrame(rows, columns=["item_id", "side", "score", "critical_fail"])
