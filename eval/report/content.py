"""What the report says, computed once for both renderers: tier shares, plain reasons, workload.

Every figure here is either copied from ``decisions.json`` or summed from it (tier shares are
sums of category ``tickets``); the only other sources are ``tickets.jsonl`` for the agent hours a
month (created_at, handle_time_s) and ``agreement.json`` for reviewer agreement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from eval.decide.gates import ASSIST_GATES, AUTOMATE_GATES, ELIGIBILITY_GATES, KIND_GATES
from eval.records import CategoryDecision, Decisions, Monitor
from eval.report.examples import Example
from eval.report.rollout import MonitorRow, RolloutRow, monitor_rows, monitor_sentence, rollout_rows
from eval.report.sources import TicketStats
from eval.report.words import (
    NEXT_TIER,
    category_name,
    cuts_sentence,
    automatic_sentence,
    judge_disagreement,
    judge_sentence,
    routing_sentence,
    slices_sentence,
    evidence_sentence,
    listing,
    plain_reason,
    plural,
)

TIERS = ("automate", "assist", "human")
DAYS_PER_MONTH = 365.25 / 12


@dataclass(frozen=True)
class TierShare:
    tier: str
    categories: tuple[str, ...]
    tickets: int
    share: float
    low: float
    high: float
    audit_per_week: int | None


@dataclass(frozen=True)
class Workload:
    """Agent time a category takes each month, from ticket handle times over the data's span."""

    tickets_per_month: float
    mean_handle_minutes: float
    hours_per_month: float
    timed_tickets: int
    tickets: int


@dataclass(frozen=True)
class CategoryView:
    decision: CategoryDecision
    name: str
    blockers: tuple[str, ...]
    examples: tuple[Example, ...]
    workload: Workload | None
    judge: str
    """The judge's calibration here in words ("" where no judge ran)."""
    cuts: str
    """The tiers of the category's cuts in one line ("" without cuts)."""
    evidence: str
    """Which kind of evidence decided it, in words ("" for a run without reviews)."""
    automatic: str = ""
    """What the automatic evidence on every item was worth here ("" where it made no estimate)."""
    routing: str = ""
    """The router's certified routes within the category and where the AI fails ("" without a router)."""


@dataclass(frozen=True)
class Sentence:
    text: str
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class Report:
    title: str
    started_at: str | None
    tiers: tuple[TierShare, ...]
    total_tickets: int
    confidence: float
    sentences: tuple[Sentence, ...]
    evidence: tuple[str, ...]
    categories: tuple[CategoryView, ...]
    data: dict[str, Any]
    policy: dict[str, Any]
    method: str
    agreement: dict[str, Any]
    reviewers_note: str
    span_days: float | None
    judge_note: str = ""
    """Where the judge disagrees with reviewers most ("" without a judge)."""
    rollout: tuple[RolloutRow, ...] = ()
    monitoring: tuple[MonitorRow, ...] = ()
    monitor_note: str = ""
    """Per watched category the tier decided and now (empty until ``support-eval monitor`` has run)."""


def tier_shares(decisions: Decisions) -> tuple[TierShare, ...]:
    """Exact shares of the evaluated tickets, with a Wilson interval for future volume like it."""
    total = sum(c.tickets for c in decisions.categories)
    conf = float(decisions.policy.get("confidence", 0.95))
    out = []
    for tier in TIERS:
        cats = [c for c in decisions.categories if c.tier == tier]
        n = sum(c.tickets for c in cats)
        low, high = proportion_confint(n, total, alpha=1 - conf, method="wilson") if total else (0.0, 0.0)
        audits = [c.audit_sample_per_week for c in cats if c.audit_sample_per_week is not None]
        out.append(TierShare(tier, tuple(c.category for c in cats), n, n / total if total else 0.0,
                             float(low), float(high), sum(audits) if audits else None))
    return tuple(out)


def blockers(c: CategoryDecision) -> tuple[str, ...]:
    """The failed gates that keep a category out of the next tier up, in plain words."""
    failed = {r.gate: r for r in c.reasons if not r.passed}
    eligibility = [failed[g] for g in ELIGIBILITY_GATES if g in failed]
    if eligibility:
        return tuple(plain_reason(r, c.estimates) for r in eligibility)
    gates = AUTOMATE_GATES + KIND_GATES if c.tier == "assist" else ASSIST_GATES if c.tier == "human" else ()
    return tuple(plain_reason(failed[g], c.estimates) for g in gates if g in failed)


def span_days(stats: TicketStats) -> float | None:
    created = stats.tickets["created"].dropna()
    if len(created) < 2:
        return None
    days = (created.max() - created.min()) / pd.Timedelta(days=1)
    return float(days) if days >= 1 else None


def workloads(stats: TicketStats) -> dict[str, Workload]:
    """Per category with recorded handle times: tickets a month x mean handle time."""
    days = span_days(stats)
    if days is None:
        return {}
    out = {}
    for cat, part in stats.tickets.groupby("category", sort=True):
        timed = part["handle_time_s"].dropna()
        if timed.empty:
            continue
        per_month = len(part) / (days / DAYS_PER_MONTH)
        mean_s = float(timed.mean())
        out[str(cat)] = Workload(per_month, mean_s / 60, per_month * mean_s / 3600, len(timed), len(part))
    return out


def _tier_sentence(share: TierShare, total: int, conf: float, decisions: Decisions, hours: float | None) -> Sentence:
    names = listing([category_name(c) for c in share.categories])
    agent_time = f"; about {hours:,.0f} agent hours a month" if hours is not None else ""
    volume = (f"{share.share:.1%} of ticket volume ({share.tickets:,} of {total:,} tickets; "
              f"{conf:.0%} range for future volume {share.low:.1%} to {share.high:.1%}{agent_time})")
    cats = plural(len(share.categories), "category")
    if share.tier == "automate":
        audit = f", with a weekly audit of {share.audit_per_week:,} AI answers in total" if share.audit_per_week else ""
        return Sentence(f"AI may answer alone in {cats} covering {volume}{audit}: {names}.")
    if share.tier == "assist":
        return Sentence(f"AI may draft answers for a person to approve or edit in {cats} covering {volume}: {names}.")
    by_cat = {c.category: c for c in decisions.categories}
    why = tuple(f"{category_name(c)}: {(blockers(by_cat[c]) or ('no check passed',))[0]}." for c in share.categories)
    return Sentence(f"{cats.capitalize()} covering {volume} must stay with people:", why)


def summary_sentences(
    decisions: Decisions, shares: tuple[TierShare, ...], loads: dict[str, Workload]
) -> tuple[Sentence, ...]:
    total = sum(s.tickets for s in shares)
    conf = float(decisions.policy.get("confidence", 0.95))
    out = []
    for s in shares:
        timed = [loads[c].hours_per_month for c in s.categories if c in loads]
        if s.categories:
            out.append(_tier_sentence(s, total, conf, decisions, sum(timed) if timed else None))
    return tuple(out)


def _evidence(c: CategoryDecision) -> str:
    """What would settle a category, without its name (categories sharing a message are grouped)."""
    if c.ratings_needed and "min_rated" in c.ratings_needed_by_gate:
        return f"{c.ratings_needed:,} more rated answers are needed before it can be judged at all."
    if c.ratings_needed:
        return f"about {c.ratings_needed:,} more rated answers would show whether it can move up to {NEXT_TIER[c.tier]}."
    if "always_human" in c.ratings_needed_by_gate:
        return "company policy keeps it with people; no ratings needed."
    if "unpaired_evidence" in c.ratings_needed_by_gate:
        return ("reviews of different tickets cannot show more; review both answers of the same turns, "
                "or rate them blind side by side.")
    if "reviewer_alpha" in c.ratings_needed_by_gate:
        return "reviewers disagree too much; clarify the rating guidelines or retrain reviewers before rating more."
    if any(r.value is None and r.gate in c.ratings_needed_by_gate for r in c.reasons if not r.passed):
        return ("its ratings do not say which answers are acceptable or harmful; ratings that do are needed "
                "before it can move up.")
    return "more ratings alone will not change the recommendation; the AI itself has to get better first."


def evidence_sentences(decisions: Decisions) -> tuple[str, ...]:
    """What more ratings could settle, and where more ratings alone will not help."""
    grouped: dict[str, list[str]] = {}
    for c in decisions.categories:
        if c.tier != "automate":
            grouped.setdefault(_evidence(c), []).append(category_name(c.category))
    return tuple(f"{listing(names)}: {text}" for text, names in grouped.items())


def data_facts(decisions: Decisions, stats: TicketStats, items: int, ratings: pd.DataFrame,
               manifest: dict[str, Any]) -> dict[str, Any]:
    """Sample sizes for the method section, counted from the run's files."""
    reviewers = sorted(ratings["reviewer"].unique()) if len(ratings) else []
    created = stats.tickets["created"].dropna()
    return {
        "tickets_ingested": len(stats.tickets), "quarantined": stats.quarantined,
        "tickets_evaluated": sum(c.tickets for c in decisions.categories),
        "turns": items, "ratings": len(ratings), "rated_items": sum(c.rated_items for c in decisions.categories),
        "reviewers": len(reviewers), "excluded": list(decisions.reviewers_excluded),
        "first": created.min().date().isoformat() if len(created) else None,
        "last": created.max().date().isoformat() if len(created) else None,
        "categories": len(decisions.categories), "config_sha256": manifest.get("config_sha256"),
        "git_revision": manifest.get("git_revision"), "seed": decisions.seed,
    }


def build_report(
    decisions: Decisions, raw: dict[str, Any], examples: dict[str, list[Example]], stats: TicketStats,
    agreement: dict[str, Any], facts: dict[str, Any], manifest: dict[str, Any], monitor: Monitor | None = None,
) -> Report:
    """Pure: the run's decisions and side tables -> everything the renderers show."""
    loads = workloads(stats)
    raw_cats = {c.get("category"): c for c in raw.get("categories", [])}
    shares = tier_shares(decisions)
    views = tuple(
        CategoryView(decision=c, name=category_name(c.category), blockers=blockers(c),
                     examples=tuple(examples.get(c.category, ())), workload=loads.get(c.category),
                     judge=judge_sentence(raw_cats.get(c.category, {}).get("judge")), cuts=cuts_sentence(c),
                     evidence=evidence_sentence(c), automatic=automatic_sentence(c),
                     routing=" ".join(t for t in (routing_sentence(c), slices_sentence(c)) if t))
        for c in sorted(decisions.categories, key=lambda c: (TIERS.index(c.tier), -c.tickets, c.category))
    )
    return Report(
        title=f"Where AI can answer customers: {manifest.get('name') or 'run'}",
        started_at=manifest.get("started_at"), tiers=shares, total_tickets=sum(s.tickets for s in shares),
        confidence=float(decisions.policy.get("confidence", 0.95)),
        sentences=summary_sentences(decisions, shares, loads), evidence=evidence_sentences(decisions),
        judge_note=judge_disagreement(decisions.categories),
        rollout=rollout_rows(list(decisions.categories), monitor), monitoring=monitor_rows(monitor),
        monitor_note=monitor_sentence(monitor),
        categories=views, data=facts, policy=decisions.policy, method=decisions.method, agreement=agreement,
        reviewers_note=decisions.reviewers_note, span_days=span_days(stats),
    )
