"""After the decision: live reviews and assist logs -> a tier now per category (``RUN/monitor.json``).

Automated and assist categories are watched by anytime-valid tests (``eval.monitor.detect``) and demoted
one tier on an alarm; an assist category whose reviewed drafts pass the automate gates and whose drafts
agents mostly send unchanged is recommended for automate (``eval.monitor.assist``), one tier at most.
Human categories are shown as decided.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from eval.config import ReviewFile
from eval.errors import MissingInput
from eval.monitor.assist import draft_gates, edit_summary, promotion_reason
from eval.monitor.detect import DOWN, detect, watched
from eval.monitor.inputs import Imported, assist_logs, live_reviews
from eval.policy import Policy
from eval.records import AssistLog, CategoryDecision, CategoryMonitor, Decisions, LiveReview, Monitor
from eval.run.folder import RunFolder
from eval.report.sources import read_decisions, read_ticket_stats
from eval.stats.sequential import split_alpha
from eval.store import write_json, write_jsonl


def _category(decision: CategoryDecision, reviews: list[LiveReview], logs: list[AssistLog], policy: Policy,
              alpha_each: float, alpha_promote: float, handle_time: float | None) -> CategoryMonitor:
    tier = decision.tier
    if not watched(decision):
        return CategoryMonitor(category=decision.category, tier_decided=tier, tier=tier, changed_at=None,
                               reason="human-led: not watched", evidence={"reviews": len(reviews)})
    at, why, evidence = detect(decision, reviews, policy, alpha_each)
    if at is not None:
        return CategoryMonitor(category=decision.category, tier_decided=tier, tier=DOWN[tier], changed_at=at,
                               reason=f"demoted: {why}", evidence=evidence)
    if tier == "assist":
        drafts = [r for r in reviews if r.source == "ai_draft"]
        gates = draft_gates(drafts, decision.estimates, policy, alpha_promote)
        edits = edit_summary(logs, handle_time)
        promote, text = promotion_reason(gates, edits, policy)
        evidence |= {"drafts": gates, "assist_logs": edits}
        if promote:
            return CategoryMonitor(category=decision.category, tier_decided=tier, tier="automate",
                                   changed_at=gates["passed_at"], reason=f"recommended for automate: {text}",
                                   evidence=evidence)
        why = f"{why}; not promoted: {text}"
    return CategoryMonitor(category=decision.category, tier_decided=tier, tier=tier, changed_at=None, reason=why,
                           evidence=evidence)


def monitor(decisions: Decisions, reviews: list[LiveReview], logs: list[AssistLog], policy: Policy,
            handle_times: dict[str, float] | None = None) -> Monitor:
    """Pure: the decision and everything reviewed and logged since (time order) -> the tier now per category.
    ``handle_times``: the historical mean handle time per category, for the time the drafts save."""
    tiers = [d.tier for d in decisions.categories]
    alpha_each = split_alpha(policy.audit_alpha, tiers.count("automate"), tiers.count("assist"))
    alpha_promote = policy.noninferiority_alpha / max(tiers.count("assist"), 1)  # any false promotion: Bonferroni
    categories = [
        _category(d, [r for r in reviews if r.category == d.category], [log for log in logs if log.category == d.category],
                  policy, alpha_each, alpha_promote, (handle_times or {}).get(d.category))
        for d in decisions.categories
    ]
    return Monitor(alpha=policy.audit_alpha, horizon_weeks=policy.monitor_horizon_weeks, reviews=len(reviews),
                   assist_logs=len(logs), categories=categories)


def monitor_to_file(run_dir: Path, reviews: Sequence[ReviewFile], logs: Sequence[Path],
                    policy: Policy) -> tuple[Monitor, Imported, Imported]:
    """Read RUN/decisions.json and the live files (added to what earlier runs kept); write RUN/monitor.json
    and the kept and rejected live reviews and assist logs."""
    folder = RunFolder(Path(run_dir))
    if not folder.decisions.exists():
        raise MissingInput(f"{folder.decisions}: no decisions yet; run decide first", file=folder.decisions)
    decisions = read_decisions(folder.decisions)[0]
    live = live_reviews(reviews, folder.path("live_reviews"), folder.audit_key)
    assisted = assist_logs(logs, folder.path("assist_logs"))
    result = monitor(decisions, live.kept, assisted.kept, policy, _handle_times(folder))
    write_jsonl(folder.path("live_reviews"), live.kept)
    write_jsonl(folder.path("live_rejected"), live.rejected)
    write_jsonl(folder.path("assist_logs"), assisted.kept)
    write_jsonl(folder.path("assist_rejected"), assisted.rejected)
    write_json(folder.path("monitor"), result.model_dump(mode="json"))
    return result, live, assisted


def _handle_times(folder: RunFolder) -> dict[str, float]:
    """Mean recorded handle time per category of the run's (historical, unassisted) tickets."""
    if not folder.tickets.exists():
        return {}
    means = read_ticket_stats(folder.root).tickets.groupby("category")["handle_time_s"].mean().dropna()
    return {str(c): float(v) for c, v in means.items()}
