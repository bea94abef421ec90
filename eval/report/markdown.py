"""``report.md``: the same report as Markdown, figures linked as PNG files next to it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from eval.report.content import Report
from eval.report.figures import FigureFile
from eval.report.render import environment
from eval.report.words import ESTIMATE_ROWS


def render_markdown(report: Report, figures: Sequence[FigureFile], run_dir: Path) -> str:
    figs = {f.name: {"title": f.title, "alt": f.alt, "src": f.png.relative_to(run_dir).as_posix()} for f in figures}
    return environment().get_template("report.md.j2").render(r=report, figs=figs, estimate_rows=ESTIMATE_ROWS)
