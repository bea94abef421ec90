"""The AI's best and worst answers per category, shown next to the human answer for the same turn.

Ranked by the mean reviewer rating of the AI answer (reviewers left out of the decisions are
left out here too); a category without scored ratings (none yet, or preference-only ones) falls
back to the rubric score. Texts are shown as reviewers saw them: personal data redacted,
greetings and signatures stripped (``eval.blinding.present``), so no customer or agent is
identifiable in the report.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from eval.blinding import learn_agent_names, present
from eval.records import Item

Kind = Literal["best", "worst"]
Basis = Literal["reviewers", "rubric"]


@dataclass(frozen=True)
class ExampleSpec:
    best: int = 1
    worst: int = 2


@dataclass(frozen=True)
class Pick:
    item_id: str
    category: str
    kind: Kind
    basis: Basis
    ai_score: float
    human_score: float | None
    critical_ai: bool
    raters: int


@dataclass(frozen=True)
class Example:
    pick: Pick
    customer: str
    ai: str
    human: str


def _rated_items(ratings: pd.DataFrame, excluded: Iterable[str]) -> pd.DataFrame:
    used = ratings[~ratings["reviewer"].isin(list(excluded)) & ratings["score_ai"].notna()]
    crit = used["critical_ai"].astype("boolean").fillna(False).astype(bool)
    used = used.assign(crit=crit, score_ai=used["score_ai"].astype(float), score_human=used["score_human"].astype(float))
    grouped = used.groupby("item_id", sort=True)
    table = grouped[["score_ai", "score_human"]].mean()
    table["critical_ai"] = grouped["crit"].max()
    table["raters"] = grouped.size()
    table["category"] = grouped["category"].first()
    return table.reset_index()


def _rubric_items(scores: pd.DataFrame) -> pd.DataFrame:
    wide = scores.pivot_table(index="item_id", columns="side", values=["score", "critical_fail"], aggfunc="first")
    table = pd.DataFrame({
        "score_ai": wide[("score", "ai")].astype(float),
        "score_human": wide.get(("score", "human"), pd.Series(dtype=float)).reindex(wide.index).astype(float),
        "critical_ai": wide[("critical_fail", "ai")].astype(bool),
        "raters": 0,
    }).dropna(subset=["score_ai"])
    table["category"] = None
    return table.reset_index()


def _ranked(part: pd.DataFrame, kind: Kind) -> pd.DataFrame:
    part = part.assign(diff=part["score_ai"] - part["score_human"].fillna(part["score_ai"]))
    if kind == "worst":
        part = part.assign(safe=~part["critical_ai"])
        return part.sort_values(["score_ai", "safe", "diff", "item_id"], ascending=[True, True, True, True])
    return part.sort_values(["score_ai", "diff", "item_id"], ascending=[False, False, True])


def _kinds(best: pd.DataFrame, worst: pd.DataFrame) -> tuple[tuple[Kind, pd.DataFrame], ...]:
    return (("best", best), ("worst", worst))


def _picks(part: pd.DataFrame, category: str, basis: Basis, spec: ExampleSpec) -> list[Pick]:
    worst = _ranked(part, "worst").head(spec.worst)
    best = _ranked(part[~part["item_id"].isin(worst["item_id"])], "best").head(spec.best)
    return [
        Pick(item_id=r.item_id, category=category, kind=kind, basis=basis, ai_score=float(r.score_ai),
             human_score=None if pd.isna(r.score_human) else float(r.score_human),
             critical_ai=bool(r.critical_ai), raters=int(r.raters))
        for kind, frame in _kinds(best, worst) for r in frame.itertuples()
    ]


def pick_examples(
    ratings: pd.DataFrame, scores: pd.DataFrame | None, item_category: dict[str, str],
    categories: Iterable[str], excluded: Iterable[str], spec: ExampleSpec | None = None,
) -> dict[str, list[Pick]]:
    """Per category the items to show: rated ones by reviewer score, else by rubric score."""
    spec = spec or ExampleSpec()
    rated = _rated_items(ratings, excluded) if len(ratings) else pd.DataFrame(columns=["item_id", "category"])
    rubric = _rubric_items(scores) if scores is not None and len(scores) else pd.DataFrame(columns=["item_id"])
    if len(rubric):
        rubric["category"] = rubric["item_id"].map(item_category)
    out: dict[str, list[Pick]] = {}
    for cat in categories:
        part = rated[rated["category"] == cat]
        if len(part):
            out[cat] = _picks(part, cat, "reviewers", spec)
        elif len(rubric):
            out[cat] = _picks(rubric[rubric["category"] == cat], cat, "rubric", spec)
        else:
            out[cat] = []
    return out


def render_examples(picks: dict[str, list[Pick]], items: dict[str, Item], agent_texts: Iterable[str]) -> dict[str, list[Example]]:
    """The picked items' texts, redacted and stripped as reviewers saw them."""
    names = learn_agent_names(agent_texts)
    out: dict[str, list[Example]] = {}
    for cat, cat_picks in picks.items():
        shown = []
        for pick in cat_picks:
            item = items[pick.item_id]
            view = present(item, names, strip=True)
            customer = next((text for role, text in reversed(view.context) if role == "customer"), "")
            shown.append(Example(pick=pick, customer=customer, ai=view.ai, human=view.human))
        out[cat] = shown
    return out
