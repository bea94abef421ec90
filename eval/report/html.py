"""``report.html``: one self-contained page (inline CSS, figures as data URIs), no external requests."""

from __future__ import annotations

import base64
from collections.abc import Sequence

from eval.report.content import Report
from eval.report.figures import FigureFile
from eval.report.render import environment
from eval.report.words import ESTIMATE_ROWS


def _data_uri(fig: FigureFile) -> str:
    """SVG as an ``<img>`` data URI rather than inline ``<svg>``: matplotlib reuses glyph ids across
    figures, which would clash in one document."""
    return "data:image/svg+xml;base64," + base64.b64encode(fig.svg.read_bytes()).decode("ascii")


def render_html(report: Report, figures: Sequence[FigureFile]) -> str:
    figs = {f.name: {"title": f.title, "alt": f.alt, "src": _data_uri(f)} for f in figures}
    return environment().get_template("report.html.j2").render(r=report, figs=figs, estimate_rows=ESTIMATE_ROWS)
