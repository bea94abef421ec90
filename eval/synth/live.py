"""The live period after the demo's decision (issue 17): audits, reviewed drafts and assist logs.

Weeks start the day after the last ticket. Automated categories get a weekly audit sample of
live AI answers (``Review``, ``answer: live``, ``source: ai``); one of them drifts from
``DRIFT.start_week`` on. Assist categories get drafts agents sent unchanged, lightly edited or
rewrote (``eval.records.AssistLog``), a share of them reviewed (``source: ai_draft``); one has drafts good
enough to be promoted. Everything draws from ``default_rng([seed, LIVE_STREAM])`` alone, so the
other demo files keep their bytes. What was planted is written to ``live_truth.json``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from eval.records import Review
from eval.store import atomic_writer
from eval.synth.live_text import EDITS, HANDLE_FACTOR, HANDLE_NO_DRAFT_S, draft_text, handle_time, sent_text
from eval.synth.panel import PANEL, Reviewer, _perceive, _score
from eval.synth.phrases import Dice, bank, entities
from eval.synth.truth import (
    AI_MIX,
    AI_SHIFT,
    AI_STYLES,
    CATEGORIES,
    Tier,
    _side_stats,
    planted,
    style_mean,
)

LIVE_STREAM = 3_000_017
"""Seed stream of the live period, distinct from every chunk index and other stream."""
WEEKS = 26
LIVE_REVIEWS, ASSIST_LOGS, LIVE_TRUTH = "live_reviews.jsonl", "assist_logs.jsonl", "live_truth.json"
LIVE_FILES = (LIVE_REVIEWS, ASSIST_LOGS, LIVE_TRUTH)
AUDITS_PER_WEEK = 40
"""Audited live AI answers per automated category and week."""
DRAFT_REVIEWS_PER_WEEK = 30
ASSIST_LOGS_PER_WEEK = 100
"""Drafts per assist category and week; the first ``DRAFT_REVIEWS_PER_WEEK`` are also reviewed."""
LIVE_CRITICAL = 0.003
"""Harmful rate of live AI answers in a stable automated category (the replay planted 0)."""
AUDITORS = tuple(r for r in PANEL if not r.careless)
"""QA auditors: the panel's careful reviewers, with their bias, noise and sensitivity."""
TURN_INDEX = ((1, 3, 5), (0.6, 0.3, 0.1))


@dataclass(frozen=True)
class Drift:
    category: str
    start_week: int
    """1-based: weeks ``start_week`` .. WEEKS are drifted."""
    critical_after: float
    quality_shift: float
    """Added to the latent quality of non-critical answers once drifted."""


@dataclass(frozen=True)
class Promotion:
    category: str
    critical: float
    quality_shift: float
    """Latent quality offset of its drafts (the assist group's replay offset is -0.5)."""


DRIFT = Drift("shipping_delay", 12, 0.10, -0.8)
PROMOTION = Promotion("failed_payment", 0.002, -0.05)
UNCHANGED = {"candidate": (0.85, 0.12, 0.03), "other": (0.40, 0.35, 0.25)}
"""Shares of non-critical drafts sent unchanged, lightly edited, rewritten (a critical one is rewritten)."""


def mix(group_mix: tuple[float, ...], critical: float) -> tuple[float, ...]:
    """A style mix with its critical share set to ``critical``, the others scaled to fill the rest."""
    rest = sum(group_mix[:-1])
    return tuple(p * (1 - critical) / rest for p in group_mix[:-1]) + (critical,)


@dataclass(frozen=True)
class LiveQuality:
    """The style mix and quality offset live answers of one category are drawn from."""

    mix: tuple[float, ...]
    shift: float

    def stats(self) -> dict[str, float]:
        return {k: round(v, 4) for k, v in _side_stats(AI_STYLES, self.mix, self.shift).items()}


def quality_of(category: str, tier: Tier, week: int) -> LiveQuality:
    """Planted live quality of ``category`` in ``week`` (1-based)."""
    group = next(c.group for c in CATEGORIES if c.name == category)
    if tier == "automate":
        drifted = category == DRIFT.category and week >= DRIFT.start_week
        critical = DRIFT.critical_after if drifted else LIVE_CRITICAL
        return LiveQuality(mix(AI_MIX[group], critical), AI_SHIFT[group] + (DRIFT.quality_shift if drifted else 0.0))
    if category == PROMOTION.category:
        return LiveQuality(mix(AI_MIX[group], PROMOTION.critical), PROMOTION.quality_shift)
    return LiveQuality(AI_MIX[group], AI_SHIFT[group])


def planted_tiers() -> dict[str, Tier]:
    """The tier the planted truth makes each category reach (what the demo decides)."""
    return {c.name: planted(c)["tier"] for c in CATEGORIES}  # type: ignore[misc]


@dataclass(frozen=True)
class Slot:
    """One live agent turn: when, which category, audited (automate) or drafted (assist)."""

    at: datetime
    week: int
    category: str
    kind: str
    """``audit`` or ``draft``."""
    reviewed: bool
    end: datetime
    """The last second of its week: a review stays in the week of its answer."""


def schedule(dice: Dice, tiers: Mapping[str, Tier], start: datetime, weeks: int) -> list[Slot]:
    """Every live turn of the period in time order, a fixed number per category and week."""
    slots: list[Slot] = []
    for week in range(1, weeks + 1):
        begin = start + timedelta(days=7 * (week - 1))
        end = begin + timedelta(days=7, seconds=-1)
        for c in CATEGORIES:
            tier = tiers.get(c.name)
            if tier == "automate":
                plan = [("audit", True)] * AUDITS_PER_WEEK
            elif tier == "assist":
                plan = [("draft", i < DRAFT_REVIEWS_PER_WEEK) for i in range(ASSIST_LOGS_PER_WEEK)]
            else:
                continue
            for kind, reviewed in plan:
                at = begin + timedelta(seconds=int(dice.u() * 7 * 86400))
                slots.append(Slot(at, week, c.name, kind, reviewed, end))
    return sorted(slots, key=lambda s: (s.at, s.category, s.kind))


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _answer(dice: Dice, q: LiveQuality) -> tuple[str, float, bool]:
    """Style, latent quality and critical flag of one live answer."""
    style = dice.weighted(AI_STYLES, q.mix)
    mean, sd = style_mean(style, q.shift)
    return style, round(min(5.0, max(1.0, dice.normal(mean, sd))), 2), style == "critical"


COMMENTS = {"critical": ["Harmful: states a policy we do not have.", "Wrong next step for this customer.",
                         "Promises something we cannot do."],
            "low": ["Too vague to help.", "Misses what the customer asked."], "ok": ["", "", "", "Fine."]}


def review(dice: Dice, slot: Slot, ticket_id: str, turn_index: int, quality: float, critical: bool) -> dict:
    """One QA review of a live answer or draft, through a careful reviewer's bias and noise."""
    r: Reviewer = dice.pick(AUDITORS)
    perceived, flagged = _perceive(dice, r, quality, critical)
    score = _score(perceived, flagged)
    comments = COMMENTS["critical" if flagged else "low" if score <= 2 else "ok"]
    lag = timedelta(seconds=int(dice.u() * 3 * 3600)) if slot.kind == "draft" else timedelta(0)
    return {"review_id": "", "answer": "live", "source": "ai" if slot.kind == "audit" else "ai_draft",
            "ticket_id": ticket_id, "turn_index": turn_index, "category": slot.category,
            "reviewer": r.reviewer, "score": float(score), "acceptable": perceived >= 3.0 and not flagged,
            "critical": flagged, "reviewed_at": _stamp(min(slot.at + lag, slot.end)), "comment": dice.pick(comments)}


def assist_log(dice: Dice, slot: Slot, ticket_no: int, turn_index: int, style: str,
               critical: bool) -> tuple[dict, str]:
    """One assist log (the draft and what was sent) and how it was edited."""
    shares = UNCHANGED["candidate" if slot.category == PROMOTION.category else "other"]
    edit = "rewritten" if critical else dice.weighted(EDITS, shares)
    ents = entities(dice, ticket_no, slot.at.strftime("%B %d"))
    agent_id = f"agent_{bank()['names']['agents'].index(ents['agent']) + 1:02d}"
    first = turn_index == 1
    draft = draft_text(dice, slot.category, ents, style, first)
    log = {"ticket_id": f"L{ticket_no:07d}", "turn_index": turn_index, "category": slot.category,
           "draft": draft, "sent": sent_text(dice, edit, draft, slot.category, ents, first),
           "agent": agent_id, "sent_at": _stamp(slot.at), "handle_time_s": handle_time(dice, edit)}
    return log, edit


@dataclass
class Tally:
    """Per category and week: answers, truly critical ones, reviews, flagged, score sum, edits."""

    answers: int = 0
    critical: int = 0
    reviews: int = 0
    flagged: int = 0
    score_sum: float = 0.0
    edits: tuple[int, int, int] = (0, 0, 0)


def generate(seed: int, tiers: Mapping[str, Tier], start: datetime,
             weeks: int) -> tuple[list[dict], list[dict], dict[tuple[str, int], Tally]]:
    """Reviews (time order, numbered), assist logs (time order) and the tallies behind the truth."""
    dice = Dice(np.random.default_rng([seed, LIVE_STREAM]))
    reviews: list[dict] = []
    logs: list[dict] = []
    tallies: dict[tuple[str, int], Tally] = {}
    for no, slot in enumerate(schedule(dice, tiers, start, weeks), start=1):
        turn_index = dice.weighted(*TURN_INDEX)
        style, quality, critical = _answer(dice, quality_of(slot.category, tiers[slot.category], slot.week))
        t = tallies.setdefault((slot.category, slot.week), Tally())
        t.answers += 1
        t.critical += critical
        if slot.reviewed:
            reviews.append(review(dice, slot, f"L{no:07d}", turn_index, quality, critical))
            t.reviews += 1
            t.flagged += reviews[-1]["critical"]
            t.score_sum += reviews[-1]["score"]
        if slot.kind == "draft":
            log, edit = assist_log(dice, slot, no, turn_index, style, critical)
            logs.append(log)
            t.edits = tuple(n + (e == edit) for n, e in zip(t.edits, EDITS))  # type: ignore[assignment]
    reviews.sort(key=lambda r: r["reviewed_at"])
    for i, r in enumerate(reviews, start=1):
        r["review_id"] = f"lv{i:06d}"
    return reviews, logs, tallies


def _realized(tallies: Mapping[tuple[str, int], Tally], category: str, weeks: range) -> dict:
    ts = [tallies[(category, w)] for w in weeks if (category, w) in tallies]
    answers, reviews = sum(t.answers for t in ts), sum(t.reviews for t in ts)
    out = {"weeks": [weeks.start, weeks.stop - 1], "answers": answers,
           "critical_rate": round(sum(t.critical for t in ts) / max(answers, 1), 4), "reviews": reviews,
           "flagged_rate": round(sum(t.flagged for t in ts) / max(reviews, 1), 4),
           "mean_score": round(sum(t.score_sum for t in ts) / max(reviews, 1), 4)}
    edits = [sum(t.edits[i] for t in ts) for i in range(len(EDITS))]
    if sum(edits):
        out["edit_shares"] = {e: round(n / sum(edits), 4) for e, n in zip(EDITS, edits)}
    return out


def _category_truth(name: str, tier: Tier, weeks: int, tallies: Mapping[tuple[str, int], Tally]) -> dict:
    spans = [range(1, weeks + 1)]
    if name == DRIFT.category and DRIFT.start_week <= weeks:
        spans = [range(1, DRIFT.start_week), range(DRIFT.start_week, weeks + 1)]
    planted_q = [quality_of(name, tier, s.start) for s in spans]
    out: dict = {"tier_decided": tier,
                 "planted": [{"weeks": [s.start, s.stop - 1], "ai_style_mix": dict(zip(AI_STYLES, q.mix)),
                              "ai_quality_shift": q.shift, **q.stats()} for s, q in zip(spans, planted_q)],
                 "realized": [_realized(tallies, name, s) for s in spans]}
    if tier == "assist":
        shares = UNCHANGED["candidate" if name == PROMOTION.category else "other"]
        out["edit_shares_of_non_critical_drafts"] = dict(zip(EDITS, shares))
    return out


def live_truth(seed: int, tiers: Mapping[str, Tier], start: datetime, weeks: int,
               tallies: Mapping[tuple[str, int], Tally]) -> dict:
    """What the live period planted, and what the files realized of it."""
    drift_week = quality_of(DRIFT.category, "automate", DRIFT.start_week)
    human = planted(next(c for c in CATEGORIES if c.name == PROMOTION.category))["human"]
    return {
        "seed": seed, "stream": LIVE_STREAM, "start": _stamp(start), "weeks": weeks,
        "week_rule": "week w (1-based) is [start + 7(w-1) days, start + 7w days); reviews and logs are "
                     "counted in the week of reviewed_at / sent_at",
        "per_week": {"audits_per_automated_category": AUDITS_PER_WEEK,
                     "draft_reviews_per_assist_category": DRAFT_REVIEWS_PER_WEEK,
                     "assist_logs_per_assist_category": ASSIST_LOGS_PER_WEEK},
        "tiers": dict(tiers), "live_critical_rate": LIVE_CRITICAL,
        "drift": {"category": DRIFT.category, "start_week": DRIFT.start_week,
                  "start_date": _stamp(start + timedelta(days=7 * (DRIFT.start_week - 1))),
                  "critical_rate_before": LIVE_CRITICAL, "critical_rate_after": DRIFT.critical_after,
                  "quality_shift_of_non_critical": DRIFT.quality_shift,
                  "mean_quality_before": quality_of(DRIFT.category, "automate", 1).stats()["mean_quality"],
                  "mean_quality_after": drift_week.stats()["mean_quality"]},
        "promotion_candidate": {
            "category": PROMOTION.category, "critical_rate": PROMOTION.critical,
            "quality_shift": PROMOTION.quality_shift, "human": human,
            "why": "its drafts are planted better than the replay's AI answers (a live improvement): "
                   "non-inferior to the human baseline, critical rate well under the automate limit, and "
                   "85% of non-critical drafts sent unchanged; the other assist categories keep the replay's "
                   "planted quality (0.36 below human), so they stay assist"},
        "handle_time": {"no_draft_median_s": HANDLE_NO_DRAFT_S[0], "no_draft_log_sd": HANDLE_NO_DRAFT_S[1],
                        "with_draft_factor": HANDLE_FACTOR},
        "auditors": [{"reviewer": r.reviewer, "bias": r.bias, "noise": r.noise, "sensitivity": r.sensitivity}
                     for r in AUDITORS],
        "categories": {c.name: _category_truth(c.name, tiers[c.name], weeks, tallies)
                       for c in CATEGORIES if tiers.get(c.name) in ("automate", "assist")},
    }


def write_live_period(out_dir: Path, tiers: Mapping[str, Tier], seed: int, start: datetime,
                      weeks: int = WEEKS) -> dict[str, int]:
    """Write ``live_reviews.jsonl``, ``assist_logs.jsonl`` and ``live_truth.json``; records per file."""
    reviews, logs, tallies = generate(seed, tiers, start, weeks)
    out_dir = Path(out_dir)
    with atomic_writer(out_dir / LIVE_REVIEWS) as fh:
        fh.writelines(Review.model_validate(r).model_dump_json(include=set(r)) + "\n" for r in reviews)
    with atomic_writer(out_dir / ASSIST_LOGS) as fh:
        fh.writelines(json.dumps(g, ensure_ascii=False, separators=(",", ":")) + "\n" for g in logs)
    truth = live_truth(seed, tiers, start, weeks, tallies)
    with atomic_writer(out_dir / LIVE_TRUTH) as fh:
        fh.write(json.dumps(truth, indent=1, ensure_ascii=False) + "\n")
    return {LIVE_REVIEWS: len(reviews), ASSIST_LOGS: len(logs), LIVE_TRUTH: len(truth["categories"])}


def live_start(last_created_at: str) -> datetime:
    """Midnight UTC of the day after the last ticket."""
    last = datetime.fromisoformat(last_created_at.replace("Z", "+00:00"))
    return last.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
