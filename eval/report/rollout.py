"""The rollout plan and the monitoring section: per category the stage now, its human control, what moves it.

The order of adoption is the one that worked: shadow (the AI answers offline, people answer customers),
assist (the AI drafts, a person approves every answer), automate (the AI answers, QA audits a sample and
the monitor can take it back). The stage now is the decision's tier, or the monitor's where it has run.
"""

from __future__ import annotations

from dataclasses import dataclass

from eval.records import CategoryDecision, Monitor
from eval.report.words import category_name

STAGE = {"human": "shadow", "assist": "assist", "automate": "automate"}


@dataclass(frozen=True)
class RolloutRow:
    name: str
    stage: str
    control: str
    """The human control this stage needs."""
    moves: str
    """What would move it (up or down)."""


@dataclass(frozen=True)
class MonitorRow:
    name: str
    decided: str
    now: str
    changed_at: str | None
    reason: str


def _control(c: CategoryDecision, tier: str) -> str:
    if tier == "automate":
        audits = f"{c.audit_sample_per_week} audited AI answers a week" if c.audit_sample_per_week else "an audit sample"
        return f"{audits}, watched by the monitor, which demotes it to assist on an alarm"
    if tier == "assist":
        return "an agent approves or edits every AI draft; a sample of drafts is reviewed, and assist logs record the edits"
    return "people answer customers; the AI answers only offline (replay), for comparison"


def _moves(c: CategoryDecision, tier: str, monitored: bool) -> str:
    if tier == "automate":
        return "a harmful-rate or review-score alarm in the live audits moves it back to assist"
    if tier == "assist":
        return ("reviewed drafts passing the automate gates, with most drafts sent unchanged, move it to automate "
                + ("(see monitoring below)" if monitored else "(run `support-eval monitor` on reviewed drafts)"))
    return c.ratings_needed_text or "better AI answers, shown by a new evaluation"


def rollout_rows(decisions: list[CategoryDecision], monitor: Monitor | None) -> tuple[RolloutRow, ...]:
    now = {m.category: m.tier for m in monitor.categories} if monitor else {}
    return tuple(RolloutRow(name=category_name(c.category), stage=STAGE[now.get(c.category, c.tier)],
                            control=_control(c, now.get(c.category, c.tier)),
                            moves=_moves(c, now.get(c.category, c.tier), monitor is not None))
                 for c in decisions)


def monitor_rows(monitor: Monitor | None) -> tuple[MonitorRow, ...]:
    if monitor is None:
        return ()
    return tuple(MonitorRow(name=category_name(m.category), decided=m.tier_decided, now=m.tier, changed_at=m.changed_at,
                            reason=m.reason) for m in monitor.categories if m.tier_decided != "human")


def monitor_sentence(monitor: Monitor | None) -> str:
    """The changes since the decision in one sentence for the summary ("" without any)."""
    if monitor is None:
        return ""
    changed = [m for m in monitor.categories if m.tier != m.tier_decided]
    if not changed:
        return (f"Since the decision, {monitor.reviews:,} live reviews have been monitored and no category has "
                "changed tier.")
    parts = [f"{category_name(m.category)} {'demoted to' if m.tier != 'automate' else 'recommended for'} {m.tier} "
             f"({(m.changed_at or '')[:10]})" for m in changed]
    return f"Since the decision ({monitor.reviews:,} live reviews): {'; '.join(parts)}. See the monitoring section."
