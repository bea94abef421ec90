"""What the CLI prints at the end of a stage: short summaries and the per-category table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from eval.config import RunConfig
from eval.decide.gates import lacks_evidence
from eval.records import CategoryDecision, CutDecision, Decisions
from eval.rubrics.extend import DEFAULT_RUBRIC
from eval.rubrics.spec import packaged_rubric
from eval.run.folder import LISTED, RunFolder


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"


def _num(x: float | None) -> str:
    return "—" if x is None else f"{x:.3f}"


def print_ingest(out: Console, summary: Any) -> None:
    out.print(
        f"read {summary.read:,} = kept {summary.kept:,} + quarantined {summary.quarantined:,}"
        f" ({summary.quarantine_share:.1%})"
    )
    for reason, n in sorted(summary.by_reason.items(), key=lambda kv: -kv[1]):
        out.print(f"  {reason:<22} {n:,}")


def print_replay(out: Console, summary: Any) -> None:
    model = f" ({summary.model})" if summary.model else ""
    out.print(
        f"replayed {summary.items:,} agent turns of {summary.tickets - summary.held_out:,} tickets "
        f"with {summary.responder}{model}; {summary.errors:,} AI errors"
        + (f"; {summary.held_out:,} tickets held out as retrieval history" if summary.held_out else "")
        + (f"; {summary.orphans:,} precomputed answers matched no agent turn" if summary.orphans else "")
    )
    missing = sum(summary.missing_by_category.values())
    if missing:
        by_cat = ", ".join(f"{c} {n}" for c, n in sorted(summary.missing_by_category.items()) if n)
        out.print(f"  [yellow]{missing:,} turns had no precomputed answer[/yellow]: {by_cat}")


def category_table(replay: Any, scores: Any) -> Table:
    """Tickets, items, rubric means human vs AI and the AI critical-fail rate per category."""
    table = Table(title="Per category (rubric scores 0-1)", title_justify="left")
    for col in ("category", "tickets", "items", "AI errors", "human", "AI", "AI - human",
                "human crit-fail", "AI crit-fail"):
        table.add_column(col, justify="left" if col == "category" else "right")
    tickets = getattr(replay, "tickets_by_category", {}) or {}
    rows = sorted(scores.categories.items(), key=lambda kv: -kv[1].items)
    for cat, c in rows + [("all", scores.total)]:
        diff = None if c.ai_mean is None or c.human_mean is None else c.ai_mean - c.human_mean
        n_tickets = sum(tickets.values()) if cat == "all" else tickets.get(cat)
        table.add_row(
            f"[bold]{cat}[/bold]" if cat == "all" else cat,
            "—" if n_tickets is None else f"{n_tickets:,}", f"{c.items:,}", f"{c.ai_errors:,}",
            _num(c.human_mean), _num(c.ai_mean), _num(diff),
            _pct(c.human_critical_fail_rate), _pct(c.ai_critical_fail_rate),
        )
    return table


def print_scores(out: Console, summary: Any, replay: Any = None) -> None:
    out.print(category_table(replay, summary))


def print_ratings(out: Console, summary: Any) -> None:
    """An import summary (ratings or reviews) and its first rejections."""
    out.print(summary.text())
    for bad in summary.rejections[:10]:
        out.print(f"  [yellow]{bad.source}:{bad.line}[/yellow] {bad.field}: {bad.reason} {bad.detail}")
    if summary.rejected > 10:
        out.print(f"  … {summary.rejected - 10:,} more in {summary.rejections_path}")


def print_default_rubric(out: Console, cfg: RunConfig) -> None:
    """One line when the packaged rubric scored the run, so nobody takes its scores for their own rubrics'."""
    if cfg.rubrics is None:
        out.print(f"No `rubrics:` in the config: scoring with the packaged default rubric {packaged_rubric().ref} "
                  f"({DEFAULT_RUBRIC})", markup=False, highlight=False, soft_wrap=True)


def print_judge(out: Console, result: dict[str, Any]) -> None:
    """What the judge stage did: another system's verdicts imported, or our pairwise judge's counts."""
    from eval.judges.precomputed import JudgeImportSummary

    if "imported" in result:
        out.print(JudgeImportSummary.model_validate(result["imported"]).text(), markup=False, highlight=False)
    else:
        out.print(f"verdicts: {result['verdicts']}")


def print_run(out: Console, cfg: RunConfig, run_dir: Path, summaries: dict[str, Any]) -> None:
    print_ingest(out, summaries["ingest"])
    print_replay(out, summaries["replay"])
    print_default_rubric(out, cfg)
    out.print(category_table(summaries["replay"], summaries["score"]))
    for name in ("ratings", "reviews"):
        if name in summaries:
            print_ratings(out, summaries[name])
    if "judge" in summaries:
        print_judge(out, summaries["judge"])
    if "decide" in summaries:
        out.print(decisions_table(summaries["decide"]))
        out.print(summaries["decide"].reviewers_note)
    if not cfg.ratings.files and not cfg.reviews.files:
        out.print("No ratings yet, so every category stays human for want of evidence. Next: draw blind packets with "
                  f"`support-eval packets {run_dir} --reviewers qa_01,qa_02,... --per-reviewer N`, then "
                  f"`support-eval ratings import {run_dir} FILE...`, `decide` and `report`.", markup=False, highlight=False)
    out.print(f"[bold]Run folder[/bold] {run_dir}")
    folder = RunFolder(run_dir)
    for path in map(folder.path, LISTED):
        if path.exists():
            out.print(f"  {path}")
    if "report" in summaries:
        out.print(f"[bold green]Report:[/bold green] {summaries['report'].html}")


def _tested(d: CategoryDecision | CutDecision) -> str:
    """The estimate the non-inferiority gate tested, with its interval: mean difference or win rate."""
    win = any(r.measure == "win_rate_ai" for r in d.reasons)
    e = d.estimates.get("win_rate_ai" if win else "diff_mean", {})
    if not e:
        return "-"
    if win:
        return f"win rate {e['estimate']:.2f} ({e['low']:.2f}, {e['high']:.2f})"
    return f"{e['estimate']:+.2f} ({e['low']:+.2f}, {e['high']:+.2f})"


def _decision_row(name: str, d: CategoryDecision | CutDecision) -> list[str]:
    crit = d.estimates.get("critical_ai", {})
    failed = ", ".join(r.gate for r in d.reasons if not r.passed) or "-"
    return [
        name, d.tier, f"{d.volume_share:.1%}", str(d.rated_items), _tested(d),
        f"{crit['upper_one_sided']:.1%}" if crit and crit["n"] else "-",
        f"not enough evidence: {failed}" if lacks_evidence(d.reasons) else failed,
    ]


def decisions_table(decisions: Decisions) -> Table:
    """The decisions as a rich table for the terminal, each category's cuts indented under it."""
    table = Table(title="Recommendation per category")
    for col in ("category", "tier", "volume", "rated", "AI - human (95% CI)", "AI critical UB", "failed gates"):
        table.add_column(col)
    for c in decisions.categories:
        table.add_row(*_decision_row(c.category, c))
        for cut in c.cuts or ():
            table.add_row(*_decision_row(escape(f"  └ {cut.by}={cut.value}"), cut))
    return table


def monitor_table(result: Any) -> Table:
    """Per category: the tier decided, the tier now, the live evidence, what triggered a change."""
    table = Table(title="Monitor: the tier now, after the decision")
    for col in ("category", "decided", "now", "live reviews", "since / why"):
        table.add_column(col, overflow="fold")
    for c in result.categories:
        style = "red" if c.tier != c.tier_decided and c.tier != "automate" else ("green" if c.tier != c.tier_decided else "")
        table.add_row(c.category, c.tier_decided, f"[{style}]{c.tier}[/{style}]" if style else c.tier,
                      str(c.evidence.get("reviews", 0)), f"{c.changed_at or '-'}: {c.reason}")
    return table


def route_table(summary: Any) -> Table:
    """Per category: the turns sent to the AI, to AI drafts and to people, and the AI's share."""
    table = Table(title=f"Routes ({summary.variant} router)")
    for col in ("category", "ai", "assist", "human", "ai share"):
        table.add_column(col, justify="left" if col == "category" else "right")
    for category, n in summary.by_category.items():
        total = sum(n.values())
        table.add_row(category, str(n["ai"]), str(n["assist"]), str(n["human"]), f"{n['ai'] / total:.0%}" if total else "-")
    return table


def _auc(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def print_packets(out: Console, console: Console, summary: Any) -> None:
    """The packets table, counts, the blinding audit's AUCs, notes and warnings (on ``console``)."""
    from eval.ratings.packets import packets_table

    out.print(packets_table(summary))
    audit = summary.audit
    out.print(f"{summary.items} items, {summary.ratings} ratings for {len(summary.reviewers)} reviewers "
              f"(round {summary.round}); blinding audit AUC before stripping "
              f"{_auc(audit.auc_before if audit else None)}, after {_auc(audit.auc_after if audit else None)}")
    for note in summary.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    if audit and audit.warning:
        console.print(f"[yellow]warning:[/yellow] blinding audit: {audit.warning}")
