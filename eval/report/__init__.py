"""The recommendation report (``report.html``, ``report.md``, ``figures/``) and run-to-run comparison.

``write_report(run_dir)`` reads the run folder and writes the report into it; the same folder
always gives the same bytes (the only time shown is the run's start, from the manifest).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from eval.ratings.importer import read_item_index
from eval.report.compare import Comparison, compare_dirs, compare_runs
from eval.report.content import build_report, data_facts, tier_shares
from eval.report.examples import ExampleSpec, pick_examples, render_examples
from eval.report.figures import draw_all
from eval.report.html import render_html
from eval.report.markdown import render_markdown
from eval.report.sources import load_run, read_items
from eval.run.folder import RunFolder
from eval.store import atomic_writer

__all__ = ["Comparison", "ExampleSpec", "ReportSummary", "compare_dirs", "compare_runs", "write_report"]


class ReportSummary(BaseModel):
    html: str
    markdown: str
    figures: list[str]
    html_bytes: int
    categories: int
    tiers: dict[str, int]


def write_report(run_dir: Path, spec: ExampleSpec | None = None) -> ReportSummary:
    """Read decisions.json (+ agreement, ratings, scores, tickets, items); write the report files."""
    run_dir = Path(run_dir)
    folder = RunFolder(run_dir)
    data = load_run(run_dir)
    decisions = data.decisions
    index = read_item_index(folder.items)
    picks = pick_examples(data.ratings, data.scores, dict(zip(index["item_id"], index["category"])),
                          [c.category for c in decisions.categories], decisions.reviewers_excluded, spec or ExampleSpec())
    wanted = {p.item_id for cat_picks in picks.values() for p in cat_picks}
    items, agent_texts, n_items = read_items(folder.items, wanted)
    examples = render_examples(picks, items, agent_texts)
    facts = data_facts(decisions, data.ticket_stats, n_items, data.ratings, data.manifest)
    report = build_report(decisions, data.raw_decisions, examples, data.ticket_stats, data.agreement, facts,
                          data.manifest, data.monitor)
    figures = draw_all(decisions, tier_shares(decisions), data.agreement, folder.figures)
    html_path, md_path = folder.report_html, folder.report_md
    html = render_html(report, figures)
    with atomic_writer(html_path) as fh:
        fh.write(html)
    with atomic_writer(md_path) as fh:
        fh.write(render_markdown(report, figures, run_dir))
    return ReportSummary(
        html=str(html_path), markdown=str(md_path),
        figures=[str(p) for f in figures for p in (f.png, f.svg)], html_bytes=len(html.encode("utf-8")),
        categories=len(decisions.categories), tiers={s.tier: len(s.categories) for s in report.tiers},
    )
