"""The report's four figures (matplotlib, Agg), saved as PNG and SVG with the same bytes every time.

Determinism: SVG ids come from ``svg.hashsalt`` instead of a random salt, and the date and
software stamps are left out of both formats.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib as mpl
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.typing import RcKeyType

from eval.records import Decisions
from eval.report.content import TIERS, TierShare
from eval.report.words import TIER_LABEL

# Okabe-Ito colours: distinguishable with the common colour-vision deficiencies and in greyscale print.
TIER_COLOR = {"automate": "#009E73", "assist": "#E69F00", "human": "#D55E00"}
STYLE: dict[RcKeyType, Any] = {
    "svg.hashsalt": "support-eval", "svg.fonttype": "path", "font.family": "DejaVu Sans", "font.size": 9,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3,
    "axes.axisbelow": True,
}
SVG_META = {"Date": None, "Creator": None}
PNG_META = {"Software": None}
DPI = 110


@dataclass(frozen=True)
class FigureFile:
    name: str
    title: str
    alt: str
    png: Path
    svg: Path


def _ordered(decisions: Decisions) -> list[Any]:
    """Tier, then size of the effect: the reader scans one colour block at a time."""
    return sorted(decisions.categories, key=lambda c: (-TIERS.index(c.tier), _diff(c, "estimate") or 0.0, c.category))


def _diff(c: Any, key: str) -> float | None:
    return c.estimates.get("diff_mean", {}).get(key)


def _height(n: int) -> float:
    return 1.3 + 0.32 * n


def _tier_legend(ax: Any, tiers: set[str], **kw: Any) -> None:
    handles = [Line2D([], [], color=TIER_COLOR[t], marker="o", lw=2, label=TIER_LABEL[t]) for t in TIERS if t in tiers]
    ax.legend(handles=handles, frameon=False, **kw)


def _conf(decisions: Decisions) -> str:
    return f"{float(decisions.policy.get('confidence', 0.95)):.0%}"


def forest(decisions: Decisions) -> Figure:
    cats = _ordered(decisions)
    margin = float(decisions.policy.get("margin", 0.25))
    fig = Figure(figsize=(6.4, _height(len(cats))), layout="constrained")
    ax = fig.add_subplot()
    for y, c in enumerate(cats):
        est, low, high = _diff(c, "estimate"), _diff(c, "low"), _diff(c, "high")
        if est is None:
            continue
        color = TIER_COLOR[c.tier]
        if low is not None and high is not None:
            ax.plot([low, high], [y, y], color=color, lw=2.2, solid_capstyle="round")
        ax.plot([est], [y], "o", color=color, ms=6)
    ax.axvline(0, color="#444", lw=1)
    ax.axvline(-margin, color="#444", lw=1, ls="--")
    ax.annotate(f"margin {-margin:+.2f}", (-margin, 1.0), xycoords=("data", "axes fraction"), ha="right",
                va="bottom", fontsize=8, color="#444", xytext=(-3, 2), textcoords="offset points")
    ax.annotate("equal", (0, 1.0), xycoords=("data", "axes fraction"), ha="left", va="bottom", fontsize=8,
                color="#444", xytext=(3, 2), textcoords="offset points")
    ax.set_yticks(range(len(cats)), [c.category for c in cats])
    ax.set_ylim(-0.7, len(cats) - 0.3)
    ax.set_xlabel(f"AI minus human mean rating (1-5 scale), {_conf(decisions)} interval\n"
                  "← AI worse          AI better →")
    _tier_legend(ax, {c.tier for c in cats}, loc="lower right", fontsize=8)
    return fig


def volume(shares: tuple[TierShare, ...]) -> Figure:
    fig = Figure(figsize=(6.4, 2.2), layout="constrained")
    ax = fig.add_subplot()
    rows = list(reversed(shares))
    for y, s in enumerate(rows):
        ax.barh(y, s.share * 100, color=TIER_COLOR[s.tier], height=0.6)
        ax.plot([s.low * 100, s.high * 100], [y, y], color="#222", lw=1.2)
        ax.annotate(f"{s.share:.1%}  ({len(s.categories)} categories, {s.tickets:,} tickets)",
                    (max(s.high, s.share) * 100, y), xytext=(6, 0), textcoords="offset points", va="center",
                    fontsize=8)
    ax.set_yticks(range(len(rows)), [TIER_LABEL[s.tier] for s in rows])
    ax.set_xlim(0, 100)
    ax.set_xlabel("share of ticket volume (%), with the range for future volume")
    ax.grid(axis="y", visible=False)
    return fig


def agreement(decisions: Decisions, agreement_json: dict[str, Any]) -> Figure:
    """Krippendorff alpha of the reviewers the decisions used, with its bootstrap interval."""
    per_cat = agreement_json.get("reliable_reviewers", {}).get("categories", {})
    cats = _ordered(decisions)
    min_alpha = float(decisions.policy.get("min_alpha", 0.667))
    fig = Figure(figsize=(6.4, _height(len(cats))), layout="constrained")
    ax = fig.add_subplot()
    for y, c in enumerate(cats):
        entry = per_cat.get(c.category) or {}
        gate = next((r for r in c.reasons if r.gate == "reviewer_alpha"), None)
        value = entry.get("alpha", gate.value if gate else None)
        if value is None:
            continue
        if entry.get("low") is not None and entry.get("high") is not None:
            ax.plot([entry["low"], entry["high"]], [y, y], color=TIER_COLOR[c.tier], lw=2.2)
        ax.plot([value], [y], "o", color=TIER_COLOR[c.tier], ms=6)
    ax.axvline(min_alpha, color="#444", lw=1, ls="--")
    ax.annotate(f"required {min_alpha:g}", (min_alpha, 1.0), xycoords=("data", "axes fraction"), ha="right",
                va="bottom", fontsize=8, color="#444", xytext=(-3, 2), textcoords="offset points")
    ax.set_yticks(range(len(cats)), [c.category for c in cats])
    ax.set_ylim(-0.7, len(cats) - 0.3)
    ax.set_xlim(min(0.0, ax.get_xlim()[0]), 1.0)
    ax.set_xlabel("reviewer agreement (Krippendorff's alpha; 1 = always agree, 0 = chance)")
    _tier_legend(ax, {c.tier for c in cats}, loc="lower left", fontsize=8)
    return fig


def critical(decisions: Decisions) -> Figure:
    cats = _ordered(decisions)
    limits = [(float(decisions.policy.get("critical_ub_automate", 0.02)), "automate limit"),
              (float(decisions.policy.get("critical_ub_assist", 0.10)), "assist limit")]
    fig = Figure(figsize=(6.4, _height(len(cats))), layout="constrained")
    ax = fig.add_subplot()
    for y, c in enumerate(cats):
        crit = c.estimates.get("critical_ai") or {}
        ub, est = crit.get("upper_one_sided"), crit.get("estimate")
        if ub is None:
            continue
        ax.plot([100 * (est or 0.0), 100 * ub], [y, y], color=TIER_COLOR[c.tier], lw=2.2)
        ax.plot([100 * ub], [y], "|", color=TIER_COLOR[c.tier], ms=12, mew=2.5)
        ax.plot([100 * (est or 0.0)], [y], "o", mfc="white", color=TIER_COLOR[c.tier], ms=5)
    for limit, label in limits:
        ax.axvline(100 * limit, color="#444", lw=1, ls="--")
        ax.annotate(label, (100 * limit, 1.0), xycoords=("data", "axes fraction"), ha="left", va="bottom",
                    fontsize=8, color="#444", xytext=(3, 2), textcoords="offset points")
    ax.set_yticks(range(len(cats)), [c.category for c in cats])
    ax.set_ylim(-0.7, len(cats) - 0.3)
    ax.set_xlim(left=0)
    ax.set_xlabel(f"AI answers flagged harmful (%): ○ observed, | {_conf(decisions)} upper bound")
    _tier_legend(ax, {c.tier for c in cats}, loc="upper right", fontsize=8)
    return fig


def save(fig: Figure, out_dir: Path, name: str) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    png, svg = out_dir / f"{name}.png", out_dir / f"{name}.svg"
    with mpl.rc_context(STYLE):
        fig.savefig(png, dpi=DPI, metadata=PNG_META)
        fig.savefig(svg, metadata=SVG_META)
    return png, svg


def draw_all(decisions: Decisions, shares: tuple[TierShare, ...], agreement_json: dict[str, Any],
             out_dir: Path) -> list[FigureFile]:
    """Every figure into ``out_dir`` (PNG for the Markdown report, SVG inlined into the HTML one)."""
    margin = float(decisions.policy.get("margin", 0.25))
    specs = [
        ("forest", "AI vs human rating per category", lambda: forest(decisions),
         (f"Per category, the AI minus human mean rating with its {_conf(decisions)} interval; the dashed line is the "
         f"margin {-margin:+.2f}, coloured by recommended tier.")),
        ("volume", "Ticket volume by tier", lambda: volume(shares),
         "Share of ticket volume recommended for automate, assist and human."),
        ("agreement", "Reviewer agreement per category", lambda: agreement(decisions, agreement_json),
         "Krippendorff's alpha of the reviewers per category against the required minimum."),
        ("critical", "Harmful AI answers against the policy limits", lambda: critical(decisions),
         (f"Observed share of AI answers flagged harmful and its {_conf(decisions)} upper bound, against the automate and "
         "assist limits.")),
    ]
    out = []
    for name, title, make, alt in specs:
        with mpl.rc_context(STYLE):
            fig = make()
        png, svg = save(fig, out_dir, name)
        out.append(FigureFile(name, title, alt, png, svg))
    return out
