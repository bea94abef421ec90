"""Two runs side by side: categories that changed tier and estimates that left the other run's interval.

A category that lost a tier (automate > assist > human) is what a model release must not do
silently, so the CLI exits 1 on it and CI can gate on that.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel
from rich.table import Table

from eval.decide.estimates import QUANTITIES
from eval.records import CategoryDecision, Decisions, Tier
from eval.report.sources import read_decisions
from eval.run.folder import RunFolder
from eval.store import atomic_writer, write_json

Change = Literal["gained", "lost", "same", "added", "removed"]
RANK: dict[str, int] = {"human": 0, "assist": 1, "automate": 2}
COMPARED = (*QUANTITIES, "critical_ai", "critical_human")


class EstimateMove(BaseModel):
    quantity: str
    a: float | None
    a_low: float | None
    a_high: float | None
    b: float | None
    b_low: float | None
    b_high: float | None
    b_outside_a: bool
    a_outside_b: bool


class CategoryChange(BaseModel):
    category: str
    tier_a: Tier | None
    tier_b: Tier | None
    change: Change
    moved: list[EstimateMove]


class PolicyChange(BaseModel):
    key: str
    a: Any
    b: Any


class Comparison(BaseModel):
    run_a: str
    run_b: str
    policy_changes: list[PolicyChange]
    categories: list[CategoryChange]
    changed_tier: list[str]
    lost_tier: list[str]
    moved: list[str]


def _outside(x: float | None, low: float | None, high: float | None) -> bool:
    return x is not None and low is not None and high is not None and not (low <= x <= high)


def _moves(a: CategoryDecision, b: CategoryDecision) -> list[EstimateMove]:
    out = []
    for q in COMPARED:
        ea, eb = a.estimates.get(q) or {}, b.estimates.get(q) or {}
        if not ea or not eb:
            continue
        move = EstimateMove(
            quantity=q, a=ea.get("estimate"), a_low=ea.get("low"), a_high=ea.get("high"),
            b=eb.get("estimate"), b_low=eb.get("low"), b_high=eb.get("high"),
            b_outside_a=_outside(eb.get("estimate"), ea.get("low"), ea.get("high")),
            a_outside_b=_outside(ea.get("estimate"), eb.get("low"), eb.get("high")),
        )
        if move.b_outside_a or move.a_outside_b:
            out.append(move)
    return out


def _change(a: CategoryDecision | None, b: CategoryDecision | None) -> Change:
    if a is None:
        return "added"
    if b is None:
        return "removed"
    return "same" if a.tier == b.tier else "gained" if RANK[b.tier] > RANK[a.tier] else "lost"


def _policy_changes(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[PolicyChange]:
    out = []
    for key in sorted(set(a) | set(b)):
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            out.extend(_policy_changes(va, vb, f"{prefix}{key}."))
        elif va != vb:
            out.append(PolicyChange(key=f"{prefix}{key}", a=va, b=vb))
    return out


def compare_runs(a: Decisions, b: Decisions, name_a: str = "A", name_b: str = "B") -> Comparison:
    """Pure: per category the tier change and the estimates outside the other run's interval.

    A category missing from one run is reported as added or removed, not as lost: there is no
    tier to compare it with.
    """
    by_a = {c.category: c for c in a.categories}
    by_b = {c.category: c for c in b.categories}
    cats = []
    for name in sorted(set(by_a) | set(by_b)):
        ca, cb = by_a.get(name), by_b.get(name)
        cats.append(CategoryChange(
            category=name, tier_a=ca.tier if ca else None, tier_b=cb.tier if cb else None,
            change=_change(ca, cb), moved=_moves(ca, cb) if ca and cb else [],
        ))
    return Comparison(
        run_a=name_a, run_b=name_b, policy_changes=_policy_changes(a.policy, b.policy), categories=cats,
        changed_tier=[c.category for c in cats if c.change in ("gained", "lost")],
        lost_tier=[c.category for c in cats if c.change == "lost"],
        moved=[c.category for c in cats if c.moved],
    )


def _num(x: float | None) -> str:
    return "—" if x is None else f"{x:+.3f}"


def comparison_markdown(cmp: Comparison) -> str:
    lines = [f"# Comparison: {cmp.run_a} → {cmp.run_b}", ""]
    verdict = (f"**{len(cmp.lost_tier)} categories lost a tier: {', '.join(cmp.lost_tier)}.**" if cmp.lost_tier
               else "No category lost a tier.")
    lines += [verdict, "", f"Changed tier: {', '.join(cmp.changed_tier) or 'none'}.  ",
              f"Estimates outside the other run's interval: {', '.join(cmp.moved) or 'none'}.", ""]
    if cmp.policy_changes:
        lines += ["## Policy changes", "", "| key | A | B |", "|---|---|---|"]
        lines += [f"| {p.key} | {p.a} | {p.b} |" for p in cmp.policy_changes] + [""]
    lines += ["## Tiers", "", "| category | A | B | change |", "|---|---|---|---|"]
    lines += [f"| {c.category} | {c.tier_a or '—'} | {c.tier_b or '—'} | {c.change} |" for c in cmp.categories]
    moves = [(c.category, m) for c in cmp.categories for m in c.moved]
    if moves:
        lines += ["", "## Estimates that moved", "",
                  "| category | quantity | A (interval) | B (interval) |", "|---|---|---|---|"]
        lines += [f"| {cat} | {m.quantity} | {_num(m.a)} ({_num(m.a_low)}, {_num(m.a_high)}) | "
                  f"{_num(m.b)} ({_num(m.b_low)}, {_num(m.b_high)}) |" for cat, m in moves]
    return "\n".join(lines) + "\n"


def comparison_table(cmp: Comparison) -> Table:
    table = Table(title=f"{cmp.run_a} → {cmp.run_b}", title_justify="left")
    for col in ("category", "tier A", "tier B", "change", "estimates outside the other run's interval"):
        table.add_column(col)
    style = {"lost": "[red]lost[/red]", "gained": "[green]gained[/green]"}
    for c in cmp.categories:
        moved = ", ".join(f"{m.quantity} {_num(m.a)}→{_num(m.b)}" for m in c.moved) or "-"
        table.add_row(c.category, c.tier_a or "—", c.tier_b or "—", style.get(c.change, c.change), moved)
    return table


def compare_dirs(run_a: Path, run_b: Path, out_dir: Path | None = None) -> tuple[Comparison, list[Path]]:
    """Compare two run folders' decisions; write compare.json and compare.md into ``out_dir`` (default B)."""
    a, _ = read_decisions(RunFolder(Path(run_a)).decisions)
    b, _ = read_decisions(RunFolder(Path(run_b)).decisions)
    cmp = compare_runs(a, b, str(run_a), str(run_b))
    out_dir = Path(out_dir or run_b)
    paths = [out_dir / "compare.json", out_dir / "compare.md"]
    write_json(paths[0], cmp.model_dump(mode="json"))
    with atomic_writer(paths[1]) as fh:
        fh.write(comparison_markdown(cmp))
    return cmp, paths
